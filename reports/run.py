"""Writing a month's report in the formats asked for, and the schedule that writes last month's."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from indicators.windows import shift_month
from qsmon import clock
from qsmon.exceptions import QsmonError
from qsmon.plans.model import Plan
from qsmon.settings import Settings
from qsmon.storage import connect
from reports.bulletin import load_references
from reports.csv_out import write_csv
from reports.data import gather
from reports.notice import build_notice, load_texts
from reports.notice_pdf import write_notice_pdf
from reports.pdf import Masthead, write_pdf
from reports.published import public_columns, write_published
from reports.summary import summary
from reports.tasks import load_population
from reports.xlsx import write_xlsx

log = logging.getLogger("qsmon.reports")
FORMATS = ("xlsx", "pdf", "csv")


def write_report(
    settings: Settings,
    plan: Plan,
    year: int,
    month: int,
    out: Path,
    formats: Sequence[str] = FORMATS,
    *,
    notify: Sequence[str] = (),
) -> list[Path]:
    """Write (or overwrite, identically for the same data) the month's report; returns the files.

    ``notify`` names channels of ``QSMON_CHANNELS_FILE`` that receive the summary (and, by mail, the files).
    """
    out.mkdir(parents=True, exist_ok=True)
    with connect(settings.dsn) as conn:
        report = gather(
            conn,
            plan,
            year,
            month,
            timezone=settings.timezone,
            references=load_references(settings.reference_figures_file),
            population=load_population(settings.population_file),
        )
    stem = report_stem(plan, year, month)
    written: list[Path] = []
    if "xlsx" in formats:
        written.append(write_xlsx(report, out / f"{stem}.xlsx"))
        title = f"{plan.jurisdiction.name}{report.label}不合格产品信息"
        written.append(
            write_published(
                report.published,
                title,
                out / f"{stem}-不合格产品信息.xlsx",
                public_columns(settings.public_failure_columns),
                created=datetime(year, month, 1),  # noqa: DTZ001 - Excel's naive date
                declaration=load_texts(settings.notice_texts_file).declaration,
            )
        )
    if "pdf" in formats:
        issued = clock.today(settings.timezone)
        written.append(write_pdf(report, out / f"{stem}.pdf", Masthead(bureau_of(settings, plan), issued)))
        notice = build_notice(
            report,
            load_texts(settings.notice_texts_file),
            bureau=bureau_of(settings, plan),
            number=settings.notice_number,
            issued=issued,
        )
        written.append(write_notice_pdf(notice, out / f"{stem}-信息公告.pdf"))
    if "csv" in formats:
        written.extend(write_csv(report, out, stem))
    if notify:
        _announce(settings, notify, f"{plan.title} {report.label}质量指标月报", summary(report), written)
    return written


def _announce(settings: Settings, names: Sequence[str], title: str, text: str, files: list[Path]) -> None:
    import httpx

    from notify.routing import load_channels
    from qsmon.exceptions import ConfigError
    from reports.announce import announce

    channels = {c.name: c for c in load_channels(settings.channels_file).channels}
    missing = sorted(set(names) - set(channels))
    if missing:
        raise ConfigError("report channel not in QSMON_CHANNELS_FILE", channels=missing)
    with httpx.Client() as client:
        for name in names:
            announce(client, channels[name], title, text, files)


def bureau_of(settings: Settings, plan: Plan) -> str:
    """The bureau that issues the notice: QSMON_BUREAU_NAME, else the plan's jurisdiction's 市场监督管理局."""
    return settings.bureau_name or f"{plan.jurisdiction.name}市场监督管理局"


def previous_month(today: date) -> tuple[int, int]:
    return shift_month(today.year, today.month, -1)


HEARTBEAT_FILE = ".schedule-alive"  # touched every turn: the container healthcheck reads its age (qsmon probe)


def report_stem(plan: Plan, year: int, month: int) -> str:
    return f"{plan.id}-{year}-{month:02d}"


def written(out: Path, stem: str, formats: Sequence[str]) -> bool:
    """Every format of the report is in ``out`` (a run cut short leaves some missing: written again)."""
    return all(any(out.glob(f"{stem}*.csv")) if fmt == "csv" else (out / f"{stem}.{fmt}").exists() for fmt in formats)


def run_schedule(
    settings: Settings,
    plans: Sequence[Plan],
    out: Path,
    stop: threading.Event,
    formats: Sequence[str] = FORMATS,
    notify: Sequence[str] = (),
) -> None:
    """Keep last month's report written for every plan: on the 1st, or at the first turn after it when the host
    was down then (the report's files in ``out`` are the record of what was written). Wakes at least hourly."""
    zone = ZoneInfo(settings.timezone)
    out.mkdir(parents=True, exist_ok=True)
    while not stop.is_set():
        (out / HEARTBEAT_FILE).touch()
        today = clock.today(settings.timezone)
        year, month = previous_month(today)
        for plan in plans:
            if written(out, report_stem(plan, year, month), formats):
                continue
            try:
                files = write_report(settings, plan, year, month, out, formats, notify=notify)
            except (QsmonError, OSError) as exc:  # retried next turn; the other plans still get theirs
                log.error(  # noqa: TRY400
                    "monthly report %s %d-%02d not written, retrying within the hour: %s",
                    plan.id,
                    year,
                    month,
                    exc,
                )
                continue
            log.warning("monthly report %s %d-%02d written: %s", plan.id, year, month, ", ".join(map(str, files)))
        tomorrow = datetime.combine(today + timedelta(days=1), datetime.min.time(), zone)
        stop.wait(min(3600.0, max(1.0, (tomorrow - clock.now()).total_seconds())))

"""The public notice as a PDF a bureau can post: typeset with ReportLab's flowing layout (paragraphs that wrap by
Chinese rules, tables whose cells wrap and whose header repeats on every page), the annex on landscape pages.

One TrueType CJK font (Debian's fonts-wqy-microhei) is embedded for every character, so poppler reads it without a
warning. The output is byte-identical for the same notice (ReportLab's invariant mode: no timestamps, fixed ids).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

from reports.notice import Notice
from reports.pdf import CJK_FONT_FILES, setup_charts
from reports.published import PublishedFailure, items_published
from reports.typeset import NO_LINE_START, fullwidth

FONT_FILE = CJK_FONT_FILES[0]  # the internal report's font: one TrueType CJK font for every PDF
FONT = "WenQuanYiMicroHei"
EMPTY = "/"  # what published notices print in a cell with nothing to say
_NUMERALS = "一二三四五六七八九十"
# The annex's columns, in the published order, and their share of the landscape page's width.
ANNEX_COLUMNS: tuple[tuple[str, float], ...] = (
    ("序号", 0.035),
    ("标称生产企业名称", 0.10),
    ("标称生产企业地址", 0.12),
    ("被抽样单位名称", 0.10),
    ("被抽样单位地址", 0.12),
    ("食品名称", 0.065),
    ("规格型号", 0.05),
    ("商标", 0.045),
    ("生产日期/批号", 0.065),
    ("不合格项目║检验结果║标准值", 0.135),
    ("分类", 0.06),
    ("检验机构", 0.07),
    ("备注", 0.035),
)  # names of reports.published.PUBLISHED_COLUMNS (a unit test checks)


def _setup() -> Any:
    from reportlab import rl_config
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    from qsmon.exceptions import ConfigError

    rl_config.invariant = 1  # no creation date, fixed document id: the same notice gives the same bytes
    if FONT not in pdfmetrics.getRegisteredFontNames():
        if not Path(FONT_FILE).exists():
            raise ConfigError("no CJK font for the notice: install Debian's fonts-wqy-microhei", looked_in=FONT_FILE)
        pdfmetrics.registerFont(TTFont(FONT, FONT_FILE, subfontIndex=0))
    return pdfmetrics


def _styles() -> dict[str, Any]:
    from reportlab.lib.colors import HexColor
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle(
        "body", fontName=FONT, fontSize=11.5, leading=20, wordWrap="CJK", alignment=TA_JUSTIFY, firstLineIndent=23
    )
    return {
        "body": base,
        "bureau": ParagraphStyle(
            "bureau",
            parent=base,
            fontSize=20,
            leading=30,
            alignment=TA_CENTER,
            firstLineIndent=0,
            textColor=HexColor("#C00000"),
        ),
        "number": ParagraphStyle("number", parent=base, alignment=TA_CENTER, firstLineIndent=0),
        "title": ParagraphStyle(
            "title",
            parent=base,
            fontSize=16,
            leading=26,
            alignment=TA_CENTER,
            firstLineIndent=0,
            spaceBefore=8,
            spaceAfter=10,
        ),
        "heading": ParagraphStyle("heading", parent=base, fontSize=12.5, leading=22, firstLineIndent=23, spaceBefore=6),
        "caption": ParagraphStyle(
            "caption",
            parent=base,
            fontSize=10.5,
            leading=16,
            alignment=TA_CENTER,
            firstLineIndent=0,
            spaceBefore=6,
            spaceAfter=4,
        ),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9, leading=12, firstLineIndent=0, alignment=TA_LEFT),
        "cell_c": ParagraphStyle("cell_c", parent=base, fontSize=9, leading=12, firstLineIndent=0, alignment=TA_CENTER),
        "annex_cell": ParagraphStyle(
            "annex_cell", parent=base, fontSize=7.5, leading=9.5, firstLineIndent=0, alignment=TA_LEFT
        ),
        "sign": ParagraphStyle("sign", parent=base, alignment=TA_RIGHT, firstLineIndent=0),
        "small": ParagraphStyle("small", parent=base, fontSize=9.5, leading=15, firstLineIndent=0),
    }


@cache
def _paragraph_class() -> Any:
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import Paragraph

    class ChineseParagraph(Paragraph):
        """A paragraph whose lines never start with closing punctuation (reports.typeset.NO_LINE_START): ReportLab's
        CJK breaking lets a full-width comma after a run of figures (合格200批次，) open the next line; such a mark
        hangs at the end of the line before, as Chinese typesetting does."""

        def breakLinesCJK(self, maxWidths: Any) -> Any:  # noqa: N802, N803 - ReportLab's names
            lines = super().breakLinesCJK(maxWidths)
            if lines.kind != 0:  # mixed styles: left as ReportLab breaks them
                return lines
            fixed = list(lines.lines)
            for n in range(1, len(fixed)):
                extra, words = fixed[n]
                text = "".join(words)
                moved = ""
                while text and text[0] in NO_LINE_START:
                    moved, text = moved + text[0], text[1:]
                if moved:
                    width = stringWidth(moved, self.style.fontName, self.style.fontSize)
                    before_extra, before_words = fixed[n - 1]
                    fixed[n - 1] = (before_extra - width, ["".join(before_words) + moved])
                    fixed[n] = (extra + width, [text])
            lines.lines = fixed
            return lines

    return ChineseParagraph


def _escape(text: str) -> str:
    """ReportLab paragraphs read a little markup: names and items are text, never tags."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br/>")


def _table(
    rows: list[list[str]], widths: list[float], styles: dict[str, Any], *, numeric: set[int], cell: str = "cell"
) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    Paragraph = _paragraph_class()  # noqa: N806 - a class
    data = [
        [Paragraph(_escape(text), styles["cell_c" if r == 0 or c in numeric else cell]) for c, text in enumerate(row)]
        for r, row in enumerate(rows)
    ]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _chart(notice: Notice) -> Any:
    """图n: the problem types as shares of the failed samples, each bar labelled with its share."""
    from reportlab.platypus import Image

    pyplot = setup_charts()
    problems = notice.problems
    fig, ax = pyplot.subplots(figsize=(6.2, 0.5 + 0.42 * len(problems)))
    shares = [float(p.share.rstrip("%")) for p in problems]
    bars = ax.barh(range(len(problems)), shares, color="#1F4E79")
    ax.set_yticks(range(len(problems)), [p.name for p in problems], fontsize=9)
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[f"{p.share}（{p.samples}批次）" for p in problems], fontsize=8, padding=3)
    ax.set_xlim(0, max(shares) * 1.35)
    ax.set_xlabel("占抽检不合格样品总量的百分比（%）", fontsize=8.5)
    ax.tick_params(axis="x", labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=200, metadata={"Software": None})
    pyplot.close(fig)
    buffer.seek(0)
    width = 16.0 * 28.35
    return Image(buffer, width=width, height=width * (0.5 + 0.42 * len(problems)) / 6.2)


def _annex_rows(rows: list[PublishedFailure]) -> list[list[str]]:
    names = [name for name, _ in ANNEX_COLUMNS]
    out = [names]
    for number, failure in enumerate(rows, 1):
        cells = failure.cells(number)
        cells["不合格项目║检验结果║标准值"] = items_published(failure.items) or None
        out.append([EMPTY if cells.get(name) in (None, "") else str(cells[name]) for name in names])
    return out


def _title(title: str) -> str:
    """A long title breaks after 关于, as notices set it, rather than leaving its last character alone."""
    head, sep, tail = title.partition("关于")
    return f"{_escape(head + sep)}<br/>{_escape(tail)}" if sep and len(title) > 24 else _escape(title)


class _Sections:
    """The notice's body: headings numbered 一、二、… in the order they are added."""

    def __init__(self, styles: dict[str, Any]) -> None:
        self.styles = styles
        self.story: list[Any] = []
        self.count = 0

    def heading(self, text: str) -> None:
        Paragraph = _paragraph_class()  # noqa: N806 - a class
        self.story.append(Paragraph(f"{_NUMERALS[self.count]}、{text}", self.styles["heading"]))
        self.count += 1

    def paragraph(self, text: str, style: str = "body") -> None:
        Paragraph = _paragraph_class()  # noqa: N806 - a class
        self.story.append(Paragraph(_escape(text), self.styles[style]))


def _body(notice: Notice, styles: dict[str, Any]) -> list[Any]:
    from reportlab.lib.units import cm
    from reportlab.platypus import KeepTogether, Spacer

    Paragraph = _paragraph_class()  # noqa: N806 - a class
    body = _Sections(styles)
    body.story += [
        Paragraph(_escape(notice.bureau), styles["bureau"]),
        Paragraph(_escape(fullwidth(f"（{notice.number}）")), styles["number"]),
        Paragraph(_title(notice.title), styles["title"]),
    ]
    body.heading("总体情况")
    for key in ("总体情况", "抽检依据", "判定原则"):
        if key in notice.paragraphs:
            body.paragraph(notice.paragraphs[key])
    if notice.classes:
        rows = [["序号", "食品大类", "抽检批次", "不合格批次", "不合格率"]]
        rows += [[str(i), c.name, str(c.batches), str(c.failed), c.rate] for i, c in enumerate(notice.classes, 1)]
        if notice.total is not None:
            rows.append(["", "合计", str(notice.total.batches), str(notice.total.failed), notice.total.rate])
        body.story.append(
            KeepTogether(
                [
                    Paragraph(f"表1 {_escape(notice.scope)}分大类情况", styles["caption"]),
                    _table(rows, [1.4 * cm, 5.6 * cm, 2.8 * cm, 2.8 * cm, 2.8 * cm], styles, numeric={0, 2, 3, 4}),
                ]
            )
        )
    if notice.problems:
        body.heading("不合格项目问题类型")
        body.paragraph(notice.paragraphs["问题类型"])
        body.story.append(
            KeepTogether([_chart(notice), Paragraph("图1 不合格样品问题类型分布（按样品批次计）", styles["caption"])])
        )
    if "核查处置" in notice.paragraphs:
        body.heading("核查处置情况")
        body.paragraph(notice.paragraphs["核查处置"])
    if notice.notes:
        body.heading("不合格项目风险解析")
        for n, item in enumerate(notice.notes, 1):
            note = item.note
            body.paragraph(
                fullwidth(
                    f"（{_NUMERALS[n - 1]}）{item.item}。{note.what}{note.health}"
                    f"{note.causes.rstrip('。')}，可能导致该项目不合格。依据：{note.standard}。"
                )
            )
    tail = len(body.story)
    body.heading("消费提示")
    body.paragraph(notice.paragraphs["消费提示"])
    closing: list[Any] = body.story[tail:]  # the last section and the signature stay on one page
    del body.story[tail:]
    if notice.annex:
        closing += [Spacer(1, 8), Paragraph(_escape(f"附件：{notice.annex_title}"), styles["small"])]
    closing += [
        Spacer(1, 18),
        Paragraph(_escape(notice.bureau), styles["sign"]),
        Paragraph(f"{notice.issued.year}年{notice.issued.month}月{notice.issued.day}日", styles["sign"]),
    ]
    body.story.append(KeepTogether(closing))  # the signature never stands alone on a page
    return body.story


def _annex(notice: Notice, styles: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import NextPageTemplate, PageBreak, Spacer

    Paragraph = _paragraph_class()  # noqa: N806 - a class
    widths = [width * share / sum(s for _, s in ANNEX_COLUMNS) for _, share in ANNEX_COLUMNS]
    return [
        NextPageTemplate("annex"),
        PageBreak(),
        Paragraph("附件", styles["small"]),
        Paragraph(_escape(notice.annex_title), styles["title"]),
        Paragraph(_escape(notice.declaration), styles["small"]),
        Spacer(1, 6),
        _table(_annex_rows(notice.annex), widths, styles, numeric={0}, cell="annex_cell"),
    ]


def write_notice_pdf(notice: Notice, path: Path) -> Path:
    _setup()
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import cm
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

    styles = _styles()
    wide = landscape(A4)

    def page_number(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 9)
        canvas.drawCentredString(canvas._pagesize[0] / 2, 0.8 * cm, f"— {doc.page} —")  # this page's width
        canvas.restoreState()

    doc = BaseDocTemplate(
        str(path), pagesize=A4, title=notice.title, author=notice.bureau, creator=notice.bureau, subject=notice.number
    )
    doc.addPageTemplates(
        [
            PageTemplate(
                "portrait",
                [Frame(2.6 * cm, 2.2 * cm, A4[0] - 5.0 * cm, A4[1] - 4.6 * cm)],
                onPage=page_number,
                pagesize=A4,
            ),
            PageTemplate(
                "annex",
                [Frame(1.2 * cm, 1.4 * cm, wide[0] - 2.4 * cm, wide[1] - 2.8 * cm)],
                onPage=page_number,
                pagesize=wide,
            ),
        ]
    )
    story = _body(notice, styles)
    if notice.annex:
        story += _annex(notice, styles, wide[0] - 2.4 * cm)
    doc.build(story)
    return path

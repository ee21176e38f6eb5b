"""Where a worker's CPU goes: ``py-spy record`` on a running worker, its samples grouped by what they do.

Each sample is attributed by its innermost frame that belongs to a known part (walking from the leaf towards
the root), so time in pydantic-core called from our validation counts as validation, time in psycopg's COPY
writer as COPY encoding, and the event loop polling an idle socket as idle.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

# (label, test on "function (file:line)") in the order they are tried on each frame, innermost first.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("idle: event loop waiting for I/O", ("selectors.py",)),
    ("validation (pydantic-core, schema checks)", ("pydantic", "qsmon/schema.py", "_validated ", "classify ")),
    (
        "COPY rows (copy_row, psycopg's binary writer)",
        ("copy_row", "_failed_items_json", "write_row", "copy_to", "_copy_base"),
    ),
    ("PostgreSQL round trips (psycopg, GIL released)", ("psycopg",)),
    ("Kafka client (aiokafka: fetch, decompress, produce)", ("aiokafka", "cramjam", "lz4")),
    ("change feed (encode rollup keys)", ("qsmon/changes.py",)),
    ("metrics (prometheus-client)", ("prometheus_client", "_observe")),
    ("batch code (streams/)", ("streams/",)),
    ("faust / mode plumbing", ("faust/", "mode/")),
)


def part_of(stack: str) -> str:
    for frame in reversed(stack.split(";")):
        for label, marks in PARTS:
            if any(mark in frame for mark in marks):
                return label
    return "other (interpreter, stdlib)"


def summarise(raw: Path) -> list[tuple[str, float]]:
    """Share of samples per part, largest first, from py-spy's raw (collapsed stack) output."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if stack:
            counts[part_of(stack)] += int(samples)
    total = sum(counts.values()) or 1
    return [(label, n / total) for label, n in counts.most_common()]


def record(pid: int, seconds: float, out: Path) -> list[tuple[str, float]]:
    """Sample ``pid`` for ``seconds`` (py-spy, 200 Hz, without pausing it) and summarise."""
    subprocess.run(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "200",
            "--nonblocking",
            "--format",
            "raw",
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return summarise(out)


def markdown(shares: list[tuple[str, float]]) -> str:
    return "\n".join(f"| {label} | {share * 100:.1f} % |" for label, share in shares)


if __name__ == "__main__":
    for label, share in summarise(Path(sys.argv[1])):
        print(f"{share * 100:5.1f} %  {label}")

"""Writing a benchmark's latest figures into docs/benchmarks.md, between its markers."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def replace_section(name: str, text: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace ``<!-- bench:NAME:start -->`` … ``<!-- bench:NAME:end -->`` (``text`` carries both markers)."""
    start_marker, end_marker = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    current = path.read_text(encoding="utf-8")
    start, end = current.index(start_marker), current.index(end_marker) + len(end_marker)
    path.write_text(current[:start] + text + current[end:], encoding="utf-8")

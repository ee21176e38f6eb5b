"""Spreadsheet and file imports: each format turns rows into events or row-numbered rejections."""

from producers.importers.base import ImportRow, Rejection, RowOutcome
from producers.importers.run import ImportSummary, import_files

__all__ = ["ImportRow", "ImportSummary", "Rejection", "RowOutcome", "import_files"]

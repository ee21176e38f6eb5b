"""Output escaping, one function per format (issue #31). Texts from outside (firm and product names, failed items,
subcategories, who did a case step) reach robots' Markdown, spreadsheets and PDF charts; each format has its one
home here, and every writer of that format calls it.

* Markdown (WeCom, DingTalk, Feishu robots): :func:`markdown_text`. The robots' Markdown dialects do not agree on
  backslash escapes, so the characters that make links, emphasis, headings, tables or HTML are replaced by their
  full-width forms (as Chinese text writes them anyway) and ``://`` is broken so no client links it.
* CSV: :func:`spreadsheet_text` / :func:`csv_row`. A text Excel or LibreOffice would run as a formula (``=``,
  ``+``, ``-``, ``@``, tab or carriage return first) is quoted with a leading apostrophe (OWASP's advice).
* xlsx: workbooks are written with :data:`SAFE_XLSX`: every text is a string cell, never a formula or a link.
* matplotlib: :func:`plain_chart_text`: ``$…$`` is not read as mathtext (an item named ``$\\y$`` broke the PDF).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_MARKDOWN = str.maketrans(
    {
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "<": "＜",
        ">": "＞",
        "~": "～",
        "|": "｜",
        "!": "！",
        "\\": "＼",
    }
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SAFE_XLSX: dict[str, Any] = {"strings_to_formulas": False, "strings_to_urls": False}


def markdown_text(text: object) -> str:
    """``text`` as plain words inside a robot's Markdown: no link, emphasis, heading, table or HTML of its own, and
    on one line."""
    plain = " ".join(str(text).split())  # no line breaks: a line of its own could start a heading or a list
    return plain.translate(_MARKDOWN).replace("://", ":／／")


def spreadsheet_text(value: Any) -> Any:
    """A text a spreadsheet would run as a formula, quoted with a leading apostrophe; anything else as it is."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_START) else value


def plain_chart_text(rc_params: Any) -> None:
    """matplotlib's settings (``pyplot.rcParams``) with every text drawn as it is: no mathtext, no TeX."""
    rc_params["text.parse_math"] = False
    rc_params["text.usetex"] = False


def csv_row(values: Iterable[Any]) -> list[Any]:
    """A row for ``csv.writer``: every text through :func:`spreadsheet_text`."""
    return [spreadsheet_text(v) for v in values]

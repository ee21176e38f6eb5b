"""Chinese text as a notice prints it (GB/T 15834): full-width punctuation inside Chinese sentences, and no line that
starts with closing punctuation. Figures, codes and standards keep their ASCII (1,200 批次, 10:00, GB 2762-2022).

Every sentence the reports write goes through :func:`fullwidth` once, so the workbook, the CSV files and both PDFs
print the same characters; the PDFs' line breaking keeps :data:`NO_LINE_START` off a line's start.
"""

from __future__ import annotations

import re

# Closing punctuation that may not start a line (避头点), and opening punctuation that may not end one.
NO_LINE_START = frozenset("，。、；：？！）》」』】〕”’%）…")
NO_LINE_END = frozenset("（《「『【〔“‘")

_CJK = r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]"
_PAIRS = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}


def _is_cjk(char: str) -> bool:
    return bool(char) and re.match(_CJK, char) is not None


def fullwidth(text: str) -> str:
    """In text with Chinese in it, ASCII , ; : ? ! become full-width, except between digits (1,200, 10:00), and
    ( ) become （ ） around Chinese or after it; ASCII-only text (GB 2760 (2024)) is left alone."""
    if not any(_is_cjk(c) for c in text):
        return text
    out = list(text)
    for i, char in enumerate(text):
        before = text[i - 1] if i else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if char in _PAIRS and not (before.isdigit() and after.isdigit()):
            out[i] = _PAIRS[char]
        elif char == "(":
            close = _matching(text, i)
            inside = text[i + 1 : close] if close > i else text[i + 1 :]
            if _is_cjk(before) or any(_is_cjk(c) for c in inside):
                out[i] = "（"
                if close > i:
                    out[close] = "）"
    return "".join(out)


def _matching(text: str, opening: int) -> int:
    """The index of the ``)`` closing the ``(`` at ``opening`` (nested pairs skipped), or -1."""
    depth = 0
    for j in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        if depth == 0:
            return j
    return -1


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters (one more where a closing mark must stay on its line), never starting
    with closing punctuation nor ending with opening punctuation, and never splitting a number (0.18, 4.90%)."""
    lines: list[str] = []
    line = ""
    for i, char in enumerate(text):
        following = text[i + 1] if i + 1 < len(text) else ""
        line += char
        inside_number = (char.isdigit() or char in ".%,/-:") and (following.isdigit() or following in ".%/-:")
        if (
            len(line) >= width
            and following
            and following not in NO_LINE_START
            and char not in NO_LINE_END
            and not inside_number
        ):
            lines.append(line)
            line = ""
    return [*lines, line] if line else lines

"""Chinese punctuation as notices print it: full-width inside Chinese text, ASCII in figures; no line starting with
closing punctuation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reports.typeset import NO_LINE_END, NO_LINE_START, fullwidth, wrap


class TestFullwidth:
    def test_commas_and_brackets_in_chinese_text_become_full_width(self) -> None:
        assert fullwidth("不合格7批次,不合格率0.95%,环比下降0.03个百分点(上月无数据)。") == (
            "不合格7批次，不合格率0.95%，环比下降0.03个百分点（上月无数据）。"
        )

    def test_figures_and_codes_keep_their_ascii(self) -> None:
        assert fullwidth("共1,200批次,10:00起") == "共1,200批次，10:00起"
        assert fullwidth("GB 2760 (2024)") == "GB 2760 (2024)"

    def test_a_bracket_around_chinese_after_a_figure_is_full_width(self) -> None:
        assert fullwidth("饮料(2.22%,2/90批次)") == "饮料（2.22%，2/90批次）"
        assert fullwidth("占71.43%(5项次,主要为菌落总数)") == "占71.43%（5项次，主要为菌落总数）"

    def test_colons_and_semicolons(self) -> None:
        assert fullwidth("下一步工作:加强抽检;跟踪整改") == "下一步工作：加强抽检；跟踪整改"


chinese = st.text(
    alphabet=st.sampled_from(list("食品抽检合格率不批次，。、；：）（") + list("0123456789.%")),
    min_size=1,
    max_size=200,
)


class TestWrap:
    @given(text=chinese, width=st.integers(min_value=4, max_value=40))
    def test_no_line_starts_with_closing_punctuation_and_nothing_is_lost(self, text: str, width: int) -> None:
        lines = wrap(text, width)
        assert "".join(lines) == text
        assert all(line[0] not in NO_LINE_START for line in lines[1:])
        assert all(line[-1] not in NO_LINE_END for line in lines[:-1])

    def test_a_number_is_not_split(self) -> None:
        assert wrap("合格率为98.53%。", 7) == ["合格率为98.53%。"]


class TestNestedBrackets:
    def test_a_bracket_inside_a_bracket_closes_where_it_opened(self) -> None:
        assert fullwidth("标准(如 GB 14934《消毒餐(饮)具》)") == "标准（如 GB 14934《消毒餐（饮）具》）"


class TestDates:
    def test_a_date_or_a_time_stays_on_one_line(self) -> None:
        lines = wrap("规划期已于2025-12-31结束", 12)
        assert any("2025-12-31" in line for line in lines)

"""An example workbook in the layout bureaus publish (SAMR announcements), with the quirks real ones have.

Used by the demo and the tests: title rows, merged cells, dates written five ways, a pass and a fail sheet, and
three bad rows whose rejection the import must report by sheet and row number.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook

PASS_HEADER = [
    "序号",
    "标称生产企业名称",
    "标称生产企业地址",
    "被抽样单位名称",
    "被抽样单位所在省份",
    "食品名称",
    "规格型号",
    "商标",
    "生产日期/批号",
    "分类",
    "公告号",
    "公告日期",
    "任务来源/项目名称",
    "检验机构",
    "备注",
]
FAIL_HEADER = [*PASS_HEADER[:9], "不合格项目║检验结果║标准值", *PASS_HEADER[9:]]

# Expected outcome of importing the workbook: (sheet, row) of each rejected row with a word of its reason.
EXPECTED_VALID = 7
EXPECTED_REJECTED = {
    ("食品安全监督抽检产品合格信息", 10): "province",
    ("食品安全监督抽检产品合格信息", 11): "date",
    ("食品安全监督抽检不合格产品信息", 6): "不合格项目",
}


def build_samr_workbook(path: Path) -> Path:
    wb = Workbook()
    ok = wb.active
    if ok is None:  # a new Workbook always has an active sheet
        raise RuntimeError("openpyxl created a workbook without a sheet")
    ok.title = "食品安全监督抽检产品合格信息"
    ok.append(["附件1"])
    ok.append(["食品安全监督抽检产品合格信息"])
    ok.append(["（声明：此表格公布的信息仅指本次抽检标称的生产企业相关产品的生产日期/批号和所检项目）"])
    ok.merge_cells("A1:O1")
    ok.merge_cells("A2:O2")
    ok.append(PASS_HEADER)
    rows: list[list[Any]] = [
        # row 5..9 valid; 分类 merged over rows 5-7, 公告日期 written five ways
        [
            1,
            "荆州楚源食品有限公司",
            "湖北省荆州市",
            "沙市区某超市",
            "湖北",
            "大米",
            "5kg/袋",
            "楚源",
            "2026-02-01",
            "粮食加工品",
            "2026年第3期",
            "2026-03-05",
            "湖北省市场监督管理局评价性抽检",
            "湖北省食品质量安全监督检验研究院",
            "",
        ],
        [
            2,
            "江汉面业有限公司",
            "湖北省潜江市",
            "荆州区某超市",
            "湖北省",
            "挂面",
            "1kg/袋",
            "江汉",
            "2026/01/20",
            None,
            "2026年第3期",
            "2026/3/6",
            "湖北省市场监督管理局评价性抽检",
            "湖北省食品质量安全监督检验研究院",
            "",
        ],
        [
            3,
            "金穗粮油有限公司",
            "湖北省监利市",
            "监利市某粮店",
            "湖北",
            "小麦粉",
            "2.5kg/袋",
            "金穗",
            "20260115",
            None,
            "2026年第3期",
            "2026年3月7日",
            "湖北省市场监督管理局监督抽检",
            "荆州市食品药品检验所",
            "",
        ],
        [
            4,
            "洪湖莲藕合作社",
            "湖北省洪湖市",
            "洪湖市某农贸市场",
            "湖北",
            "莲藕粉",
            "500g/袋",
            "/",
            "2026-02-10",
            "淀粉及淀粉制品",
            "2026年第3期",
            datetime(2026, 3, 8),  # noqa: DTZ001 - Excel cells have no zone
            "湖北省市场监督管理局监督抽检",
            "荆州市食品药品检验所",
            "",
        ],
        [
            5,
            "松滋酒业有限公司",
            "湖北省松滋市",
            "松滋市某商店",
            "湖北",
            "白酒",
            "500mL/瓶",
            "松滋",
            "2026-01-01",
            "酒类",
            "2026年第3期",
            20260309,
            "湖北省市场监督管理局监督抽检",
            "荆州市食品药品检验所",
            "备注文字",
        ],
        # row 10: unknown province; row 11: no date at all
        [
            6,
            "某公司",
            "火星",
            "某店",
            "火星",
            "饼干",
            "200g",
            "无",
            "2026-01-01",
            "饼干",
            "2026年第3期",
            "2026-03-10",
            "监督抽检",
            "某所",
            "",
        ],
        [
            7,
            "某公司",
            "湖北",
            "某店",
            "湖北",
            "饼干",
            "200g",
            "无",
            "2026-01-01",
            "饼干",
            "2026年第3期",
            "",
            "监督抽检",
            "某所",
            "",
        ],
        [None] * 15,  # an empty row is skipped, not rejected
    ]
    for row in rows:
        ok.append(row)
    ok.merge_cells("J5:J7")

    bad = wb.create_sheet("食品安全监督抽检不合格产品信息")
    bad.append(["附件2"])
    bad.append(["食品安全监督抽检不合格产品信息"])
    bad.merge_cells("A1:P1")
    bad.append(FAIL_HEADER)
    fails: list[list[Any]] = [
        [
            1,
            "某蔬菜基地",
            "湖北省洪湖市",
            "洪湖市某农贸市场",
            "湖北",
            "普通白菜",
            "散装",
            "/",
            "2026-03-01",
            "毒死蜱║0.12mg/kg║≤0.02mg/kg",
            "蔬菜",
            "2026年第3期",
            "2026-03-11",
            "湖北省市场监督管理局监督抽检",
            "湖北省食品质量安全监督检验研究院",
            "",
        ],
        [
            2,
            "某食品厂",
            "湖北省荆州市",
            "荆州区某超市",
            "湖北",
            "面包",
            "散装",
            "/",
            "2026-03-02",
            "大肠菌群║n=5,c=2,m=10,M=10²CFU/g 检出值:4.3×10²,1.2×10³,<10,<10,<10║n=5,c=2,m=10,M=10²\n"
            "菌落总数║1.2×10⁶CFU/g║≤10⁵CFU/g",
            "糕点",
            "2026年第3期",
            "2026-03-12",
            "湖北省市场监督管理局监督抽检",
            "荆州市食品药品检验所",
            "",
        ],
        # row 6: a fail row without failed items
        [
            3,
            "某食品厂",
            "湖北省荆州市",
            "荆州区某超市",
            "湖北",
            "蛋糕",
            "散装",
            "/",
            "2026-03-02",
            "",
            "糕点",
            "2026年第3期",
            "2026-03-12",
            "湖北省市场监督管理局监督抽检",
            "荆州市食品药品检验所",
            "",
        ],
    ]
    for row in fails:
        bad.append(row)
    wb.save(path)
    return path

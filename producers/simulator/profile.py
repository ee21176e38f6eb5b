"""What a city's sampling looks like: the mix of streams and their baseline pass rates.

Baselines sit at the levels the city plans presuppose, near recent national reports (SAMR / NMPA / MARA):
evaluative food sampling ~98.9 %, agricultural routine monitoring ~98.8 %, drugs, cosmetics and devices ~99 %,
manufactured products ~95.5 %; engineering acceptance is essentially always passed. Seasonality (summer microbes)
and scenario incidents push individual streams below target, which is what the alerts are for.
"""

from __future__ import annotations

from dataclasses import dataclass

from qsmon.vocab import Category, Grade, SamplingType, Stage


@dataclass(frozen=True, slots=True)
class FailureMode:
    item: str
    measured: tuple[float, float]  # range of the measured value when failing
    limit: str
    unit: str


@dataclass(frozen=True, slots=True)
class StreamProfile:
    category: Category
    sampling_type: SamplingType
    subcategory: str
    weight: float  # share of all results
    pass_rate: float  # baseline, 0-1
    products: tuple[str, ...]
    failures: tuple[FailureMode, ...] = ()
    stages: tuple[Stage, ...] = (Stage.DISTRIBUTION,)
    summer_drop: float = 0.0  # extra failure probability at the height of summer (microbes, spoilage)
    grades: tuple[tuple[Grade, float], ...] = ()  # grade distribution, when the stream is graded
    score_mean: float | None = None  # survey streams: mean score


_PESTICIDE = (
    FailureMode("毒死蜱", (0.03, 0.4), "≤0.02", "mg/kg"),
    FailureMode("腐霉利", (0.3, 2.0), "≤0.2", "mg/kg"),
    FailureMode("氯氟氰菊酯和高效氯氟氰菊酯", (0.05, 0.6), "≤0.02", "mg/kg"),
)
_VET_DRUG = (
    FailureMode("恩诺沙星", (120, 600), "≤100", "μg/kg"),
    FailureMode("呋喃唑酮代谢物", (1.2, 8), "不得检出", "μg/kg"),
)
_MICROBE = (
    FailureMode("大肠菌群", (200, 5000), "n=5,c=2,m=10,M=10²", "CFU/g"),
    FailureMode("菌落总数", (1e5, 1e6), "n=5,c=2,m=10⁴,M=10⁵", "CFU/g"),
)
_ADDITIVE = (
    FailureMode("脱氢乙酸及其钠盐(以脱氢乙酸计)", (0.6, 1.5), "≤0.5", "g/kg"),
    FailureMode("苯甲酸及其钠盐(以苯甲酸计)", (1.2, 3.0), "≤1.0", "g/kg"),
)

PROFILES: tuple[StreamProfile, ...] = (
    StreamProfile(
        Category.FOOD,
        SamplingType.EVALUATIVE,
        "粮食加工品",
        0.06,
        0.996,
        ("大米", "小麦粉", "挂面"),
        _ADDITIVE,
        (Stage.PRODUCTION, Stage.DISTRIBUTION),
    ),
    StreamProfile(
        Category.FOOD,
        SamplingType.EVALUATIVE,
        "糕点",
        0.05,
        0.988,
        ("面包", "月饼", "蛋糕"),
        _MICROBE + _ADDITIVE,
        (Stage.PRODUCTION, Stage.DISTRIBUTION, Stage.CATERING),
        summer_drop=0.02,
    ),
    StreamProfile(
        Category.FOOD,
        SamplingType.EVALUATIVE,
        "餐饮食品",
        0.07,
        0.989,
        ("凉拌菜", "卤肉", "米粉"),
        _MICROBE,
        (Stage.CATERING,),
        summer_drop=0.03,
    ),
    StreamProfile(
        Category.FOOD,
        SamplingType.EVALUATIVE,
        "豆制品",
        0.04,
        0.991,
        ("豆腐", "腐竹", "豆干"),
        _MICROBE + _ADDITIVE,
        (Stage.PRODUCTION, Stage.DISTRIBUTION),
        summer_drop=0.015,
    ),
    StreamProfile(
        Category.FOOD,
        SamplingType.SUPERVISORY,
        "饮料",
        0.04,
        0.975,
        ("饮用纯净水", "果汁饮料"),
        _MICROBE,
        (Stage.PRODUCTION, Stage.DISTRIBUTION, Stage.ONLINE),
        summer_drop=0.01,
    ),
    StreamProfile(Category.FOOD, SamplingType.RISK_MONITORING, "水产制品", 0.03, 0.95, ("鱼糕", "虾仁"), _VET_DRUG),
    StreamProfile(
        Category.AGRICULTURAL,
        SamplingType.ROUTINE_MONITORING,
        "蔬菜",
        0.16,
        0.988,
        ("普通白菜", "芹菜", "韭菜", "豇豆", "莲藕"),
        _PESTICIDE,
    ),
    StreamProfile(
        Category.AGRICULTURAL,
        SamplingType.ROUTINE_MONITORING,
        "畜禽肉",
        0.07,
        0.992,
        ("猪肉", "鸡肉", "牛肉"),
        _VET_DRUG,
    ),
    StreamProfile(
        Category.AGRICULTURAL,
        SamplingType.ROUTINE_MONITORING,
        "水产品",
        0.07,
        0.986,
        ("小龙虾", "鲫鱼", "草鱼"),
        _VET_DRUG,
    ),
    StreamProfile(
        Category.AGRICULTURAL, SamplingType.SUPERVISORY, "水果", 0.04, 0.99, ("柑橘", "葡萄", "黄桃"), _PESTICIDE
    ),
    StreamProfile(
        Category.DRUG,
        SamplingType.EVALUATIVE,
        "化学药品",
        0.05,
        0.994,
        ("阿莫西林胶囊", "布洛芬片"),
        (FailureMode("溶出度", (60, 75), "≥80", "%"),),
        (Stage.DISTRIBUTION,),
    ),
    StreamProfile(
        Category.DRUG,
        SamplingType.EVALUATIVE,
        "中药饮片",
        0.03,
        0.988,
        ("黄芪", "当归"),
        (FailureMode("二氧化硫残留量", (200, 600), "≤150", "mg/kg"),),
        (Stage.DISTRIBUTION,),
    ),
    StreamProfile(
        Category.MEDICAL_DEVICE,
        SamplingType.EVALUATIVE,
        "医用防护用品",
        0.03,
        0.988,
        ("医用外科口罩", "医用防护服"),
        (FailureMode("细菌过滤效率", (80, 94), "≥95", "%"),),
    ),
    StreamProfile(
        Category.COSMETIC,
        SamplingType.EVALUATIVE,
        "护肤类",
        0.03,
        0.99,
        ("面霜", "防晒霜"),
        (FailureMode("菌落总数", (1500, 9000), "≤1000", "CFU/g"),),
    ),
    StreamProfile(
        Category.MANUFACTURED,
        SamplingType.SUPERVISORY,
        "电器产品",
        0.06,
        0.955,
        ("电热水壶", "插座", "电线电缆"),
        (FailureMode("导体电阻", (12, 20), "≤10", "Ω/km"),),
        (Stage.PRODUCTION, Stage.DISTRIBUTION, Stage.ONLINE),
    ),
    StreamProfile(
        Category.MANUFACTURED,
        SamplingType.SUPERVISORY,
        "建材",
        0.04,
        0.962,
        ("钢筋", "水泥", "防水卷材"),
        (FailureMode("屈服强度", (350, 390), "≥400", "MPa"),),
        (Stage.PRODUCTION,),
    ),
    StreamProfile(
        Category.MANUFACTURED,
        SamplingType.SUPERVISORY,
        "儿童用品",
        0.03,
        0.95,
        ("儿童服装", "玩具"),
        (FailureMode("纤维含量", (60, 80), "≥90", "%"),),
        (Stage.DISTRIBUTION, Stage.ONLINE),
    ),
    StreamProfile(
        Category.ENGINEERING,
        SamplingType.ACCEPTANCE,
        "房屋建筑工程",
        0.015,
        0.9995,
        ("住宅楼", "学校教学楼"),
        (FailureMode("混凝土强度", (20, 27), "≥C30", "MPa"),),
        (),
        grades=((Grade.EXCELLENT, 0.35), (Grade.GOOD, 0.5), (Grade.QUALIFIED, 0.15)),
    ),
    StreamProfile(
        Category.ENGINEERING,
        SamplingType.SPOT_CHECK,
        "在建工程",
        0.02,
        0.96,
        ("主体结构", "钢筋保护层"),
        (FailureMode("钢筋保护层厚度", (10, 14), "≥15", "mm"),),
        (),
    ),
    StreamProfile(
        Category.PUBLIC_SERVICE,
        SamplingType.SURVEY,
        "公共服务质量",
        0.035,
        1.0,
        ("政务服务", "公共交通", "医疗服务"),
        (),
        (),
        score_mean=82.0,
    ),
    StreamProfile(
        Category.SERVICE,
        SamplingType.SURVEY,
        "服务业顾客满意度",
        0.025,
        1.0,
        ("零售", "餐饮服务", "旅游服务"),
        (),
        (),
        score_mean=84.0,
    ),
)

LABS: tuple[str, ...] = (
    "湖北省食品质量安全监督检验研究院",
    "荆州市食品药品检验所",
    "谱尼测试集团股份有限公司",
    "华测检测认证集团股份有限公司",
    "湖北省产品质量监督检验研究院",
)
UNIT_KINDS: tuple[str, ...] = ("超市", "农贸市场", "餐饮店", "食品厂", "药店", "商贸有限公司", "电商店铺")
MANUFACTURER_KINDS: tuple[str, ...] = (
    "食品有限公司",
    "农业发展有限公司",
    "药业有限公司",
    "电器有限公司",
    "建材有限公司",
)
TRADE_NAMES: tuple[str, ...] = ("楚源", "江汉", "荆楚", "洪湖", "松滋", "金穗", "长江", "鑫隆", "华强", "绿野")

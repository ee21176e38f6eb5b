"""The closed vocabulary shared by the event schema, the plans, the dashboards and the reports.

Codes are English identifiers; every code has the Chinese label bureau staff read.
"""

from __future__ import annotations

from enum import StrEnum


class LabelledEnum(StrEnum):
    """A string enum whose members carry a Chinese label."""

    @property
    def label(self) -> str:
        return LABELS[self]


class Category(LabelledEnum):
    FOOD = "food"
    AGRICULTURAL = "agricultural"
    DRUG = "drug"
    MEDICAL_DEVICE = "medical_device"
    COSMETIC = "cosmetic"
    MANUFACTURED = "manufactured"
    ENGINEERING = "engineering"
    CERTIFIED_PRODUCT = "certified_product"
    MEASURING_INSTRUMENT = "measuring_instrument"
    ENVIRONMENT = "environment"
    SERVICE = "service"
    PUBLIC_SERVICE = "public_service"


class SamplingType(LabelledEnum):
    EVALUATIVE = "evaluative"
    SUPERVISORY = "supervisory"
    RISK_MONITORING = "risk_monitoring"
    ROUTINE_MONITORING = "routine_monitoring"
    SPECIAL_MONITORING = "special_monitoring"
    ACCEPTANCE = "acceptance"
    SPOT_CHECK = "spot_check"
    ENVIRONMENTAL_MONITORING = "environmental_monitoring"
    SURVEY = "survey"


class Stage(LabelledEnum):
    PRODUCTION = "production"
    DISTRIBUTION = "distribution"
    CATERING = "catering"
    ONLINE = "online"


class Verdict(LabelledEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    VOID = "void"  # 异议成立, 不予判定: no verdict; the sample leaves every denominator


class SamplingLevel(LabelledEnum):
    """Who organised the sampling (国抽, 省抽, 市抽, 县抽): plans count some levels apart."""

    NATIONAL = "national"
    PROVINCIAL = "provincial"
    CITY = "city"
    COUNTY = "county"


class RetestStatus(LabelledEnum):
    """Where a 复检 (re-test) of a failing result stands."""

    PENDING = "pending"
    UPHELD = "upheld"  # the failure stands
    OVERTURNED = "overturned"  # the re-test passed: a later revision carries the new verdict


class Grade(LabelledEnum):
    """Grades some plans count: quality grades (优良率) and surface-water classes (Ⅰ–Ⅴ, 劣Ⅴ)."""

    EXCELLENT = "excellent"
    GOOD = "good"
    QUALIFIED = "qualified"
    UNQUALIFIED = "unqualified"
    CLASS_I = "class_1"
    CLASS_II = "class_2"
    CLASS_III = "class_3"
    CLASS_IV = "class_4"
    CLASS_V = "class_5"
    WORSE_THAN_V = "worse_than_5"


LABELS: dict[LabelledEnum, str] = {
    Category.FOOD: "食品",
    Category.AGRICULTURAL: "农产品",  # the agriculture department's; SAMR's 食用农产品 is a food class (大类)
    Category.DRUG: "药品",
    Category.MEDICAL_DEVICE: "医疗器械",
    Category.COSMETIC: "化妆品",
    Category.MANUFACTURED: "工业产品",
    Category.ENGINEERING: "工程",
    Category.CERTIFIED_PRODUCT: "认证获证产品",
    Category.MEASURING_INSTRUMENT: "计量器具",
    Category.ENVIRONMENT: "环境",
    Category.SERVICE: "服务",
    Category.PUBLIC_SERVICE: "公共服务",
    SamplingType.EVALUATIVE: "评价性抽检",
    SamplingType.SUPERVISORY: "监督抽检",
    SamplingType.RISK_MONITORING: "风险监测",
    SamplingType.ROUTINE_MONITORING: "例行监测",
    SamplingType.SPECIAL_MONITORING: "专项监测",
    SamplingType.ACCEPTANCE: "竣工验收",
    SamplingType.SPOT_CHECK: "监督抽查",
    SamplingType.ENVIRONMENTAL_MONITORING: "环境监测",
    SamplingType.SURVEY: "满意度测评",
    Stage.PRODUCTION: "生产环节",
    Stage.DISTRIBUTION: "流通环节",
    Stage.CATERING: "餐饮环节",
    Stage.ONLINE: "网络销售",
    Verdict.PASS: "合格",
    Verdict.FAIL: "不合格",
    Verdict.VOID: "不予判定",
    SamplingLevel.NATIONAL: "国家抽检",
    SamplingLevel.PROVINCIAL: "省级抽检",
    SamplingLevel.CITY: "市级抽检",
    SamplingLevel.COUNTY: "县级抽检",
    RetestStatus.PENDING: "复检中",
    RetestStatus.UPHELD: "复检维持",
    RetestStatus.OVERTURNED: "复检改判",
    Grade.EXCELLENT: "优",
    Grade.GOOD: "良",
    Grade.QUALIFIED: "合格",
    Grade.UNQUALIFIED: "不合格",
    Grade.CLASS_I: "Ⅰ类",
    Grade.CLASS_II: "Ⅱ类",
    Grade.CLASS_III: "Ⅲ类",
    Grade.CLASS_IV: "Ⅳ类",
    Grade.CLASS_V: "Ⅴ类",
    Grade.WORSE_THAN_V: "劣Ⅴ类",
}

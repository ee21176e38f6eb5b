"""GB/T 2260 administrative division codes of the cities whose plans qsmon ships.

Only prefecture- and county-level codes: the standard stops at county level.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    parent: str | None


_CITIES: dict[tuple[str, str], dict[str, str]] = {
    ("420500", "宜昌市"): {
        "420502": "西陵区", "420503": "伍家岗区", "420504": "点军区", "420505": "猇亭区",
        "420506": "夷陵区", "420525": "远安县", "420526": "兴山县", "420527": "秭归县",
        "420528": "长阳土家族自治县", "420529": "五峰土家族自治县", "420581": "宜都市",
        "420582": "当阳市", "420583": "枝江市",
    },
    ("421000", "荆州市"): {
        "421002": "沙市区", "421003": "荆州区", "421022": "公安县", "421024": "江陵县",
        "421081": "石首市", "421083": "洪湖市", "421087": "松滋市", "421088": "监利市",
    },
    ("330400", "嘉兴市"): {
        "330402": "南湖区", "330411": "秀洲区", "330421": "嘉善县", "330424": "海盐县",
        "330481": "海宁市", "330482": "平湖市", "330483": "桐乡市",
    },
    # 同江市 is a county-level city of 佳木斯市; GB/T 2260 lists nothing below it.
    ("230800", "佳木斯市"): {"230881": "同江市"},
}

REGIONS: dict[str, Region] = {}
for (_city_code, _city_name), _counties in _CITIES.items():
    REGIONS[_city_code] = Region(_city_code, _city_name, None)
    for _code, _name in _counties.items():
        REGIONS[_code] = Region(_code, _name, _city_code)


def children(code: str) -> list[Region]:
    """The regions directly below ``code``, in code order."""
    return sorted((r for r in REGIONS.values() if r.parent == code), key=lambda r: r.code)


def like_pattern(code: str) -> str:
    """The SQL LIKE pattern of ``code`` and everything below it: a province (xx0000) or city (xxxx00) covers the
    codes that share its prefix; a county covers itself. The SQL function region_pattern() is the same rule."""
    if code.endswith("0000"):
        return code[:2] + "%"
    if code.endswith("00"):
        return code[:4] + "%"
    return code


def is_within(code: str, ancestor: str) -> bool:
    """True when ``code`` is ``ancestor`` or lies below it (by GB/T 2260 prefix rules)."""
    pattern = like_pattern(ancestor)
    return code.startswith(pattern[:-1]) if pattern.endswith("%") else code == pattern


def name_of(code: str) -> str:
    region = REGIONS.get(code)
    return region.name if region else code

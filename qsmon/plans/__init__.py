"""City quality plans as machine-readable targets: the model, the loader and the shipped presets."""

from qsmon.plans.loader import PlanFileError, load_plan, load_plan_text, preset_dir, presets
from qsmon.plans.model import (
    Compare,
    Filter,
    Indicator,
    Measure,
    NotMonitored,
    Op,
    Plan,
    PlanStatus,
    Severity,
    Target,
)

__all__ = [
    "Compare",
    "Filter",
    "Indicator",
    "Measure",
    "NotMonitored",
    "Op",
    "Plan",
    "PlanFileError",
    "PlanStatus",
    "Severity",
    "Target",
    "load_plan",
    "load_plan_text",
    "preset_dir",
    "presets",
]

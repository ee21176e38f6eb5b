"""City quality plans as machine-readable targets: the model, the loader and the shipped presets."""

from qsmon.plans.loader import PlanFileError, load_plan, load_plan_text, preset_dir, presets
from qsmon.plans.model import (
    Filter,
    Indicator,
    Measure,
    NotMonitored,
    Op,
    Plan,
    Severity,
    Target,
)

__all__ = [
    "Filter",
    "Indicator",
    "Measure",
    "NotMonitored",
    "Op",
    "Plan",
    "PlanFileError",
    "Severity",
    "Target",
    "load_plan",
    "load_plan_text",
    "preset_dir",
    "presets",
]

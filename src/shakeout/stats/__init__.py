"""Statistics: paired bootstrap, exact tests and intervals, multiple testing, effect sizes."""

from shakeout.stats.bootstrap import BootstrapPlan, interval, p_value
from shakeout.stats.effect import effect_label
from shakeout.stats.exact import clopper_pearson, mcnemar_exact
from shakeout.stats.multitest import METHODS, adjust_p_values

__all__ = ["METHODS", "BootstrapPlan", "adjust_p_values", "clopper_pearson", "effect_label",
           "interval", "mcnemar_exact", "p_value"]

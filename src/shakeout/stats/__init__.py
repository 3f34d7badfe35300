"""Statistics: paired bootstrap, exact tests and intervals, multiple testing, effect sizes."""

from shakeout.stats.bootstrap import (BootstrapPlan, draw_counts, draw_inflation, interval,
                                      p_floor, p_value)
from shakeout.stats.effect import effect_label
from shakeout.stats.exact import (clopper_pearson, effective_size, mcnemar_exact,
                                  paired_difference_interval, paired_proportion_difference,
                                  sign_flip_test, wilson)
from shakeout.stats.multitest import METHODS, adjust_p_values
from shakeout.stats.quantile import median_interval

__all__ = ["METHODS", "BootstrapPlan", "adjust_p_values", "clopper_pearson", "draw_counts",
           "draw_inflation", "effect_label", "effective_size", "interval", "mcnemar_exact",
           "median_interval", "p_floor", "p_value", "paired_difference_interval",
           "paired_proportion_difference", "sign_flip_test", "wilson"]

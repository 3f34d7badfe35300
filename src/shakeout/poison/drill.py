"""The poison pillar's registrations: the poisoning drill (``shakeout poison``, the plan's
``poison`` section, clean accuracy and attack success rate against the poisoning rate) and
the training-data scan (``shakeout scan``, the plan's ``scan`` section)."""

from __future__ import annotations

from shakeout.drills import Column, Command, Drill, ReportSpec, Table

SUCCESS_NOTE = (
    "Attack success rate: the share of triggered test inputs whose true label is not the "
    "backdoor's target that the model trained on poisoned data classifies as the target; at "
    "rate 0 the unpoisoned model's rate, the floor. Clean accuracy: accuracy on the clean "
    "test rows. Both with exact Clopper-Pearson intervals; the headline gives the largest "
    "poisoning rate, the curves every rate (the share of training rows poisoned).")
CERTIFIED_NOTE = (
    "Certified share (bagged ensembles only): the share of test rows whose majority vote is "
    "certified against as many modified, deleted or inserted training rows as the rate "
    "poisoned (Jia, Cao & Gong 2021, Theorem 1, vote bounds simultaneous at 1 - alpha): "
    "predictions the poison provably did not change. Certified radius: the median over the "
    "test rows of the largest such number (-1: the ensemble abstains).")
SCAN_NOTE = (
    "Flagged share: the share of rows a scanner's own rule flags (robust z above 3.5, "
    "outside Tukey's fences, beyond the chi-square 97.5% cut, isolation score above 0.5, LOF "
    "above 1.5, given label less likely than not, most neighbours disagreeing, off the "
    "confident joint's diagonal). Precision and recall (with a ground-truth mask): among the "
    "rows removed at the budget, the share poisoned, and the share of the poisoned rows "
    "removed; a random removal's precision is the base rate. Intervals are exact "
    "(Clopper-Pearson). The combined rank is the mean of each scanner's rank percentile.")

DRILLS = (
    Drill(name="poison", section="poison", plan="shakeout.poison.plan:PoisonPlan",
          commands=(Command("poison", "shakeout.poison.cli:poison_command"),),
          report=ReportSpec(
              title="Poisoning",
              headline=("clean_accuracy", "attack_success_rate", "certified_share"),
              notes=(("attack_success_rate", SUCCESS_NOTE), ("certified_share", CERTIFIED_NOTE)),
              summary=(("clean_accuracy", "low"), ("attack_success_rate", "high")))),
    Drill(name="scan", section="scan", plan="shakeout.poison.scan_plan:ScanPlan",
          run="shakeout.poison.scan:run",
          commands=(Command("scan", "shakeout.poison.scan_cli:scan_command"),),
          report=ReportSpec(
              title="Training-data scan",
              headline=("flagged_share", "precision", "recall", "rows_changed"),
              notes=(("precision", SCAN_NOTE),),
              summary=(("precision", "low"),),
              tables=(Table(group="quarantine", title="Most suspicious rows",
                            note="The rows the combined rank puts first, with the words of "
                                 "each scanner that alone would remove them at the budget.",
                            columns=(Column("row", lambda f: f.feature),
                                     Column("rank", lambda f: f.details.get("rank"),
                                            number=True),
                                     Column("combined score", lambda f: f.value, number=True),
                                     Column("reasons", lambda f: f.details.get("reasons")))),))),
)

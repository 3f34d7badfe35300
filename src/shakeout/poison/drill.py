"""The poison pillar's registrations: the poisoning drill (``shakeout poison``, the plan's
``poison`` section, clean accuracy and attack success rate against the poisoning rate)."""

from __future__ import annotations

from shakeout.drills import Command, Drill, ReportSpec

SUCCESS_NOTE = (
    "Attack success rate: the share of triggered test inputs whose true label is not the "
    "backdoor's target that the model trained on poisoned data classifies as the target; at "
    "rate 0 the unpoisoned model's rate, the floor. Clean accuracy: accuracy on the clean "
    "test rows. Both with exact Clopper-Pearson intervals; the headline gives the largest "
    "poisoning rate, the curves every rate (the share of training rows poisoned).")

DRILLS = (
    Drill(name="poison", section="poison", plan="shakeout.poison.plan:PoisonPlan",
          commands=(Command("poison", "shakeout.poison.cli:poison_command"),),
          report=ReportSpec(
              title="Poisoning",
              headline=("clean_accuracy", "attack_success_rate"),
              notes=(("attack_success_rate", SUCCESS_NOTE),),
              summary=(("clean_accuracy", "low"), ("attack_success_rate", "high")))),
)

"""One meaning per name: attacks are transforms of kind "adversarial", and the goal class of a
targeted attack is ``target_classes`` (``target`` names a label column and a transform kind)."""

from __future__ import annotations

import inspect

import pytest

from shakeout.attacks import CATALOG, Attack
from shakeout.attacks._base import attack_class


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_attack_is_an_adversarial_transform(name):
    pytest.importorskip("torch")
    cls, _ = attack_class(name)
    assert cls.kind == "adversarial"


def test_the_goal_of_a_targeted_attack_is_target_classes():
    params = inspect.signature(Attack.apply).parameters
    assert "target_classes" in params
    assert not any(p in ("target", "targets") for p in params)


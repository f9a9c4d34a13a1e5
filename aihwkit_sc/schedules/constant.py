"""``constant``: the same LR throughout (each group at its peak, :mod:`aihwkit_sc.schedules.shaped`)."""

from __future__ import annotations

from aihwkit_sc.schedules.shaped import Shape, analog_schedule


def _one(step: int) -> float:
    return 1.0


def constant_shape(*, steps: int | None = None, steps_per_epoch: int | None = None, peak: float) -> Shape:
    """The same LR throughout: every group at its peak (``lr``, or its device peak with ``analog_lr``)."""
    return _one


constant = analog_schedule(constant_shape)

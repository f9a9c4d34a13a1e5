"""``multistep``: LR times ``gamma`` at fractions of the run (×0.1 at 50 % and 75 % by default)."""

from __future__ import annotations

from collections.abc import Sequence

from aihwkit_sc.schedules._common import Fraction, Positive
from aihwkit_sc.schedules.shaped import Shape, analog_schedule


def multistep_shape(*, steps: int, steps_per_epoch: int, peak: float, gamma: Positive = 0.1,
                    milestones: Sequence[Fraction] = (0.5, 0.75)) -> Shape:
    """The peak times ``gamma`` at each of ``milestones`` (fractions of the run, in (0, 1)), stepped per batch."""
    if not gamma > 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    fractions = list(milestones)
    if not fractions or any(not 0 < f < 1 for f in fractions) or fractions != sorted(fractions):
        raise ValueError(f"milestones must be increasing fractions of the run in (0, 1), got {list(milestones)}")
    at = [max(1, round(f * steps)) for f in fractions]

    def shape(step: int) -> float:
        return float(gamma ** sum(step >= m for m in at))

    return shape


multistep = analog_schedule(multistep_shape)

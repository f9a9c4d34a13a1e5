"""``step``: LR times ``gamma`` every ``step_size`` epochs (the poster's step baseline, ``step/0.01/0.94/2``)."""

from __future__ import annotations

from aihwkit_sc.schedules._common import Positive, epochs_to_steps
from aihwkit_sc.schedules.shaped import Shape, analog_schedule


def step_shape(*, steps: int | None = None, steps_per_epoch: int, peak: float, gamma: Positive = 0.5,
               step_size: Positive = 10) -> Shape:
    """The peak times ``gamma`` every ``step_size`` epochs (a fraction of an epoch works too), stepped per batch."""
    every = epochs_to_steps("step_size", step_size, steps_per_epoch)

    def shape(step: int) -> float:
        return float(gamma ** (step // every))

    return shape


step = analog_schedule(step_shape)

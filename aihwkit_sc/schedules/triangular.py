"""``triangular``: cyclical learning rates (Smith 2017, "Cyclical Learning Rates for Training Neural Networks")."""

from __future__ import annotations

import math
from typing import Literal

from aihwkit_sc.schedules._common import LR, Positive, epochs_to_steps
from aihwkit_sc.schedules.shaped import Shape, analog_schedule

Mode = Literal["triangular", "triangular2", "exp_range"]


def triangular_shape(*, steps: int | None = None, steps_per_epoch: int, peak: float, base_lr: LR = 0.001,
                     step_size: Positive = 2, mode: Mode = "triangular", gamma: Positive = 1.0) -> Shape:
    """LR going linearly ``base_lr`` -> ``max_lr`` -> ``base_lr``, each half cycle ``step_size`` epochs long (torch's
    ``CyclicLR`` formula). Every group cycles between the same fraction ``base_lr / max_lr`` of its own peak and the
    peak.

    Args:
        mode: ``triangular`` (constant amplitude), ``triangular2`` (halved each cycle) or ``exp_range`` (times
            ``gamma`` per step).
    """
    if not 0 < base_lr <= peak:
        raise ValueError(f"need 0 < base_lr <= max_lr, got base_lr={base_lr}, max_lr={peak}")
    half = epochs_to_steps("step_size", step_size, steps_per_epoch)
    floor = base_lr / peak

    def shape(step: int) -> float:
        cycle = math.floor(1 + step / (2 * half))
        x = abs(step / half - 2 * cycle + 1)
        scale = {"triangular": 1.0, "triangular2": 1 / 2.0 ** (cycle - 1), "exp_range": gamma ** step}[mode]
        return floor + (1 - floor) * max(0.0, 1 - x) * scale

    return shape


triangular = analog_schedule(triangular_shape, peak="max_lr")

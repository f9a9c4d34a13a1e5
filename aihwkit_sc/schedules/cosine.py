"""``cosine``: cosine annealing over the whole run (Loshchilov & Hutter 2017, without restarts)."""

from __future__ import annotations

import math

from aihwkit_sc.schedules._common import NonNegative
from aihwkit_sc.schedules.shaped import Shape, analog_schedule


def cosine_shape(*, steps: int, steps_per_epoch: int, peak: float, min_lr: NonNegative = 0.0) -> Shape:
    """From the peak down to ``min_lr`` along a half cosine over the run (anneal only: no warm-up). Every group ends
    at the same fraction ``min_lr / lr`` of its own peak; the last step is the last before the end, so a tile never
    gets ``min_lr=0``."""
    if min_lr > peak:
        raise ValueError(f"min_lr must not exceed the peak LR, got min_lr={min_lr} above {peak}")
    floor = min_lr / peak

    def shape(step: int) -> float:
        return floor + (1 - floor) * (1 + math.cos(math.pi * min(step, steps) / steps)) / 2

    return shape


cosine = analog_schedule(cosine_shape)

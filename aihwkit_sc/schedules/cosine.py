"""``cosine``: cosine annealing over the whole run (Loshchilov & Hutter 2017, without restarts)."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR

from aihwkit_sc.schedules._common import epochs_to_steps, set_initial_lr
from aihwkit_sc.schedules.sync import TileSyncMixin


class AnalogCosineAnnealingLR(TileSyncMixin, CosineAnnealingLR):
    """torch ``CosineAnnealingLR`` that keeps analog tiles' LR in sync."""


def cosine(
    optimizer: Optimizer, *, steps_per_epoch: int, epochs: int, lr: float | None = None, min_lr: float = 0.0,
) -> AnalogCosineAnnealingLR:
    """LR from ``lr`` down to ``min_lr`` along a half cosine over ``epochs``."""
    set_initial_lr(optimizer, lr)
    return AnalogCosineAnnealingLR(optimizer, T_max=epochs_to_steps("epochs", epochs, steps_per_epoch), eta_min=min_lr)

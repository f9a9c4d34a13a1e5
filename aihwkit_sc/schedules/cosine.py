"""``cosine``: cosine annealing over the whole run (Loshchilov & Hutter 2017, without restarts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR

from aihwkit_sc.schedules._common import LR, NonNegative, Positive, epochs_to_steps, set_initial_lr
from aihwkit_sc.schedules.device import analog_start
from aihwkit_sc.schedules.sync import TileSyncMixin


class AnalogCosineAnnealingLR(TileSyncMixin, CosineAnnealingLR):
    """torch ``CosineAnnealingLR`` that keeps analog tiles' LR in sync."""


def cosine(
    optimizer: Optimizer, *, steps_per_epoch: int, epochs: int, lr: LR | None = None, min_lr: NonNegative = 0.0,
    analog_lr: LR | Literal["device"] | None = None, xd_product: Positive | Sequence[Positive] | None = None,
    device_pulses: Positive = 1.0, device_reference: str | None = None,
) -> AnalogCosineAnnealingLR:
    """LR from ``lr`` down to ``min_lr`` along a half cosine over ``epochs`` (anneal only: no warm-up).

    Args:
        analog_lr: starting LR of the analog groups: a number, or ``"device"`` for ``device_pulses`` device LR units
            per group (:mod:`aihwkit_sc.schedules.device`; needs ``xd_product``). Default: ``lr``. Every group ends
            at ``min_lr``.
        device_reference: a pulsed preset whose ``dw_min`` and ``desired_bl`` define the device LR unit of every analog
            group (default: each tile's own device), e.g. to put Gokmen-Vlasov's per-layer rule on floating-point
            tiles.
    """
    set_initial_lr(optimizer, lr, analog_start(optimizer, analog_lr, xd_product, device_pulses, device_reference))
    total = epochs_to_steps("epochs", epochs, steps_per_epoch)
    scheduler = AnalogCosineAnnealingLR(optimizer, T_max=total, eta_min=min_lr)
    scheduler.end_step = total  # its last step is the last before min_lr: a tile never gets min_lr=0
    return scheduler

"""``constant``: the same LR throughout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from aihwkit_sc.schedules._common import LR, Positive, run_steps, set_initial_lr
from aihwkit_sc.schedules.device import analog_start
from aihwkit_sc.schedules.sync import TileSyncMixin


def _one(step: int) -> float:
    return 1.0


class AnalogConstantLR(TileSyncMixin, LambdaLR):
    """A constant LR that keeps analog tiles' LR in sync."""


def constant(
    optimizer: Optimizer, *, steps_per_epoch: int | None = None, epochs: int | None = None, lr: LR | None = None,
    analog_lr: LR | Literal["device"] | None = None, xd_product: Positive | Sequence[Positive] | None = None,
    device_pulses: Positive = 1.0, device_reference: str | None = None,
) -> AnalogConstantLR:
    """Constant LR (``lr``, default: the optimizer's).

    Args:
        analog_lr: LR of the analog groups: a number, or ``"device"`` for ``device_pulses`` device LR units per group
            (:mod:`aihwkit_sc.schedules.device`; needs ``xd_product``). Default: ``lr``.
        device_reference: a pulsed preset whose ``dw_min`` and ``desired_bl`` define the device LR unit of every analog
            group (default: each tile's own device), e.g. to put Gokmen-Vlasov's per-layer rule on floating-point
            tiles.
    """
    set_initial_lr(optimizer, lr, analog_start(optimizer, analog_lr, xd_product, device_pulses, device_reference))
    scheduler = AnalogConstantLR(optimizer, _one)
    scheduler.end_step = run_steps(epochs, steps_per_epoch)
    return scheduler

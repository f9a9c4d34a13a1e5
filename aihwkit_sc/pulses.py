"""Update pulses fired by pulsed analog tiles: a hardware-cost proxy for "faster training".

aihwkit counts pulses per device only on CUDA (``device.count_pulses=True``, ``tile.tile.get_pulse_counters()``); on
CPU the counters come back empty. There this module estimates the coincidence pulses from the update aihwkit is about
to apply: with update management, sample ``n`` fires on cross-point ``(i, j)`` about ``lr·|x_nj|·|d_ni| / dw_min``
coincidences, all scaled down by ``desired_bl·dw_min / (lr·max|x_n|·max|d_n|)`` when that is below 1 (saturation).
Summed over the cross-points that is ``lr·Σ|x_n|·Σ|d_n| / dw_min`` per sample. It must run after ``backward()`` and
before ``optimizer.step()``, while the tiles still hold their inputs ``x`` and errors ``d``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import Optimizer

from aihwkit_sc.schedules.analog import contexts, is_analog_group


class PulseCounter:
    """Accumulates update pulses of every pulsed analog tile of an optimizer."""

    def __init__(self) -> None:
        self.total = 0.0
        self.method = "estimate"

    def observe(self, optimizer: Optimizer) -> None:
        """Add the pulses of the pending update (call between ``backward()`` and ``optimizer.step()``)."""
        for group in optimizer.param_groups:
            if not is_analog_group(group):
                continue
            lr = float(group["lr"])
            for ctx in contexts(group):
                if not ctx.has_gradient():
                    continue
                self.total += _estimate(ctx.analog_tile, lr, ctx.analog_input, ctx.analog_grad_output)

    def read_hardware(self, optimizer: Optimizer) -> float | None:
        """Sum of aihwkit's own pulse counters (CUDA only); ``None`` where they are empty."""
        total = 0
        for group in optimizer.param_groups:
            for ctx in contexts(group):
                counters = ctx.analog_tile.tile.get_pulse_counters()
                if counters.numel() == 0:
                    return None
                total += int(counters.sum())
        return float(total)


def _estimate(tile: Any, lr: float, inputs: list[torch.Tensor], errors: list[torch.Tensor]) -> float:
    from aihwkit_sc.presets import pulsed_devices

    config = tile.rpu_config
    devices = list(pulsed_devices(config))
    if not devices or not getattr(devices[0], "dw_min", None):
        return 0.0
    dw_min = float(devices[0].dw_min)
    bl = float(getattr(config.update, "desired_bl", 31))
    total = 0.0
    with torch.no_grad():
        for x, d in zip(inputs, errors, strict=True):
            x2 = x.reshape(-1, x.shape[-1]).abs().float()
            d2 = d.reshape(-1, d.shape[-1]).abs().float()
            wanted = lr * x2.sum(1) * d2.sum(1) / dw_min
            peak = lr * x2.amax(1) * d2.amax(1)
            scale = torch.clamp(bl * dw_min / peak.clamp_min(1e-30), max=1.0)
            total += float((wanted * scale).sum())
    return total

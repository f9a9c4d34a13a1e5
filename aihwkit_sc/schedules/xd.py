"""Measure the per-sample ``max|x|·max|d|`` that sets where a pulsed update saturates (see ``AnalogOneCycleLR``)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.optim import Optimizer

from aihwkit_sc.devices import xd_rows
from aihwkit_sc.schedules.analog import contexts, is_analog_group, update_pairs


def measure_xd_product(
    model: nn.Module, optimizer: Optimizer, inputs: torch.Tensor, targets: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> list[float]:
    """Median over samples of ``max|x|·max|d|`` per analog group, from one forward/backward on a batch.

    aihwkit stores each tile's inputs ``x`` and output errors ``d`` in its ``AnalogContext`` until the optimizer
    step; this reads them and then discards them (``ctx.reset()``), so no update is applied and the model's weights
    are unchanged. The result feeds ``AnalogOneCycleLR(..., analog_lr_bounds="device", xd_product=...)``.
    """
    loss_fn = loss_fn or nn.functional.cross_entropy
    model.zero_grad()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    products: list[float] = []
    for group in optimizer.param_groups:
        if not is_analog_group(group):
            continue
        values = []
        for ctx in contexts(group):
            for x, d in update_pairs(ctx):
                values.append(xd_rows(x, d).median())
            ctx.reset()
        products.append(float(torch.stack(values).median()) if values else 1.0)
    model.zero_grad()
    return products

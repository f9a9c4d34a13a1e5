"""The learning rates an analog device can take, from its configuration and a measured ``max|x|·max|d|``.

With update management, a pulsed update of one sample (input ``x``, error ``d``) fires per cross-point about
``lr·|x_j|·|d_i| / dw_min`` coincidences, at most ``desired_bl``. With ``s`` the typical per-sample
``max|x|·max|d|`` (:func:`aihwkit_sc.schedules.measure_xd_product`), the largest update of a sample

- moves its weight by one device step (``dw_min``) at ``lr = dw_min / s``, the *device LR unit*; below it most
  cross-points fire no pulse at all, and
- saturates at ``lr = desired_bl · dw_min / s``.

``dw_min`` and ``desired_bl`` come from the tile's configuration (the first, fast, device of a compound), or from
a *reference* preset for every group: ``device_reference="gokmen-vlasov"`` applies Gokmen-Vlasov's per-layer rule to
tiles with no pulsed device of their own (e.g. ``floating-point-tile``), which tells a device effect from a per-layer
LR effect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch.optim import Optimizer

from aihwkit_sc.devices import device_unit
from aihwkit_sc.schedules import analog
from aihwkit_sc.schedules._common import positive

Bounds = tuple[float, float]


def reference_unit(reference: str | None) -> tuple[float, int] | None:
    """``(dw_min, desired_bl)`` of the preset named ``reference`` (``None``: each tile's own)."""
    if reference is None:
        return None
    from aihwkit_sc import presets

    if not isinstance(reference, str):
        raise ValueError(f"device_reference must be a preset name, got {reference!r}")
    preset = presets.get(reference)
    unit = None if preset.digital else device_unit(preset.rpu_config())
    if unit is None:
        raise ValueError(f"device_reference={reference!r} has no pulsed device with a dw_min: name a pulsed preset "
                         "such as 'gokmen-vlasov'")
    return unit


def device_lr_bounds(group: dict[str, Any], xd_product: float = 1.0, reference: str | None = None) -> Bounds:
    """``[dw_min / s, desired_bl · dw_min / s]`` over the group's tiles (their own device, or the ``reference``
    preset's for every tile); ``(0, inf)`` when no tile is pulsed and no reference is given."""
    return unit_lr_bounds(group, xd_product, reference_unit(reference))


def unit_lr_bounds(group: dict[str, Any], xd_product: float, ref: tuple[float, int] | None) -> Bounds:
    """:func:`device_lr_bounds` with the reference already resolved (``None``: each tile's own device), so callers
    looping over groups build the reference preset once."""
    positive("xd_product", xd_product)
    lows, highs = [], []
    for tile in analog.group_tiles(group):
        unit = ref or device_unit(tile.rpu_config)
        if unit is None:
            continue
        dw_min, bl = unit
        lows.append(dw_min / xd_product)
        highs.append(bl * dw_min / xd_product)
    if not lows:
        return (0.0, math.inf)
    return (max(lows), min(highs))


def analog_xd(xd_product: float | Sequence[float] | None, n_analog: int, option: str) -> list[float]:
    """One ``xd_product`` per analog group, or a one-line error saying how to get it (none needed without analog
    groups)."""
    if xd_product is None and n_analog:
        raise ValueError(
            f"{option} needs xd_product: measure it with aihwkit_sc.schedules.measure_xd_product(model, optimizer, "
            "inputs, targets), or pass xd_product='auto' to aihwkit_sc.training.train"
        )
    if xd_product is None:
        return []
    values: list[Any] = list(xd_product) if isinstance(xd_product, list | tuple) else [xd_product] * n_analog
    if len(values) != n_analog:
        raise ValueError(f"xd_product has {len(values)} values for {n_analog} analog param groups; give one per group")
    for v in values:
        positive("xd_product", v)
    return [float(v) for v in values]


def device_lrs(
    optimizer: Optimizer, xd_product: float | Sequence[float] | None, pulses: float, *, option: str,
    reference: str | None = None,
) -> dict[int, float]:
    """``pulses × dw_min / s`` (capped at saturation) per analog group index; groups with no pulsed tile left out.

    ``pulses`` is how many device steps the largest update of a typical sample makes; ``option`` names the
    caller's argument in errors; ``reference`` a preset whose device defines the unit for every group.
    """
    positive("device_pulses", pulses)
    indices = [i for i, g in enumerate(optimizer.param_groups) if analog.is_analog_group(g)]
    ref = reference_unit(reference)
    out: dict[int, float] = {}
    for i, xd in zip(indices, analog_xd(xd_product, len(indices), option), strict=True):
        low, high = unit_lr_bounds(optimizer.param_groups[i], xd, ref)
        if low > 0:
            out[i] = min(pulses * low, high)
    return out


def analog_start(
    optimizer: Optimizer, analog_lr: float | str | None, xd_product: float | Sequence[float] | None, pulses: float,
    reference: str | None = None,
) -> dict[int, float]:
    """Per-group starting LR for a schedule's ``analog_lr`` option: a number, ``"device"`` or ``None`` (none)."""
    if analog_lr is None:
        return {}
    if analog_lr == "device":
        return device_lrs(optimizer, xd_product, pulses, option="analog_lr='device'", reference=reference)
    if isinstance(analog_lr, str):
        raise ValueError(f"analog_lr must be a number, 'device' or None, got {analog_lr!r}")
    positive("analog_lr", analog_lr)
    return {i: float(analog_lr) for i, g in enumerate(optimizer.param_groups) if analog.is_analog_group(g)}

"""Update pulses fired by pulsed analog tiles: a hardware-cost proxy for "faster training".

aihwkit counts pulses per device only on CUDA (``device.count_pulses=True``, ``tile.tile.get_pulse_counters()``); on
CPU the counters come back empty. There this module computes the coincidence pulses of the update aihwkit is about to
apply, following aihwkit 1.2.0's C++ (``PulsedUpdateMetaParameter::calculateBlAB`` and ``performUpdateManagement`` in
``src/rpucuda/rpu_pulsed_meta_parameter.cpp``, the bit lines of ``sparse_bit_line_maker.cpp`` and
``dense_bit_line_maker.cpp``; CUDA's ``kernelUMGetScaleAndKValues`` in ``update_management_helper.cu`` is the same
rule). For each sample ``n``, with ``x = |x_n|``, ``d = |d_n|``, ``g = um_grad_scale`` and ``BL_max = desired_bl``:

* update management (``update_management`` or ``update_bl_management``; presets turn both on):
  ``k = lr·max(x)·g·max(d) / dw_min``; with bit-length management ``BL = min(ceil(k), BL_max)``, else ``BL`` as
  below. The x side fires with probability ``p_x_j = x_j·sqrt(lr·d_val / (dw_min·BL·max(x)))`` per bit, the d side
  with ``p_d_i = d_i·sqrt(lr·max(x) / (dw_min·BL·d_val))``, where ``d_val = g·max(d)`` scaled by ``BL_max / k`` when
  ``k > BL_max``. Unsaturated (``k <= BL_max``, ``g = 1``) that is ``BL·p_x_j·p_d_i = lr·x_j·d_i / dw_min``. In
  saturation the x side is kept unclipped (``p_x_j = x_j / max(x)``) and the d side becomes
  ``p_d_i = lr·max(x)·d_i / (dw_min·BL)``: above 1 for the larger errors, which then fire on every bit. aihwkit clips
  the d side element by element (gradient clipping), it does not scale the whole update down. A sample with
  ``max(x) = 0`` or ``max(d) = 0`` fires nothing.
* no update management: ``BL = desired_bl`` and ``p = sqrt(lr / (dw_min·BL))·v`` on both sides (with
  ``fixed_bl=False`` and ``lr > dw_min·desired_bl``: ``BL = ceil(lr / dw_min)``, ``p = v``).

Probabilities are rounded to multiples of ``res`` when ``res > 0`` (``x_res_implicit`` / ``d_res_implicit`` for
deterministic pulses). Stochastic pulse trains (the default ``StochasticCompressed``, and ``Stochastic``) fire bit
``b`` of line ``v`` when ``p_v`` exceeds a uniform draw, so a probability above 1 always fires; the expected
coincidences of a sample are ``BL·Σ_j min(1, p_x_j)·Σ_i min(1, p_d_i)``, which is what is counted for them.
``DeterministicImplicit`` fires exactly ``rint(BL·min(1, p_d_i)·min(1, p_x_j))`` on cross-point ``(i, j)``,
``MeanCount`` ``rint(n_d_i / BL·n_x_j)`` with ``n_v = min(rint(BL·p_v), BL)``; floating-point updates (``None``,
``NoneWithDevice``) fire none. ``dw_min`` is the first pulsed device's (its weight granularity: for compound devices
aihwkit may use another granularity and learning rate). It must run after ``backward()`` and before
``optimizer.step()``, while the tiles still hold their inputs ``x`` and errors ``d``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim import Optimizer

from aihwkit_sc.devices import device_unit, row_max
from aihwkit_sc.schedules.analog import contexts, is_analog_group, update_pairs


class PulseCounter:
    """Accumulates update pulses of every pulsed analog tile of an optimizer, and per analog parameter group (one per
    analog layer) the update telemetry that explains them: see :meth:`take_layers`."""

    method = "estimate"
    """How the pulses are obtained: estimated on the CPU from the pending update (aihwkit's own pulse counters exist
    only in its CUDA build)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._layers: dict[int, list[float]] = {}  # group index -> [rows, Σ BL, rows capped, pulses, Σ peak]

    def observe(self, optimizer: Optimizer) -> None:
        """Add the pulses of the pending update (call between ``backward()`` and ``optimizer.step()``)."""
        analog = [group for group in optimizer.param_groups if is_analog_group(group)]
        for index, group in enumerate(analog):
            lr = float(group["lr"])
            sums = self._layers.setdefault(index, [0.0, 0.0, 0.0, 0.0, 0.0])
            for ctx in contexts(group):
                if not ctx.has_gradient():
                    continue
                stats = _estimate(ctx.analog_tile, lr, update_pairs(ctx))
                self.total += stats[3]
                for i, value in enumerate(stats):
                    sums[i] += value

    def take_layers(self) -> list[dict[str, float | None]]:
        """Per analog group since the last call, then reset: the mean bit length ``BL`` of an update row (one sample
        of a linear layer, one patch of a convolution; silent rows count 0), the fraction of rows whose
        ``k = lr·max|x|·max|d| / dw_min`` exceeds ``desired_bl`` (capped: the d side clips), the coincidence
        pulses per row, and ``peak_pulses``: the mean pulses at a row's most-pulsed cross-point (``min(k, BL)`` with
        update management; unlike the bit length, which is at least 1, it falls below one pulse when the LR does).
        ``None`` for a group that saw no update."""
        out: list[dict[str, float | None]] = []
        for index in sorted(self._layers):
            rows, bl, capped, pulses, peak = self._layers[index]
            out.append({"bit_length": bl / rows if rows else None, "capped": capped / rows if rows else None,
                        "pulses_per_row": pulses / rows if rows else None,
                        "peak_pulses": peak / rows if rows else None, "rows": rows})
        self._layers = {}
        return out


def _estimate(tile: Any, lr: float, pairs: list[tuple[torch.Tensor, torch.Tensor]]
              ) -> tuple[float, float, float, float, float]:
    """(update rows, Σ bit length, rows capped, coincidence pulses, Σ peak pulses) of one tile's pending update."""
    unit = device_unit(tile.rpu_config)
    if unit is None:
        return 0.0, 0.0, 0.0, 0.0, 0.0
    sums = [0.0, 0.0, 0.0, 0.0, 0.0]
    with torch.no_grad():
        for x, d in pairs:
            bl, capped, pulses, peak = update_rows(x, d, lr, unit[0], tile.rpu_config.update, peak=True)
            for i, value in enumerate((pulses.numel(), float(bl.sum()), float(capped.sum()), float(pulses.sum()),
                                       float(peak.sum()))):
                sums[i] += value
    return sums[0], sums[1], sums[2], sums[3], sums[4]


def update_rows(x: torch.Tensor, d: torch.Tensor, lr: float, dw_min: float, update: Any, *, peak: bool = False
                ) -> Any:
    """Per update row (one sample of a linear layer, one patch of a convolution), from one pass over the pulse
    trains: the bit length aihwkit uses (0 for a silent row or a floating-point update), whether the row is capped
    (update management on and ``k = lr·max|x|·max|d|·um_grad_scale / dw_min > desired_bl``), and its coincidence
    pulses (expected values for stochastic pulse trains); with ``peak``, fourth, the pulses at the row's most-pulsed
    cross-point (its largest ``|x|`` and largest ``|d|``; with update management ``min(k, BL)``).

    Stochastic pulse trains without discretization (the presets' default) take a row-reduction path: a row whose
    largest probability is at most 1 fires ``scale·Σ|v|`` on that side, so only rows with a probability above 1
    (the clipped d side in saturation) are read element by element. :func:`_dense_update_rows` computes the same
    numbers element by element for every row and every pulse type.

    Args:
        x: inputs, last dimension the tile's input size (any leading dimensions are rows).
        d: errors, last dimension the tile's output size, as many rows as ``x``.
        lr: the tile's learning rate (its sign does not matter).
        dw_min: the device's weight granularity.
        update: aihwkit ``UpdateParameters`` (``rpu_config.update``).
    """
    pulse_type = str(getattr(update.pulse_type, "value", update.pulse_type))
    stochastic = pulse_type not in ("None", "NoneWithDevice", "DeterministicImplicit", "MeanCount")
    exact = float(update.res) <= 0 or bool(update.sto_round)
    if not (stochastic and exact and lr != 0 and x.shape[-1] and d.shape[-1]):
        return _dense_update_rows(x, d, lr, dw_min, update, peak=peak)
    x, d = x.detach(), d.detach()
    x_max, d_max = row_max(x).double(), row_max(d).double()
    bl, scale_d, scale_x = pulse_trains(x_max, d_max, abs(lr), dw_min, update)
    capped = _capped(x_max, d_max, lr, dw_min, update)
    top_x, top_d = (x_max * scale_x).clamp(0, 1), (d_max * scale_d).clamp(0, 1)
    pulses = bl * _clipped_sum(x, x_max, scale_x) * _clipped_sum(d, d_max, scale_d)
    return (bl, capped, pulses, bl * top_x * top_d) if peak else (bl, capped, pulses)


def _clipped_sum(v: torch.Tensor, v_max: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Per row ``Σ_j min(1, scale·|v_j|)``: ``scale·Σ|v|`` where ``scale·max|v| <= 1``, element by element on the
    other rows."""
    out = torch.linalg.vector_norm(v, ord=1, dim=-1).reshape(-1).double() * scale  # Σ|v| per row, no copy
    over = (v_max * scale > 1).nonzero().squeeze(1)
    if over.numel():
        rows = v[torch.unravel_index(over, v.shape[:-1])] if v.dim() > 1 else v[None]
        out[over] = (rows.abs().double() * scale[over, None]).clamp(max=1).sum(1)
    return out


def _capped(x_max: torch.Tensor, d_max: torch.Tensor, lr: float, dw_min: float, update: Any) -> torch.Tensor:
    """Rows whose ``k = lr·max|x|·um_grad_scale·max|d| / dw_min`` exceeds ``desired_bl`` under update management."""
    managed = bool(update.update_management) or bool(update.update_bl_management)
    k = abs(lr) * x_max * float(update.um_grad_scale) * d_max / dw_min
    return (k > int(update.desired_bl)) & managed


def _dense_update_rows(x: torch.Tensor, d: torch.Tensor, lr: float, dw_min: float, update: Any, *,
                       peak: bool = False) -> Any:
    """:func:`update_rows` element by element on every row: any pulse type, discretized probabilities included."""
    xs = x.detach().reshape(-1, x.shape[-1]).abs().double()
    ds = d.detach().reshape(-1, d.shape[-1]).abs().double()
    x_max, d_max = row_max(xs), row_max(ds)
    pulse_type = str(getattr(update.pulse_type, "value", update.pulse_type))
    if pulse_type in ("None", "NoneWithDevice") or lr == 0:
        zeros = torch.zeros(xs.shape[0], dtype=torch.float64)
        out = (zeros, torch.zeros_like(zeros, dtype=torch.bool), zeros.clone())
        return (*out, zeros.clone()) if peak else out
    bl, scale_d, scale_x = pulse_trains(x_max, d_max, abs(lr), dw_min, update)
    capped = _capped(x_max, d_max, lr, dw_min, update)
    bl_, scale_d, scale_x = bl[:, None], scale_d[:, None], scale_x[:, None]
    implicit = pulse_type == "DeterministicImplicit"
    p_x = _discretize(xs * scale_x, update.x_res_implicit if implicit else update.res, update.sto_round)
    p_d = _discretize(ds * scale_d, update.d_res_implicit if implicit else update.res, update.sto_round)
    if implicit:
        p_x, p_d = p_x.clamp(0, 1), p_d.clamp(0, 1)
        pulses = torch.round((p_d * bl_)[:, :, None] * p_x[:, None, :]).sum((1, 2))
        top = torch.round(bl * _row_top(p_d) * _row_top(p_x))
    elif pulse_type == "MeanCount":
        n_x = torch.minimum(torch.round(bl_ * p_x), bl_)
        n_d = torch.minimum(torch.round(bl_ * p_d), bl_)
        pulses = torch.round((n_d / bl_.clamp_min(1))[:, :, None] * n_x[:, None, :]).sum((1, 2))
        top = torch.round(_row_top(n_d) / bl.clamp_min(1) * _row_top(n_x))
    else:
        pulses = bl * p_x.clamp(0, 1).sum(1) * p_d.clamp(0, 1).sum(1)
        top = bl * _row_top(p_x.clamp(0, 1)) * _row_top(p_d.clamp(0, 1))
    return (bl, capped, pulses, top) if peak else (bl, capped, pulses)


def _row_top(p: torch.Tensor) -> torch.Tensor:
    """Each row's largest entry (0 for an empty row)."""
    return p.amax(1) if p.shape[1] else torch.zeros(p.shape[0], dtype=p.dtype)


def bit_lengths(x: torch.Tensor, d: torch.Tensor, lr: float, dw_min: float, update: Any
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per update row: the bit length and whether the row is capped (:func:`update_rows`)."""
    bl, capped, _ = update_rows(x, d, lr, dw_min, update)
    return bl, capped


def coincidences(x: torch.Tensor, d: torch.Tensor, lr: float, dw_min: float, update: Any) -> torch.Tensor:
    """Coincidence pulses per update row, a float64 tensor (:func:`update_rows`; the module docstring has the
    rule)."""
    return update_rows(x, d, lr, dw_min, update)[2]


def pulse_trains(
    x_max: torch.Tensor, d_max: torch.Tensor, lr: float, dw_min: float, update: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bit length ``BL`` and probability scales ``A`` (d side) and ``B`` (x side) per sample, as aihwkit sets them.

    ``x_max`` and ``d_max`` are each sample's largest ``|x|`` and ``|d|``; ``lr > 0``. A sample with ``BL = 0``
    fires nothing.
    """
    x_max, d_max = x_max.double(), d_max.double()
    desired = int(update.desired_bl)
    ublm = bool(update.update_bl_management)
    um = bool(update.update_management) or ublm  # aihwkit turns update management on with bit-length management
    if bool(update.fixed_bl) or ublm or dw_min * desired >= lr:
        bl0, scale0 = float(desired), math.sqrt(lr / (dw_min * desired))
    else:
        bl0, scale0 = float(max(math.ceil(lr / dw_min), 1)), 1.0
    bl = torch.full_like(x_max, bl0)
    scale_d = torch.full_like(x_max, scale0)
    scale_x = torch.full_like(x_max, scale0)
    if not um:
        return bl, scale_d, scale_x
    silent = (x_max == 0) | (d_max == 0)
    x_val = x_max.clamp_min(1e-300)
    d_val = (float(update.um_grad_scale) * d_max).clamp_min(1e-300)
    k = lr * x_val * d_val / dw_min
    if ublm:
        bl = torch.ceil(k).clamp(1, desired)
        scale_d = scale_x = torch.sqrt(lr / (dw_min * bl))
    d_val = torch.where(k > desired, d_val * desired / k, d_val)  # saturation: keeps p_x <= 1, the d side clips
    scale_d = scale_d * torch.sqrt(x_val / d_val)
    scale_x = scale_x * torch.sqrt(d_val / x_val)
    return torch.where(silent, 0.0, bl), torch.where(silent, 0.0, scale_d), torch.where(silent, 0.0, scale_x)


def _discretize(p: torch.Tensor, res: float, sto_round: bool) -> torch.Tensor:
    """aihwkit's ``getDiscretizedValue`` (stochastic rounding is left out: its mean is the value itself)."""
    res = float(res)
    if res <= 0 or sto_round:
        return p
    return torch.round(p / res) * res

"""``AnalogOneCycleLR``: the one-cycle policy (super-convergence) for aihwkit's analog tiles."""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import OneCycleLR

from aihwkit_sc.schedules import analog
from aihwkit_sc.schedules._common import LR, Fraction, Momentum, Positive  # noqa: F401  (the factory's annotations)
from aihwkit_sc.schedules._common import positive as _positive
from aihwkit_sc.schedules.device import (
    Bounds,
    analog_xd,
    device_lr_bounds,
    device_lrs,
    reference_unit,
    unit_lr_bounds,
)
from aihwkit_sc.schedules.shaped import XdRefresh, XdTracking  # noqa: F401  (XdRefresh: the factory's annotation)
from aihwkit_sc.schedules.sync import TileSyncMixin

__all__ = ["AnalogOneCycleLR", "device_lr_bounds", "one_cycle"]


ANALOG_MODES: dict[str, dict[str, Any]] = {
    "device": {"analog_max_lr": "device"},
    "clamp": {"analog_max_lr": None, "analog_lr_bounds": "device"},
    "plain": {"analog_max_lr": None},
}
"""One-cycle options per analog mode: each layer's device peak (the default), torch's cycle clamped into the device
bounds, or torch's cycle unchanged (what the poster ran)."""

DEVICE_PULSES = 2.0
"""Default ``device_pulses``: device steps made by a typical sample's largest update at the analog peak."""


class AnalogOneCycleLR(XdTracking, TileSyncMixin, OneCycleLR):
    r"""One-cycle learning rate with inverse momentum cycling, aware of analog tiles.

    Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large Learning Rates" (2018);
    the schedule itself is torch's :class:`~torch.optim.lr_scheduler.OneCycleLR` (same arguments, accepted and rejected
    as torch does; same values, and types, on digital groups: LR from ``max_lr / div_factor`` up to ``max_lr`` over
    ``pct_start`` of the steps, then down to ``max_lr / (div_factor * final_div_factor)``; momentum from
    ``max_momentum`` down to ``base_momentum`` and back).

    What it adds for aihwkit (1.2.0) optimizers whose groups were regrouped by ``AnalogSGD.regroup_param_groups``:

    * **Tile sync.** aihwkit pushes ``group["lr"]`` into a tile only inside ``optimizer.step()``; this scheduler
      pushes it right after construction, after every :meth:`step` and after :meth:`load_state_dict`, so
      ``tile.get_learning_rate()`` always equals the scheduled LR.
    * **Momentum where it acts.** The pulsed update ignores momentum, so momentum (or Adam's beta1) is cycled on
      digital groups only; groups of tile-updated analog tiles keep theirs. Hardware-aware inference tiles train
      through torch and count as digital. :attr:`analog_groups` lists the analog group indices.
    * **Device peak** (``analog_max_lr="device"``; the default ``"auto"`` picks it whenever ``xd_product`` is
      given). Each analog group gets its own one-cycle, same shape, peaking at ``device_pulses`` device LR units
      ``dw_min / s`` (capped where the update saturates, see *device bounds*): at the peak the largest update of a
      typical sample moves its weight by ``device_pulses`` device steps. Layers see very different ``x·d``
      (``docs/results/ablation.md`` lists them per layer), so one global LR is too small for the first layers or
      too large for the last. Without
      ``xd_product`` (``None``), ``"auto"`` keeps torch's schedule, so the class stays a drop-in replacement.
    * **Analog LR range.** ``analog_max_lr`` (a number) or ``analog_lr_scale`` (times ``max_lr``) gives all analog
      groups one peak of their own; the whole one-cycle shape is kept, scaled.
    * **Device bounds** (``analog_lr_bounds``). With update management, a pulsed update of one sample (input
      vector ``x``, error ``d``) fires per cross-point about ``lr·|x_j|·|d_i| / dw_min`` coincidences, at most
      ``desired_bl`` (the bit length). So the update

      - saturates (is clipped to ``desired_bl·dw_min``) once ``lr·max|x|·max|d| > desired_bl·dw_min``, and
      - moves even the largest weight by less than one device step once ``lr·max|x|·max|d| < dw_min``.

      ``analog_lr_bounds="device"`` clamps each analog group's LR into
      ``[dw_min / s, desired_bl · dw_min / s]`` where ``s = xd_product`` is the typical per-sample
      ``max|x|·max|d|`` (measure it with :func:`aihwkit_sc.schedules.measure_xd_product`); ``dw_min`` and
      ``desired_bl`` come from the tile's configuration (the first, fast, device of a compound). A ``(low, high)``
      pair clamps to fixed bounds. The digital groups are never clamped.
    * **Transfer compounds.** aihwkit 1.2.0's chopped and dynamic transfer compounds (TTv2, c-TTv2, AGAD) default to
      ``scale_fast_lr=False``: their fast tile's LR stays fixed whatever the optimizer LR. With
      ``scale_fast_lr=True`` (default) such tiles are rebuilt once, state kept, with ``scale_fast_lr=True`` and
      ``fast_lr / peak_lr``, so the fast LR follows the schedule and equals the preset's at the peak. Tiki-Taka
      (``TransferCompound``) already scales it.
    * **Guard rails.** torch's arguments are checked by torch itself before anything else, so they are accepted and
      rejected exactly as by ``OneCycleLR`` (same exception, same message; ``tests/test_one_cycle_torch_cases.py``
      runs torch's own test cases on both classes). Bad analog-only arguments raise one clear ``ValueError`` at
      construction. The one difference in values: stepped to ``total_steps`` (a run steps after its last batch)
      and beyond, the final step's LR and momentum are held, where torch extrapolates at ``total_steps`` (its
      linear anneal goes below zero there, which a tile refuses) and raises after; past the end it warns once.

    Args:
        optimizer: torch or aihwkit optimizer (analog models: ``AnalogSGD`` after ``regroup_param_groups``).
        max_lr, total_steps, epochs, steps_per_epoch, pct_start, anneal_strategy, cycle_momentum, base_momentum,
        max_momentum, div_factor, final_div_factor, three_phase, last_epoch: as in torch's ``OneCycleLR``.
        analog_max_lr: peak LR of analog groups: a number (overrides ``analog_lr_scale``), ``"device"``, ``"auto"``
            (default: ``"device"`` when ``xd_product`` is given) or ``None`` (``max_lr × analog_lr_scale``).
        analog_lr_scale: analog peak = ``max_lr × analog_lr_scale`` (default 1).
        analog_lr_bounds: ``None``, ``"device"`` or ``(low, high)``; see above.
        xd_product: typical per-sample ``max|x|·max|d|`` (a float, or one per analog group) for the ``"device"``
            options; :func:`aihwkit_sc.schedules.measure_xd_product` measures it, ``train`` does so by itself.
        device_pulses: device steps of a typical sample's largest update at the analog peak (``"device"``).
        device_reference: a pulsed preset whose ``dw_min`` and ``desired_bl`` define every analog group's device LR
            unit and bounds (default: each tile's own device), e.g. Gokmen-Vlasov's rule on floating-point tiles.
        scale_fast_lr: make transfer compounds' fast-tile LR follow the schedule (see above).
        xd_refresh: ``"none"``, ``"epoch"`` or ``"step"``: whether the ``"device"`` peak and bounds follow ``x·d``
            as training changes it (:mod:`aihwkit_sc.schedules.shaped`); the cycle's shape is unchanged.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Tensor | Sequence[float | Tensor],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: Literal["cos", "linear"] = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Tensor | Sequence[float | Tensor] = 0.85,
        max_momentum: float | Tensor | Sequence[float | Tensor] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
        *,
        analog_max_lr: float | Literal["device", "auto"] | None = "auto",
        analog_lr_scale: float = 1.0,
        analog_lr_bounds: str | Bounds | None = None,
        xd_product: float | Sequence[float] | None = None,
        device_pulses: float = DEVICE_PULSES,
        device_reference: str | None = None,
        scale_fast_lr: bool = True,
        xd_refresh: str = "none",
    ) -> None:
        if not isinstance(optimizer, Optimizer):  # torch's first check, before anything reads the optimizer
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        torch_args: dict[str, Any] = {
            "total_steps": total_steps, "epochs": epochs, "steps_per_epoch": steps_per_epoch, "pct_start": pct_start,
            "anneal_strategy": anneal_strategy, "cycle_momentum": cycle_momentum, "base_momentum": base_momentum,
            "max_momentum": max_momentum, "div_factor": div_factor, "final_div_factor": final_div_factor,
            "three_phase": three_phase,
        }
        _check_like_torch(optimizer, max_lr, torch_args)
        groups = optimizer.param_groups
        analog.check_regrouped(optimizer)
        self.analog_groups: list[int] = [i for i, g in enumerate(groups) if analog.is_analog_group(g)]
        _positive("analog_lr_scale", analog_lr_scale)
        if analog_max_lr == "auto":  # the device peak when the device can be read, else torch's schedule
            analog_max_lr = "device" if xd_product is not None else None
        if isinstance(analog_max_lr, str) and analog_max_lr != "device":
            raise ValueError(f"analog_max_lr must be a number, 'device', 'auto' or None, got {analog_max_lr!r}")
        if analog_max_lr is not None and analog_max_lr != "device":
            _positive("analog_max_lr", analog_max_lr)
        # torch's values go to torch as given (a digital group keeps a tensor or NumPy max_lr as such; tensors copied,
        # as torch does); the analog groups get their own peak, a float (tiles take a float LR)
        given = max_lr if isinstance(max_lr, list | tuple) else [max_lr] * len(groups)
        max_lrs: list[Any] = [_copy(v) for v in given]
        for i in self.analog_groups:
            if analog_max_lr is None or analog_max_lr == "device":
                max_lrs[i] = float(max_lrs[i]) * analog_lr_scale
            else:
                max_lrs[i] = float(analog_max_lr)
        if analog_max_lr == "device":  # groups without a pulsed device keep the scaled max_lr
            for i, lr in device_lrs(optimizer, xd_product, device_pulses, option="analog_max_lr='device'",
                                     reference=device_reference).items():
                max_lrs[i] = lr
        self.peak_lrs = max_lrs
        self.bounds = self._bounds(optimizer, analog_lr_bounds, xd_product, device_reference)
        self._device = (analog_max_lr == "device", analog_lr_bounds == "device", device_pulses, device_reference)
        follows = analog_max_lr == "device" or analog_lr_bounds == "device"
        self._init_tracking(xd_refresh, xd_product if follows else None, len(self.analog_groups))
        self._analog_momentum = [_momentum_of(groups[i]) for i in self.analog_groups]
        if scale_fast_lr:
            for i in self.analog_groups:
                for tile in analog.group_tiles(groups[i]):
                    _make_fast_lr_follow(tile, max_lrs[i])
        super().__init__(optimizer, max_lrs, **torch_args, last_epoch=last_epoch)
        self.end_step: int | None = self.total_steps  # held from here on (TileSyncMixin)
        self._restore_analog_momentum()

    # -- schedule ----------------------------------------------------------------------------------------------
    def get_lr(self) -> list[float | Tensor]:
        step = self.last_epoch
        # at and past the end: the final step's values (torch extrapolates at total_steps, e.g. a linear anneal below
        # zero, and raises after it); step() holds them there without calling this (TileSyncMixin)
        self.last_epoch = min(step, self.total_steps - 1)
        try:
            lrs = super().get_lr()  # torch's values, types kept (a tensor max_lr gives tensor LRs, as in torch)
        finally:
            self.last_epoch = step
        self._restore_analog_momentum()
        for i, (low, high) in self.bounds.items():
            lrs[i] = min(max(float(lrs[i]), low), high)
        return lrs

    def _apply_xd(self, xd: list[float]) -> None:
        """New device peaks (and device bounds) from ``xd``: each analog group's cycle is rescaled by new/old peak,
        its shape and position kept."""
        peak_follows, bounds_follow, pulses, reference = self._device
        if peak_follows:
            for i, lr in device_lrs(self.optimizer, xd, pulses, option="analog_max_lr='device'",
                                    reference=reference).items():
                group, ratio = self.optimizer.param_groups[i], lr / float(self.peak_lrs[i])
                for key in ("initial_lr", "max_lr", "min_lr"):
                    group[key] = group[key] * ratio
                self.peak_lrs[i] = lr
        if bounds_follow:
            self.bounds = self._bounds(self.optimizer, "device", xd, reference)
        with warnings.catch_warnings():  # torch warns when get_lr() runs outside step(); here it is on purpose
            warnings.filterwarnings("ignore", "To get the last learning rate", UserWarning)
            lrs = self.get_lr()
        for i in self.analog_groups:
            self.optimizer.param_groups[i]["lr"] = float(lrs[i])
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
        self.sync_tiles()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)  # LR of the restored step into the groups and tiles
        if self.cycle_momentum:
            with warnings.catch_warnings():  # torch warns when get_lr() runs outside step(); here it is on purpose
                warnings.filterwarnings("ignore", "To get the last learning rate", UserWarning)
                self.get_lr()  # torch sets the digital groups' momentum of this step as a side effect

    def _restore_analog_momentum(self) -> None:
        for i, (momentum, betas) in zip(self.analog_groups, self._analog_momentum, strict=True):
            group = self.optimizer.param_groups[i]
            if momentum is not None:
                group["momentum"] = momentum
            if betas is not None:
                group["betas"] = betas

    # -- device bounds -----------------------------------------------------------------------------------------
    def _bounds(
        self, optimizer: Optimizer, spec: str | Bounds | None, xd: float | Sequence[float] | None,
        reference: str | None = None,
    ) -> dict[int, Bounds]:
        if spec is None:
            return {}
        if isinstance(spec, str):
            if spec != "device":
                raise ValueError(f"analog_lr_bounds must be None, 'device' or (low, high), got {spec!r}")
            xds = analog_xd(xd, len(self.analog_groups), "analog_lr_bounds='device'")
            ref = reference_unit(reference)
            return {
                i: unit_lr_bounds(optimizer.param_groups[i], s, ref)
                for i, s in zip(self.analog_groups, xds, strict=True)
            }
        low, high = spec
        _positive("analog_lr_bounds low", low)
        if high < low:
            raise ValueError(f"analog_lr_bounds must be (low, high) with low <= high, got {spec!r}")
        return {i: (float(low), float(high)) for i in self.analog_groups}


def _make_fast_lr_follow(tile: Any, peak_lr: float) -> None:
    """Rebuild a chopped/dynamic transfer tile with ``scale_fast_lr=True`` and ``fast_lr / peak_lr`` (state kept)."""
    device = getattr(tile.rpu_config, "device", None)
    if device is None or getattr(device, "scale_fast_lr", True) or not getattr(device, "fast_lr", 0.0) > 0:
        return
    state = tile.__getstate__()
    config = copy.deepcopy(tile.rpu_config)
    config.device.scale_fast_lr = True
    config.device.fast_lr = config.device.fast_lr / peak_lr
    state["rpu_config"] = config
    context = tile.analog_ctx  # the optimizer holds this object: keep it
    tile.__setstate__(state)
    tile.analog_ctx = context


def _momentum_of(group: dict[str, Any]) -> tuple[Any, Any]:
    return group.get("momentum"), group.get("betas")


def _copy(value: Any) -> Any:
    return value.clone() if isinstance(value, Tensor) else value


class _StandIn(Optimizer):
    """An optimizer that only holds param groups, for :func:`_check_like_torch`."""


def _check_like_torch(optimizer: Optimizer, max_lr: Any, torch_args: dict[str, Any]) -> None:
    """Raise what torch's ``OneCycleLR`` raises for these arguments (nothing when it takes them).

    torch itself is asked, on a stand-in optimizer with the optimizer's defaults and each group's LR, momentum and
    betas (copies: the real optimizer is not touched), so torch's arguments are accepted and rejected exactly as
    torch does, with torch's exception and message, before anything analog is read or rebuilt.
    """
    groups = [
        {"params": [torch.zeros(1)], **{key: _copy(group[key]) for key in ("lr", "momentum", "betas") if key in group}}
        for group in optimizer.param_groups
    ]
    OneCycleLR(_StandIn(groups, dict(optimizer.defaults)), max_lr, **torch_args)


def one_cycle(optimizer: Optimizer, *, max_lr: float | None = None, **options: Any) -> AnalogOneCycleLR:
    """One-cycle over ``epochs × steps_per_epoch`` steps: :class:`AnalogOneCycleLR` with its options as keywords,
    and ``max_lr`` defaulting to the optimizer's LR, as the other schedules' ``lr`` does.

    The poster's ``CLR/0.01-0.1/12`` reads: LR from 0.01 to 0.1, peak at epoch 12 of 25 — ``max_lr=0.1,
    div_factor=10, pct_start=12/25``; its momentum ``0.95-0.85`` is ``max_momentum=0.95, base_momentum=0.85``.
    """
    return AnalogOneCycleLR(optimizer, optimizer.defaults["lr"] if max_lr is None else max_lr, **options)


FACTORY_RANGES: dict[str, str] = {
    "max_lr": "LR | None",
    "pct_start": "Fraction",
    "base_momentum": "Momentum | Sequence[Momentum]",
    "max_momentum": "Momentum | Sequence[Momentum]",
    "div_factor": "Positive",
    "final_div_factor": "Positive",
    "analog_max_lr": "LR | Literal['device', 'auto'] | None",
    "analog_lr_scale": "Positive",
    "analog_lr_bounds": "Literal['device'] | tuple[Positive, Positive] | None",
    "xd_product": "Positive | Sequence[Positive] | None",
    "device_pulses": "Positive",
    "xd_refresh": "XdRefresh",
}
"""What the factory's options take (checked where they are parsed, :func:`aihwkit_sc.schedules.check_options`):
torch's ``OneCycleLR`` checks few of them (``div_factor=0`` divides by zero, a negative ``max_lr`` trains), and a
factory option is a float, not one of the tensors or per-group lists the class also takes for ``max_lr``."""


def _factory_signature() -> inspect.Signature:
    """:class:`AnalogOneCycleLR`'s own parameters as the factory's keyword options (what option checks and listings
    read): ``epochs`` and ``steps_per_epoch`` required, ``max_lr`` optional, no ``total_steps`` or ``last_epoch``."""
    params = list(inspect.signature(AnalogOneCycleLR).parameters.values())
    out = [params[0]]
    for param in params[1:]:
        if param.name in ("total_steps", "last_epoch"):
            continue
        if param.name == "max_lr":
            param = param.replace(default=None)
        elif param.name in ("epochs", "steps_per_epoch"):
            param = param.replace(default=inspect.Parameter.empty, annotation="int")
        if param.name in FACTORY_RANGES:
            param = param.replace(annotation=FACTORY_RANGES[param.name])
        out.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY))
    return inspect.Signature(out, return_annotation="AnalogOneCycleLR")


one_cycle.__signature__ = _factory_signature()  # type: ignore[attr-defined]

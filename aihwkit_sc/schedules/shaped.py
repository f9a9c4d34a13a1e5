"""Schedules as a *shape* times one analog-LR policy.

A shape is a pure function of the optimizer step: ``shape(step) -> multiplier`` of each param group's *peak* LR (as
in timm, where a scheduler is a function of progress). The analog side lives here, once, for every shape: the peak of
each group is the schedule's LR on digital groups and, on analog groups, ``analog_lr`` — a number, or ``"device"``:
``device_pulses × dw_min / s`` of the group's own tiles (or a ``device_reference`` preset's), ``s`` the measured
per-sample ``max|x|·max|d|`` (:mod:`aihwkit_sc.schedules.device`).

``x·d`` (the median over a batch's samples) falls as training proceeds, so a device LR set from the first batch fires
ever fewer pulses for the median sample. ``xd_refresh`` says whether the device peak follows it:

``"none"``   the peak set from the first batch, for the whole run (what the studies before it measured);
``"epoch"``  re-measured at every epoch boundary on the run's first training samples (no update applied): the
             training run calls :meth:`XdTracking.refresh_xd` with the ``x·d`` it records per epoch;
``"step"``   a running estimate from the inputs and errors the tiles hold at every step (no extra forward): the run
             calls :meth:`XdTracking.observe` between ``backward()`` and ``optimizer.step()``; the median over the
             batch's update rows of ``max|x|·max|d|``, averaged with weight ``XD_EMA`` per step.

Either way each group's LR is then the scheduled number of pulses of the current ``x·d``. Measured on LeNet-5
(``docs/results/xd-refresh.md``), following it does not train better and ``"step"`` trains much worse: the median
falls far more than the ``x·d`` of the samples that still carry an error, so their updates saturate. ``"none"`` stays
the default. :func:`analog_schedule`
turns a shape factory into a registered schedule with all these options; the built-in ``constant``, ``cosine``,
``step``, ``multistep`` and ``triangular`` are such shapes, and a plugin's shape gets the same options for free.
"""

from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from aihwkit_sc.schedules import analog
from aihwkit_sc.schedules._common import LR, Positive, positive, run_steps
from aihwkit_sc.schedules.device import analog_xd, device_lrs
from aihwkit_sc.schedules.sync import TileSyncMixin

XdRefresh = Literal["none", "epoch", "step"]
XD_REFRESH = ("none", "epoch", "step")
XD_EMA = 0.1
"""Weight of the newest batch in the running ``x·d`` estimate of ``xd_refresh="step"``."""

Shape = Callable[[int], float]
"""Optimizer step (0-based) -> multiplier of each group's peak LR."""


class XdTracking:
    """The ``xd_refresh`` side of an analog-aware scheduler: it holds the ``x·d`` its device peaks were set from and
    re-sets them when a new one comes in (:meth:`_apply_xd`, the scheduler's own)."""

    optimizer: Optimizer
    xd_refresh: str = "none"
    xd_current: list[float] | None = None

    def _init_tracking(self, xd_refresh: str, xd_product: Any, n_analog: int) -> None:
        if xd_refresh not in XD_REFRESH:
            raise ValueError(f"xd_refresh must be one of {', '.join(map(repr, XD_REFRESH))}, got {xd_refresh!r}")
        self.xd_refresh = xd_refresh
        self.xd_current = analog_xd(xd_product, n_analog, "xd_product") if xd_product is not None else None

    def refresh_xd(self, xd_product: Sequence[float]) -> None:
        """Re-set the device peaks from a newly measured ``x·d`` (one per analog group) and push the resulting LR of
        the current step into the groups and tiles. Ignored when the schedule has no device peak. A layer measured
        without signal (``x·d`` of 0, or not finite: no input or no error reaches it) keeps its current ``x·d``: there
        is nothing to set its peak from, and a peak set from 0 would be infinite."""
        if self.xd_current is None:
            return
        values = list(xd_product)
        if len(values) == len(self.xd_current):
            values = [v if isinstance(v, (int, float)) and math.isfinite(v) and v > 0 else old
                      for v, old in zip(values, self.xd_current, strict=True)]
        xd = analog_xd(values, len(self.xd_current), "xd_product")
        self._apply_xd(xd)
        self.xd_current = xd

    def observe(self) -> None:
        """``xd_refresh="step"``: update the running ``x·d`` from the inputs and errors the tiles hold now (call
        between ``backward()`` and ``optimizer.step()``)."""
        if self.xd_refresh != "step" or self.xd_current is None:
            return
        from aihwkit_sc.devices import xd_rows

        fresh = []
        for old, group in zip(self.xd_current, (g for g in self.optimizer.param_groups if analog.is_analog_group(g)),
                              strict=True):
            rows = [xd_rows(x, d) for ctx in analog.contexts(group) if ctx.has_gradient()
                    for x, d in analog.update_pairs(ctx)]
            batch = float(torch.cat([r.reshape(-1) for r in rows]).median()) if rows else 0.0
            fresh.append((1 - XD_EMA) * old + XD_EMA * batch if batch > 0 else old)
        self.refresh_xd(fresh)

    def _apply_xd(self, xd: list[float]) -> None:
        """The hook each scheduler that mixes this in defines: set its analog groups' LRs from the new ``x·d``
        (:class:`AnalogShapedLR` and ``AnalogOneCycleLR`` do); the mixin alone cannot know where its LRs live."""
        raise NotImplementedError(f"{type(self).__name__} mixes in XdTracking but does not define _apply_xd")


class AnalogShapedLR(XdTracking, TileSyncMixin, LambdaLR):
    """Each group's LR is its peak times ``shape(step)``; the analog groups' peaks follow the device rule (and,
    with ``xd_refresh``, the current ``x·d``). Tiles are kept in sync (:class:`TileSyncMixin`)."""

    def __init__(self, optimizer: Optimizer, shape: Shape, peaks: list[float], *,
                 device_rule: Callable[[list[float]], dict[int, float]] | None = None,
                 xd_product: Any = None, xd_refresh: str = "none", end_step: int | None = None) -> None:
        n_analog = sum(analog.is_analog_group(g) for g in optimizer.param_groups)
        self._init_tracking(xd_refresh, xd_product if device_rule else None, n_analog)
        self._device_rule = device_rule
        for group, peak in zip(optimizer.param_groups, peaks, strict=True):
            group["lr"] = float(peak)
            group.pop("initial_lr", None)
        super().__init__(optimizer, shape)
        self.end_step = end_step

    def _apply_xd(self, xd: list[float]) -> None:
        assert self._device_rule is not None
        step = min(self.last_epoch, self.end_step - 1) if self.end_step is not None else self.last_epoch
        for i, peak in self._device_rule(xd).items():
            self.base_lrs[i] = peak
            self.optimizer.param_groups[i]["initial_lr"] = peak
            self.optimizer.param_groups[i]["lr"] = peak * self.lr_lambdas[i](step)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
        self.sync_tiles()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.pop("_device_rule", None)  # a function of the live optimizer, rebuilt by the factory
        return state


def peaks_and_rule(
    optimizer: Optimizer, lr: float | None, analog_lr: float | str | None, xd_product: Any, device_pulses: float,
    device_reference: str | None,
) -> tuple[list[float], Callable[[list[float]], dict[int, float]] | None]:
    """Each group's peak (digital groups: ``lr``, default their current LR; analog groups: ``analog_lr``, default
    ``lr``) and, for ``analog_lr="device"``, the rule that turns an ``x·d`` into the analog groups' peaks."""
    if lr is not None:
        positive("lr", lr)
    peaks = [float(lr if lr is not None else g["lr"]) for g in optimizer.param_groups]
    if analog_lr is None:
        return peaks, None
    indices = [i for i, g in enumerate(optimizer.param_groups) if analog.is_analog_group(g)]
    if analog_lr == "device":
        positive("device_pulses", device_pulses)

        def rule(xd: list[float]) -> dict[int, float]:
            return device_lrs(optimizer, xd, device_pulses, option="analog_lr='device'", reference=device_reference)

        for i, peak in rule(analog_xd(xd_product, len(indices), "analog_lr='device'")).items():
            peaks[i] = peak
        return peaks, rule
    if isinstance(analog_lr, str):
        raise ValueError(f"analog_lr must be a number, 'device' or None, got {analog_lr!r}")
    positive("analog_lr", analog_lr)
    for i in indices:
        peaks[i] = float(analog_lr)
    return peaks, None


ANALOG_OPTIONS: dict[str, tuple[Any, Any]] = {  # name: (annotation, default), the options every shape gets
    "analog_lr": (LR | Literal["device"] | None, None),
    "xd_product": (Positive | Sequence[Positive] | None, None),
    "device_pulses": (Positive, 1.0),
    "device_reference": (str | None, None),
    "xd_refresh": (XdRefresh, "none"),
}


def analog_schedule(shape_factory: Callable[..., Shape], *, peak: str = "lr") -> Callable[..., AnalogShapedLR]:
    """A schedule factory ``factory(optimizer, *, steps_per_epoch, epochs, <peak>=None, <shape options>,
    analog_lr=None, xd_product=None, device_pulses=1.0, device_reference=None, xd_refresh="none")`` from a shape
    factory ``shape_factory(*, steps, steps_per_epoch, peak, **options) -> shape``: ``steps`` the run's optimizer
    steps (``None`` when built without ``epochs``), ``peak`` the digital peak LR. ``peak`` names the option that sets
    the digital peak (default ``lr``; it defaults to the optimizer's LR). Register the result like any schedule,
    with ``needs=("xd_product",)`` so a run measures ``x·d`` for the device peak."""
    own = inspect.signature(shape_factory).parameters
    hints = typing.get_type_hints(shape_factory, include_extras=True)
    shape_options = [p for name, p in own.items() if name not in ("steps", "steps_per_epoch", "peak")]

    def factory(optimizer: Optimizer, **options: Any) -> AnalogShapedLR:
        steps_per_epoch = options.pop("steps_per_epoch", None)
        epochs = options.pop("epochs", None)
        lr = options.pop(peak, None)
        analog_opts = {k: options.pop(k, default) for k, (_, default) in ANALOG_OPTIONS.items()}
        analog.check_regrouped(optimizer)
        peaks, rule = peaks_and_rule(optimizer, lr, analog_opts["analog_lr"], analog_opts["xd_product"],
                                     analog_opts["device_pulses"], analog_opts["device_reference"])
        steps = run_steps(epochs, steps_per_epoch)
        digital_peak = lr if lr is not None else float(optimizer.param_groups[0]["lr"])
        shape = shape_factory(steps=steps, steps_per_epoch=steps_per_epoch, peak=digital_peak, **options)
        return AnalogShapedLR(optimizer, shape, peaks, device_rule=rule, xd_product=analog_opts["xd_product"],
                              xd_refresh=analog_opts["xd_refresh"], end_step=steps)

    params = [inspect.Parameter("optimizer", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Optimizer)]
    keyword = inspect.Parameter.KEYWORD_ONLY
    spe_required = own["steps_per_epoch"].default is inspect.Parameter.empty
    params.append(inspect.Parameter("steps_per_epoch", keyword, annotation=int if spe_required else int | None,
                                    default=inspect.Parameter.empty if spe_required else None))
    epochs_required = own["steps"].default is inspect.Parameter.empty  # a shape that needs the run's length
    params.append(inspect.Parameter("epochs", keyword, annotation=int if epochs_required else int | None,
                                    default=inspect.Parameter.empty if epochs_required else None))
    params.append(inspect.Parameter(peak, keyword, annotation=LR | None, default=None))
    params += [p.replace(kind=keyword, annotation=hints.get(p.name, p.annotation)) for p in shape_options]
    params += [inspect.Parameter(k, keyword, annotation=a, default=d) for k, (a, d) in ANALOG_OPTIONS.items()]
    factory.__signature__ = inspect.Signature(params, return_annotation=AnalogShapedLR)  # type: ignore[attr-defined]
    factory.__name__ = getattr(shape_factory, "__name__", "shaped")
    factory.__doc__ = shape_factory.__doc__
    factory.__wrapped_shape__ = shape_factory  # type: ignore[attr-defined]
    return factory

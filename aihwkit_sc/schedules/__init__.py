"""Learning-rate schedules that know how aihwkit's analog tiles take their learning rate.

>>> from aihwkit_sc.schedules import AnalogOneCycleLR, build
>>> sched = build("one-cycle", optimizer, epochs=10, steps_per_epoch=79, max_lr=0.1)

Every named schedule is stepped once per batch and registered through the ``register_schedules`` hook. Apart from
one-cycle (a drop-in for torch's ``OneCycleLR``), a schedule is a *shape* times one analog-LR policy
(:mod:`aihwkit_sc.schedules.shaped`): :func:`analog_schedule` gives any shape the analog options (``analog_lr``,
``xd_product``, ``device_pulses``, ``device_reference``, ``xd_refresh``). A schedule
says what it wants measured by the training run in its registry entry (``needs=("xd_product",)``, see
:data:`MEASURED`); the run measures exactly that, for built-in and plugin schedules alike.
"""

from __future__ import annotations

import inspect
import numbers
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from typing import Annotated, Any, Literal, Union

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from aihwkit_sc.plugins import registry
from aihwkit_sc.schedules._common import LR, MAX_LR, Fraction, Momentum, NonNegative, Positive, Range, is_number
from aihwkit_sc.schedules.analog import is_analog_group, sync_tiles
from aihwkit_sc.schedules.one_cycle import AnalogOneCycleLR, device_lr_bounds
from aihwkit_sc.schedules.shaped import XD_REFRESH, AnalogShapedLR, XdTracking, analog_schedule
from aihwkit_sc.schedules.sync import TileSyncMixin
from aihwkit_sc.schedules.xd import measure_xd_product

__all__ = ["LR", "MAX_LR", "MEASURED", "RUN_SUPPLIED", "XD_REFRESH", "AnalogOneCycleLR", "AnalogShapedLR", "Fraction",
           "Momentum", "NonNegative", "Positive", "Range", "TileSyncMixin", "XdTracking", "analog_schedule", "build",
           "check_needs", "check_options",
           "check_run_options", "device_lr_bounds", "is_analog_group", "measure_xd_product", "names", "needs",
           "options", "sync_tiles", "trace"]

RUN_SUPPLIED: dict[str, str] = {
    "epochs": "the run passes it; use --epochs (TrainConfig.epochs) instead",
    "steps_per_epoch": "the run passes it (its batches per epoch, from the dataset, --limit and --batch-size)",
}
"""Options a training run passes to every schedule itself, with what to do instead of giving them as options."""

MEASURED: dict[str, str] = {
    "xd_product": "the per-sample max|x|·max|d| of each analog group, on the first training batch (no update applied; "
                  "left out on a model without analog groups)",
    "max_lr": "an LR range test's suggestion (fastai's valley; digital models only)",
    "lr": "the same range test's suggestion, for the schedules whose peak option is lr (digital models only)",
    "device_pulses": "an analog range test's suggestion, in device pulses (fastai's valley of loss against pulses, "
                     "every analog layer at pulses × dw_min / s; left out on a model without analog groups)",
}
"""Options a training run can measure. ``"auto"`` as an option's value always means *measured by the run*; a schedule
whose registry entry lists an option in ``needs`` gets it measured whenever the user leaves it out."""


def names() -> list[str]:
    """Sorted names of the registered schedules."""
    return registry("schedule").names()


def options(name: str) -> dict[str, Any]:
    """The keyword options of schedule ``name`` with their defaults (``inspect.Parameter.empty`` when required)."""
    factory = registry("schedule").get(name)
    return {
        p.name: p.default for p in inspect.signature(factory).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def needs(name: str) -> tuple[str, ...]:
    """The options schedule ``name`` wants the run to measure when they are left out (its entry's ``needs``, checked
    at registration: options of its own, among :data:`MEASURED`)."""
    declared: Any = registry("schedule").entry(name).extra.get("needs", ())
    return (declared,) if isinstance(declared, str) else tuple(declared)


def check_needs(name: str, factory: Any, needs: Any) -> None:
    """A registry entry's ``needs``: options of its own factory that a run can measure (:data:`MEASURED`); a one-line
    ``TypeError`` naming the schedule otherwise (the plugin host reports it and skips the entry)."""
    given = [needs] if isinstance(needs, str) else needs
    if not isinstance(given, list | tuple) or not all(isinstance(k, str) for k in given):
        raise TypeError(f"schedule {name!r}: needs must be a list of option names, got {needs!r}")
    try:
        own = set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        own = set()
    bad = [k for k in given if k not in MEASURED or k not in own]
    if bad:
        raise TypeError(f"schedule {name!r} needs {', '.join(map(repr, bad))}, which a run cannot measure for it: "
                        f"needs may name its own options among {', '.join(MEASURED)}")


def check_options(name: str, opts: Mapping[str, Any], *, supplied: Mapping[str, str] | None = None,
                  auto: Collection[str] = ()) -> None:
    """Raise one-line ``ValueError`` unless ``opts`` are options schedule ``name`` takes, with values of their types.

    ``supplied`` maps the options the caller passes itself (a run's ``epochs``) to why and what to do instead;
    options in ``auto`` may also be the string ``"auto"`` (the caller measures them). Types come from the factory's
    annotations, else from its defaults (a bool default wants a bool, a number default a number).
    """
    factory = registry("schedule").get(name)
    accepted = options(name)
    supplied = supplied or {}
    for key in opts:
        if key in supplied:
            raise ValueError(f"schedule {name!r} option {key} cannot be set here: {supplied[key]}")
    unknown = sorted(set(opts) - set(accepted))
    if unknown:
        raise ValueError(
            f"schedule {name!r} has no option {', '.join(map(repr, unknown))}: it takes {', '.join(accepted)}"
        )
    hints = _hints(factory)
    for key, value in opts.items():
        if key in auto and isinstance(value, str) and value == "auto":
            continue
        hint = hints.get(key, _hint_from_default(accepted[key]))
        if not _fits(hint, value):
            expected = _describe(hint, extra=["'auto'"] if key in auto else [])
            raise ValueError(f"schedule {name!r} option {key}: expected {expected}, got {value!r}")


def check_run_options(name: str, opts: Mapping[str, Any]) -> None:
    """:func:`check_options` for a training run's ``schedule_options``: no ``epochs`` or ``steps_per_epoch`` (the
    run passes them), and the options in :data:`MEASURED` may be ``"auto"`` (the run measures them)."""
    check_options(name, opts, supplied=RUN_SUPPLIED, auto=tuple(MEASURED))


def build(name: str, optimizer: Optimizer, **opts: Any) -> LRScheduler:
    """Build the schedule registered as ``name`` for ``optimizer``.

    Every schedule takes ``steps_per_epoch`` and ``epochs``; see :func:`options` for the rest. Unknown options and
    values of the wrong type (:func:`check_options`) raise a one-line ``ValueError``.
    """
    accepted = options(name)
    check_options(name, opts)
    missing = [k for k, v in accepted.items() if v is inspect.Parameter.empty and k not in opts]
    if missing:
        raise ValueError(f"schedule {name!r} needs {', '.join(map(repr, missing))}")
    scheduler: LRScheduler = registry("schedule").call(name, optimizer, doing="build", expect=_not_a_scheduler,
                                                       **opts)
    return scheduler


def _not_a_scheduler(obj: Any) -> str | None:
    return None if isinstance(obj, LRScheduler) else f"it returned {type(obj).__name__}, not a torch LRScheduler"


def _hints(factory: Any) -> dict[str, Any]:
    """The factory's keyword annotations, each resolved on its own (one that cannot be resolved is left out)."""
    target = inspect.unwrap(factory)
    namespace = dict(getattr(target, "__globals__", {}))
    out: dict[str, Any] = {}
    for param in inspect.signature(factory).parameters.values():
        annotation = param.annotation
        if annotation is inspect.Parameter.empty:
            continue
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace)  # what typing.get_type_hints does, one name at a time
            except Exception:  # e.g. a name imported for type checkers only: fall back on the default
                continue
        out[param.name] = annotation
    return out


def _hint_from_default(default: Any) -> Any:
    if isinstance(default, bool):
        return bool
    if isinstance(default, numbers.Real):
        return float
    return Any


def _fits(hint: Any, value: Any) -> bool:
    """Whether ``value`` is of type ``hint`` (as far as these simple types go; anything else fits), within the
    :class:`~aihwkit_sc.schedules._common.Range` of an ``Annotated`` hint."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        ranges = [m for m in hint.__metadata__ if isinstance(m, Range)]
        return _fits(args[0], value) and all(r.holds(float(value)) for r in ranges)
    if origin in (Union, types.UnionType):
        return any(_fits(a, value) for a in args)
    if origin is Literal:
        return any(type(value) is type(a) and value == a for a in args)
    if hint is None or hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return is_number(value)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple and args and args[-1] is not Ellipsis:
        return (isinstance(value, list | tuple) and len(value) == len(args)
                and all(_fits(a, v) for a, v in zip(args, value, strict=True)))
    if origin in (list, tuple, Sequence):
        return isinstance(value, list | tuple) and (not args or all(_fits(args[0], v) for v in value))
    return True


def _describe(hint: Any, extra: list[str] | None = None) -> str:
    """``hint`` in words: 'a number', 'true/false', "'cos' or 'linear'", 'a number or null'."""
    parts: list[str] = []

    def walk(h: Any) -> None:
        origin, args = typing.get_origin(h), typing.get_args(h)
        ranges = [m for m in getattr(h, "__metadata__", ()) if isinstance(m, Range)] if origin is Annotated else []
        if ranges:
            parts.append(ranges[0].describe())
        elif origin is Annotated:
            walk(args[0])
        elif origin in (Union, types.UnionType):
            for a in args:
                walk(a)
        elif origin is Literal:
            parts.extend(repr(a) for a in args)
        elif h is None or h is type(None):
            parts.append("null")
        elif h is bool:
            parts.append("true/false")
        elif h is int:
            parts.append("an integer")
        elif h is float:
            parts.append("a number")
        elif h is str:
            parts.append("a string")
        elif origin is tuple and args and args[-1] is not Ellipsis:
            parts.append(f"a list of {len(args)} " + _plural(args[0]) if len(set(args)) == 1 else
                         f"a list of {len(args)} values")
        elif origin in (list, tuple, Sequence):
            parts.append("a list of " + _plural(args[0]) if args else "a list")
        else:
            parts.append(getattr(h, "__name__", str(h)))

    walk(hint)
    unique = list(dict.fromkeys(parts + (extra or [])))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " or " + unique[-1]


def _plural(hint: Any) -> str:
    """An element type in the plural: 'numbers', 'positive numbers', 'numbers in (0, 1)'."""
    if hint is float:
        return "numbers"
    ranges = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Range)]
    if ranges:
        words = ranges[0].describe()
        return words[2:].replace("number", "numbers", 1) if words.startswith("a ") else words
    return "values"


def trace(name: str, *, epochs: int, steps_per_epoch: int, lr: float = 0.01, momentum: float = 0.9,
          **opts: Any) -> dict[str, list[float]]:
    """LR and momentum at every step of schedule ``name`` (on a one-parameter digital SGD), for plots and checks.

    ``lr`` and ``momentum`` are the optimizer's starting values; entry ``k`` is what is in force for step ``k``.
    """
    import torch

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr, momentum=momentum)
    scheduler = build(name, optimizer, epochs=epochs, steps_per_epoch=steps_per_epoch, **opts)
    out: dict[str, list[float]] = {"lr": [], "momentum": []}
    for step in range(epochs * steps_per_epoch):
        if step:
            optimizer.step()
            scheduler.step()
        out["lr"].append(float(optimizer.param_groups[0]["lr"]))
        out["momentum"].append(float(optimizer.param_groups[0]["momentum"]))
    return out

"""Learning-rate schedules that know how aihwkit's analog tiles take their learning rate.

>>> from aihwkit_sc.schedules import AnalogOneCycleLR, build
>>> sched = build("one-cycle", optimizer, epochs=10, steps_per_epoch=79, max_lr=0.1)

Every named schedule is stepped once per batch and registered through the ``register_schedules`` hook.
"""

from __future__ import annotations

import inspect
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from aihwkit_sc.plugins import registry
from aihwkit_sc.schedules.analog import is_analog_group, sync_tiles
from aihwkit_sc.schedules.one_cycle import AnalogOneCycleLR, device_lr_bounds
from aihwkit_sc.schedules.xd import measure_xd_product

__all__ = ["AnalogOneCycleLR", "build", "device_lr_bounds", "is_analog_group", "measure_xd_product", "names",
           "options", "sync_tiles", "trace"]


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


def build(name: str, optimizer: Optimizer, **opts: Any) -> LRScheduler:
    """Build the schedule registered as ``name`` for ``optimizer``.

    Every schedule takes ``steps_per_epoch`` and ``epochs``; see :func:`options` for the rest.
    """
    factory = registry("schedule").get(name)
    accepted = options(name)
    unknown = sorted(set(opts) - set(accepted))
    if unknown:
        raise ValueError(
            f"schedule {name!r} has no option {', '.join(map(repr, unknown))}: it takes {', '.join(accepted)}"
        )
    missing = [k for k, v in accepted.items() if v is inspect.Parameter.empty and k not in opts]
    if missing:
        raise ValueError(f"schedule {name!r} needs {', '.join(map(repr, missing))}")
    scheduler: LRScheduler = factory(optimizer, **opts)
    return scheduler


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

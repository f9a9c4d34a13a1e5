"""The LR policies the studies compare, as a training run's schedule and options.

Every analog layer's LR follows the policy's shape from its own *device peak* ``scale × dw_min / s`` (``s`` its
measured per-sample ``max|x|·max|d|``, :mod:`aihwkit_sc.schedules.device`); digital groups follow the same shape from
:data:`DIGITAL_LR`. On a digital model ``scale`` multiplies :data:`DIGITAL_LR` instead: one tuned global LR.

==============  ===========================================================================================
``constant``    the peak throughout
``anneal``      cosine from the peak to 0, no warm-up
``multistep``   the peak, ×0.1 at 50 % and 75 % of the budget (the poster's kind of step)
``one-cycle``   ``AnalogOneCycleLR`` (warm-up 30 % from peak/25, anneal to peak/25e4) with the device peak
==============  ===========================================================================================

``scale="auto"`` leaves the peak to the run's range test: ``device_pulses="auto"`` (the analog range test in device
pulses) on analog layers, the LR range test's ``lr``/``max_lr`` on a digital model.
"""

from __future__ import annotations

from typing import Any

POLICIES = ("constant", "anneal", "multistep", "one-cycle")
CONVENTIONAL = ("constant", "anneal", "multistep")
"""The policies a long reference is chosen from (everything but the cycle)."""
DIGITAL_LR = 0.1
"""The digital LR of the studies (SGD, momentum 0.9, batch 64): the digital groups' peak on analog models, the unit
of ``scale`` on digital ones."""


def run_spec(policy: str, scale: float | str, *, digital: bool,
             reference: str | None = None) -> tuple[str, dict[str, Any], float]:
    """(schedule, schedule options, optimizer LR) of ``policy`` at ``scale`` (a number or ``"auto"``); ``digital``:
    one global LR of ``scale × DIGITAL_LR``; ``reference``: a pulsed preset whose device rule sets every analog
    layer's peak (``device_reference``)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}: choose from {', '.join(POLICIES)}")
    auto = scale == "auto"
    if digital:
        lr: Any = "auto" if auto else DIGITAL_LR * float(scale)
        peak: dict[str, Any] = {}
    else:
        lr = DIGITAL_LR
        peak = {"analog_lr": "device", "device_pulses": scale if auto else float(scale)}
        peak |= {"device_reference": reference} if reference else {}
    start = DIGITAL_LR if lr == "auto" else lr
    if policy == "constant":
        return "constant", {"lr": lr} | peak, start
    if policy == "anneal":
        return "cosine", {"lr": lr, "min_lr": 0.0} | peak, start
    if policy == "multistep":
        return "multistep", {"lr": lr, "gamma": 0.1, "milestones": [0.5, 0.75]} | peak, start
    cycle = {"max_lr": lr} | ({"analog_max_lr": None} if digital else
                              {"analog_max_lr": "device"} | {k: v for k, v in peak.items() if k != "analog_lr"})
    return "one-cycle", cycle, start

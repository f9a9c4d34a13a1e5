"""An example device plugin for aihwkit-sc: what a device researcher's package looks like.

It registers

* the preset ``reram-om-as-measured`` (alias ``rom``): the "Optimized Material" HfO2-based ReRAM array of
  Gong & Rasch et al., "Deep learning acceleration in 14nm CMOS compatible ReRAM array: device, material and
  algorithm co-optimization", IEDM 2022 (https://ieeexplore.ieee.org/document/10019569), with the parameters
  aihwkit fitted to that array's measurements (``ReRamArrayOMPresetDevice``: soft-bounds reference device,
  dw_min 0.0949 on a compliance-adjusted range of [-1, 1], i.e. about 21 states; device-to-device spread of dw_min
  78 %; cycle-to-cycle 42 % plus write noise) and, unlike aihwkit's default, the 13.5 % of corrupt (stuck) devices
  measured on that array;
* a model, ``tiny-mlp``, and a schedule, ``linear-warmup`` (LR rising linearly over ``warmup`` epochs, then
  constant), which keeps analog tiles in sync through aihwkit-sc's ``TileSyncMixin``.

Once installed (``pip install -e .``) they appear in ``aihwkit-sc presets list``, ``aihwkit-sc plugins list``,
``aihwkit_sc.presets.get("rom")``, ``aihwkit_sc.build("tiny-mlp", ...)`` and ``aihwkit_sc.schedules.build(...)``.
Nothing heavy is imported at module import: torch and aihwkit load only when something is built.
"""

from __future__ import annotations

from typing import Any

from aihwkit_sc import hookimpl

CORRUPT_DEVICES_MEASURED = 0.135  # fraction of stuck devices in the measured array (Gong & Rasch et al. 2022)


def reram_om_as_measured() -> Any:
    """A fresh RPU configuration: aihwkit's fit of the IEDM 2022 "Optimized Material" array, corrupt devices on."""
    from aihwkit.simulator.configs import SingleRPUConfig
    from aihwkit.simulator.presets import ReRamArrayOMPresetDevice
    from aihwkit.simulator.presets.utils import PresetIOParameters, PresetUpdateParameters

    device = ReRamArrayOMPresetDevice(corrupt_devices_prob=CORRUPT_DEVICES_MEASURED)
    return SingleRPUConfig(device=device, forward=PresetIOParameters(), backward=PresetIOParameters(),
                           update=PresetUpdateParameters())


@hookimpl
def register_presets(register: Any) -> None:
    register("reram-om-as-measured", reram_om_as_measured, aliases=["rom"],
             description="example plugin: IEDM 2022 'Optimized Material' ReRAM array with its 13.5 % corrupt devices")


def linear_warmup(optimizer: Any, *, steps_per_epoch: int, epochs: int | None = None, warmup: float = 1.0) -> Any:
    """LR from ``lr / warmup_steps`` up to the optimizer's LR over ``warmup`` epochs, then constant."""
    from torch.optim.lr_scheduler import LambdaLR

    from aihwkit_sc.schedules import TileSyncMixin

    class WarmupLR(TileSyncMixin, LambdaLR):
        pass

    warmup_steps = max(1, round(warmup * steps_per_epoch))
    return WarmupLR(optimizer, lambda step: min(1.0, (step + 1) / warmup_steps))


@hookimpl
def register_schedules(register: Any) -> None:
    register("linear-warmup", linear_warmup, description="example plugin: linear warm-up, then constant")


def tiny_mlp(*, num_classes: int = 10, hidden: int = 32) -> Any:
    """A two-layer perceptron for 28x28 digits: what a third-party model builder looks like."""
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


@hookimpl
def register_models(register: Any) -> None:
    register("tiny-mlp", tiny_mlp, description="example plugin: 784-hidden-10 perceptron", input_size=(1, 28, 28))

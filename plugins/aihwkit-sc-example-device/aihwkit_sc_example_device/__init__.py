"""An example device plugin for aihwkit-sc.

A device researcher's package: it registers one preset, ``example-soft-bounds`` (alias ``esb``), a soft-bounds
device with about 500 states and some cycle-to-cycle noise, a model (``tiny-mlp``) and one schedule,
``linear-warmup`` (LR rising linearly over ``warmup`` epochs, then constant), which keeps analog tiles in sync
through aihwkit-sc's ``TileSyncMixin``.
Once installed (``pip install -e .``) it appears in
``aihwkit-sc presets list``, in ``aihwkit-sc plugins list`` and in ``aihwkit_sc.presets.get("esb")``.
Nothing heavy is imported at module import: aihwkit loads only when the preset is built.
"""

from __future__ import annotations

from typing import Any

from aihwkit_sc import hookimpl


def soft_bounds_config() -> Any:
    """A fresh RPU configuration: SoftBoundsDevice, dw_min 0.004 over [-1, 1] (500 states)."""
    from aihwkit.simulator.configs import SingleRPUConfig
    from aihwkit.simulator.configs.devices import SoftBoundsDevice
    from aihwkit.simulator.presets.utils import PresetIOParameters, PresetUpdateParameters

    device = SoftBoundsDevice(dw_min=0.004, dw_min_std=0.2, dw_min_dtod=0.1, w_min=-1.0, w_max=1.0,
                              w_min_dtod=0.1, w_max_dtod=0.1, up_down_dtod=0.02, write_noise_std=0.5)
    return SingleRPUConfig(device=device, forward=PresetIOParameters(), backward=PresetIOParameters(),
                           update=PresetUpdateParameters())


@hookimpl
def register_presets(register: Any) -> None:
    register("example-soft-bounds", soft_bounds_config, aliases=["esb"],
             description="example plugin: soft-bounds device, 500 states, write noise")


def linear_warmup(optimizer: Any, *, steps_per_epoch: int, epochs: int | None = None, warmup: float = 1.0) -> Any:
    """LR from ``lr / warmup_steps`` up to the optimizer's LR over ``warmup`` epochs, then constant."""
    from torch.optim.lr_scheduler import LambdaLR

    from aihwkit_sc.schedules.sync import TileSyncMixin

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

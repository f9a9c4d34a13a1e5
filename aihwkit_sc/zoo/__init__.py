"""Model zoo: the poster's networks, digital (plain torch) or analog from any preset.

>>> from aihwkit_sc import build, make_optimizer
>>> model = build("lenet5", preset="gokmen-vlasov")              # every Conv2d/Linear an aihwkit analog layer
>>> model = build("vgg8", preset="si", digital_layers=("first", "last"))
>>> opt = make_optimizer(model, lr=0.1, momentum=0.9)            # AnalogSGD, regrouped; torch SGD if digital
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from aihwkit_sc.devices import analog_layers, is_analog, load_state, tiles
from aihwkit_sc.plugins import registry

__all__ = ["analog_layers", "build", "is_analog", "load_state", "make_optimizer", "names", "tiles"]

CONVERTIBLE = (nn.Conv2d, nn.Linear)


def names() -> list[str]:
    """Sorted names of the registered models."""
    return registry("model").names()


def _config_of(preset: Any) -> Any:
    """The RPU configuration (``None``: digital) of a preset name, ``Preset`` or aihwkit RPU configuration."""
    from aihwkit_sc import presets

    if isinstance(preset, str | presets.Preset):
        return (presets.get(preset) if isinstance(preset, str) else preset).rpu_config()
    if preset is None:
        return None
    if hasattr(preset, "device") and hasattr(preset, "__dataclass_fields__"):
        from aihwkit_sc.abi import ensure_aihwkit

        ensure_aihwkit()
        return preset
    raise TypeError(
        f"preset must be a preset name, a Preset or an aihwkit RPU configuration, got {type(preset).__name__}"
    )


def _resolve_digital(model: nn.Module, digital_layers: Iterable[str]) -> list[str]:
    """Module names to keep digital: ``first``/``last`` (the first/last Conv2d or Linear), names or fnmatch patterns."""
    layer_names = [name for name, m in model.named_modules() if isinstance(m, CONVERTIBLE)]
    chosen: list[str] = []
    for spec in digital_layers:
        if spec == "first":
            matches = layer_names[:1]
        elif spec == "last":
            matches = layer_names[-1:]
        else:
            matches = [n for n in layer_names if fnmatch.fnmatchcase(n, spec)]
        if not matches:
            raise ValueError(
                f"digital_layers entry {spec!r} matches no Conv2d/Linear layer: use 'first', 'last' or one of "
                f"{', '.join(layer_names)}"
            )
        chosen += [m for m in matches if m not in chosen]
    return chosen


def build(
    name: str, *, preset: Any = "pytorch", num_classes: int | None = None, digital_layers: Iterable[str] = (),
    **options: Any,
) -> nn.Module:
    """Build model ``name`` digital (preset ``pytorch``: plain torch, no aihwkit modules) or analog.

    Args:
        name: a registered model (``lenet5``, ``vgg8``, ``resnet18``, plugins').
        preset: a preset name (``gokmen-vlasov``, ``si``, ``reram-es:no-c2c``, ...), a ``Preset``, or an aihwkit RPU
            configuration. With an analog preset every Conv2d and Linear becomes an aihwkit analog layer with it
            (``aihwkit.nn.conversion.convert_to_analog``).
        num_classes: output classes (default: the builder's, 10 for the built-ins).
        digital_layers: layers kept digital: ``"first"``, ``"last"``, module names or fnmatch patterns.
        options: passed to the builder.
    """
    if num_classes is not None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes}")
        options["num_classes"] = num_classes
    model: nn.Module = registry("model").call(name, doing="build", expect=_not_a_module, **options)
    config = _config_of(preset)
    # one name is one layer ("first"), not its letters
    digital = _resolve_digital(model, (digital_layers,) if isinstance(digital_layers, str) else digital_layers)
    if config is None:
        return model
    from aihwkit.nn.conversion import convert_to_analog

    analog: nn.Module = convert_to_analog(model, config, exclude_modules=digital, inplace=True)
    return analog


def _not_a_module(obj: Any) -> str | None:
    return None if isinstance(obj, nn.Module) else f"it returned {type(obj).__name__}, not a torch nn.Module"


def make_optimizer(
    model: nn.Module, lr: float, momentum: float = 0.0, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """aihwkit's ``AnalogSGD`` with param groups regrouped (one group per tile) for analog models, torch ``SGD`` for
    digital ones; either is ready for ``AnalogOneCycleLR``. Momentum and weight decay act on digital parameters only
    (aihwkit's pulsed update ignores them)."""
    for label, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
        if not value >= 0 or (label == "lr" and value == 0):
            raise ValueError(f"{label} must be {'positive' if label == 'lr' else 'non-negative'}, got {value}")
    if not is_analog(model):
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    from aihwkit.optim import AnalogSGD

    optimizer = AnalogSGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    optimizer.regroup_param_groups(model)
    return optimizer

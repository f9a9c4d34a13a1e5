"""What aihwkit's configurations and tiles say about a device, in one place (aihwkit 1.2.0).

- Configurations: :func:`pulsed_devices` walks unit cells and mixed-precision compounds; :func:`device_unit` reads
  the first (fast) pulsed device's weight granularity ``dw_min`` and the update's bit-length cap ``desired_bl``.
- Updates: :func:`row_max` and :func:`xd_rows`, the per-row ``max|x|`` and ``max|x|·max|d|`` that set where a pulsed
  update saturates (read by the device LR rule, the x·d measurement and the pulse estimate).
- Models: :func:`analog_layers`, :func:`tiles`, :func:`is_analog` and :func:`load_state` (a state load that keeps the
  optimizer connected to the tiles).

Used by presets, schedules, pulses, the model zoo, the training loop and the LR range test; nothing else reads
aihwkit's device fields.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing this module (presets, the CLI) loads neither torch nor aihwkit
    import torch
    from torch import nn

__all__ = ["analog_layers", "device_unit", "is_analog", "load_state", "pulsed_devices", "row_max", "tiles",
           "xd_rows"]


# -- configurations ----------------------------------------------------------------------------------------------
def pulsed_devices(config_or_device: Any) -> Iterator[Any]:
    """Every pulsed device of an RPU configuration (or device), walking unit cells and mixed-precision compounds."""
    from aihwkit.simulator.configs.compounds import DigitalRankUpdateCell, UnitCell
    from aihwkit.simulator.configs.devices import PulsedDevice

    device = getattr(config_or_device, "device", config_or_device)
    if isinstance(device, PulsedDevice):
        yield device
    elif isinstance(device, UnitCell):
        for sub in device.unit_cell_devices:
            yield from pulsed_devices(sub)
    elif isinstance(device, DigitalRankUpdateCell):
        yield from pulsed_devices(device.device)


def device_unit(config: Any) -> tuple[float, int] | None:
    """``(dw_min, desired_bl)`` of an RPU configuration's first pulsed device and its update; ``None`` when it has
    no pulsed device with a ``dw_min`` (floating point, inference tiles)."""
    devices = list(pulsed_devices(config))
    if not devices or not getattr(devices[0], "dw_min", None):
        return None
    return float(devices[0].dw_min), int(config.update.desired_bl)


# -- updates -----------------------------------------------------------------------------------------------------
def row_max(t: torch.Tensor) -> torch.Tensor:
    """Per update row (one sample of a linear layer, one patch of a convolution) the largest ``|value|``, in one pass
    over a tensor of any strides (no copy of ``t``)."""
    import torch  # already loaded whenever a tensor exists: this only binds the name

    return torch.linalg.vector_norm(t.detach(), ord=math.inf, dim=-1).reshape(-1)


def xd_rows(x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Per update row ``max|x|·max|d|``: the product that sets where a pulsed update saturates."""
    return row_max(x) * row_max(d)


# -- models ------------------------------------------------------------------------------------------------------
def _aihwkit_loaded() -> bool:
    return "aihwkit" in sys.modules


def analog_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every aihwkit analog layer in ``model``."""
    if not _aihwkit_loaded():
        return []
    from aihwkit.nn.modules.base import AnalogLayerBase
    from aihwkit.nn.modules.container import AnalogContainerBase

    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, AnalogLayerBase) and not isinstance(m, AnalogContainerBase)]


def tiles(model: nn.Module) -> list[Any]:
    """Every aihwkit tile module of ``model`` once (aihwkit 1.2.0's ``analog_tiles()`` repeats tiles of nested
    containers)."""
    if not _aihwkit_loaded():
        return []
    from aihwkit.simulator.tiles.module import TileModule

    return [m for m in model.modules() if isinstance(m, TileModule)]


def is_analog(model: nn.Module) -> bool:
    """True when ``model`` has aihwkit analog tiles."""
    return bool(tiles(model))


def load_state(model: nn.Module, state: dict[str, Any]) -> None:
    """``model.load_state_dict(state)`` that keeps each tile's ``AnalogContext`` object.

    aihwkit 1.2.0 rebuilds a tile on load and gives it a new ``AnalogContext`` parameter, but an optimizer built
    before holds the old one: the tile would then never be updated again (no error, no pulses). Re-attaching the old
    context (it points at the same tile module) keeps optimizer and tiles connected.
    """
    contexts = [(tile, tile.analog_ctx) for tile in tiles(model)]
    model.load_state_dict(state)
    for tile, context in contexts:
        tile.analog_ctx = context

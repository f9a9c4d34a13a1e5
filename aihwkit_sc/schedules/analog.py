"""How analog tiles take their learning rate, from the optimizer side (aihwkit 1.2.0).

- ``AnalogSGD.regroup_param_groups(model)`` puts each tile's ``AnalogContext`` alone in a param group.
- ``AnalogSGD.step()`` reads ``group["lr"]`` and pushes it into the tile (``set_learning_rate``) only inside
  ``step()``, and skips the push when the LR is 0: a tile's LR lags any scheduler until the next optimizer step.
- The pulsed update ignores momentum, dampening and weight decay (the context's ``grad`` stays ``None``).
- Tiles of inference configurations (``InferenceRPUConfig``, ``TorchInferenceRPUConfig``) train their weights
  through torch autograd and the torch optimizer: for a schedule they are digital.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from torch.optim import Optimizer


def _analog_context_class() -> type | None:
    try:
        from aihwkit.optim.context import AnalogContext
    except ImportError:  # aihwkit missing: nothing can be analog
        return None
    return AnalogContext


def contexts(group: dict[str, Any]) -> list[Any]:
    """The aihwkit ``AnalogContext`` parameters of a param group."""
    ctx_class = _analog_context_class()
    if ctx_class is None:
        return []
    return [p for p in group["params"] if isinstance(p, ctx_class)]


def update_pairs(ctx: Any) -> list[tuple[Any, Any]]:
    """The pending update's ``(x, d)`` pairs of one tile as its pulsed update takes them.

    aihwkit's ``pre_update`` divides ``d`` by the tile's mapping scales when its configuration maps weights onto
    conductances (``mapping.weight_scaling_omega > 0``; the ``:omega=`` preset modifier), so a tile whose weights
    are scaled up by ``1/α`` fires pulses for ``d/α``. The tile's LR is the group's times ``mapping_lr_scale``
    (1 unless ``weight_scaling_lr_compensation``), folded into ``d`` here so that ``lr·x·d`` stays the group's LR
    times what sets the pulses. Without a mapping these are the stored tensors themselves.
    """
    tile = ctx.analog_tile
    pre = getattr(tile, "pre_update", None)
    pairs = list(zip(ctx.analog_input, ctx.analog_grad_output, strict=True))
    if pre is None or (getattr(tile, "mapping_scales", None) is None and getattr(tile, "input_range", None) is None):
        return pairs
    lr_scale = float(getattr(tile, "mapping_lr_scale", 1.0))
    out = []
    for x, d in pairs:
        x_dim = 0 if getattr(tile, "in_trans", False) else x.dim() - 1
        d_dim = 0 if getattr(tile, "out_trans", False) else d.dim() - 1
        x_up, d_up = pre(x, x_dim, d, d_dim)
        out.append((x_up, d_up * lr_scale))
    return out


def trains_through_torch(ctx: Any) -> bool:
    """True for tiles whose weights torch's optimizer updates (hardware-aware inference tiles)."""
    from aihwkit.simulator.configs import InferenceRPUConfig, TorchInferenceRPUConfig

    tile = ctx.analog_tile
    return bool(
        getattr(ctx, "use_torch_update", False)
        or getattr(tile, "shared_weights", None) is not None
        or isinstance(getattr(tile, "rpu_config", None), InferenceRPUConfig | TorchInferenceRPUConfig)
    )


def is_analog_group(group: dict[str, Any]) -> bool:
    """A group of tiles that take their update from the tile LR (pulsed or tile-side floating point)."""
    ctxs = contexts(group)
    return bool(ctxs) and not any(trains_through_torch(ctx) for ctx in ctxs)


def check_regrouped(optimizer: Optimizer) -> None:
    """Raise one clear error when analog tiles sit in groups aihwkit has not regrouped (or a non-analog optimizer)."""
    has_contexts = False
    for index, group in enumerate(optimizer.param_groups):
        ctxs = contexts(group)
        if not ctxs:
            continue
        has_contexts = True
        if len(group["params"]) > 1:
            raise ValueError(
                f"param group {index} mixes {len(ctxs)} analog tile(s) with {len(group['params']) - len(ctxs)} other "
                "parameter(s): call optimizer.regroup_param_groups(model) (or build the optimizer with "
                "aihwkit_sc.make_optimizer) before creating the scheduler"
            )
    if has_contexts:
        from aihwkit.optim.analog_optimizer import AnalogOptimizerMixin

        if not isinstance(optimizer, AnalogOptimizerMixin):
            raise ValueError(
                f"{type(optimizer).__name__} holds analog tiles but never updates them: use aihwkit's AnalogSGD "
                "(aihwkit_sc.make_optimizer) for models with analog layers"
            )


def group_tiles(group: dict[str, Any]) -> Iterator[Any]:
    """The tiles of an analog group."""
    for ctx in contexts(group):
        yield ctx.analog_tile


def analog_tiles_by_group(optimizer: Optimizer) -> list[tuple[int, list[Any]]]:
    """(group index, its tiles) for every analog group. Indices, not the group dicts: ``optimizer.load_state_dict``
    replaces the dicts."""
    return [(i, list(group_tiles(g))) for i, g in enumerate(optimizer.param_groups) if is_analog_group(g)]


def sync_tiles(optimizer: Optimizer, pairs: list[tuple[int, list[Any]]] | None = None) -> None:
    """Push every analog group's ``lr`` into its tiles now, instead of at the next ``optimizer.step()``.

    ``pairs`` (from :func:`analog_tiles_by_group`) skips finding the analog groups again. A tile never takes an LR
    that is not a positive finite number (aihwkit refuses a negative one with "lr should be positive !" and skips 0
    in its own step): such a group's tiles keep their LR, and :func:`bad_analog_lrs` names it to whoever is about to
    update with it (the training loop, before ``optimizer.step()``).
    """
    for index, tiles in analog_tiles_by_group(optimizer) if pairs is None else pairs:
        lr = float(optimizer.param_groups[index]["lr"])
        if not (math.isfinite(lr) and lr > 0):
            continue
        for tile in tiles:
            tile.set_learning_rate(lr)


def bad_analog_lrs(optimizer: Optimizer, pairs: list[tuple[int, list[Any]]] | None = None) -> dict[int, float]:
    """Analog group index -> its LR, for every analog group whose LR is not a positive finite number."""
    out = {}
    for index, _ in analog_tiles_by_group(optimizer) if pairs is None else pairs:
        lr = float(optimizer.param_groups[index]["lr"])
        if not (math.isfinite(lr) and lr > 0):
            out[index] = lr
    return out

"""LR range test (Smith 2017, "Cyclical Learning Rates for Training Neural Networks", Sec. 3.3; the poster's Fig. 3).

The LR grows exponentially (or linearly) from ``start_lr`` to ``end_lr`` over ``num_iter`` mini-batches while the
training loss is recorded; the loss is smoothed with an exponential moving average (bias-corrected, as fastai does)
and the test stops early once the smoothed loss exceeds ``diverge_factor`` × its best. Two suggestions:

* ``steepest``: the LR where the smoothed loss falls fastest (most negative gradient in log-LR, ignoring the first
  and last tenth of the sweep);
* ``valley``: fastai's: two thirds of the way along the longest stretch over which the loss keeps decreasing.

The model (tile weights and hidden device states included), the optimizer and the LR of every tile are restored
exactly to their state before the test.

On analog layers an LR is a device quantity: :func:`pulse_find` sweeps the number of *device pulses* instead, the same
for every analog layer, each at ``pulses × dw_min / s_l`` (``s_l`` its measured per-sample ``max|x|·max|d|``, capped
at saturation, :mod:`aihwkit_sc.schedules.device`), and suggests a ``device_pulses`` for the schedules'
``analog_lr="device"`` / ``analog_max_lr="device"`` options.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from aihwkit_sc.devices import load_state
from aihwkit_sc.schedules.analog import sync_tiles


@dataclass
class LRFindResult:
    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    steepest: float
    valley: float
    stopped_early: bool
    suggestions: dict[str, float] = field(default_factory=dict)

    @property
    def suggestion(self) -> float:
        """The LR to use as one-cycle's max LR: fastai's valley."""
        return self.valley

    def plot(self, path: str | Path, title: str = "LR range test") -> None:
        from aihwkit_sc.plots import plot_lr_find

        plot_lr_find(self.lrs, self.losses, self.smoothed, {"valley": self.valley, "steepest": self.steepest},
                     path, title=title)


@dataclass
class PulseFindResult:
    """An analog range test: training loss against device pulses (see :func:`pulse_find`)."""

    pulses: list[float]
    losses: list[float]
    smoothed: list[float]
    steepest: float
    valley: float
    stopped_early: bool
    xd_product: list[float]
    unit_lrs: dict[int, float]
    """Per analog param group index: the LR of one pulse (``dw_min / s``)."""
    rule: str = "valley"

    @property
    def suggestion(self) -> float:
        """The ``device_pulses`` to train with: fastai's valley of loss against pulses."""
        return self.valley

    def plot(self, path: str | Path, title: str = "Analog range test") -> None:
        from aihwkit_sc.plots import plot_lr_find

        plot_lr_find(self.pulses, self.losses, self.smoothed, {"valley": self.valley, "steepest": self.steepest},
                     path, title=title, xlabel="device pulses (largest update of a typical sample, in dw_min steps)")


def _batches(loader: DataLoader, n: int) -> Iterator[Any]:
    done = 0
    while done < n:
        for batch in loader:
            yield batch
            done += 1
            if done == n:
                return


def lr_find(
    model: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader, *, start_lr: float = 1e-4,
    end_lr: float = 10.0, num_iter: int = 100, mode: str = "exp", smooth: float = 0.98,
    diverge_factor: float = 4.0,
) -> LRFindResult:
    """Run the range test on ``model`` with ``optimizer`` over ``num_iter`` batches of ``loader``; restore both."""
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if num_iter < 5:
        raise ValueError(f"num_iter must be at least 5 to suggest anything, got {num_iter}")
    if mode not in ("exp", "linear"):
        raise ValueError(f"mode must be 'exp' or 'linear', got {mode!r}")
    if not 0 <= smooth < 1:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")
    values = [start_lr * (end_lr / start_lr) ** (i / (num_iter - 1)) if mode == "exp" else
              start_lr + (end_lr - start_lr) * i / (num_iter - 1) for i in range(num_iter)]

    def set_lrs(lr: float) -> None:
        for group in optimizer.param_groups:
            group["lr"] = lr

    lrs, losses, smoothed, stopped = _sweep(model, optimizer, loader, values, set_lrs, smooth, diverge_factor)
    if len(lrs) < 5:
        raise RuntimeError(f"the loss diverged after {len(lrs)} batches; lower start_lr (now {start_lr})")
    steepest, valley = _suggest(lrs, smoothed)
    return LRFindResult(lrs, losses, smoothed, steepest, valley, stopped, {"steepest": steepest, "valley": valley})


def pulse_find(
    model: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader, xd_product: float | Sequence[float], *,
    start_pulses: float = 0.05, end_pulses: float = 32.0, num_iter: int = 100, smooth: float = 0.98,
    diverge_factor: float = 4.0, reference: str | None = None,
) -> PulseFindResult:
    """The range test in device pulses: the number of pulses grows exponentially from ``start_pulses`` to
    ``end_pulses`` over ``num_iter`` batches, every analog param group at ``pulses × dw_min / s`` of its own tiles
    (``xd_product``: ``s`` per analog group, from :func:`aihwkit_sc.schedules.measure_xd_product`; ``reference``: a
    preset whose ``dw_min`` sets every group's unit), capped at saturation (``desired_bl`` pulses). Digital groups
    stay at their LR, the one training gives them. Model, optimizer and tiles are restored afterwards."""
    from aihwkit_sc.schedules.analog import is_analog_group
    from aihwkit_sc.schedules.device import analog_xd, device_lrs

    if not 0 < start_pulses < end_pulses:
        raise ValueError(f"need 0 < start_pulses < end_pulses, got start_pulses={start_pulses}, "
                         f"end_pulses={end_pulses}")
    if num_iter < 5:
        raise ValueError(f"num_iter must be at least 5 to suggest anything, got {num_iter}")
    if not 0 <= smooth < 1:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")
    n_analog = sum(is_analog_group(g) for g in optimizer.param_groups)
    if not n_analog:
        raise ValueError("the analog range test needs analog layers; on a digital model use lr_find (an LR sweep)")
    xd = analog_xd(xd_product, n_analog, "pulse_find")
    units = device_lrs(optimizer, xd, 1.0, option="pulse_find", reference=reference)
    if not units:
        raise ValueError("no analog layer has a pulsed device with a dw_min (e.g. floating-point tiles): pass "
                         "reference='gokmen-vlasov' to sweep in that device's pulses, or use lr_find")
    values = [start_pulses * (end_pulses / start_pulses) ** (i / (num_iter - 1)) for i in range(num_iter)]

    def set_lrs(pulses: float) -> None:
        for i, lr in device_lrs(optimizer, xd, pulses, option="pulse_find", reference=reference).items():
            optimizer.param_groups[i]["lr"] = lr

    pulses, losses, smoothed, stopped = _sweep(model, optimizer, loader, values, set_lrs, smooth, diverge_factor)
    if len(pulses) < 5:
        raise RuntimeError(f"the loss diverged after {len(pulses)} batches; lower start_pulses (now {start_pulses})")
    steepest, valley = _suggest(pulses, smoothed)
    return PulseFindResult(pulses, losses, smoothed, steepest, valley, stopped, xd, units)


def _sweep(model: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader, values: list[float],
           set_lrs: Callable[[float], None], smooth: float, diverge_factor: float,
           ) -> tuple[list[float], list[float], list[float], bool]:
    """Train one batch at each of ``values`` (``set_lrs(value)`` sets the groups' LRs), recording the loss and its
    bias-corrected moving average, until the average exceeds ``diverge_factor`` × its best; then restore the model
    (tile weights and hidden device states), the optimizer, every tile's LR and torch's RNG. Returns (values
    reached, losses, smoothed losses, stopped early)."""
    # torch.save, not deepcopy: aihwkit's analog contexts refuse deepcopy but serialise with the tile state
    snapshot = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, snapshot)
    rng_state = torch.get_rng_state()
    was_training = model.training
    reached: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    avg, best, stopped = 0.0, math.inf, False
    try:
        model.train()
        for i, ((x, y), value) in enumerate(zip(_batches(loader, len(values)), values, strict=True)):
            set_lrs(value)
            sync_tiles(optimizer)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            current = loss.item()
            if not math.isfinite(current):
                stopped = True
                break
            loss.backward()
            optimizer.step()
            avg = smooth * avg + (1 - smooth) * current
            current_smoothed = avg / (1 - smooth ** (i + 1))
            reached.append(value)
            losses.append(current)
            smoothed.append(current_smoothed)
            best = min(best, current_smoothed)
            if i > 2 and current_smoothed > diverge_factor * best:
                stopped = True
                break
    finally:
        snapshot.seek(0)
        saved = torch.load(snapshot, weights_only=False)
        load_state(model, saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        sync_tiles(optimizer)
        torch.set_rng_state(rng_state)
        model.train(was_training)
    return reached, losses, smoothed, stopped


def _suggest(lrs: list[float], smoothed: list[float]) -> tuple[float, float]:
    log_lrs = np.log10(np.asarray(lrs))
    loss = np.asarray(smoothed)
    grads = np.gradient(loss, log_lrs)
    skip = max(1, len(lrs) // 10)  # the EMA's first and the divergence's last points are noise, not slope
    inner = grads[skip:len(grads) - skip] if len(grads) > 2 * skip + 1 else grads
    steepest = float(lrs[int(np.argmin(inner)) + (skip if len(grads) > 2 * skip + 1 else 0)])
    # fastai's valley: longest run of decreasing loss (O(n^2) longest-decreasing-subsequence), pick 2/3 of the way
    n = len(loss)
    lengths = [1] * n
    prev = [-1] * n
    for i in range(1, n):
        for j in range(i):
            if loss[i] < loss[j] and lengths[i] < lengths[j] + 1:
                lengths[i], prev[i] = lengths[j] + 1, j
    end = int(np.argmax(lengths))
    start = end
    while prev[start] != -1:
        start = prev[start]
    sections = (end - start) / 3
    index = int(start + sections * 2)
    return steepest, float(lrs[index])

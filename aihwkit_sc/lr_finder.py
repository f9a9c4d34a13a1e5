"""LR range test (Smith 2017, "Cyclical Learning Rates for Training Neural Networks", Sec. 3.3; the poster's Fig. 3).

The LR grows exponentially (or linearly) from ``start_lr`` to ``end_lr`` over ``num_iter`` mini-batches while the
training loss is recorded; the loss is smoothed with an exponential moving average (bias-corrected, as fastai does)
and the test stops early once the smoothed loss exceeds ``diverge_factor`` × its best. Two suggestions:

* ``steepest``: the LR where the smoothed loss falls fastest (most negative gradient in log-LR, ignoring the first
  and last tenth of the sweep);
* ``valley``: fastai's: two thirds of the way along the longest stretch over which the loss keeps decreasing.

The model (tile weights and hidden device states included), the optimizer and the LR of every tile are restored
exactly to their state before the test.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
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
    # torch.save, not deepcopy: aihwkit's analog contexts refuse deepcopy but serialise with the tile state
    snapshot = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, snapshot)
    rng_state = torch.get_rng_state()
    was_training = model.training
    lrs, losses, smoothed = [], [], []
    avg, best, stopped = 0.0, math.inf, False
    try:
        model.train()
        for i, (x, y) in enumerate(_batches(loader, num_iter)):
            t = i / (num_iter - 1)
            lr = start_lr * (end_lr / start_lr) ** t if mode == "exp" else start_lr + (end_lr - start_lr) * t
            for group in optimizer.param_groups:
                group["lr"] = lr
            sync_tiles(optimizer)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            value = loss.item()
            if not math.isfinite(value):
                stopped = True
                break
            loss.backward()
            optimizer.step()
            avg = smooth * avg + (1 - smooth) * value
            value_smoothed = avg / (1 - smooth ** (i + 1))
            lrs.append(lr)
            losses.append(value)
            smoothed.append(value_smoothed)
            best = min(best, value_smoothed)
            if i > 2 and value_smoothed > diverge_factor * best:
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
    if len(lrs) < 5:
        raise RuntimeError(f"the loss diverged after {len(lrs)} batches; lower start_lr (now {start_lr})")
    steepest, valley = _suggest(lrs, smoothed)
    return LRFindResult(lrs, losses, smoothed, steepest, valley, stopped, {"steepest": steepest, "valley": valley})


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

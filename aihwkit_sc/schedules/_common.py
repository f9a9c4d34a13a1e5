"""Small helpers shared by the named schedules (each schedule lives in a file of its own), and the value ranges
their options declare.

A schedule factory declares what each keyword option takes in its annotation; :func:`aihwkit_sc.schedules.check_options`
reads it, so ``-O max_lr=-1`` is refused where it is parsed, with the same words as the ``--lr`` flag, and a plugin's
schedule gets the same checks by annotating its options with :data:`LR`, :data:`Positive`, :data:`Momentum` or its own
``Annotated[float, Range(...)]``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Annotated

from torch.optim import Optimizer

MAX_LR = 1e6
"""The largest learning rate anything takes (flags and options alike): far above any that trains, far below float32's
overflow (3.4e38)."""


@dataclass(frozen=True)
class Range:
    """A number's allowed interval, for ``Annotated[float, Range(...)]`` option annotations. ``None`` is unbounded;
    ``low_open``/``high_open`` exclude the end."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    words: str = ""  # how the range reads in an error ("a positive number"); default: the interval

    def holds(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))

    def describe(self) -> str:
        if self.words:
            return self.words
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return (f"a number in {'(' if self.low_open or self.low is None else '['}{low}, {high}"
                f"{')' if self.high_open or self.high is None else ']'}")


LR = Annotated[float, Range(0.0, MAX_LR, low_open=True, words=f"a positive number up to {MAX_LR:g}")]
"""A learning rate: above 0, at most :data:`MAX_LR` (what the ``--lr`` flag takes)."""
Positive = Annotated[float, Range(0.0, low_open=True, words="a positive number")]
NonNegative = Annotated[float, Range(0.0, words="a number >= 0")]
Momentum = Annotated[float, Range(0.0, 1.0, high_open=True)]
"""A momentum (or Adam beta): in [0, 1); at 1 and above SGD's velocity never decays."""
Fraction = Annotated[float, Range(0.0, 1.0, low_open=True, high_open=True)]
"""A fraction of the run, strictly inside it."""


def is_number(value: object) -> bool:
    """A finite real number (NumPy scalars included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def positive(name: str, value: object) -> None:
    """Raise one line unless ``value`` is a finite positive number (NumPy scalars included)."""
    if not (is_number(value) and float(value) > 0):  # type: ignore[arg-type]
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def set_initial_lr(optimizer: Optimizer, lr: float | None, per_group: dict[int, float] | None = None) -> None:
    """Start every group at ``lr`` (when given) and group ``i`` at ``per_group[i]``, as a scheduler created
    afterwards expects."""
    if lr is not None:
        positive("lr", lr)
    for i, group in enumerate(optimizer.param_groups):
        start = (per_group or {}).get(i, lr)
        if start is not None:
            group["lr"] = float(start)
            group.pop("initial_lr", None)


def epochs_to_steps(name: str, epochs: float, steps_per_epoch: int) -> int:
    """A length given in epochs, as optimizer steps (at least 1)."""
    if not (epochs > 0 and steps_per_epoch > 0):
        raise ValueError(f"{name} and steps_per_epoch must be positive, got {epochs} and {steps_per_epoch}")
    return max(1, round(epochs * steps_per_epoch))


def run_steps(epochs: float | None, steps_per_epoch: int | None) -> int | None:
    """The optimizer steps of a run of ``epochs`` (``None`` when the schedule was built without a length): the
    schedule's end, past which it holds its final LR (:class:`aihwkit_sc.schedules.sync.TileSyncMixin`)."""
    if epochs is None or steps_per_epoch is None:
        return None
    return epochs_to_steps("epochs", epochs, steps_per_epoch)

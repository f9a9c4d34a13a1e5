"""A mixin that keeps analog tiles' learning rate equal to their group's scheduled LR, and holds the final LR once
the schedule has run its course."""

from __future__ import annotations

import warnings
from typing import Any

from aihwkit_sc.schedules.analog import analog_tiles_by_group, sync_tiles


class TileSyncMixin:
    """Mix in front of a torch ``LRScheduler``: tiles get the scheduled LR at construction, after each ``step()``
    and after ``load_state_dict()`` (aihwkit itself pushes it only inside ``optimizer.step()``).

    A schedule that knows its length (``end_step``: the optimizer steps of the run, set by the factory) holds the
    LR of its last step, ``end_step - 1``, when stepped to ``end_step`` and beyond, for every group: a run
    steps its scheduler after its last batch too, and torch's formulas past their end extrapolate (one-cycle's
    linear anneal goes below zero, which an analog tile refuses) or restart (cosine). Stepping more than once past
    the end warns once.
    """

    optimizer: Any
    last_epoch: int
    _last_lr: list[Any]
    end_step: int | None = None
    _step_count: int
    _tile_pairs: tuple[int, list[Any]] | None = None  # (number of groups when found, [(group, tiles)])
    _warned_past_end: bool = False

    def sync_tiles(self) -> None:
        """Push the analog groups' LR into their tiles (the groups are found once, again if groups are added)."""
        groups = len(self.optimizer.param_groups)
        if self._tile_pairs is None or self._tile_pairs[0] != groups:
            self._tile_pairs = (groups, analog_tiles_by_group(self.optimizer))
        sync_tiles(self.optimizer, self._tile_pairs[1])

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = super().state_dict()  # type: ignore[misc]
        state.pop("_tile_pairs", None)  # live tile objects are not state
        return state

    def step(self, epoch: int | None = None) -> None:
        end = self.end_step
        if epoch is None and end is not None and self.last_epoch + 1 >= end:
            self._hold(end)
        elif epoch is None:
            super().step()  # type: ignore[misc]
        else:  # deprecated in torch, passed through unchanged
            super().step(epoch)  # type: ignore[misc]
        self.sync_tiles()

    def _hold(self, end: int) -> None:
        """One step at or past the end: count it, keep every group's LR (and momentum) as it is."""
        self.last_epoch += 1
        if hasattr(self, "_step_count"):  # torch's count of step() calls
            self._step_count += 1
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch > end and not self._warned_past_end:
            warnings.warn(
                f"{type(self).__name__} stepped past its {end} total steps; holding the final LR (raise "
                "total_steps or epochs to schedule longer runs)", RuntimeWarning, stacklevel=3)
            self._warned_past_end = True

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)  # type: ignore[misc]
        # Put the LR of the restored step into the groups even if the optimizer's state was not restored.
        for group, lr in zip(self.optimizer.param_groups, self._last_lr, strict=True):
            group["lr"] = lr
        self.sync_tiles()

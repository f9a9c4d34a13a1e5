"""A mixin that keeps analog tiles' learning rate equal to their group's scheduled LR."""

from __future__ import annotations

from typing import Any

from aihwkit_sc.schedules.analog import analog_tiles_by_group, sync_tiles


class TileSyncMixin:
    """Mix in front of a torch ``LRScheduler``: tiles get the scheduled LR at construction, after each ``step()``
    and after ``load_state_dict()`` (aihwkit itself pushes it only inside ``optimizer.step()``)."""

    optimizer: Any
    _tile_pairs: tuple[int, list[Any]] | None = None  # (number of groups when found, [(group, tiles)])

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
        if epoch is None:
            super().step()  # type: ignore[misc]
        else:  # deprecated in torch, passed through unchanged
            super().step(epoch)  # type: ignore[misc]
        self.sync_tiles()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)  # type: ignore[misc]
        # Put the LR of the restored step into the groups even if the optimizer's state was not restored.
        for group, lr in zip(self.optimizer.param_groups, self._last_lr, strict=True):  # type: ignore[attr-defined]
            group["lr"] = lr
        self.sync_tiles()

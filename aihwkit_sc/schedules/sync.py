"""A mixin that keeps analog tiles' learning rate equal to their group's scheduled LR."""

from __future__ import annotations

from typing import Any

from aihwkit_sc.schedules.analog import sync_tiles


class TileSyncMixin:
    """Mix in front of a torch ``LRScheduler``: tiles get the scheduled LR at construction, after each ``step()``
    and after ``load_state_dict()`` (aihwkit itself pushes it only inside ``optimizer.step()``)."""

    optimizer: Any

    def step(self, epoch: int | None = None) -> None:
        if epoch is None:
            super().step()  # type: ignore[misc]
        else:  # deprecated in torch, passed through unchanged
            super().step(epoch)  # type: ignore[misc]
        sync_tiles(self.optimizer)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)  # type: ignore[misc]
        # Put the LR of the restored step into the groups even if the optimizer's state was not restored.
        for group, lr in zip(self.optimizer.param_groups, self._last_lr, strict=True):  # type: ignore[attr-defined]
            group["lr"] = lr
        sync_tiles(self.optimizer)

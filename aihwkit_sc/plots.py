"""Figures people look at: the LR schedule (the poster's Figure 2). matplotlib with the file-only Agg backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_schedule(
    name: str, path: str | Path, *, epochs: int, steps_per_epoch: int, lr: float = 0.01, momentum: float = 0.9,
    **options: Any,
) -> dict[str, list[float]]:
    """Plot schedule ``name``'s LR and momentum against the step to a PNG; returns the plotted values."""
    from aihwkit_sc.schedules import trace

    values = trace(name, epochs=epochs, steps_per_epoch=steps_per_epoch, lr=lr, momentum=momentum, **options)
    plt = _pyplot()
    fig, ax_lr = plt.subplots(figsize=(7, 3.5), dpi=120)
    steps = range(len(values["lr"]))
    ax_lr.plot(steps, values["lr"], color="tab:blue", label="learning rate")
    ax_lr.set_xlabel(f"step ({steps_per_epoch} per epoch, {epochs} epochs)")
    ax_lr.set_ylabel("learning rate", color="tab:blue")
    ax_m = ax_lr.twinx()
    ax_m.plot(steps, values["momentum"], color="tab:orange", linestyle="--", label="momentum")
    ax_m.set_ylabel("momentum", color="tab:orange")
    shown = ", ".join(f"{k}={v}" for k, v in options.items())
    ax_lr.set_title(f"{name}" + (f" ({shown})" if shown else ""))
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return values

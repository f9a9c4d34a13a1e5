"""Figures people look at: the LR schedule (the poster's Figure 2). matplotlib with the file-only Agg backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def check_image_path(path: str | Path) -> None:
    """One-line ``ValueError`` unless ``path`` ends in an image format matplotlib writes (checked before the work
    whose figure it is, not after)."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in formats:
        raise ValueError(f"expected an image file name ending in .png, .pdf, .svg or another format matplotlib "
                         f"writes, got {str(path)!r}")


def _save(plt: Any, fig: Any, path: str | Path, *, tight: bool = True) -> None:
    """Lay out (``tight``: matplotlib's tight layout, which draws the figure once more to measure it), write the PNG
    (its folder made if needed) and free the figure."""
    if tight:
        fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


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
    _save(plt, fig, path)
    return values


def plot_curves(runs: dict[str, list[dict[str, Any]]], path: str | Path, *, title: str = "") -> None:
    """Test accuracy and test loss against the epoch, one line per run (the poster's Figures 4/5)."""
    plt = _pyplot()
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=120)
    for label, metrics in runs.items():
        epochs = [m["epoch"] for m in metrics]
        ax_acc.plot(epochs, [100 * m["test_accuracy"] for m in metrics], marker="o", markersize=3, label=label)
        ax_loss.plot(epochs, [m["test_loss"] for m in metrics], marker="o", markersize=3, label=label)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("test accuracy (%)")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("test loss")
    ax_acc.legend()
    ax_acc.xaxis.get_major_locator().set_params(integer=True)
    ax_loss.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    # fixed margins instead of a tight layout: every run of a sweep writes this figure, and measuring the layout
    # draws it once more (about a third of its cost)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.88 if title else 0.95, wspace=0.22)
    _save(plt, fig, path, tight=False)


def plot_lr_find(lrs: list[float], losses: list[float], smoothed: list[float], suggestions: dict[str, float],
                 path: str | Path, *, title: str = "LR range test", xlabel: str = "learning rate") -> None:
    """Loss against LR (or device pulses) on a log axis with the suggestions marked (the poster's Figure 3)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=120)
    ax.plot(lrs, losses, color="0.75", linewidth=1, label="loss")
    ax.plot(lrs, smoothed, color="tab:blue", label="smoothed loss")
    for (name, lr), color in zip(suggestions.items(), ("tab:red", "tab:green", "tab:purple"), strict=False):
        ax.axvline(lr, color=color, linestyle="--", label=f"{name}: {lr:.3g}")
    ax.set_xscale("log")
    if smoothed:  # a diverging tail would flatten the curve: show up to twice the starting loss
        low = min(min(losses), min(smoothed))
        ax.set_ylim(low - 0.05 * abs(low), max(2 * smoothed[0], max(smoothed[: max(1, len(smoothed) // 2)])))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.legend()
    _save(plt, fig, path)

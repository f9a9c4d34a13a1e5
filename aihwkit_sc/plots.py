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


Series = tuple[list[float], list[float], list[float]]
"""One line with error bars: x, y and the half-width of y's interval at each x."""


def plot_budget_panels(panels: list[tuple[str, list[int], dict[str, Series], tuple[str, float, float] | None]],
                       path: str | Path) -> None:
    """Accuracy against training budget, one panel per (title, budgets, label -> :data:`Series`, reference): a line
    with error bars per label on a log2 budget axis, and the reference (label, mean, half-width) as a line in a
    band. A study's page figure (accuracy with 95 % intervals per cell)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), dpi=110, squeeze=False)
    for ax, (title, budgets, lines, reference) in zip(axes[0], panels, strict=True):
        for label, (xs, ys, errs) in lines.items():
            ax.errorbar(xs, ys, yerr=errs, marker="o", markersize=3, capsize=2, label=label)
        if reference:
            label, mean, half = reference
            ax.axhspan(mean - half, mean + half, color="grey", alpha=0.25, lw=0)
            ax.axhline(mean, color="grey", lw=1, label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(budgets)
        ax.set_xticklabels([str(b) for b in budgets])
        ax.set_xlabel("budget (epochs)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    _save(plt, fig, path)


def plot_layer_panels(rows: list[tuple[str, str, str, dict[str, list[list[float]]]]], path: str | Path, *,
                      guide: float | None = 1.0) -> None:
    """Per-epoch values by layer: one row of panels per (title, x label, y label, label -> per layer the value in
    each epoch), one column per layer, one line per label; ``guide`` a dotted horizontal line (1 pulse by default).
    A study's telemetry figure (pulses per cross-point over training)."""
    plt = _pyplot()
    n_layers = max(len(layers) for *_, series in rows for layers in series.values())
    fig, axes = plt.subplots(len(rows), n_layers, figsize=(2.6 * n_layers, 2.4 * len(rows)), dpi=110, squeeze=False)
    for panel_row, (title, xlabel, ylabel, series) in zip(axes, rows, strict=True):
        for layer, ax in enumerate(panel_row):
            for label, layers in series.items():
                if layer < len(layers):
                    ax.plot(range(1, len(layers[layer]) + 1), layers[layer], marker="o", markersize=2, label=label)
            if not ax.lines:
                ax.set_visible(False)
                continue
            ax.set_ylim(bottom=0)
            if guide is not None:
                ax.axhline(guide, color="grey", lw=0.8, ls=":")
            ax.set_title(f"{title}: layer {layer + 1}", fontsize=8)
            ax.set_xlabel(xlabel, fontsize=8)
            ax.tick_params(labelsize=7)
        panel_row[0].set_ylabel(ylabel, fontsize=8)
        panel_row[0].legend(fontsize=6)
    _save(plt, fig, path)

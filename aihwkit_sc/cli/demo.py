"""``aihwkit-sc demo mnist``."""

from __future__ import annotations

import time

import click


@click.group()
def demo() -> None:
    """Ready-made demonstrations."""


@demo.command("mnist")
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True, help="Runs per cell.")
@click.option("--dataset", default="auto", show_default=True,
              help="'auto' (full MNIST if present or downloadable, else mnist-5k), or a dataset name.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Parallel runs.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Training samples per run (tiny demos).")
@click.option("--analog", type=click.Choice(["device", "clamp", "plain"]), default="device", show_default=True,
              help="One-cycle on analog layers: each layer's device peak, clamped into the device's bounds, or "
                   "torch's plain cycle.")
@click.option("--recommended/--no-recommended", default=True, show_default=True,
              help="Also train the row the studies recommend: a cosine anneal from one-cycle's peaks (each analog "
                   "layer at its device peak).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="runs/demo-mnist", show_default=True)
@click.option("--data-root", type=click.Path(file_okay=False), default=None)
@click.option("--quiet", "-q", is_flag=True)
def mnist(epochs: int, seeds: int, dataset: str, batch_size: int, workers: int, limit: int | None,
          analog: str, recommended: bool, out_dir: str, data_root: str | None, quiet: bool) -> None:
    """LeNet-5 on pytorch, semi-ideal and Gokmen-Vlasov devices: step baseline against one-cycle (poster Table 1),
    and the recommended cosine anneal from the same device peak."""
    from aihwkit_sc.data import DatasetCorruptError, DatasetUnavailableError
    from aihwkit_sc.experiments.demo import DemoSpec, run_demo

    if dataset != "auto":  # an unknown name is one line, before anything starts
        from aihwkit_sc.plugins import registry

        try:
            dataset = registry("dataset").resolve(dataset)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--dataset") from None
    spec = DemoSpec(epochs=epochs, batch_size=batch_size, seeds=seeds, dataset=dataset, limit=limit,
                    analog=analog, recommended=recommended)
    runs = len(spec.schedules()) * len(spec.devices) * seeds
    if not quiet:
        click.echo(f"training {runs} runs of LeNet-5 ({epochs} epochs each, {workers} at a time)...")
    start = time.perf_counter()
    try:
        summary = run_demo(spec, out_dir, workers=workers, quiet=quiet, data_root=data_root)
    except (DatasetCorruptError, DatasetUnavailableError, ValueError) as exc:  # ValueError: an unknown dataset
        raise click.UsageError(str(exc).splitlines()[0]) from None
    if summary["notice"]:
        click.echo(f"note: {summary['notice']}")
    click.echo(summary["table"])
    click.echo(f"figures: {', '.join(summary['figures'])}; all results in {out_dir} "
               f"({time.perf_counter() - start:.0f} s)")

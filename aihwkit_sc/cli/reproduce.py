"""``aihwkit-sc reproduce table1``."""

from __future__ import annotations

import click


@click.group()
def reproduce() -> None:
    """Reproduce the poster's results."""


@reproduce.command("table1")
@click.option("--rows", default=None, help="Comma-separated row ids or 1-based indices, fnmatch patterns allowed "
              "(e.g. 'mnist-*'). Default: all twelve.")
@click.option("--devices", default="n,si,gv", show_default=True,
              help="Comma-separated presets (any registered name or alias).")
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--epochs-scale", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Shorten every run (step sizes scale along).")
@click.option("--dataset-override", default=None, help="Train every selected row on this dataset (e.g. mnist-5k).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Override the rows' batch size.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Training samples per run (tiny sweeps).")
@click.option("--matched-step-lr", is_flag=True,
              help="Add each step row again at the LR the range test suggests (policy against policy at matched LR).")
@click.option("--analog", type=click.Choice(["plain", "device", "clamp"]), default="plain", show_default=True,
              help="One-cycle rows on analog layers: torch's plain cycle (as the poster), each layer's device peak, "
                   "or the cycle clamped into the device's bounds.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="runs/table1", show_default=True)
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", default=None, help="Ray cluster address (default: start a local Ray instance).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--torch-device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Train on the CPU or on a GPU (aihwkit built with CUDA).")
@click.option("--quiet", "-q", is_flag=True)
def table1(rows: str | None, devices: str, seeds: int, epochs_scale: float, dataset_override: str | None,
           batch_size: int | None, limit: int | None, matched_step_lr: bool, analog: str, out_dir: str,
           backend: str, address: str | None, workers: int, torch_device: str, quiet: bool) -> None:
    """Regenerate Table 1 (mean ± std per device beside the poster's) and Figures 2, 4 and 5.

    Finished runs are kept and skipped when the command is run again; interrupted runs resume.
    """
    from aihwkit_sc.data import DatasetUnavailableError
    from aihwkit_sc.experiments.executor import SweepInterrupted
    from aihwkit_sc.experiments.reproduce import reproduce_table1
    from aihwkit_sc.rundir import interrupt_once

    interrupt_once()  # the first Ctrl-C stops the sweep (runs saved); more of them cannot cut its clean-up short

    try:
        summary = reproduce_table1(
            rows=rows, devices=[d.strip() for d in devices.split(",") if d.strip()], seeds=seeds,
            epochs_scale=epochs_scale, dataset_override=dataset_override, out=out_dir, backend=backend,
            workers=workers, address=address, batch_size=batch_size, limit=limit, matched_step_lr=matched_step_lr,
            analog=analog, quiet=quiet, torch_device=torch_device)
    except SweepInterrupted as exc:  # every finished run is kept; the same command continues
        click.echo(str(exc), err=True)
        raise SystemExit(130) from None
    except (ValueError, DatasetUnavailableError, RuntimeError) as exc:
        raise click.UsageError(str(exc).splitlines()[0]) from None
    click.echo(summary["markdown"])
    click.echo(f"{summary['finished']}/{summary['runs']} runs finished; table1.md, table1.csv and "
               f"{len(summary['figures'])} figures in {summary['out']}")

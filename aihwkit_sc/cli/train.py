"""``aihwkit-sc train`` and ``aihwkit-sc lr-find``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from aihwkit_sc.cli.schedules import MAX_LR, LearningRate, NonNegative, parse_options

MAX_SEED = 2**63 - 1  # aihwkit_sc.training.MAX_SEED (torch's generators take a signed 64-bit seed)


def _common(f: Any) -> Any:
    options = [
        click.option("--model", default="lenet5", show_default=True, help="Registered model."),
        click.option("--preset", default="pytorch", show_default=True, help="Device preset (name or alias)."),
        click.option("--dataset", default="mnist-5k", show_default=True, help="Registered dataset."),
        click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True),
        click.option("--momentum", type=click.FloatRange(0, 1, max_open=True), default=0.9, show_default=True),
        click.option("--weight-decay", type=NonNegative(), default=0.0, show_default=True),
        click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True),
        click.option("--digital-layer", "digital_layers", multiple=True,
                     help="Keep this layer digital ('first', 'last', a module name; repeatable)."),
        click.option("--data-root", type=click.Path(file_okay=False), default=None,
                     help="Dataset directory [$AIHWKIT_SC_DATA or ~/.cache/aihwkit-sc/data]."),
        click.option("--limit", type=click.IntRange(min=1), default=None,
                     help="Use only this many training samples (a quarter as many test samples)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.command()
@_common
@click.option("--schedule", default="one-cycle", show_default=True, help="Registered schedule.")
@click.option("-O", "--option", "opts", multiple=True, metavar="KEY=VALUE", help="Schedule option (repeatable).")
@click.option("--lr", type=LearningRate(), default=0.1, show_default=True, help="Optimizer LR (one-cycle: its max LR).")
@click.option("--max-lr", default=None, help="One-cycle max LR, or 'auto' to take it from an LR range test.")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--count-pulses", is_flag=True, help="Record update pulses of the analog tiles per epoch.")
@click.option("--torch-device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Where torch runs (cuda: aihwkit's CUDA simulator); the analog device is --preset.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output directory [runs/MODEL-PRESET-SCHEDULE-sSEED].")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt (any number of times).")
@click.option("--overwrite", is_flag=True, help="Replace the run OUT already holds (refused without it).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or per-epoch lines.")
def train(model: str, preset: str, dataset: str, batch_size: int, momentum: float, weight_decay: float, seed: int,
          digital_layers: tuple[str, ...], data_root: str | None, limit: int | None, schedule: str,
          opts: tuple[str, ...], lr: float, max_lr: str | None, epochs: int, count_pulses: bool, torch_device: str,
          out_dir: str | None, resume: bool, overwrite: bool, quiet: bool) -> None:
    """Train MODEL on DATASET with a device PRESET and a SCHEDULE; write metrics, checkpoints and curves."""
    from aihwkit_sc.schedules import check_run_options
    from aihwkit_sc.training import TrainConfig, TrainingStopped
    from aihwkit_sc.training import train as run_training

    if resume and overwrite:
        raise click.UsageError("--resume continues the run in OUT, --overwrite replaces it: give one of them")
    if out_dir == "":
        raise click.BadParameter("expected a folder, got ''; leave --out out for the default "
                                 f"runs/{model}-{preset}-{schedule}-s{seed}", param_hint="--out")
    schedule_options = parse_options(opts)
    if max_lr is not None:
        if "max_lr" in schedule_options:
            raise click.UsageError(f"give the max LR once: --max-lr {max_lr} or -O max_lr={schedule_options['max_lr']}")
        schedule_options["max_lr"] = max_lr if max_lr == "auto" else _positive_float("--max-lr", max_lr)
    ctx = click.get_current_context()
    overriding = [key for key in ("max_lr", "lr") if key in schedule_options]
    if overriding and ctx.get_parameter_source("lr") is click.core.ParameterSource.COMMANDLINE:
        given = "--max-lr" if max_lr is not None else f"-O {overriding[0]}"
        raise click.UsageError(f"--lr and {given} both set the schedule's LR ({given} wins over the optimizer's "
                               f"--lr): give one of them")
    try:
        check_run_options(schedule, schedule_options)
        config = TrainConfig(model=model, preset=preset, dataset=dataset, schedule=schedule,
                             schedule_options=schedule_options, epochs=epochs, batch_size=batch_size, lr=lr,
                             momentum=momentum, weight_decay=weight_decay, seed=seed, digital_layers=digital_layers,
                             data_root=data_root, limit=limit, count_pulses=count_pulses,
                             torch_device=torch_device)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    out = Path(out_dir or f"runs/{model}-{preset}-{schedule}-s{seed}")

    def report(row: dict[str, Any]) -> None:
        if not quiet:
            pulses = f", pulses {row['pulses']:.3g}" if row["pulses"] is not None else ""
            tiles = row.get("tile_lr") or []  # analog layers take their own LR: the digital one is not the run's
            lr = (f"lr {row['lr']:.4g} digital, {min(tiles):.3g}-{max(tiles):.3g} analog" if tiles
                  else f"lr {row['lr']:.4g}")
            click.echo(f"epoch {row['epoch']:>3}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f}"
                       f" | test loss {row['test_loss']:.4f} acc {row['test_accuracy']:.4f} | {lr}"
                       f" | {row['samples_per_s']:.0f} samples/s{pulses}")

    try:
        result = run_training(config, out, resume=resume, overwrite=overwrite, quiet=quiet, on_epoch=report)
    except TrainingStopped as exc:
        click.echo(f"stopped: {exc}", err=True)
        raise SystemExit(130 if exc.result.summary["status"] == "interrupted" else 1) from None
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        raise click.UsageError(str(exc).splitlines()[0]) from None
    summary = result.summary
    click.echo(f"final test accuracy {summary['final_test_accuracy']:.4f} (best {summary['best_test_accuracy']:.4f})"
               f" in {summary['wall_time_s']:.1f} s; results in {out}")


def _positive_float(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise click.BadParameter(f"expected a number or 'auto', got {text!r}", param_hint=name) from None
    if not (math.isfinite(value) and 0 < value <= MAX_LR):
        raise click.BadParameter(f"expected a positive number up to {MAX_LR:g} or 'auto', got {text!r}",
                                 param_hint=name)
    return value


@click.command("lr-find")
@_common
@click.option("--start-lr", type=LearningRate(), default=1e-4, show_default=True, help="Digital models.")
@click.option("--end-lr", type=LearningRate(), default=10.0, show_default=True, help="Digital models.")
@click.option("--start-pulses", type=click.FloatRange(min=0, min_open=True), default=0.05, show_default=True,
              help="Analog models: device pulses at the start of the sweep.")
@click.option("--end-pulses", type=click.FloatRange(min=0, min_open=True), default=32.0, show_default=True,
              help="Analog models: device pulses at its end.")
@click.option("--lr", type=LearningRate(), default=0.1, show_default=True,
              help="Analog models: the LR of the digital layers during the pulse sweep (as training gives them).")
@click.option("--num-iter", type=click.IntRange(min=5), default=100, show_default=True, help="Mini-batches.")
@click.option("--mode", type=click.Choice(["exp", "linear"]), default="exp", show_default=True,
              help="Digital models (the pulse sweep is exponential).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="lr-find.png", show_default=True,
              help="Plot (PNG); the numbers go next to it as JSON.")
def lr_find(model: str, preset: str, dataset: str, batch_size: int, momentum: float, weight_decay: float, seed: int,
            digital_layers: tuple[str, ...], data_root: str | None, limit: int | None, start_lr: float, end_lr: float,
            start_pulses: float, end_pulses: float, lr: float, num_iter: int, mode: str, output: str) -> None:
    """LR range test (Smith 2017): loss against an exponentially growing LR, with suggested max LRs. On a model with
    analog layers the sweep is in device pulses (every analog layer at pulses × dw_min / s, digital layers at --lr)
    and suggests -O device_pulses=... for the schedules' device peak (analog_lr=device, analog_max_lr=device)."""
    from aihwkit_sc import devices, lr_finder
    from aihwkit_sc.plots import check_image_path
    from aihwkit_sc.training import Run, TrainConfig

    try:  # before the range test, not after it
        check_image_path(output)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--output") from None

    title = f"{model} on {preset}, {dataset}"
    try:
        config = TrainConfig(model=model, preset=preset, dataset=dataset, schedule="constant", epochs=1,
                             batch_size=batch_size, lr=lr, momentum=momentum, weight_decay=weight_decay,
                             seed=seed, digital_layers=digital_layers, data_root=data_root, limit=limit)
        run = Run(config)
        if devices.is_analog(run.model):
            pulses = lr_finder.pulse_find(run.model, run.optimizer, run.train_loader, run.measure_xd(),
                                          start_pulses=start_pulses, end_pulses=end_pulses, num_iter=num_iter)
        else:
            result = lr_finder.lr_find(run.model, run.optimizer, run.train_loader, start_lr=start_lr, end_lr=end_lr,
                                       num_iter=num_iter, mode=mode)
    except (ValueError, RuntimeError) as exc:
        raise click.UsageError(str(exc).splitlines()[0]) from None
    if devices.is_analog(run.model):
        pulses.plot(output, title=f"Analog range test: {title}")
        Path(output).with_suffix(".json").write_text(json.dumps({
            "unit": "device pulses", "rule": pulses.rule, "suggestion": pulses.suggestion, "valley": pulses.valley,
            "steepest": pulses.steepest, "stopped_early": pulses.stopped_early, "xd_product": pulses.xd_product,
            "pulses": pulses.pulses, "losses": pulses.losses, "smoothed": pulses.smoothed}))
        click.echo(f"suggested device_pulses (valley) {pulses.valley:.3g}, steepest descent at "
                   f"{pulses.steepest:.3g} pulses; {len(pulses.pulses)} batches"
                   f"{' (stopped on divergence)' if pulses.stopped_early else ''}; plot {output}; train with "
                   f"-O analog_lr=device -O device_pulses={pulses.valley:.3g} (or device_pulses=auto)")
        return
    result.plot(output, title=f"LR range test: {title}")
    numbers = {"valley": result.valley, "steepest": result.steepest, "stopped_early": result.stopped_early,
               "lrs": result.lrs, "losses": result.losses, "smoothed": result.smoothed}
    Path(output).with_suffix(".json").write_text(json.dumps(numbers))
    click.echo(f"suggested max LR (valley) {result.valley:.3g}, steepest descent at {result.steepest:.3g}; "
               f"{len(result.lrs)} batches{' (stopped on divergence)' if result.stopped_early else ''}; "
               f"plot {output}")

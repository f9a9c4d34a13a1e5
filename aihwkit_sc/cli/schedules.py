"""``aihwkit-sc schedules list|plot``."""

from __future__ import annotations

import inspect
import json
import math
from typing import Any

import click


@click.group()
def schedules() -> None:
    """Learning-rate schedules (one-cycle, step, ... and plugins')."""


@schedules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List schedules with their options, defaults and what a run measures for them (needs)."""
    from aihwkit_sc.plugins import registry
    from aihwkit_sc.schedules import needs, options

    rows: list[dict[str, Any]] = []
    for entry in registry("schedule").entries():
        opts = {k: (None if v is inspect.Parameter.empty else v) for k, v in options(entry.name).items()}
        rows.append({"name": entry.name, "aliases": list(entry.aliases), "plugin": entry.plugin,
                     "description": entry.description, "options": opts,
                     "needs": list(needs(entry.name))})
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    for row in rows:
        aliases = f" ({', '.join(row['aliases'])})" if row["aliases"] else ""
        click.echo(f"{row['name']}{aliases}: {row['description']}")
        click.echo("    " + ", ".join(f"{k}={v}" for k, v in row["options"].items()))
        if row["needs"]:
            click.echo(f"    measured by the run: {', '.join(row['needs'])}")


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` pairs; values parsed as JSON when they can be (numbers, true/false, lists), else strings.

    A key given twice is an error; whether the schedule takes the keys and values is :mod:`aihwkit_sc.schedules`'
    ``check_options``.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint="--option")
        key = key.strip().replace("-", "_")
        if key in out:
            raise click.BadParameter(f"{key} given twice", param_hint="--option")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


MAX_LR = 1e6  # the library's (aihwkit_sc.schedules._common.MAX_LR), kept here so `--help` imports no torch
"""The largest learning rate the CLI takes: far above any that trains, far below float32's overflow (3.4e38)."""


class LearningRate(click.ParamType):
    """A learning rate: a finite number above 0 and at most :data:`MAX_LR`."""

    name = "lr"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            lr = float(value)
        except (TypeError, ValueError):
            self.fail(f"expected a positive number, got {value!r}", param, ctx)
        if not (math.isfinite(lr) and 0 < lr <= MAX_LR):
            self.fail(f"expected a positive number up to {MAX_LR:g}, got {value!r}", param, ctx)
        return lr


class NonNegative(click.ParamType):
    """A finite number >= 0 (``click.FloatRange(min=0)`` takes ``inf``)."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"expected a finite number >= 0, got {value!r}", param, ctx)
        if not (math.isfinite(number) and number >= 0):
            self.fail(f"expected a finite number >= 0, got {value!r}", param, ctx)
        return number


PLOT_SUPPLIED = {key: f"the plot passes it; use --{key.replace('_', '-')} instead"
                 for key in ("epochs", "steps_per_epoch", "lr", "momentum")}


@schedules.command("plot")
@click.argument("name")
@click.option("--epochs", type=click.IntRange(min=1), default=25, show_default=True)
@click.option("--steps-per-epoch", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--lr", type=LearningRate(), default=0.01, show_default=True, help="Optimizer's starting LR.")
@click.option("--momentum", type=float, default=0.9, show_default=True, help="Optimizer's starting momentum.")
@click.option("-O", "--option", "opts", multiple=True, metavar="KEY=VALUE", help="Schedule option (repeatable).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="PNG path [NAME.png].")
def plot(name: str, epochs: int, steps_per_epoch: int, lr: float, momentum: float, opts: tuple[str, ...],
         output: str | None) -> None:
    """Plot schedule NAME's LR and momentum against the step (the poster's Figure 2) to a PNG."""
    from aihwkit_sc.plots import plot_schedule
    from aihwkit_sc.schedules import check_options

    path = output or f"{name}.png"
    options = parse_options(opts)
    try:
        check_options(name, options, supplied=PLOT_SUPPLIED)
        values = plot_schedule(name, path, epochs=epochs, steps_per_epoch=steps_per_epoch, lr=lr, momentum=momentum,
                               **options)
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {path}: lr {min(values['lr']):.3g}..{max(values['lr']):.3g}, "
               f"momentum {min(values['momentum']):.3g}..{max(values['momentum']):.3g}")

"""``aihwkit-sc study list|run|report``: the registered studies (built-in and plugins')."""

from __future__ import annotations

import json

import click


@click.group()
def study() -> None:
    """Studies: declared sets of runs that append to a CSV and rebuild a page from it."""


@study.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List studies: name, plugin and description."""
    from aihwkit_sc.cli._rows import named_lines, registry_rows

    rows = registry_rows("study")
    if as_json:
        click.echo(json.dumps([{k: r[k] for k in ("name", "aliases", "plugin", "description")} for r in rows],
                              indent=2))
        return
    for line in named_lines(rows, lambda r: r["description"]):
        click.echo(line)


PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def _run(name: str, argv: list[str]) -> None:
    from aihwkit_sc.plugins import registry

    try:
        main = registry("study").get(name)
    except (KeyError, ValueError) as exc:
        raise click.UsageError(str(exc).strip("'\"")) from None
    try:
        main(argv)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


@study.command("run", context_settings=PASS_THROUGH)
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(name: str, args: tuple[str, ...]) -> None:
    """Run study NAME: train what its CSV still lacks, append the rows, rewrite its page. ARGS go to the study
    (``aihwkit-sc study run NAME --help`` lists them)."""
    _run(name, list(args))


@study.command("report", context_settings=PASS_THROUGH)
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def report(name: str, args: tuple[str, ...]) -> None:
    """Rewrite study NAME's page from its CSV, training nothing (the study's ``--report-only``)."""
    _run(name, [*args, "--report-only"])

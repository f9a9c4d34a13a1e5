"""``aihwkit-sc datasets list``."""

from __future__ import annotations

import json

import click


@click.group()
def datasets() -> None:
    """Datasets (mnist, cifar10, svhn, mnist-5k and plugins')."""


@datasets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List datasets with their input size and where their files are looked for."""
    from aihwkit_sc.cli._rows import named_lines, registry_rows
    from aihwkit_sc.data import default_root

    rows = registry_rows("dataset")
    if as_json:
        click.echo(json.dumps({"root": str(default_root()), "datasets": rows}, indent=2))
        return
    click.echo(f"root: {default_root()} (set AIHWKIT_SC_DATA to change)")
    for line in named_lines(rows, lambda r: r["description"]):
        click.echo(line)

"""``aihwkit-sc models list``."""

from __future__ import annotations

import json

import click


@click.group()
def models() -> None:
    """Model builders (lenet5, vgg8, resnet18 and plugins')."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List models: name, aliases, input size, plugin and description."""
    from aihwkit_sc.cli._rows import registry_rows

    rows = registry_rows("model")
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        size = "x".join(map(str, r["input_size"])) or "?"
        click.echo(f"{r['name']:<12} {size:<9} {r['description']}")

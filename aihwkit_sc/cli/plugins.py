"""``aihwkit-sc plugins list``."""

from __future__ import annotations

import dataclasses
import json

import click


@click.group()
def plugins() -> None:
    """Installed plugins (built-in and third-party)."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """Each plugin, its distribution and version, its hooks, what it registered and any errors."""
    from aihwkit_sc.plugins import get_host

    infos = [dataclasses.asdict(info) for info in get_host().plugins()]
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    for info in infos:
        origin = "built-in" if info["builtin"] else f"{info['distribution']} {info['version']}"
        click.echo(f"{info['name']}  [{origin}]  hooks: {', '.join(info['hooks']) or '-'}")
        for kind, names in info["registered"].items():
            if names:
                click.echo(f"  {kind}s: {', '.join(names)}")
        for error in info["errors"]:
            click.echo(f"  error: {error}")

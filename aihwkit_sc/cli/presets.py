"""``aihwkit-sc presets list|show``."""

from __future__ import annotations

import json
from typing import Any

import click

from aihwkit_sc.presets import KINDS


@click.group()
def presets() -> None:
    """Named device presets (pytorch, semi-ideal, gokmen-vlasov, aihwkit's, plugins')."""


@presets.command("list")
@click.option("--include", "-i", multiple=True, help="fnmatch pattern on names/aliases (repeatable).")
@click.option("--exclude", "-e", multiple=True, help="fnmatch pattern to leave out (repeatable).")
@click.option("--kind", type=click.Choice([*KINDS, "error"]),
              help="Only presets of this kind ('error': those whose factory fails).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(include: tuple[str, ...], exclude: tuple[str, ...], kind: str | None, as_json: bool) -> None:
    """List presets: name, aliases, kind, plugin and description.

    A preset whose factory fails is listed with kind 'error' and the error (naming its plugin) in place of the
    description; the others are listed as usual.
    """
    from aihwkit_sc import presets as lib
    from aihwkit_sc.cli._rows import named_lines

    rows = [lib.listing_row(p) for p in lib.all_presets(include or None, exclude or None)]
    rows = [r for r in rows if kind is None or r["kind"] == kind]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    def text(r: dict[str, Any]) -> str:
        aliases = f" ({', '.join(r['aliases'])})" if r["aliases"] else ""
        return f"{r['kind']:<15}  {r.get('error') or r['description']}{aliases}"

    for line in named_lines(rows, text):
        click.echo(line)


@presets.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(name: str, as_json: bool) -> None:
    """Show the device numbers of preset NAME (NAME:no-c2c for its cycle-to-cycle-free variant)."""
    from aihwkit_sc import presets as lib

    try:
        info = lib.describe(name)
    except ValueError as exc:  # unknown names, bad modifiers: one line, exit 2
        raise click.UsageError(str(exc)) from None
    except lib.PresetBuildError as exc:  # the preset's factory fails: one line naming preset and plugin, exit 1
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    _print_tree(info)


def _print_tree(value: object, indent: int = 0) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        for key, sub in value.items():
            if isinstance(sub, dict | list) and sub:
                click.echo(f"{pad}{key}:")
                _print_tree(sub, indent + 1)
            else:
                click.echo(f"{pad}{key}: {sub}")
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            click.echo(f"{pad}[{i}]")
            _print_tree(sub, indent + 1)

"""``aihwkit-sc doctor``."""

from __future__ import annotations

import json
from typing import Any

import click


def _plugin_line(info: dict[str, Any]) -> str:
    """``name [(built-in) | (dist version)]: 3 presets, 1 schedule, 2 errors``."""
    origin = " (built-in)" if info["builtin"] else (
        f" ({info['distribution']} {info['version']})" if info["distribution"] else "")
    parts = [f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in info["registered"].items()]
    if info["errors"]:
        parts.append(f"{len(info['errors'])} error{'s' if len(info['errors']) != 1 else ''}")
    return f"{info['name']}{origin}: {', '.join(parts) or 'nothing registered'}"


def _show(value: object) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "missing" if value is None else str(value)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor(as_json: bool) -> None:
    """Check the installation: versions, aihwkit ABI, CPU threads, CUDA, offline MNIST, plugins.

    Lists every plugin with what it registered, and each plugin error on a line of its own. Exits with status 1
    when analog training cannot work here (plugin errors alone do not: the other plugins still work).
    """
    from aihwkit_sc.doctor import doctor_report

    report = doctor_report()
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        width = max(map(len, report))
        for key, value in report.items():
            if key == "ok":
                continue
            if key == "plugins":
                for info in value:
                    click.echo(f"{'plugin':<{width}}  {_plugin_line(info)}")
            elif key == "plugin_errors":
                for error in value:
                    click.echo(f"{'plugin_error':<{width}}  {error}")
                if not value:
                    click.echo(f"{key:<{width}}  none")
            else:
                click.echo(f"{key:<{width}}  {_show(value)}")
        click.echo("status".ljust(width) + "  " + ("ok" if report["ok"] else "PROBLEM (see aihwkit_abi above)"))
    if not report["ok"]:
        raise SystemExit(1)

"""``aihwkit-sc doctor``."""

from __future__ import annotations

import json

import click


def _show(value: object) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "missing" if value is None else str(value)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor(as_json: bool) -> None:
    """Check the installation: versions, aihwkit ABI, CPU threads, CUDA, offline MNIST.

    Exits with status 1 when analog training cannot work here.
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
            click.echo(f"{key:<{width}}  {_show(value)}")
        click.echo("status".ljust(width) + "  " + ("ok" if report["ok"] else "PROBLEM (see aihwkit_abi above)"))
    if not report["ok"]:
        raise SystemExit(1)

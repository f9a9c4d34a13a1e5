"""``aihwkit-sc reproduce table1``: the poster's Table 1 regenerated here, beside the poster's numbers."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments import executor, report, sweep, table1
from aihwkit_sc.schedules.one_cycle import ANALOG_MODES

MATCHED = "matched_lr.json"
RUNS = "table1-runs.csv"
"""Every finished run, one compact row each (:data:`report.RUN_FIELDS`), next to ``table1.md``."""


def matched_step_lrs(rows: list[table1.RowSpec], devices: list[str], out: Path, *, dataset_override: str | None,
                     batch_size: int | None, limit: int | None) -> dict[str, float]:
    """Range-test LR (fastai's valley) per step row × device, measured once and kept in ``OUT/matched_lr.json``."""
    from aihwkit_sc.lr_finder import lr_find
    from aihwkit_sc.training import Run, TrainConfig

    path = out / MATCHED
    found: dict[str, float] = json.loads(path.read_text()) if path.is_file() else {}
    for row in rows:
        if row.schedule != "step":
            continue
        for device in devices:
            key = f"{row.id}|{device}"
            if key in found:
                continue
            probe = Run(TrainConfig(model=row.model, preset=device, dataset=dataset_override or row.dataset,
                                    schedule="constant", lr=1e-4, momentum=row.momentum,
                                    weight_decay=row.weight_decay, batch_size=batch_size or row.batch_size,
                                    limit=limit))
            result = lr_find(probe.model, probe.optimizer, probe.train_loader, start_lr=1e-4, end_lr=10.0,
                             num_iter=min(100, max(20, 3 * len(probe.train_loader))))
            found[key] = result.valley
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(found, indent=2))
    return found


def matched_row(row: table1.RowSpec) -> table1.RowSpec:
    """A step row again at the range test's LR (``--matched-step-lr``): ``ID-matched-lr``, no poster numbers; its LR
    per device is set on each job."""
    return dataclasses.replace(row, id=row.id + "-matched-lr", paper={},
                               setting="step/range-test/" + "/".join(row.setting.split("/")[2:]))


def matched_twins(selected: list[table1.RowSpec]) -> list[tuple[table1.RowSpec, table1.RowSpec]]:
    """Each step row of ``selected`` with its matched-LR twin (:func:`matched_row`), in order."""
    return [(row, matched_row(row)) for row in selected if row.schedule == "step"]


def table_specs(rows: str | None, matched_step_lr: bool) -> list[table1.RowSpec]:
    """The Table 1 rows ``rows`` selects, and with ``matched_step_lr`` each step row's matched-LR twin after them."""
    selected = table1.select(table1.load_rows(), rows)
    return selected + ([twin for _, twin in matched_twins(selected)] if matched_step_lr else [])


def device_list(devices: list[str] | None) -> list[str]:
    """Canonical preset names of ``devices`` (the poster's three when None); none, or one given twice, is an error."""
    from aihwkit_sc import presets

    if devices is None:
        devices = ["pytorch", "semi-ideal", "gokmen-vlasov"]
    if not devices:
        raise ValueError("--devices: no devices given; name presets, e.g. --devices n,si,gv")
    names: dict[str, str] = {}
    for given in devices:
        name = presets.get(given).name
        if name in names:
            raise ValueError(f"--devices names {name} twice ({names[name]!r} and {given!r})")
        names[name] = given
    return list(names)


def plan_table1(
    *, rows: str | None = None, devices: list[str] | None = None, seeds: int = 3, epochs_scale: float = 1.0,
    dataset_override: str | None = None, out: str | Path = "runs/table1", batch_size: int | None = None,
    limit: int | None = None, matched_step_lr: bool = False, analog: str = "plain", torch_device: str = "cpu",
) -> tuple[list[table1.RowSpec], list[str], list[executor.Job]]:
    """The rows (with the matched-LR twins), canonical devices and jobs of a Table 1 reproduction; with
    ``matched_step_lr`` the range tests are run first (once: kept in ``OUT/matched_lr.json``)."""
    out = Path(out)
    selected = table1.select(table1.load_rows(), rows)
    device_names = device_list(devices)
    if analog not in ANALOG_MODES:
        raise ValueError(f"analog must be one of {', '.join(ANALOG_MODES)}, got {analog!r}")
    extra = {"one-cycle": dict(ANALOG_MODES[analog])}  # the poster ran torch's plain cycle: "plain" by default
    common = {"epochs_scale": epochs_scale, "dataset_override": dataset_override, "batch_size": batch_size,
              "limit": limit, "extra_options": extra, "torch_device": torch_device}
    jobs = sweep.expand(selected, device_names, seeds, out, **common)  # type: ignore[arg-type]
    all_rows = list(selected)
    if matched_step_lr:
        found = matched_step_lrs(selected, device_names, out, dataset_override=dataset_override,
                                 batch_size=batch_size, limit=limit)
        for row, twin in matched_twins(selected):
            all_rows.append(twin)
            for device in device_names:
                lr = found[f"{row.id}|{device}"]
                variant = dataclasses.replace(twin, lr=lr, schedule_options=row.schedule_options | {"lr": lr})
                jobs += sweep.expand([variant], [device], seeds, out, **common)  # type: ignore[arg-type]
    return all_rows, device_names, jobs


def reproduce_table1(
    *, rows: str | None = None, devices: list[str] | None = None, seeds: int = 3, epochs_scale: float = 1.0,
    dataset_override: str | None = None, out: str | Path = "runs/table1", backend: str = "local", workers: int = 2,
    address: str | None = None, batch_size: int | None = None, limit: int | None = None,
    matched_step_lr: bool = False, analog: str = "plain", quiet: bool = False, torch_device: str = "cpu",
) -> dict[str, Any]:
    """:func:`plan_table1`, run (skipping finished runs), and write ``table1.md``, ``table1.csv`` (per row and
    device), ``table1-runs.csv`` (per run) and the figures to ``out``."""
    out = Path(out)
    all_rows, device_names, jobs = plan_table1(
        rows=rows, devices=devices, seeds=seeds, epochs_scale=epochs_scale, dataset_override=dataset_override,
        out=out, batch_size=batch_size, limit=limit, matched_step_lr=matched_step_lr, analog=analog,
        torch_device=torch_device)
    records = executor.execute(jobs, backend=backend, workers=workers, address=address, quiet=quiet)
    table = report.table_rows(all_rows, device_names, jobs, records)
    out.mkdir(parents=True, exist_ok=True)
    text = report.markdown(table)
    (out / "table1.md").write_text(text + "\n")
    (out / "table1.csv").write_text(report.to_csv(table))
    (out / RUNS).write_text(report.to_csv(report.run_rows(jobs, records)))
    paths = report.figures(all_rows, jobs, records, out)
    finished = sum(r is not None for r in records)
    return {"table": table, "markdown": text, "figures": [str(p) for p in paths], "runs": len(jobs),
            "finished": finished, "out": str(out)}

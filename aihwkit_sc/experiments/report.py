"""Table 1 as we measured it, beside the poster's numbers; Figures 2 and 4/5 per row."""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.executor import Job
from aihwkit_sc.experiments.table1 import RowSpec
from aihwkit_sc.experiments.tables import collapsed, markdown_table


def cell(values: list[float]) -> tuple[float | None, float | None]:
    """(mean, std) in percent of final test accuracies (std 0 for one run, None for none)."""
    if not values:
        return None, None
    pct = [100 * v for v in values]
    return statistics.mean(pct), statistics.stdev(pct) if len(pct) > 1 else 0.0


def collect(jobs: list[Job], records: list[dict[str, Any] | None]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for job, record in zip(jobs, records, strict=True):
        if record is not None:
            out.setdefault((job.row, job.device), []).append(record)
    return out


RUN_FIELDS = ("row", "device", "seed", "dataset", "epochs", "batch_size", "schedule", "lr", "status",
              "final_accuracy", "accuracies", "test_losses", "build", "wall_time_s")
"""One finished run, compactly (:func:`run_rows`): what a Table 1 page is rebuilt from."""


def run_rows(jobs: list[Job], records: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """The finished runs as :data:`RUN_FIELDS` rows (accuracies and losses per epoch; ``lr`` the schedule's start
    or peak LR; ``collapsed`` when no epoch left chance)."""
    out = []
    for job, record in zip(jobs, records, strict=True):
        if record is None:
            continue
        metrics, summary, options = record["metrics"], record["summary"], job.config.schedule_options
        accuracies = [m["test_accuracy"] for m in metrics]
        status = summary["status"]
        if status == "complete" and collapsed(accuracies):
            status = "collapsed"
        out.append({"row": job.row, "device": job.device, "seed": job.seed, "dataset": job.config.dataset,
                    "epochs": job.config.epochs, "batch_size": job.config.batch_size,
                    "schedule": job.config.schedule, "lr": options.get("lr", options.get("max_lr", job.config.lr)),
                    "status": status, "final_accuracy": accuracies[-1], "accuracies": accuracies,
                    "test_losses": [m["test_loss"] for m in metrics], "build": summary.get("aihwkit_build"),
                    "wall_time_s": round(summary["wall_time_s"], 1)})
    return out


def table_rows(rows: list[RowSpec], devices: list[str], jobs: list[Job],
               records: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """:func:`table_from_runs` of the jobs' finished runs (a row without any takes its epochs, data and batch from
    its jobs)."""
    return table_from_runs(rows, devices, run_rows(jobs, records),
                           planned={job.row: {"dataset": job.config.dataset, "epochs": job.config.epochs,
                                              "batch_size": job.config.batch_size} for job in jobs})


def table_from_runs(rows: list[RowSpec], devices: list[str], runs: list[dict[str, Any]],
                    planned: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One dict per (row, device): ours (mean, std, n, how many collapsed), the poster's (mean, std) and the
    difference of means, from :func:`run_rows` rows."""
    given = {**(planned or {}), **{r["row"]: r for r in runs}}
    out = []
    for row in rows:
        setup = given.get(row.id, {})
        for device in devices:
            mine = [r for r in runs if (r["row"], r["device"]) == (row.id, device)]
            mean, std = cell([r["final_accuracy"] for r in mine])
            paper = row.paper.get(device)
            out.append({
                "row": row.id, "dataset": setup.get("dataset", row.dataset), "model": row.model,
                "setting": row.setting, "momentum": row.momentum_text, "weight_decay": row.weight_decay,
                "batch": setup.get("batch_size", row.batch_size), "epochs": setup.get("epochs", row.epochs),
                "paper_epochs": row.epochs,
                "device": device, "ours_mean": mean, "ours_std": std, "runs": len(mine),
                "collapsed": sum(r["status"] == "collapsed" for r in mine),
                "paper_mean": paper[0] if paper else None, "paper_std": paper[1] if paper else None,
                "difference": (mean - paper[0]) if (mean is not None and paper) else None,
            })
    return out


def _pm(mean: float | None, std: float | None) -> str:
    return "–" if mean is None else f"{mean:.2f} ± {std or 0:.2f}"


def _ours(t: dict[str, Any]) -> str:
    return _pm(t["ours_mean"], t["ours_std"]) + (f", {t['collapsed']} collapsed" if t.get("collapsed") else "")


def markdown(table: list[dict[str, Any]]) -> str:
    head = ["Row", "Dataset", "Network", "PL/Setting", "CM/SS", "WD", "Batch", "Epoch (poster)", "Device",
            "Ours (%)", "n", "Poster (%)", "Ours − poster"]
    rows = [[t["row"], t["dataset"], t["model"], t["setting"], t["momentum"], f"{t['weight_decay']:g}", str(t["batch"]),
             f"{t['epochs']} ({t['paper_epochs']})", t["device"], _ours(t), str(t["runs"]),
             _pm(t["paper_mean"], t["paper_std"]), "–" if t["difference"] is None else f"{t['difference']:+.2f}"]
            for t in table]
    return "\n".join(markdown_table(head, rows))


def to_csv(table: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if table:
        writer = csv.DictWriter(buffer, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    return buffer.getvalue()


def figures(rows: list[RowSpec], jobs: list[Job], records: list[dict[str, Any] | None], out: Path) -> list[Path]:
    """Per row: test accuracy and loss per device against the epoch (Figures 4/5, seed 0) and the LR schedule
    (Figure 2) as the runs used it."""
    from aihwkit_sc.plots import plot_curves, plot_schedule

    by_cell = collect(jobs, records)
    paths = []
    for row in rows:
        curves = {device: runs[0]["metrics"] for (row_id, device), runs in by_cell.items()
                  if row_id == row.id and runs}
        if curves:
            path = out / f"fig4-5-{row.id}.png"
            plot_curves(curves, path, title=f"{row.id}: test accuracy and loss per device")
            paths.append(path)
        job = next((j for j in jobs if j.row == row.id), None)
        if job is not None:
            steps = max(1, _steps_per_epoch(job))
            options = {k: v for k, v in job.config.schedule_options.items()
                       if k not in ("analog_max_lr", "analog_lr_bounds", "analog_lr", "xd_product", "device_pulses")}
            path = out / f"fig2-{row.id}.png"
            lr = options.pop("lr", job.config.lr)  # the step schedule's own start LR
            plot_schedule(job.config.schedule, path, epochs=job.config.epochs, steps_per_epoch=steps,
                          lr=lr, momentum=job.config.momentum, **options)
            paths.append(path)
    return paths


def _steps_per_epoch(job: Job) -> int:
    from math import ceil

    from aihwkit_sc.training import load_data

    train_set, _ = load_data(job.config)
    return ceil(len(train_set) / job.config.batch_size)  # type: ignore[arg-type]

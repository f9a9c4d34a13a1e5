"""Run independent training runs in worker processes (one torch thread each), with a progress bar.

A thin front to :func:`aihwkit_sc.experiments.sweep.run_local` for callers that hold ``TrainConfig`` objects (the demo,
the examples, the studies); the Table 1 sweep adds result files, resume and the Ray backend on the same worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.sweep import run_local
from aihwkit_sc.training import TrainConfig


def run_all(
    jobs: list[tuple[TrainConfig, Path | None]], *, workers: int = 2, quiet: bool = False
) -> list[dict[str, Any]]:
    """Train every (config, out_dir) job; records (config, metrics, summary) in job order."""
    from tqdm.auto import tqdm

    records: list[dict[str, Any]] = [{} for _ in jobs]
    args = [(config.to_json(), str(out) if out else None) for config, out in jobs]
    with tqdm(total=len(jobs), desc="runs", unit="run", disable=True if quiet else None) as bar:
        for k, record in run_local(args, workers):
            records[k] = record
            bar.update()
    return records

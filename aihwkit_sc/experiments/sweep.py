"""Expand Table 1 rows × devices × seeds into independent runs and execute them, locally or on Ray.

Every run goes through the one training loop (:func:`aihwkit_sc.training.train`) into its own directory
``OUT/runs/ROW/DEVICE/sSEED``; when it ends its ``result.json`` is written atomically. A sweep started again skips the
runs that have a ``result.json`` and resumes the ones that left a checkpoint, so an interrupted sweep loses at most the
epoch in progress of each run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.table1 import RowSpec
from aihwkit_sc.training import CHECKPOINT, TrainConfig

RESULT = "result.json"


@dataclass(frozen=True)
class Job:
    row: str
    device: str
    seed: int
    config: TrainConfig
    out_dir: Path

    @property
    def result_path(self) -> Path:
        return self.out_dir / RESULT


def scaled_row(row: RowSpec, epochs_scale: float) -> tuple[int, dict[str, Any]]:
    """Epochs and schedule options with the run shortened by ``epochs_scale`` (step sizes scale along)."""
    if epochs_scale <= 0:
        raise ValueError(f"--epochs-scale must be positive, got {epochs_scale}")
    epochs = max(1, round(row.epochs * epochs_scale))
    options = dict(row.schedule_options)
    if row.schedule == "step":
        options["step_size"] = options["step_size"] * epochs / row.epochs
    return epochs, options


def expand(
    rows: Iterable[RowSpec], devices: Iterable[str], seeds: int, out: Path, *, epochs_scale: float = 1.0,
    dataset_override: str | None = None, batch_size: int | None = None, limit: int | None = None,
    extra_options: dict[str, dict[str, Any]] | None = None, device: str = "cpu",
) -> list[Job]:
    """One :class:`Job` per row × device × seed. ``extra_options[schedule]`` adds options (e.g. device bounds)."""
    from aihwkit_sc import presets
    from aihwkit_sc.plugins import registry

    jobs = []
    for row in rows:
        epochs, options = scaled_row(row, epochs_scale)
        options |= (extra_options or {}).get(row.schedule, {})
        dataset = dataset_override or row.dataset
        _check_input_size(row, dataset, registry)
        for preset_name in devices:
            canonical = presets.get(preset_name).name
            for seed in range(seeds):
                config = TrainConfig(
                    model=row.model, preset=canonical, dataset=dataset, schedule=row.schedule,
                    schedule_options=dict(options), epochs=epochs, batch_size=batch_size or row.batch_size,
                    lr=row.lr, momentum=row.momentum, weight_decay=row.weight_decay, seed=seed, limit=limit,
                    device=device,
                )
                jobs.append(Job(row.id, canonical, seed, config, out / "runs" / row.id / canonical.replace(":", "_")
                                / f"s{seed}"))
    return jobs


def _check_input_size(row: RowSpec, dataset: str, registry: Callable[[str], Any]) -> None:
    model_size = registry("model").entry(row.model).extra.get("input_size")
    data_size = registry("dataset").entry(dataset).extra.get("input_size")
    if model_size and data_size and tuple(model_size) != tuple(data_size):
        raise ValueError(
            f"row {row.id} trains {row.model} on {'x'.join(map(str, model_size))} inputs but {dataset} has "
            f"{'x'.join(map(str, data_size))}: choose matching rows (e.g. --rows 'mnist-*' with mnist-5k)"
        )


def run_job(config: dict[str, Any], out_dir: str | None) -> dict[str, Any]:
    """Train one run on one torch thread. With ``out_dir``: resume a checkpoint left by an interrupted sweep and
    write ``result.json`` atomically when the run completes."""
    import torch

    from aihwkit_sc.training import TrainingStopped, train

    torch.set_num_threads(1)
    cfg = TrainConfig(**{**config, "digital_layers": tuple(config["digital_layers"])})
    out = Path(out_dir) if out_dir else None
    try:
        result = train(cfg, out, resume=bool(out and (out / CHECKPOINT).is_file()), quiet=True)
    except TrainingStopped as exc:
        result = exc.result
    record = {"config": json.loads(json.dumps(config)), "metrics": result.metrics, "summary": result.summary}
    if out and result.summary["status"] == "complete":
        tmp = out / (RESULT + ".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, out / RESULT)
    return record


def load_result(job: Job) -> dict[str, Any] | None:
    if not job.result_path.is_file():
        return None
    record: dict[str, Any] = json.loads(job.result_path.read_text())
    wanted = json.loads(json.dumps(job.config.to_json()))  # as stored: tuples become lists
    return record if record["config"] == wanted else None


def execute(jobs: list[Job], *, backend: str = "local", workers: int = 2, address: str | None = None,
            quiet: bool = False) -> list[dict[str, Any] | None]:
    """Run the jobs that have no result yet; return every job's record (``None`` where a run did not finish)."""
    from tqdm.auto import tqdm

    records: list[dict[str, Any] | None] = [load_result(job) for job in jobs]
    todo = [i for i, r in enumerate(records) if r is None]
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="runs", unit="run",
               disable=True if quiet else None)
    args: list[tuple[dict[str, Any], str | None]] = [(jobs[i].config.to_json(), str(jobs[i].out_dir)) for i in todo]
    gpus = 1.0 if any(job.config.device == "cuda" for job in jobs) else 0.0
    for k, record in _backend(backend, workers, address, gpus)(args):
        i = todo[k]
        records[i] = record if record["summary"]["status"] == "complete" else None
        bar.update()
    bar.close()
    return records


def _backend(
    name: str, workers: int, address: str | None, gpus: float
) -> Callable[[list[tuple[dict[str, Any], str | None]]], Any]:
    if name == "local":
        return lambda args: run_local(args, workers)
    if name == "ray":
        return lambda args: _ray(args, workers, address, gpus)
    raise ValueError(f"unknown backend {name!r}: choose 'local' or 'ray'")


def run_local(
    args: list[tuple[dict[str, Any], str | None]], workers: int
) -> Iterable[tuple[int, dict[str, Any]]]:
    """(index, record) of every :func:`run_job` as it finishes: in this process for one worker, else in a pool of
    spawned processes."""
    if workers <= 1:
        for k, (config, out) in enumerate(args):
            yield k, run_job(config, out)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_job, config, out): k for k, (config, out) in enumerate(args)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _ray(
    args: list[tuple[dict[str, Any], str | None]], workers: int, address: str | None, gpus: float = 0.0
) -> Iterable[tuple[int, Any]]:
    """Ray's task API: one task per run (1 CPU, and 1 GPU for CUDA runs) on an existing cluster (``address``) or a
    local instance."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray backend needs Ray: pip install 'aihwkit-sc[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1, num_gpus=gpus)(run_job)
        pending = {task.remote(config, out): k for k, (config, out) in enumerate(args)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
    finally:
        if started:
            ray.shutdown()

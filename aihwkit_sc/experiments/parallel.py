"""Run independent training runs in worker processes (one torch thread each), with a progress bar."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from aihwkit_sc.training import TrainConfig, TrainingStopped, train


def _worker(config: dict[str, Any], out_dir: str | None) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    cfg = TrainConfig(**{**config, "digital_layers": tuple(config["digital_layers"])})
    try:
        result = train(cfg, out_dir, quiet=True)
    except TrainingStopped as exc:
        result = exc.result
    return {"config": config, "metrics": result.metrics, "summary": result.summary, "out_dir": out_dir}


def run_all(
    jobs: list[tuple[TrainConfig, Path | None]], *, workers: int = 2, quiet: bool = False,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train every (config, out_dir) job; results in job order. ``workers=1`` runs in this process."""
    from tqdm.auto import tqdm

    results: list[dict[str, Any] | None] = [None] * len(jobs)
    bar = tqdm(total=len(jobs), desc="runs", unit="run", disable=True if quiet else None)
    if workers <= 1:
        for i, (config, out) in enumerate(jobs):
            results[i] = _worker(config.to_json(), str(out) if out else None)
            bar.update()
            if on_done:
                on_done(results[i])  # type: ignore[arg-type]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(_worker, c.to_json(), str(o) if o else None): i for i, (c, o) in enumerate(jobs)}
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                bar.update()
                if on_done:
                    on_done(results[i])  # type: ignore[arg-type]
    bar.close()
    return [r for r in results if r is not None]

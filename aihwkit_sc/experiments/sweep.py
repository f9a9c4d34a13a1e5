"""Expand Table 1 rows × devices × seeds into independent runs (:class:`~aihwkit_sc.experiments.executor.Job` s)
for the executor: each run in its own directory ``OUT/runs/ROW/DEVICE/sSEED``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.executor import Job
from aihwkit_sc.experiments.table1 import RowSpec
from aihwkit_sc.training import TrainConfig


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
    extra_options: dict[str, dict[str, Any]] | None = None, torch_device: str = "cpu",
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
                    torch_device=torch_device,
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

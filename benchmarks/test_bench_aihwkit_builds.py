"""Analog training throughput of aihwkit build variants and thread settings, as ratios against the stock build timed
in the same run (LeNet-5 on Gokmen-Vlasov, the real training loop; ``throughput_worker.py``).

Each variant's wheel (``scripts/aihwkit_wheel.sh``; ``make wheels`` builds them all) runs in a fresh process
(``variants.py``), so every variant runs the same aihwkit-sc code; rounds alternate the variants, so they share the
machine's load. With one seed, the seeded build must repeat its metrics exactly; the others are compared with it in
the table. ``study_builds.py`` adds seeds and confidence intervals.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from typing import Any

import pytest
from conftest import record
from variants import VARIANTS, measure, variant_site, worker_command, worker_env

ROUNDS = 2
SIZE = {"batches": 31, "epochs": 2}  # as study_builds.py: short epochs let fixed per-epoch costs dominate


def test_build_variants_against_stock(benchmark: Any) -> None:
    sites = {variant: variant_site(variant) for variant in VARIANTS}
    if sites["stock"] is None:
        pytest.skip("no stock aihwkit wheel in the cache; 'make wheels' builds it")
    built = {v: s for v, s in sites.items() if s is not None}
    # metrics are compared with the seed patch alone where it is built, else with the first seeded variant built
    reference = next(v for v in (*VARIANTS[1:], "stock") if v in built)
    rates: dict[str, list[float]] = {v: [] for v in built}
    metrics: dict[str, dict[str, Any]] = {}
    for _ in range(ROUNDS):
        for variant, site in built.items():
            result = measure(site, **SIZE)
            rates[variant].append(statistics.median(result["samples_per_s"]))
            metrics[variant] = result["metrics"]
            assert result["build"] == ("stock" if variant == "stock" else "seeded")
    base = statistics.median(rates["stock"])
    for variant, values in rates.items():
        rate = statistics.median(values)
        same = "—" if variant in ("stock", reference) else (
            "identical" if metrics[variant] == metrics[reference] else
            f"differs (train loss {metrics[variant]['train_loss']:.4f} vs {metrics[reference]['train_loss']:.4f})")
        record(f"aihwkit build '{variant}' / stock (LeNet-5 GV samples/s, 1 thread)",
               f"{rate / base:.2f}x ({rate:.0f} vs {base:.0f} samples/s; metrics vs the {reference} build: {same})")
    if reference != "stock":  # one seed: a seeded build repeats its metrics
        assert metrics[reference] == measure(built[reference], **SIZE)["metrics"]
    benchmark.extra_info.update(rates=rates)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)


def test_threads_for_two_workers(benchmark: Any) -> None:
    """The demo and sweeps run 2 workers on 2 cores: each with one torch thread (the executor sets it) and OpenBLAS's
    default (one thread per core) against OpenBLAS limited to one thread; both workers at once on the installed
    aihwkit, aggregate samples/s."""
    def pair(env: dict[str, str]) -> float:
        procs = [subprocess.Popen(worker_command(seed=seed), stdout=subprocess.PIPE, text=True,
                                  env=worker_env(None, env)) for seed in (0, 1)]
        outs = [proc.communicate(timeout=600)[0] for proc in procs]
        return sum(statistics.median(json.loads(out.strip().splitlines()[-1])["samples_per_s"]) for out in outs)

    settings = {"OpenBLAS default": {}, "OPENBLAS_NUM_THREADS=1": {"OPENBLAS_NUM_THREADS": "1"}}
    rates: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(2):
        for name, env in settings.items():
            rates[name].append(pair(env))
    default, one = (statistics.median(rates[name]) for name in settings)
    record("2 workers: OPENBLAS_NUM_THREADS=1 / OpenBLAS default (LeNet-5 GV, aggregate samples/s)",
           f"{one / default:.2f}x ({one:.0f} vs {default:.0f} samples/s)")
    benchmark.extra_info.update(rates=rates)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)

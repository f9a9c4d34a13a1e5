"""Training speed of the model zoo's three networks, digital (`pytorch`) and analog (`gokmen-vlasov`), on the aihwkit
builds that matter for speed: ``stock`` (aihwkit 1.2.0 as published), ``fastrand`` (the seed patch with aihwkit's fast
random generator) and ``batched`` (fastrand + batched IO-managed forward/backward for pulsed CPU tiles, what
``make install`` builds). Each measurement is a fresh process (``network_worker.py``) with the build's wheel first on
``PYTHONPATH``, random input, one torch thread; rounds alternate networks and builds so they share the machine's load.

Reported, per network, as ratios within each round (median over rounds): the analog cost factor (digital samples/s
over a build's Gokmen-Vlasov samples/s) and the batched build's analog speed over the fastrand build's.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import record
from variants import run_worker, variant_site

WORKER = Path(__file__).resolve().parent / "network_worker.py"
BUILDS = ("stock", "fastrand", "batched")
#: network: (label, batch, seconds per measurement)
NETWORKS = {"lenet5": ("LeNet-5 (1x28x28)", 64, 6.0), "vgg8": ("VGG-8 (1x32x32)", 64, 10.0),
            "resnet18": ("ResNet-18 (3x32x32)", 16, 12.0)}
ROUNDS = 2


def speed(site: Path | None, network: str, preset: str) -> float:
    _, batch, seconds = NETWORKS[network]
    result = run_worker([sys.executable, str(WORKER), "--network", network, "--preset", preset, "--batch",
                         str(batch), "--seconds", str(seconds)], site)
    return float(result["samples_per_s"])


def test_analog_cost_per_network_and_build(benchmark: Any) -> None:
    sites = {build: variant_site(build) for build in BUILDS}
    missing = [b for b, s in sites.items() if s is None]
    if missing:
        pytest.skip(f"no {', '.join(missing)} aihwkit wheel in the cache; 'make wheels' builds them")
    digital: dict[str, list[float]] = {n: [] for n in NETWORKS}
    analog: dict[tuple[str, str], list[float]] = {(n, b): [] for n in NETWORKS for b in BUILDS}
    for _ in range(ROUNDS):
        for network in NETWORKS:
            digital[network].append(speed(sites["fastrand"], network, "pytorch"))
            for build in BUILDS:
                analog[network, build].append(speed(sites[build], network, "gokmen-vlasov"))
    for network, (label, batch, _) in NETWORKS.items():
        d = statistics.median(digital[network])
        rates = {b: statistics.median(analog[network, b]) for b in BUILDS}
        costs = {b: statistics.median(dd / a for dd, a in zip(digital[network], analog[network, b], strict=True))
                 for b in BUILDS}
        gain = [b / f for b, f in zip(analog[network, "batched"], analog[network, "fastrand"], strict=True)]
        record(f"{label}, batch {batch}: analog cost (pytorch / gokmen-vlasov samples/s)",
               ", ".join(f"{b} {costs[b]:.1f}x" for b in BUILDS) + f" (pytorch {d:.0f} samples/s; gokmen-vlasov "
               + ", ".join(f"{b} {rates[b]:.1f}" for b in BUILDS) + " samples/s; 1 thread)")
        record(f"{label}, batch {batch}: batched / fastrand (gokmen-vlasov samples/s)",
               f"{statistics.median(gain):.2f}x (per round: {', '.join(f'{g:.2f}' for g in gain)})")
    benchmark.extra_info.update(digital=digital, analog={f"{n}/{b}": v for (n, b), v in analog.items()})
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)

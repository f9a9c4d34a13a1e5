"""Where one analog training epoch spends its time: LeNet-5 on Gokmen-Vlasov, per layer and phase.

The tile phases are timed where aihwkit calls its C++ simulator (``TileWithPeriphery.joint_forward``, ``.backward``,
``.update``: the noisy analog MVMs and the pulsed update), the conv layers' explicit unfold where aihwkit calls
``torch.nn.functional.unfold`` (its CPU path); everything else in the epoch (digital layers, loss, autograd, the
optimizer's Python, the data loader, the loop) is the remainder. The cost of simulating noise is the same epoch with
perfect forward/backward I/O and no cycle-to-cycle noise (``is_perfect``, ``dw_min_std=0``), timed in the same run.

Shares are of the epoch's wall time, so they hold on a noisy machine; the per-layer table goes to
``docs/results/analog-profile.md`` with ``--ratios-page`` (``make bench``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import provenance, record
from torch.utils.data import DataLoader

from aihwkit_sc import devices, plugins, presets
from aihwkit_sc.experiments.tables import markdown_table
from aihwkit_sc.hookspecs import hookimpl
from aihwkit_sc.training import Run, TrainConfig, train_epoch

BATCHES = 12
PHASES = ("unfold", "forward", "backward", "update")


@contextmanager
def phase_timers(model: torch.nn.Module, times: dict[tuple[str, str], float]) -> Iterator[None]:
    """Accumulate seconds per (layer, phase) while the block runs (class-level wrappers, removed afterwards)."""
    from aihwkit.nn.modules import conv
    from aihwkit.simulator.tiles.periphery import TileWithPeriphery

    names = {id(tile): name for name, layer in devices.analog_layers(model) for tile in devices.tiles(layer)}
    convs = {id(layer): name for name, layer in devices.analog_layers(model)}
    current_conv: list[str] = []
    originals = {phase: getattr(TileWithPeriphery, method)
                 for phase, method in (("forward", "joint_forward"), ("backward", "backward"), ("update", "update"))}
    original_unfold, original_conv_forward = conv.unfold, conv._AnalogConvNd.forward

    def timed(phase: str) -> Any:
        def wrapper(tile: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return originals[phase](tile, *args, **kwargs)
            finally:
                times[names.get(id(tile), "?"), phase] += time.perf_counter() - start
        return wrapper

    def conv_forward(layer: Any, x: torch.Tensor) -> torch.Tensor:
        current_conv.append(convs.get(id(layer), "?"))
        try:
            return original_conv_forward(layer, x)
        finally:
            current_conv.pop()

    def unfold(*args: Any, **kwargs: Any) -> torch.Tensor:
        start = time.perf_counter()
        try:
            return original_unfold(*args, **kwargs)
        finally:
            times[current_conv[-1] if current_conv else "?", "unfold"] += time.perf_counter() - start

    for phase, method in (("forward", "joint_forward"), ("backward", "backward"), ("update", "update")):
        setattr(TileWithPeriphery, method, timed(phase))
    conv.unfold, conv._AnalogConvNd.forward = unfold, conv_forward  # type: ignore[method-assign]
    try:
        yield
    finally:
        for phase, method in (("forward", "joint_forward"), ("backward", "backward"), ("update", "update")):
            setattr(TileWithPeriphery, method, originals[phase])
        conv.unfold, conv._AnalogConvNd.forward = original_unfold, original_conv_forward  # type: ignore


def noiseless_gv() -> Any:
    config = presets.get("gokmen-vlasov").rpu_config()
    config.forward.is_perfect = True
    config.backward.is_perfect = True
    config.device.dw_min_std = 0.0
    return config


def profile_epoch(run: Run, epoch: int) -> tuple[float, dict[tuple[str, str], float]]:
    times: dict[tuple[str, str], float] = defaultdict(float)
    with phase_timers(run.model, times):
        start = time.perf_counter()
        train_epoch(run, epoch, None, quiet=True)
        wall = time.perf_counter() - start
    return wall, dict(times)


def make_run(preset: str) -> Run:
    torch.manual_seed(0)
    run = Run(TrainConfig(preset=preset, limit=64 * BATCHES, batch_size=64, epochs=1000, schedule="constant"))
    run.test_loader = DataLoader(list(run.test_loader.dataset)[:1], batch_size=1)  # time the training part
    return run


class NoiselessPlugin:
    @hookimpl
    def register_presets(self, register: Any) -> None:
        register("noiseless-gv", noiseless_gv)


@pytest.fixture
def noiseless_preset() -> Iterator[None]:
    host = plugins.PluginHost(load_entrypoints=False)
    host.add_plugin(NoiselessPlugin(), "noiseless")
    previous = plugins.set_host(host)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    plugins.set_host(previous)


def test_profile_of_an_analog_epoch(benchmark: Any, request: pytest.FixtureRequest, noiseless_preset: None) -> None:
    runs = {"gokmen-vlasov": make_run("gokmen-vlasov"), "noiseless": make_run("noiseless-gv")}
    walls: dict[str, list[float]] = defaultdict(list)
    totals: dict[str, dict[tuple[str, str], float]] = {name: defaultdict(float) for name in runs}
    for epoch in range(3):  # interleaved: both see the same machine load
        for name, run in runs.items():
            wall, times = profile_epoch(run, epoch)
            walls[name].append(wall)
            for key, value in times.items():
                totals[name][key] += value
    wall = sum(walls["gokmen-vlasov"])
    times = totals["gokmen-vlasov"]
    analog = devices.analog_layers(runs["gokmen-vlasov"].model)
    layers = [name for name, _ in analog]
    rows = []
    for name, layer in analog:
        cells = [times.get((name, phase), 0.0) for phase in PHASES]
        shape = (f"{layer.in_channels}→{layer.out_channels} channels" if hasattr(layer, "in_channels")
                 else f"{layer.in_features}→{layer.out_features}")
        rows.append([f"`{name}` {type(layer).__name__} {shape}", *(f"{100 * c / wall:.1f} %" for c in cells),
                     f"{100 * sum(cells) / wall:.1f} %"])
    by_phase = [sum(times.get((layer, phase), 0.0) for layer in layers) for phase in PHASES]
    rest = wall - sum(by_phase)
    rows.append(["all analog layers", *(f"{100 * c / wall:.1f} %" for c in by_phase),
                 f"{100 * sum(by_phase) / wall:.1f} %"])
    noise_ratio = sum(walls["gokmen-vlasov"]) / sum(walls["noiseless"])
    samples = 3 * 64 * BATCHES
    summary = (f"tile forward {100 * by_phase[1] / wall:.0f} %, backward {100 * by_phase[2] / wall:.0f} %, pulsed "
               f"update {100 * by_phase[3] / wall:.0f} %, unfold {100 * by_phase[0] / wall:.1f} %, rest (digital "
               f"layers, autograd, optimizer, loop) {100 * rest / wall:.0f} % of an epoch at "
               f"{samples / wall:.0f} samples/s; noise simulation: epoch ×{noise_ratio:.2f} against noiseless I/O "
               "and updates")
    record("analog epoch profile (LeNet-5, GV, 12x64, shares of wall time)", summary)
    page = request.config.getoption("--ratios-page")
    if page:
        lines = ["# Where an analog epoch's time goes", "",
                 f"Written by `make bench` (`benchmarks/test_bench_analog_profile.py`) {provenance()}: LeNet-5 on "
                 "Gokmen-Vlasov, "
                 f"3 epochs of {BATCHES} batches of 64 mnist-5k digits, one torch thread per process as in the "
                 "sweeps. Shares of the epochs' wall time, per analog layer and phase; the rest is digital layers, "
                 "loss, autograd, the optimizer's Python and the loop.", "",
                 *markdown_table(["layer", *PHASES, "sum"], rows), "",
                 f"Rest of the epoch: {100 * rest / wall:.1f} %. Throughput {samples / wall:.0f} samples/s. The same "
                 f"epochs with perfect I/O and no cycle-to-cycle noise are ×{noise_ratio:.2f} faster "
                 "(the cost of simulating noise).", ""]
        Path(page).with_name("analog-profile.md").write_text("\n".join(lines))
    benchmark.extra_info.update(shares={f"{k[0]}:{k[1]}": v / wall for k, v in times.items()},
                                noise_ratio=noise_ratio)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)

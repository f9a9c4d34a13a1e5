"""``aihwkit-sc demo mnist``: LeNet-5 on the poster's three devices, step baseline against one-cycle.

The settings follow the poster's MNIST rows of Table 1 (step ``0.01/0.94/2`` with momentum 0.9; one-cycle
``0.01-0.1`` with momentum 0.95-0.85; weight decay 5e-4), shortened to a few epochs and a batch of 64 so the whole demo
runs in a few minutes on two CPU cores with the offline ``mnist-5k`` digits. One-cycle gives
every analog layer its device peak (``AnalogOneCycleLR``'s default).

Beside the poster's two rows the demo prints the row the studies recommend (``recommended``, on by default): a cosine
anneal from the same peaks as the one-cycle row (the same digital ``max_lr``, every analog layer at the same
``device_pulses`` device steps), momentum 0.9, no warm-up. The gap between the step row and one-cycle is mostly the
device peak and annealing, not the cycle (the controlled comparisons: docs/results/ablation.md and
docs/results/superconvergence.md), so a first table without that row would credit the cycle with both.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.tables import markdown_table, mean_std
from aihwkit_sc.schedules.one_cycle import ANALOG_MODES, DEVICE_PULSES
from aihwkit_sc.training import TrainConfig

DEVICES = ("pytorch", "semi-ideal", "gokmen-vlasov")
ANALOG_LABELS = {"device": " +device peak", "clamp": " +device bounds", "plain": ""}
SHORT = {"pytorch": "N", "semi-ideal": "SI", "gokmen-vlasov": "GV"}


@dataclass
class DemoSpec:
    epochs: int = 5
    batch_size: int = 64
    seeds: int = 1
    dataset: str = "auto"
    devices: tuple[str, ...] = DEVICES
    limit: int | None = None
    weight_decay: float = 5e-4
    step_lr: float = 0.01
    step_gamma: float = 0.94
    step_size: float = 2
    max_lr: float = 0.1
    div_factor: float = 10.0
    pct_start: float = 0.48
    analog: str = "device"  # one-cycle's analog mode (aihwkit_sc.schedules.one_cycle.ANALOG_MODES)
    recommended: bool = True  # the studies' row: a cosine anneal from one-cycle's peaks
    notices: list[str] = field(default_factory=list)

    def schedules(self) -> dict[str, tuple[str, dict[str, Any], float, float]]:
        """label -> (schedule, options, optimizer LR, momentum)."""
        one_cycle: dict[str, Any] = {"max_lr": self.max_lr, "div_factor": self.div_factor,
                                     "pct_start": self.pct_start, "max_momentum": 0.95, "base_momentum": 0.85}
        one_cycle |= ANALOG_MODES[self.analog]
        peak = self.pct_start * self.epochs
        rows = {
            f"step/{self.step_lr:g}/{self.step_gamma:g}/{self.step_size:g}": (
                "step", {"lr": self.step_lr, "gamma": self.step_gamma, "step_size": self.step_size},
                self.step_lr, 0.9),
            f"CLR/{self.max_lr / self.div_factor:g}-{self.max_lr:g}/{peak:g}"
            + ANALOG_LABELS[self.analog]: ("one-cycle", one_cycle, self.max_lr, 0.95),
        }
        if self.recommended:
            anneal = {"lr": self.max_lr, "min_lr": 0.0, "analog_lr": "device", "device_pulses": DEVICE_PULSES}
            rows[f"cosine/{self.max_lr:g}-0 +device peak (recommended)"] = ("cosine", anneal, self.max_lr, 0.9)
        return rows


def resolve_dataset(name: str, root: str | None = None) -> tuple[str, str | None]:
    """``auto``: full MNIST when present or downloadable, else ``mnist-5k``; returns (dataset, notice or None)."""
    from aihwkit_sc import data
    from aihwkit_sc.plugins import registry

    if name != "auto":
        return registry("dataset").resolve(name), None  # an unknown name: one line with the close matches

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)
    try:
        data.load("mnist", root=root, download=True)
    except data.DatasetUnavailableError:
        return "mnist-5k", ("full MNIST is not available offline; using mnist-5k (5,000 real MNIST digits, "
                            "4,000 train / 1,000 test)")
    finally:
        socket.setdefaulttimeout(previous)
    return "mnist", None


def jobs(spec: DemoSpec, dataset: str, out: Path) -> list[tuple[str, str, int, TrainConfig, Path]]:
    out_jobs = []
    for label, (schedule, options, lr, momentum) in spec.schedules().items():
        for device in spec.devices:
            for seed in range(spec.seeds):
                config = TrainConfig(model="lenet5", preset=device, dataset=dataset, schedule=schedule,
                                     schedule_options=dict(options), epochs=spec.epochs, batch_size=spec.batch_size,
                                     lr=lr, momentum=momentum, weight_decay=spec.weight_decay, seed=seed,
                                     limit=spec.limit)
                run_dir = out / "runs" / f"{schedule}-{device}-s{seed}"
                out_jobs.append((label, device, seed, config, run_dir))
    return out_jobs


def table(spec: DemoSpec, dataset: str, results: dict[tuple[str, str], list[float]]) -> str:
    """The poster's Table 1 layout: one row per policy, final test accuracy per device (mean ± std over seeds)."""
    head = ["Dataset", "Architecture", "PL/Setting", "CM/SS", "WD", "Batch", "Epoch"]
    head += [f"Accuracy {SHORT.get(d, d)} (%)" for d in spec.devices]
    rows = [head]
    for label, (schedule, _, _, momentum) in spec.schedules().items():
        cm = "0.95-0.85" if schedule == "one-cycle" else f"{momentum:g}"  # one-cycle cycles its momentum
        row = [dataset, "LeNet-5", label, cm, f"{spec.weight_decay:g}", str(spec.batch_size), str(spec.epochs)]
        for device in spec.devices:
            row.append(mean_std([100 * a for a in results.get((label, device), [])]))
        rows.append(row)
    return "\n".join(markdown_table(rows[0], rows[1:], pad=True))


def run_demo(spec: DemoSpec, out: str | Path, *, workers: int = 2, quiet: bool = False,
             data_root: str | None = None) -> dict[str, Any]:
    """Train every device × schedule (× seed), write the table and one figure per device; return it all."""
    import json

    from aihwkit_sc.experiments.executor import run_all
    from aihwkit_sc.plots import plot_curves

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dataset, notice = resolve_dataset(spec.dataset, data_root)
    all_jobs = jobs(spec, dataset, out)
    runs = run_all([(config, run_dir) for _, _, _, config, run_dir in all_jobs], workers=workers, quiet=quiet)
    finals: dict[tuple[str, str], list[float]] = {}
    curves: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for (label, device, seed, _, _), run in zip(all_jobs, runs, strict=True):
        if run["metrics"]:
            finals.setdefault((label, device), []).append(run["metrics"][-1]["test_accuracy"])
            if seed == 0:
                curves.setdefault(device, {})[label] = run["metrics"]
    figures = []
    for device, by_label in curves.items():
        path = out / f"curves-{device}.png"
        plot_curves(by_label, path, title=f"LeNet-5 on {dataset}, {device}")
        figures.append(str(path))
    text = table(spec, dataset, finals)
    (out / "table.md").write_text(text + "\n")
    summary = {"dataset": dataset, "notice": notice, "table": text, "figures": figures,
               "final_test_accuracy": {f"{label} | {device}": accs for (label, device), accs in finals.items()}}
    (out / "demo.json").write_text(json.dumps(summary, indent=2))
    return summary

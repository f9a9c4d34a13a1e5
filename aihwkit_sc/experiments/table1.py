"""The poster's Table 1 as data: twelve rows (dataset, network, policy, momentum, weight decay, batch, epochs) with the
poster's accuracy (mean ± std) on the three devices, parsed from the table's own text (``data/table1.tsv``, verbatim).

Reading the poster's columns:

* ``step/LR/GAMMA/STEP``: step decay from LR, × GAMMA every STEP epochs (``CM/SS`` is the momentum);
* ``CLR/LO-HI/PEAK``: one-cycle from LO up to HI, peaking at epoch PEAK (``pct_start = PEAK / epochs``,
  ``div_factor = HI / LO``), with momentum ``MAX-MIN/PEAK`` cycled inversely;
* ``WD``: weight decay (``$10^{-4}$``, ``$5 \\times 10^{-4}$``); accuracies ``$mean \\pm std$`` in percent.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

DEVICE_COLUMNS = {"Accuracy N (%)": "pytorch", "Accuracy SI (%)": "semi-ideal", "Accuracy GV (%)": "gokmen-vlasov"}
DATASETS = {"Cifar-10": "cifar10", "SVHN": "svhn", "MNIST": "mnist"}
MODELS = {"ResNet-18": "resnet18", "VGG-8": "vgg8", "LeNet": "lenet5"}


@dataclass(frozen=True)
class RowSpec:
    """One row of Table 1, ready to train."""

    index: int
    id: str
    dataset: str
    model: str
    policy: str
    setting: str
    momentum_text: str
    weight_decay: float
    batch_size: int
    epochs: int
    schedule: str
    schedule_options: dict[str, Any]
    lr: float
    momentum: float
    paper: dict[str, tuple[float, float]] = field(default_factory=dict)


def parse_weight_decay(text: str) -> float:
    match = re.fullmatch(r"\$(?:(\d+(?:\.\d+)?)\s*\\times\s*)?10\^\{(-?\d+)\}\$", text.strip())
    if not match:
        raise ValueError(f"cannot read weight decay {text!r}: expected $10^{{-4}}$ or $5 \\times 10^{{-4}}$")
    return float(match.group(1) or 1.0) * 10.0 ** int(match.group(2))


def parse_accuracy(text: str) -> tuple[float, float]:
    match = re.fullmatch(r"\$(\d+(?:\.\d+)?)\s*\\pm\s*(\d+(?:\.\d+)?)\$", text.strip())
    if not match:
        raise ValueError(f"cannot read accuracy {text!r}: expected $mean \\pm std$")
    return float(match.group(1)), float(match.group(2))


def parse_policy(setting: str, momentum: str, epochs: int) -> tuple[str, dict[str, Any], float, float]:
    """(schedule, options, optimizer LR, momentum) from the ``PL/Setting`` and ``CM/SS`` cells."""
    step = re.fullmatch(r"step/([\d.]+)/([\d.]+)/([\d.]+)", setting)
    if step:
        lr, gamma, size = (float(g) for g in step.groups())
        return "step", {"lr": lr, "gamma": gamma, "step_size": size}, lr, float(momentum)
    clr = re.fullmatch(r"CLR/([\d.]+)-([\d.]+)/([\d.]+)", setting)
    cm = re.fullmatch(r"([\d.]+)-([\d.]+)/([\d.]+)", momentum)
    if clr and cm:
        low, high, peak = (float(g) for g in clr.groups())
        m_max, m_min, _ = (float(g) for g in cm.groups())
        options = {"max_lr": high, "div_factor": high / low, "pct_start": peak / epochs,
                   "max_momentum": m_max, "base_momentum": m_min}
        return "one-cycle", options, high, m_max
    raise ValueError(f"cannot read policy {setting!r} with momentum {momentum!r}: expected step/LR/GAMMA/STEP or "
                     "CLR/LO-HI/PEAK with MAX-MIN/PEAK")


def load_rows() -> list[RowSpec]:
    """All twelve rows, in the poster's order."""
    text = resources.files("aihwkit_sc.experiments").joinpath("data/table1.tsv").read_text()
    reader = csv.DictReader(text.splitlines(), delimiter="\t")
    rows = []
    for index, raw in enumerate(reader, start=1):
        epochs = int(raw["Epoch"])
        schedule, options, lr, momentum = parse_policy(raw["PL/Setting"], raw["CM/SS"], epochs)
        dataset, model = DATASETS[raw["Dataset"]], MODELS[raw["Architecture"]]
        rows.append(RowSpec(
            index=index, id=f"{dataset}-{model}-{schedule}-{epochs}", dataset=dataset, model=model,
            policy="SC" if schedule == "one-cycle" else "normal", setting=raw["PL/Setting"],
            momentum_text=raw["CM/SS"], weight_decay=parse_weight_decay(raw["WD"]),
            batch_size=int(raw["Batch Size"]), epochs=epochs, schedule=schedule, schedule_options=options, lr=lr,
            momentum=momentum, paper={dev: parse_accuracy(raw[col]) for col, dev in DEVICE_COLUMNS.items()},
        ))
    return rows


def select(rows: list[RowSpec], patterns: str | None) -> list[RowSpec]:
    """Rows whose id or 1-based index matches one of the comma-separated fnmatch ``patterns`` (all when None).

    Every entry must match a row: one that matches none raises a one-line ``ValueError`` naming it, with the ids
    closest to it.
    """
    import difflib
    import fnmatch

    if patterns is None:
        return rows
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    ids = ", ".join(r.id for r in rows)
    if not wanted:
        raise ValueError(f"--rows {patterns!r} names no row: give row ids or 1-based indices; row ids are {ids}")

    def matches(row: RowSpec, pattern: str) -> bool:
        return fnmatch.fnmatchcase(row.id, pattern) or pattern == str(row.index)

    for pattern in wanted:
        if not any(matches(r, pattern) for r in rows):
            close = difflib.get_close_matches(pattern, [r.id for r in rows], n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            raise ValueError(f"--rows entry {pattern!r} matches no row: {hint}row ids are {ids} (or indices "
                             f"1-{len(rows)})")
    return [r for r in rows if any(matches(r, p) for p in wanted)]

"""A plan study's cells and the runs they want: :class:`Cell` (network, dataset, device, policies, budgets, paired
seeds, tuning budgets, tuning grid, long reference), :class:`Study` (a plan with its name, script, page and CSV), a
run's key, and the tuning rule that turns the rows trained so far into the runs still wanted (see
:mod:`aihwkit_sc.experiments.plans` for the rule in words).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.policies import CONVENTIONAL

VALIDATION = 500
FINAL_SEED0 = 100
MAX_EXTENSIONS = 3
CHANCE = 0.1
NETWORKS = {"lenet5": "LeNet-5", "vgg8": "VGG-8"}
DATASETS = {"mnist-5k": "mnist-5k (28×28)",
            "mnist-5k-32": "mnist-5k padded to 32×32 and repeated to 3 channels (VGG-8 takes 32×32×3)"}


@dataclass(frozen=True)
class Cell:
    """One (network, dataset, device) of the plan and how it is run."""

    model: str
    dataset: str
    device: str
    policies: tuple[str, ...]
    budgets: tuple[int, ...]
    seeds: int
    tune_budgets: tuple[int, ...]
    tune_seeds: int
    grid: tuple[float, ...]
    reference: int | None = None
    baseline: str | None = None
    """The policy every other one is compared with at each budget (``other − baseline``); ``None``: one-cycle
    against every other policy (``one-cycle − other``)."""
    withdrawn: str | None = None
    """Why the cell was stopped (one sentence), or ``None``. A withdrawn cell keeps its rows and its section on the
    page, with the reason; nothing more is trained for it, and its comparisons stay out of the page's Holm family,
    its figures and its missing cells."""

    @property
    def name(self) -> str:
        return f"{self.model}/{self.device}"

    @property
    def digital(self) -> bool:
        return self.device == "pytorch"

    def tuned_at(self, budget: int) -> int:
        """The tuning budget whose tuned scale a final at ``budget`` uses: the nearest on a log scale (ties: the
        longer one)."""
        return min(sorted(self.tune_budgets, reverse=True), key=lambda t: abs(math.log(budget / t)))


@dataclass(frozen=True)
class Study:
    """A study built on this plan machinery: its name in the study registry, script, page title, plan and files."""

    name: str
    script: str
    title: str
    plan: tuple[Cell, ...]
    csv: Path
    out: Path


FIELDS = ("model", "dataset", "device", "policy", "phase", "scale", "budget", "seed", "status", "build", "tuned_at",
          "accuracies", "final_accuracy", "xd_set", "xd", "bit_length", "capped", "wall_time_s", "peak_pulses")
KEY = ("model", "device", "policy", "phase", "scale", "budget", "seed")


def key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["model"], row["device"], row["policy"], row["phase"], float(row["scale"]), int(row["budget"]),
            int(row["seed"]))



def runs(cell: Cell, phase: str, policy: str, scales: Iterable[float], budgets: Iterable[int],
         seeds: Iterable[int], tuned_at: int | None = None) -> list[dict[str, Any]]:
    return [{"model": cell.model, "dataset": cell.dataset, "device": cell.device, "policy": policy, "phase": phase,
             "scale": float(scale), "budget": budget, "seed": seed, "tuned_at": tuned_at if tuned_at else ""}
            for scale in scales for budget in budgets for seed in seeds]


def tune_scores(rows: list[dict[str, Any]], cell: Cell, policy: str, budget: int) -> dict[float, list[float]]:
    """scale -> final validation accuracies of ``policy``'s tuning runs at ``budget`` (a diverged run counts 0)."""
    out: dict[float, list[float]] = {}
    for r in rows:
        if (r["model"], r["device"], r["policy"], r["phase"], r["budget"]) == (cell.model, cell.device, policy,
                                                                               "tune", budget):
            out.setdefault(r["scale"], []).append(r["final_accuracy"] or 0.0)
    return out


def best_scale(scores: dict[float, list[float]]) -> float | None:
    return max(sorted(scores), key=lambda s: statistics.mean(scores[s])) if scores else None


def grid_of(rows: list[dict[str, Any]], cell: Cell, policy: str, budget: int) -> list[float]:
    """The tuning grid of ``policy`` at ``budget``: the cell's grid, extended by x2 (or /2) while the best scale sits
    on its edge (at most ``MAX_EXTENSIONS`` times)."""
    grid = sorted(cell.grid)
    scores = tune_scores(rows, cell, policy, budget)
    for _ in range(MAX_EXTENSIONS):
        if not all(s in scores for s in grid):
            break
        best = best_scale({s: scores[s] for s in grid})
        if best == grid[-1]:
            grid.append(grid[-1] * 2)
        elif best == grid[0]:
            grid.insert(0, grid[0] / 2)
        else:
            break
    return grid


def tuned(rows: list[dict[str, Any]], cell: Cell, policy: str, budget: int) -> float | None:
    """The tuned scale of ``policy`` at tuning budget ``budget`` (None until its whole grid is trained)."""
    grid = grid_of(rows, cell, policy, budget)
    scores = tune_scores(rows, cell, policy, budget)
    if not all(len(scores.get(s, [])) >= cell.tune_seeds for s in grid):
        return None
    return best_scale({s: scores[s] for s in grid})


def reference_policy(rows: list[dict[str, Any]], cell: Cell) -> str | None:
    """The best conventional policy at the longest tuning budget (mean validation accuracy at its tuned scale)."""
    budget = max(cell.tune_budgets)
    best: tuple[float, str] | None = None
    for policy in CONVENTIONAL:
        if policy not in cell.policies:
            continue
        scale = tuned(rows, cell, policy, budget)
        if scale is None:
            return None
        score = statistics.mean(tune_scores(rows, cell, policy, budget)[scale])
        if best is None or score > best[0]:
            best = (score, policy)
    return best[1] if best else None


def final_seeds(cell: Cell) -> range:
    return range(FINAL_SEED0, FINAL_SEED0 + cell.seeds)


def wanted_runs(rows: list[dict[str, Any]], cell: Cell) -> tuple[list[dict[str, Any]], list[str]]:
    """The runs the plan wants now (tuning grids as far as they are known; finals whose tuning is done) and what
    is still waiting on tuning."""
    want: list[dict[str, Any]] = []
    waiting: list[str] = []
    for budget in cell.tune_budgets:
        for policy in cell.policies:
            want += runs(cell, "tune", policy, grid_of(rows, cell, policy, budget), [budget], range(cell.tune_seeds))
    for policy in cell.policies:
        for budget in cell.budgets:
            at = cell.tuned_at(budget)
            scale = tuned(rows, cell, policy, at)
            if scale is None:
                waiting.append(f"{policy} at {budget} epochs (tuning at {at})")
            else:
                want += runs(cell, "final", policy, [scale], [budget], final_seeds(cell), at)
    if cell.reference:
        best = reference_policy(rows, cell)
        if best is None:
            waiting.append(f"the {cell.reference}-epoch reference (tuning at {max(cell.tune_budgets)})")
        else:
            at = max(cell.tune_budgets)
            want += runs(cell, "final", best, [tuned(rows, cell, best, at) or 0.0], [cell.reference],
                         final_seeds(cell), at)
    return want, waiting


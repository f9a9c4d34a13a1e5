"""Super-convergence, tested: how many epochs does each schedule need, at the same device and network, to reach what
the best conventional schedule reaches with a long budget?

The study is a declared plan, :data:`PLAN`: one :class:`Cell` per (network, dataset, device), each with its policies,
final budgets, paired seeds, tuning budgets, tuning grid and long-reference budget. It expands into runs on the
sweep executor (``aihwkit_sc.experiments.executor``), appends one row per finished run to
``docs/results/superconvergence.csv`` at once, and renders ``docs/results/superconvergence.md`` and its figure from
that file alone.

Policies (:mod:`aihwkit_sc.experiments.policies`, shared with the ablation): every analog layer's LR follows the
policy's shape from its own device peak ``scale`` x ``dw_min / s`` (``s`` its per-sample ``max|x|·max|d|`` measured
on the first training batch: the batch that sets the device LR); on ``pytorch`` ``scale`` multiplies one global LR
of 0.1. ``constant`` (the floor), ``anneal`` (cosine to 0), ``multistep`` (x0.1 at 50 % and 75 %: the poster's kind
of step) and ``one-cycle`` (``AnalogOneCycleLR``: 30 % warm-up from peak/25, anneal to peak/25e4, momentum cycled
0.95-0.85 on digital groups). Batch 64, SGD momentum 0.9 (the pulsed update ignores momentum).

Tuning: each policy is trained at each grid scale for each of the cell's ``tune_budgets`` with ``tune_seeds`` seeds
on the validation split (500 training digits held out, stratified, fixed) and read on validation only; the scale with
the best mean final validation accuracy (a diverged seed counts 0; ties: the smaller scale) is the tuned one. A tuned
scale on the edge of the grid extends the grid by a factor of 2 on that side (up to ``MAX_EXTENSIONS`` times). A final
budget reuses the tuning of the nearest tuning budget on a log scale (:meth:`Cell.tuned_at`).

Finals: each policy at its tuned scale for every budget, seeds ``FINAL_SEED0``... (the same data order and
device-to-device draw for every policy and budget, so differences are paired), read on the test set. The long
reference is the best conventional policy (``constant``, ``anneal``, ``multistep``: the best mean validation accuracy
at the longest tuning budget) trained for ``reference`` epochs at that tuning. Final runs count pulses: every row
records per epoch and analog layer ``x·d``, the mean bit length of an update row and the fraction of rows at the
bit-length cap, and the ``x·d`` that set the device LR.

    python benchmarks/study_superconvergence.py                      # train what is missing, rewrite the page
    python benchmarks/study_superconvergence.py --cells lenet5/pytorch  # one cell
    python benchmarks/study_superconvergence.py --report-only        # the page from the committed CSV
    aihwkit-sc study run superconvergence [ARGS]                     # the same, through the study registry
"""

from __future__ import annotations

from pathlib import Path

from aihwkit_sc.experiments import plans
from aihwkit_sc.experiments.plans import Cell, Study
from aihwkit_sc.experiments.policies import POLICIES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"

LENET_GRID = (0.5, 1.0, 2.0, 4.0)
DIGITAL_GRID = (0.25, 0.5, 1.0, 2.0)
PLAN = (
    Cell("lenet5", "mnist-5k", "gokmen-vlasov", POLICIES, (3, 6, 12, 24), 6, (3, 24), 2, LENET_GRID, 48),
    Cell("lenet5", "mnist-5k", "pytorch", POLICIES, (3, 6, 12, 24), 6, (3, 24), 2, DIGITAL_GRID, 48),
    Cell("lenet5", "mnist-5k", "semi-ideal", POLICIES, (3, 6, 12, 24), 6, (3, 24), 2, LENET_GRID, 48),
    Cell("vgg8", "mnist-5k-32", "pytorch", ("one-cycle", "anneal"), (3, 12), 3, (3,), 1, DIGITAL_GRID),
    Cell("vgg8", "mnist-5k-32", "gokmen-vlasov", ("one-cycle", "anneal"), (3, 12), 3, (3,), 1, (0.5, 1.0, 2.0),
         withdrawn="On Gokmen-Vlasov as aihwkit ships it (weights stored unscaled), the error that reaches VGG-8's "
         "convolutions at the initial weights carries no information about exact backpropagation "
         "([backward-signal.md](backward-signal.md), `python benchmarks/study_backward_signal.py --report-only`), so "
         "this cell measured the backward pass's noise, not the schedules. It continues on "
         "`gokmen-vlasov:omega=0.6` (weights mapped onto the conductance range, as aihwkit's VGG-8 example trains)."),
    Cell("vgg8", "mnist-5k-32", "gokmen-vlasov:omega=0.6", ("one-cycle", "anneal"), (3, 12), 3, (3,), 1,
         (0.5, 1.0, 2.0)),
)
"""The study, in the order it is trained (whole cells first; the cheap digital control before the slower analog
ones)."""

SUPERCONVERGENCE = Study("superconvergence", "study_superconvergence.py",
                         "Super-convergence, tested: epochs to reach a long, tuned schedule", PLAN,
                         RESULTS / "superconvergence.csv", RESULTS / "superconvergence.md")


def main(argv: list[str] | None = None) -> None:
    plans.main(argv, SUPERCONVERGENCE)


if __name__ == "__main__":
    main()

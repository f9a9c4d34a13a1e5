"""Does a device LR that follows x·d train better? ``xd_refresh`` (:mod:`aihwkit_sc.schedules.shaped`) against the
device LR set once from the first batch.

``x·d`` falls 3-11× after the first epoch on the pulsed presets, so a device LR set from the first batch fires ever
fewer pulses per update; with ``xd_refresh="epoch"`` (re-measured at every epoch boundary) or ``"step"`` (a running
estimate from the tiles' inputs and errors) each analog layer's LR holds the scheduled number of pulses instead.

The plan, :data:`PLAN`, runs on the plan-study machinery (:mod:`aihwkit_sc.experiments.plans`, as the
super-convergence study does: tuning on the validation split with grids that grow at an edge, paired final seeds,
one row per run with per-epoch ``x·d``, bit length and capped fraction): LeNet-5 on mnist-5k, ``gokmen-vlasov`` and
``semi-ideal``, the cosine anneal at its device peak in three arms, ``anneal`` (the peak from the first batch),
``anneal+xd-epoch`` and ``anneal+xd-step``, each tuned on its own grid at 6 epochs (2 seeds; the 24-epoch finals
reuse that tuning: every arm gets the same tuning effort) and trained with 6 paired seeds at 6 and 24 epochs. The
page compares each arm with ``anneal`` (Holm across the page) and shows the bit length (pulses per cross-point of a
row's largest update) in the first and last epoch, per layer.

    python benchmarks/study_xd_refresh.py                  # train what is missing, rewrite the page
    python benchmarks/study_xd_refresh.py --report-only    # the page from the committed CSV
    aihwkit-sc study run xd-refresh [ARGS]                 # the same, through the study registry
"""

from __future__ import annotations

from pathlib import Path

from aihwkit_sc.experiments import plans
from aihwkit_sc.experiments.plans import Cell, Study

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
LENET_GRID = (0.5, 1.0, 2.0, 4.0)

ARMS = ("anneal", "anneal+xd-epoch", "anneal+xd-step")
PLAN = tuple(Cell("lenet5", "mnist-5k", device, ARMS, (6, 24), 6, (6,), 2, LENET_GRID, baseline="anneal")
             for device in ("gokmen-vlasov", "semi-ideal"))
XD_REFRESH = Study("xd-refresh", "study_xd_refresh.py", "A device LR that follows x·d: xd_refresh against the first "
                   "batch's", PLAN, RESULTS / "xd-refresh.csv", RESULTS / "xd-refresh.md")


def main(argv: list[str] | None = None) -> None:
    plans.main(argv, XD_REFRESH)


if __name__ == "__main__":
    main()

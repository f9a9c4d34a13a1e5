"""Every committed study page is its committed data: each study's report command, run on copies of the committed
CSVs (and, for the ablation, the page whose hand-written findings it keeps), writes the committed page byte for
byte. The pages that are not a CSV's are listed with where they come from."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
BENCHMARKS = ROOT / "benchmarks"

PAGES = {  # page: (script, its CSV options)
    "ablation.md": ("study_ablation.py", {"--csv": "ablation.csv", "--telemetry-csv": "ablation-telemetry.csv"}),
    "aihwkit-builds.md": ("study_builds.py", {"--csv": "aihwkit-builds.csv"}),
    "backward-signal.md": ("study_backward_signal.py", {"--csv": "backward-signal.csv"}),
    "batched-fidelity.md": ("study_batched.py", {"--csv": "batched-fidelity.csv"}),
    "superconvergence.md": ("study_superconvergence.py", {"--csv": "superconvergence.csv"}),
    "pulse-pick.md": ("study_pulse_pick.py", {"--csv": "pulse-pick.csv", "--ablation-csv": "ablation.csv"}),
    "xd-refresh.md": ("study_xd_refresh.py", {"--csv": "xd-refresh.csv"}),
    "table1-mnist5k.md": ("study_table1.py", {"--csv": "table1-mnist5k.csv"}),
}
FINDINGS = {"ablation.md", "superconvergence.md", "pulse-pick.md", "xd-refresh.md", "table1-mnist5k.md"}
"""Pages with findings written by hand below the tables (the rebuild keeps them)."""


@pytest.mark.parametrize("page", sorted(PAGES))
def test_a_committed_page_is_rebuilt_byte_for_byte_from_its_committed_csv(page: str, tmp_path: Path) -> None:
    script, csvs = PAGES[page]
    args = [sys.executable, str(BENCHMARKS / script), "--report-only", "--quiet", "--out", str(tmp_path / page)]
    for option, name in csvs.items():
        shutil.copy(RESULTS / name, tmp_path / name)
        args += [option, str(tmp_path / name)]
    if page in FINDINGS:  # findings written by hand below the tables are kept
        shutil.copy(RESULTS / page, tmp_path / page)
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    rebuilt = (tmp_path / page).read_text()
    committed = (RESULTS / page).read_text()
    # the page names its CSV as the command line gave it; the committed one was written from docs/results
    rebuilt = rebuilt.replace(str(tmp_path) + "/", "docs/results/").replace(str(tmp_path), "docs/results")
    assert rebuilt == committed


NOT_FROM_A_CSV = {
    "benchmarks.md": "make bench: ratios measured in one run",
    "analog-profile.md": "make bench: a profile measured in one run",
}


def test_every_committed_page_is_rebuilt_here_or_says_where_it_comes_from() -> None:
    assert {p.name for p in RESULTS.glob("*.md")} == set(PAGES) | set(NOT_FROM_A_CSV)


def _numbers(text: str) -> tuple[set[str], set[str]]:
    """The paired differences (``mean [low, high]``) and the ``mean ± std`` cells of ``text``, minus signs and the
    README's "points, 95 % CI" between a difference and its interval normalized away."""
    text = text.replace("−", "-").replace(" points, 95 % CI", "")
    diffs = set(re.findall(r"[+-]?\d+\.\d+ \[[+-]?\d+\.\d+, [+-]?\d+\.\d+\]", text))
    means = set(re.findall(r"\d+\.\d+ ± \d+\.\d+", text))
    return diffs, means


def test_the_readmes_super_convergence_numbers_are_the_pages() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("**Super-convergence, tested**")
    section = readme[start:readme.index("\n## ", start)]
    diffs, means = _numbers(section)
    page_diffs, page_means = _numbers((RESULTS / "superconvergence.md").read_text())
    assert diffs and means, "the README's super-convergence sentences quote no interval or mean"
    assert diffs <= page_diffs, f"README intervals not on the page: {sorted(diffs - page_diffs)}"
    assert means <= page_means, f"README means not on the page: {sorted(means - page_means)}"


def test_the_readmes_backward_signal_ranges_are_the_pages() -> None:
    readme = (ROOT / "README.md").read_text().replace("−", "-")
    page = (RESULTS / "backward-signal.md").read_text()
    ranges = {f"from {a} to {b}" for a, b in re.findall(r"(-?\d\.\d\d) to (-?\d\.\d\d)", readme)}
    assert len(ranges) >= 4, "the README quotes the backward-signal page's cosine ranges"
    absent = sorted(r for r in ranges if r not in page)
    assert not absent, f"README ranges not on the page: {absent}"

"""`make bench` writes the ratios it measured to a page; the benchmarks themselves run here once (timings off), so
they cannot rot unseen."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_writes_its_ratios_page(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks/test_bench_schedule_step.py", "-q", "-p", "no:cacheprovider",
         "--benchmark-disable", "--ratios-page", str(page)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:]
    text = page.read_text()
    assert text.startswith("# Benchmarks: ratios against a baseline timed in the same run")
    row = re.search(r"\| `AnalogOneCycleLR.step / OneCycleLR.step` \| (\d+\.\d+)x \((\d+\.\d) us vs (\d+\.\d) us", text)
    assert row, text
    ratio, ours, theirs = (float(v) for v in row.groups())
    assert ratio == pytest.approx(ours / theirs, rel=0.02)  # the ratio is the two medians measured in this run

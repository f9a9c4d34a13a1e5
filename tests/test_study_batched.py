"""``benchmarks/study_batched.py`` (batched against looped forward/backward, paired seeds): its statistics on known
rows, the collapsed label, a torn line, and the script end to end at toy size on the installed batched build (its
committed page is rebuilt in ``test_committed_pages.py``)."""

from __future__ import annotations

import csv
import importlib.util
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from aihwkit_sc import seeding

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
SCRIPT = BENCHMARKS / "study_batched.py"


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture
def study(monkeypatch: pytest.MonkeyPatch) -> Any:
    return load("study_batched", monkeypatch)


def row(path: str, seed: int, accuracy: float, rate: float, status: str = "complete") -> dict[str, Any]:
    return {"path": path, "seed": seed, "status": status, "final_test_accuracy": accuracy, "final_test_loss": 0.1,
            "train_loss": 0.1, "samples_per_s": rate, "test_accuracy_per_epoch": [0.5, accuracy],
            "preset": "gokmen-vlasov", "model": "lenet5", "schedule": "one-cycle", "lr": "0.1", "epochs": "2",
            "limit": "", "aihwkit_build": "seeded", "machine": "x86_64"}


def cells(page: str, first: str) -> list[str]:
    line = next(line for line in page.splitlines() if line.startswith(f"| {first}"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_report_pairs_accuracy_and_speed_by_seed(study: Any) -> None:
    looped = [0.950, 0.960, 0.955, 0.962]
    shift = [0.002, -0.001, 0.003, 0.000]
    rows = [r for s, (a, d) in enumerate(zip(looped, shift, strict=True))
            for r in (row("looped", s, a, 500.0 + s), row("batched", s, a + d, 1.5 * (500.0 + s)))]
    page = study.report(rows)
    diffs = [100 * d for d in shift]
    mean, sd = sum(diffs) / 4, float(stats.tstd(diffs))
    low, high = stats.t.interval(0.95, 3, loc=mean, scale=sd / math.sqrt(4))
    assert cells(page, "final test accuracy")[2] == f"{mean:+.2f} [{low:+.2f}, {high:+.2f}] (no difference)"
    assert cells(page, "samples/s (ratio")[2] == "1.50x [1.50, 1.50]"
    assert cells(page, "`looped`")[1:4] == ["4", "4 complete", "95.67 ± 0.54"]
    # [-0.19, +0.39] holds 0 and lies within ±0.5 points
    assert "lies within ±0.5 points): **met**" in page
    wide = [r | {"final_test_accuracy": r["final_test_accuracy"] + (0.01 if r["seed"] % 2 else -0.01)}
            if r["path"] == "batched" else r for r in rows]
    assert "**not met**" in study.report(wide)


def test_a_run_stuck_at_chance_is_collapsed_and_still_counted(study: Any) -> None:
    assert study.status_of({"status": "complete"}, [0.1, 0.12, 0.098]) == "collapsed"
    assert study.status_of({"status": "complete"}, [0.1, 0.5]) == "complete"
    assert study.status_of({"status": "diverged"}, [0.1]) == "diverged"
    rows = [row("looped", 0, 0.95, 500.0), row("batched", 0, 0.1, 700.0, "collapsed"),
            row("looped", 1, 0.96, 500.0), row("batched", 1, 0.96, 700.0)]
    page = study.report(rows)
    assert cells(page, "`batched`")[2] == "1 collapsed, 1 complete"
    assert cells(page, "final test accuracy")[1] == "2"  # the collapsed pair counts: a difference between the paths


def test_a_torn_last_line_is_dropped_and_the_next_row_starts_on_its_own_line(study: Any, tmp_path: Path) -> None:
    table = tmp_path / "b.csv"
    good = {k: str(v) for k, v in row("looped", 0, 0.95, 500.0).items()} | {"test_accuracy_per_epoch": "[0.5, 0.95]"}
    study.append_row(table, good)
    study.append_row(table, good | {"path": "batched"})
    text = table.read_text()
    table.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 1] + "batched,0,comp")  # a crash mid-write
    assert [(r["path"], r["seed"]) for r in study.read_rows(table)] == [("looped", 0)]  # trained again
    study.append_row(table, good | {"path": "batched"})
    rows = study.read_rows(table)
    assert [(r["path"], r["seed"]) for r in rows] == [("looped", 0), ("batched", 0)]
    assert rows[1]["final_test_accuracy"] == 0.95 and rows[1]["test_accuracy_per_epoch"] == [0.5, 0.95]


@pytest.mark.slow
@pytest.mark.skipif(not seeding.switchable(), reason="the installed aihwkit has no batched path to compare")
def test_the_study_end_to_end_at_toy_size_and_resumable(tmp_path: Path) -> None:
    out, table = tmp_path / "b.md", tmp_path / "b.csv"
    command = [sys.executable, str(SCRIPT), "--build", "installed", "--seeds", "1", "--epochs", "1", "--limit", "128",
               "--csv", str(table), "--out", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert sorted((r["path"], r["seed"]) for r in rows) == [("batched", "0"), ("looped", "0")]
    for r in rows:
        assert ("looped forward/backward" in r["aihwkit_build"]) == (r["path"] == "looped")
        assert r["status"] in ("complete", "collapsed") and len(r["test_accuracy_per_epoch"].split(",")) == 1
        assert r["preset"] == "gokmen-vlasov" and r["limit"] == "128"
    page = out.read_text()
    assert cells(page, "`looped`")[1] == "1" and (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)  # nothing left to run
    assert again.returncode == 0 and "test accuracy" not in again.stderr
    assert len(table.read_text().splitlines()) == 3
    report = subprocess.run([*command, "--report-only"], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0 and out.read_text() == page

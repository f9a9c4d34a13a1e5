"""``benchmarks/study_builds.py`` (aihwkit build variants: speed and sameness): its statistics on known rows, and the
script end to end at toy size on the installed aihwkit, resumable."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPT = BENCHMARKS / "study_builds.py"


@pytest.fixture
def study(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("study_builds", SCRIPT)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def row(variant: str, seed: int, rate: float, accuracy: float, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"variant": variant, "seed": seed, "samples_per_s": rate, "train_loss": 1.0, "test_accuracy": accuracy,
            "metrics_json": json.dumps(metrics or {"test_accuracy": accuracy, "variant": variant}),
            "batches": 31, "epochs": 2, "machine": "x86_64"}


def test_report_pairs_speed_with_stock_and_accuracy_with_the_seeded_build(study: Any) -> None:
    rows = []
    for seed, (stock, noise) in enumerate([(400.0, 0.01), (380.0, -0.01), (420.0, 0.0)]):
        rows.append(row("stock", seed, stock, 0.90 + noise))
        rows.append(row("seeded", seed, stock * 1.1, 0.91, {"same": seed}))
        rows.append(row("native", seed, stock * 1.5, 0.91, {"same": seed}))  # bit-identical to seeded
        rows.append(row("fastrand", seed, stock * 2.0, 0.91 + 0.02 * (seed + 1)))
    page = study.report(rows)
    lines = {line.split(" | ")[0].strip("| `"): line.split(" | ") for line in page.splitlines()
             if line.startswith("| `")}
    assert lines["native"][3] == "1.50x [1.50, 1.50]" and lines["fastrand"][3] == "2.00x [2.00, 2.00]"
    assert lines["stock"][3] == "1" and lines["seeded"][3] == "1.10x [1.10, 1.10]"
    assert lines["native"][6].rstrip(" |") == "all" and lines["fastrand"][6].rstrip(" |") == "none"
    assert lines["native"][5] == "+0.00 [+0.00, +0.00] (no difference)"
    # fastrand - seeded: +2, +4, +6 points; mean +4, t(0.975, 2) * 2 / sqrt(3) = 4.97
    assert lines["fastrand"][5] == "+4.00 [-0.97, +8.97] (no difference)"
    assert lines["stock"][4] == "90.00 ± 1.00"
    assert math.isclose(float(lines["stock"][2].split(" ± ")[0]), 400.0)


def test_the_study_end_to_end_at_toy_size_and_resumable(tmp_path: Path) -> None:
    out, table = tmp_path / "builds.md", tmp_path / "builds.csv"
    command = [sys.executable, str(SCRIPT), "--variants", "installed", "--seeds", "1", "--batches", "1",
               "--epochs", "1", "--csv", str(table), "--out", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["variant"], r["seed"]) for r in rows] == [("installed", "0")]
    for r in rows:
        metrics = json.loads(r["metrics_json"])
        assert metrics["epoch"] == 2  # the warm-up epoch and the timed one
        assert float(r["test_accuracy"]) == pytest.approx(metrics["test_accuracy"], abs=5e-5)
        assert float(r["train_loss"]) == pytest.approx(metrics["train_loss"], abs=5e-7)
    page = out.read_text()
    assert "| `installed` | 1 |" in page
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)  # nothing left to run
    assert again.returncode == 0 and "samples/s" not in again.stderr.replace("wrote", "")
    assert len(table.read_text().splitlines()) == 2
    report = subprocess.run([*command, "--report-only"], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0 and out.read_text() == page


def test_a_missing_variant_wheel_is_one_line_naming_the_build_command(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--variants", "stock", "--csv", str(tmp_path / "x.csv"),
                           "--out", str(tmp_path / "x.md")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "AIHWKIT_SC_WHEEL_CACHE": str(tmp_path / "empty")})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: no stock aihwkit wheel in the cache; build it with 'PY=.venv/bin/python scripts/aihwkit_wheel.sh "
        "stock' (or 'make wheels')")

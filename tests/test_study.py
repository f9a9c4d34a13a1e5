"""The super-convergence study script (benchmarks/study_super_convergence.py) end to end, at toy size."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "study_super_convergence.py"


def run_study(tmp_path: Path, *extra: str) -> str:
    args = [sys.executable, str(SCRIPT), "--devices", "pytorch", "gokmen-vlasov", "--budgets", "2", "--seeds", "2",
            "--policies", "step@poster", "step@device", "one-cycle", "one-cycle@device", "--limit", "128",
            "--workers", "1", "--work-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "sc.md"), *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_study_writes_its_page_from_the_runs_and_keeps_the_findings(tmp_path: Path) -> None:
    run_study(tmp_path)
    page = (tmp_path / "sc.md").read_text()
    results = sorted((tmp_path / "runs").glob("*/*/result.json"))
    # pytorch skips the analog-only step@device and one-cycle@device: 2 + 4 policies x 2 seeds
    assert len(results) == 12
    rows = list(csv.DictReader((tmp_path / "sc.csv").read_text().splitlines()))
    assert {(r["device"], r["policy"]) for r in rows} == {
        ("pytorch", "step@poster"), ("pytorch", "one-cycle"), ("gokmen-vlasov", "step@poster"),
        ("gokmen-vlasov", "step@device"), ("gokmen-vlasov", "one-cycle"), ("gokmen-vlasov", "one-cycle@device")}
    for row in rows:  # every cell is the mean of its seeds' final test accuracy
        finals = [100 * json.loads(p.read_text())["metrics"][-1]["test_accuracy"]
                  for p in results if p.parent.parent.name == row["device"]
                  and p.parent.name.startswith(row["policy"] + "-e2-")]
        assert len(finals) == 2 and float(row["final_mean"]) == pytest.approx(statistics.mean(finals), abs=1e-3)
        assert f"| {row['device']} | 2 | {row['policy']} | {statistics.mean(finals):.2f} ±" in page
    gv = json.loads(next(p for p in results if "one-cycle@device-e2-s0" in str(p)).read_text())
    assert len(gv["summary"]["schedule_options"]["xd_product"]) == 4  # measured by the run
    cal = json.loads((tmp_path / "runs" / "gokmen-vlasov" / "calibration.json").read_text())
    assert len(cal["device_peaks"]) == 4 and cal["device_peaks"][0] > cal["device_peaks"][3] > 0
    assert (tmp_path / "sc-gokmen-vlasov-2ep.png").read_bytes()[:4] == b"\x89PNG"
    # hand-written findings survive a regeneration; --report-only trains nothing; a NaN run is reported as diverged
    marker = page[page.index("<!-- findings"):].splitlines()[0]
    (tmp_path / "sc.md").write_text(page + "Our reading: keep me.\n")
    lost = tmp_path / "runs" / "gokmen-vlasov" / "one-cycle-e2-s1"
    (lost / "result.json").unlink()
    (lost / "summary.json").write_text(json.dumps({"status": "diverged"}))
    results.remove(lost / "result.json")
    stamps = [p.stat().st_mtime_ns for p in results]
    run_study(tmp_path, "--report-only")
    again = (tmp_path / "sc.md").read_text()
    assert marker in again and again.endswith("Our reading: keep me.\n")
    assert [p.stat().st_mtime_ns for p in results] == stamps and not (lost / "result.json").exists()
    row = next(line for line in again.splitlines() if line.startswith("| gokmen-vlasov | 2 | one-cycle |"))
    assert row.count("diverged") == 1
    rows = {(r["device"], r["policy"]): r for r in csv.DictReader((tmp_path / "sc.csv").read_text().splitlines())}
    assert rows["gokmen-vlasov", "one-cycle"]["diverged"] == "1" and rows["gokmen-vlasov", "one-cycle"]["seeds"] == "1"

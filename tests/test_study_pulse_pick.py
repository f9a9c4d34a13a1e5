"""The range-test validation study at toy size: both arms trained with paired seeds, the tuned arm at the ablation's
tuned scale, the auto arm at its run's own range-test pick (recorded in the row, in the tuned scale's units), and a
page whose paired differences are the CSV's."""

from __future__ import annotations

import csv
import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "study_pulse_pick.py"


def load() -> object:
    spec = importlib.util.spec_from_file_location("study_pulse_pick", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["study_pulse_pick"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_pulse_pick_study_end_to_end(tmp_path: Path) -> None:
    study = load()
    args = [sys.executable, str(SCRIPT), "--devices", "gokmen-vlasov", "pytorch", "--budget", "1", "--seeds", "2",
            "--limit", "192", "--validation", "100", "--work-dir", str(tmp_path / "runs"), "--csv",
            str(tmp_path / "p.csv"), "--out", str(tmp_path / "p.md"), "--quiet"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.strip() == "16 of 16 runs to train"
    rows = list(csv.DictReader((tmp_path / "p.csv").read_text().splitlines()))
    tuned = study.tuned_scales(ROOT / "docs" / "results" / "ablation.csv")  # type: ignore[attr-defined]
    for r in rows:
        if r["arm"] == "tuned":  # at the ablation's validation-tuned scale, no range test
            assert float(r["scale"]) == tuned[f"{r['device']}/{r['policy']}"] and r["pick"] == ""
        else:  # at the run's own pick
            assert float(r["pick"]) > 0 and float(r["scale"]) == float(r["pick"])
        summary = json.loads((tmp_path / "runs" / r["device"] / f"{r['policy']}-{r['arm']}-e1" / f"s{r['seed']}"
                              / "summary.json").read_text())
        if r["arm"] == "auto" and r["device"] == "gokmen-vlasov":  # pulses, as the run recorded them
            assert summary["lr_find"]["unit"] == "device pulses"
            assert summary["schedule_options"]["device_pulses"] == pytest.approx(float(r["pick"]), rel=1e-3)
        if r["arm"] == "auto" and r["device"] == "pytorch":  # the LR range test's LR, in units of the digital LR
            assert summary["lr_find"]["suggestion"] == pytest.approx(0.1 * float(r["pick"]), rel=1e-3)
        assert (r["status"] == "collapsed") == (max(json.loads(r["accuracies"])) <= 0.15)
    # a paired difference on the page is auto - tuned over the CSV's seeds
    page = (tmp_path / "p.md").read_text()
    acc = {(r["device"], r["policy"], r["arm"], r["seed"]): 100 * float(r["final_accuracy"]) for r in rows}
    diffs = [acc[("gokmen-vlasov", "anneal", "auto", s)] - acc[("gokmen-vlasov", "anneal", "tuned", s)]
             for s in ("100", "101")]
    mean = statistics.mean(diffs)
    if statistics.stdev(diffs) > 0:
        low, high = stats.t.interval(0.95, 1, loc=mean, scale=statistics.stdev(diffs) / 2 ** 0.5)
        assert f"| {mean:+.2f} [{low:+.2f}, {high:+.2f}] |" in page
    # resumed: nothing to train; the page is rebuilt byte for byte from the CSV
    again = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert again.returncode == 0 and "runs to train" not in again.stderr
    assert subprocess.run([*args, "--report-only"], capture_output=True, timeout=300, cwd=tmp_path).returncode == 0
    assert (tmp_path / "p.md").read_text() == page

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
from typing import Any

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
    assert "](p.png)" in page and (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    # resumed: nothing to train; the page is rebuilt byte for byte from the CSV
    again = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert again.returncode == 0 and "runs to train" not in again.stderr
    assert subprocess.run([*args, "--report-only"], capture_output=True, timeout=300, cwd=tmp_path).returncode == 0
    assert (tmp_path / "p.md").read_text() == page


def test_the_page_says_whether_the_auto_mean_lies_in_the_tuned_interval() -> None:
    study: Any = load()

    def run(arm: str, seed: int, acc: float, device: str = "gokmen-vlasov") -> dict[str, Any]:
        return {"device": device, "policy": "anneal", "arm": arm, "budget": 3, "seed": seed, "status": "complete",
                "build": "b", "scale": 1.0, "pick": 0.8 if arm == "auto" else None, "accuracies": [acc],
                "final_accuracy": acc, "xd_set": [], "wall_time_s": 1.0}

    tuned = [run("tuned", s, a) for s, a in enumerate((0.94, 0.95, 0.96))]  # 95 %, t interval +-2.48 points
    near = [run("auto", s, a) for s, a in enumerate((0.95, 0.96, 0.955))]  # mean 95.5: inside
    far = [run("auto", s, a, "semi-ideal") for s, a in enumerate((0.90, 0.91, 0.92))]  # mean 91: outside
    low, high, inside = study.within(tuned, near)
    half = stats.t.ppf(0.975, 2) * statistics.stdev([94.0, 95.0, 96.0]) / 3 ** 0.5
    assert (low, high, inside) == (pytest.approx(95 - half), pytest.approx(95 + half), True)
    assert study.within(tuned, far)[2] is False and study.within(tuned[:1], near) is None
    rows = tuned + near + [r | {"device": "semi-ideal"} for r in tuned] + far
    page = study.report(rows, {"gokmen-vlasov/anneal": 1.0, "semi-ideal/anneal": 1.0}, "p.csv")
    ci = f"[{95 - half:.2f}, {95 + half:.2f}]"
    assert f"| yes {ci} |" in page and f"| no {ci} |" in page
    assert "inside the tuned arm's 95 % interval (t, over its seeds) in 1 of 2 cells" in page

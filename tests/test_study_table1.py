"""The Table 1 study (``benchmarks/study_table1.py``) end to end at toy size: runs train through
``aihwkit-sc reproduce table1``'s plan, every finished run is one CSV row, and the page is rebuilt from the CSV
alone."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import statistics
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "study_table1.py"
_spec = importlib.util.spec_from_file_location("study_table1", SCRIPT)
assert _spec is not None and _spec.loader is not None
study = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(study)


def read(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_table1_study_end_to_end(tmp_path: Path) -> None:
    out, table = tmp_path / "t1.md", tmp_path / "t1.csv"
    args = ["--rows", "mnist-lenet5-step-50", "--devices", "pytorch", "--limit", "64", "--workers", "1",
            "--work-dir", str(tmp_path / "runs"), "--csv", str(table), "--out", str(out), "--quiet"]
    study.main(args)
    rows = read(table)
    # the step row and its matched-LR twin, 2 seeds each, in order
    assert [(r["row"], r["seed"]) for r in rows] == [
        ("mnist-lenet5-step-50", "0"), ("mnist-lenet5-step-50", "1"),
        ("mnist-lenet5-step-50-matched-lr", "0"), ("mnist-lenet5-step-50-matched-lr", "1")]
    assert {r["epochs"] for r in rows} == {"10"} and {r["lr"] for r in rows[:2]} == {"0.01"}
    found = json.loads((tmp_path / "runs" / "matched_lr.json").read_text())
    assert float(rows[2]["lr"]) == pytest.approx(found["mnist-lenet5-step-50|pytorch"])  # the range test's LR
    assert all(len(json.loads(r["accuracies"])) == 10 for r in rows)
    # a toy run may never leave chance (64 digits, the poster's LR 0.01): it is named collapsed and still counts
    assert {r["status"] for r in rows} <= {"complete", "collapsed"}
    page = out.read_text()
    finals = [100 * float(r["final_accuracy"]) for r in rows[:2]]
    mean, std = statistics.mean(finals), statistics.stdev(finals)
    k = sum(r["status"] == "collapsed" for r in rows[:2])
    ours = f"{mean:.2f} ± {std:.2f}" + (f", {k} collapsed" if k else "")
    assert f"| 10 (50) | pytorch | {ours} | 2 | 84.44 ± 3.38 | {mean - 84.44:+.2f} |" in page
    assert "Runs: 4 of 36 planned" in page  # the page plans the whole study
    assert f"| mnist-lenet5-step-50-matched-lr | pytorch | {float(rows[2]['lr']):.4g} |" in page
    assert "| mnist-lenet5-one-cycle-25 | mnist-5k | lenet5 |" in page and "| – | 0 |" in page  # not trained: shown
    # the page from the CSV alone, byte for byte
    before = page
    study.main(["--report-only", "--csv", str(table), "--out", str(out), "--quiet"])
    assert out.read_text() == before
    # a new machine (no run folders): a run in the CSV is not trained again, the matched LRs come from the rows
    shutil.rmtree(tmp_path / "runs")
    study.main(args)
    assert not list((tmp_path / "runs").rglob("result.json"))
    assert json.loads((tmp_path / "runs" / "matched_lr.json").read_text()) == {
        "mnist-lenet5-step-50|pytorch": float(rows[2]["lr"])}
    assert read(table) == rows and out.read_text() == before


def test_the_page_needs_rows(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text(",".join(study.report.RUN_FIELDS) + "\n")
    with pytest.raises(SystemExit, match="holds no runs"):
        study.main(["--report-only", "--csv", str(tmp_path / "empty.csv"), "--out", str(tmp_path / "p.md")])


def test_a_device_outside_the_page_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        study.main(["--devices", "ecram", "--csv", str(tmp_path / "t.csv"), "--out", str(tmp_path / "t.md")])
    err = capsys.readouterr().err
    assert "argument --devices: invalid choice: 'ecram'" in err and "gokmen-vlasov" in err

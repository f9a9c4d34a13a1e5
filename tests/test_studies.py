"""``aihwkit_sc.experiments.studies``: what every study shares (its CSV of finished runs, resume by key, its page)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from aihwkit_sc.experiments.executor import Job, WorkerDied, execute
from aihwkit_sc.experiments.studies import (
    FINDINGS,
    StudyTable,
    add_study_options,
    missing,
    run_then_report,
    train_rows,
    write_page,
)
from aihwkit_sc.training import TrainConfig

FIELDS = ("device", "seed", "accuracies", "status")


def test_rows_are_appended_with_json_lists_and_a_header_once(tmp_path: Path) -> None:
    table = StudyTable(tmp_path / "s.csv", FIELDS)
    table.append([{"device": "gv", "seed": 0, "accuracies": [0.5, 0.9], "status": "complete"}])
    table.append([{"device": "gv", "seed": 1, "accuracies": [0.4], "status": "diverged"},
                  {"device": "si", "seed": 0, "accuracies": [], "status": "complete"}])
    assert table.read() == [
        {"device": "gv", "seed": "0", "accuracies": "[0.5, 0.9]", "status": "complete"},
        {"device": "gv", "seed": "1", "accuracies": "[0.4]", "status": "diverged"},
        {"device": "si", "seed": "0", "accuracies": "[]", "status": "complete"}]
    assert (tmp_path / "s.csv").read_text().count("device,seed") == 1
    assert StudyTable(tmp_path / "none.csv", FIELDS).read() == []


def test_a_line_torn_by_a_crash_is_left_out_and_ended_before_the_next_row(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    table = StudyTable(path, FIELDS, required=("device", "seed", "status"))
    table.append([{"device": "gv", "seed": 0, "accuracies": [0.9], "status": "complete"}])
    path.write_text(path.read_text() + "gv,1,\"[0.8")  # the process died mid-write
    assert [r["seed"] for r in table.read()] == ["0"]  # run 1 counts as missing
    table.append([{"device": "gv", "seed": 1, "accuracies": [0.8], "status": "complete"}])
    assert [r["seed"] for r in table.read()] == ["0", "1"]


def test_appending_keeps_the_files_line_ending(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"device,seed,accuracies,status\r\ngv,0,[],complete\r\n")  # written by csv's default writer
    StudyTable(path, FIELDS).append([{"device": "gv", "seed": 1, "accuracies": [], "status": "complete"}])
    assert path.read_bytes().endswith(b"\r\ngv,1,[],complete\r\n") and b"\r\r" not in path.read_bytes()
    new = tmp_path / "new.csv"
    StudyTable(new, FIELDS).append([{"device": "gv", "seed": 0, "accuracies": [], "status": "complete"}])
    assert new.read_bytes() == b"device,seed,accuracies,status\r\ngv,0,[],complete\r\n"


def test_a_csv_from_before_new_fields_gets_the_wider_header_and_a_foreign_one_is_refused(tmp_path: Path) -> None:
    old = StudyTable(tmp_path / "s.csv", FIELDS)
    old.append([{"device": "gv", "seed": 0, "accuracies": [0.9], "status": "complete"}])
    wider = StudyTable(tmp_path / "s.csv", (*FIELDS, "peak_pulses"), required=FIELDS)
    wider.append([{"device": "gv", "seed": 1, "accuracies": [0.8], "status": "complete", "peak_pulses": [[0.5]]}])
    assert (tmp_path / "s.csv").read_text().splitlines()[0] == "device,seed,accuracies,status,peak_pulses"
    rows = wider.read()
    assert [(r["seed"], r["peak_pulses"]) for r in rows] == [("0", None), ("1", "[[0.5]]")]  # old row: empty
    with pytest.raises(ValueError, match=r"has the columns device,seed,accuracies,status,peak_pulses, not this "):
        StudyTable(tmp_path / "s.csv", ("seed", "device")).append([{"seed": 2, "device": "gv"}])
    assert len(wider.read()) == 2  # nothing written


def test_missing_keeps_plan_order_and_skips_what_is_done() -> None:
    plan = [("gv", 0), ("gv", 1), ("si", 0), ("si", 1)]
    assert missing(plan, {("gv", 1), ("si", 0)}, lambda run: run) == [("gv", 0), ("si", 1)]
    assert missing(plan, [], lambda run: run[0]) == plan


def test_train_rows_appends_one_row_per_run_including_one_finished_earlier_but_never_written(tmp_path: Path) -> None:
    """The shared way studies train: a run trained now is appended as it ends, and a run whose folder already holds
    its result (a crash between its end and its append) is appended from that folder, without training again."""
    configs = [TrainConfig(epochs=1, limit=64, batch_size=32, lr=0.05, seed=s) for s in (0, 7)]
    plan = [{"seed": c.seed, "config": c, "out": tmp_path / f"s{c.seed}"} for c in configs]

    def job_of(run: dict[str, Any]) -> Job:
        return Job("row", "pytorch", run["seed"], run["config"], run["out"])

    (earlier,) = execute([job_of(plan[0])], workers=1, quiet=True)  # finished, its row never written
    assert earlier is not None
    written_at = (plan[0]["out"] / "result.json").stat().st_mtime_ns
    table = StudyTable(tmp_path / "rows.csv", ("seed", "status", "accuracies"))

    def rows_of(run: dict[str, Any], record: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"seed": run["seed"], "status": record["summary"]["status"],
                 "accuracies": [m["test_accuracy"] for m in record["metrics"]]}]

    train_rows(plan, job_of, rows_of, table, workers=1, quiet=True)
    rows = table.read()
    assert [int(r["seed"]) for r in rows] == [7, 0]  # the new run as it ended, then the earlier one
    assert all(r["status"] == "complete" for r in rows)
    assert json.loads(rows[1]["accuracies"]) == [m["test_accuracy"] for m in earlier["metrics"]]
    assert (plan[0]["out"] / "result.json").stat().st_mtime_ns == written_at  # read, not trained again
    assert len(json.loads(rows[0]["accuracies"])) == 1
    with pytest.raises(ValueError, match="share a run folder"):
        train_rows(plan[:1] * 2, job_of, rows_of, table, workers=1, quiet=True)


def test_a_page_keeps_its_hand_written_findings(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    write_page(page, "# Tables v1\n", findings=True)
    assert page.read_text() == f"# Tables v1\n\n{FINDINGS}\n"
    page.write_text(page.read_text() + "Our reading: keep me.\n")
    write_page(page, "# Tables v2\n", findings=True)
    assert page.read_text() == f"# Tables v2\n\n{FINDINGS}\nOur reading: keep me.\n"
    write_page(page, "# Plain\n")
    assert page.read_text() == "# Plain\n"


def test_a_study_command_keeps_finished_rows_on_ctrl_c_and_refuses_an_empty_csv(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_study_options(parser, csv=tmp_path / "s.csv", out=tmp_path / "p.md")
    args = parser.parse_args([])
    table = StudyTable(args.csv, FIELDS)

    def run_two_then_stop() -> None:
        table.append([{"device": "gv", "seed": 0, "accuracies": [0.9], "status": "complete"}])
        raise KeyboardInterrupt

    written: list[int] = []
    with pytest.raises(SystemExit) as stopped:
        run_then_report(args, run_two_then_stop, table.read, lambda rows: f"page of {written.append(len(rows))}")
    err = capsys.readouterr().err
    assert stopped.value.code == 130 and "run the same command again to continue" in err
    assert len(table.read()) == 1  # what finished stays
    assert written == [1] and "on the page (page of None)" in err  # and the page shows it
    written.clear()

    def a_worker_dies() -> None:
        table.append([{"device": "gv", "seed": 1, "accuracies": [0.8], "status": "complete"}])
        raise WorkerDied("a sweep worker died (killed by the system: out of memory? see `dmesg`); run the same "
                         "command again")

    with pytest.raises(SystemExit) as died:
        run_then_report(args, a_worker_dies, table.read, lambda rows: f"p.md with {len(rows)} runs")
    err = capsys.readouterr().err
    assert died.value.code == 1 and len(table.read()) == 2
    assert err == ("error: a sweep worker died (killed by the system: out of memory? see `dmesg`); run the same "
                   "command again (the page, from the finished runs: p.md with 2 runs)\n")
    report_only = parser.parse_args(["--report-only"])
    run_then_report(report_only, lambda: pytest.fail("trained"), table.read,
                    lambda rows: str(written.append(len(rows))))
    assert written == [2] and "wrote None" in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"holds no runs; run without --report-only first"):
        run_then_report(parser.parse_args(["--report-only", "--csv", str(tmp_path / "none.csv")]), lambda: None,
                        StudyTable(tmp_path / "none.csv", FIELDS).read, lambda rows: "x")


def test_the_shared_policies_put_analog_layers_at_their_device_peak_or_leave_it_to_the_range_test() -> None:
    from aihwkit_sc.experiments.policies import DIGITAL_LR, run_spec

    assert run_spec("anneal", 2.0, digital=False) == (
        "cosine", {"lr": DIGITAL_LR, "min_lr": 0.0, "analog_lr": "device", "device_pulses": 2.0}, DIGITAL_LR)
    assert run_spec("one-cycle", 0.5, digital=False, reference="gokmen-vlasov") == (
        "one-cycle", {"max_lr": DIGITAL_LR, "analog_max_lr": "device", "device_pulses": 0.5,
                      "device_reference": "gokmen-vlasov"}, DIGITAL_LR)
    assert run_spec("multistep", 4.0, digital=True) == (
        "multistep", {"lr": 4 * DIGITAL_LR, "gamma": 0.1, "milestones": [0.5, 0.75]}, 4 * DIGITAL_LR)
    # "auto": the analog range test in pulses on analog layers, the LR range test on a digital model
    assert run_spec("constant", "auto", digital=False)[1]["device_pulses"] == "auto"
    assert run_spec("one-cycle", "auto", digital=True) == ("one-cycle", {"max_lr": "auto", "analog_max_lr": None},
                                                           DIGITAL_LR)
    with pytest.raises(ValueError, match=r"^unknown policy 'warmup': choose from constant, anneal, multistep, "
                                         r"one-cycle$"):
        run_spec("warmup", 1.0, digital=True)

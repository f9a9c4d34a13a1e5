"""Table 1 reproduction: run expansion, resume skipping finished runs, interrupted runs, table format, Ray."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from aihwkit_sc.cli import main
from aihwkit_sc.experiments import executor, report, sweep, table1
from aihwkit_sc.training import TrainingStopped, train

MNIST_ROWS = [r for r in table1.load_rows() if r.dataset == "mnist"]


def tiny_jobs(out: Path, devices: tuple[str, ...] = ("n",), seeds: int = 2) -> list[executor.Job]:
    row = next(r for r in MNIST_ROWS if r.id == "mnist-lenet5-one-cycle-12")
    return sweep.expand([row], devices, seeds, out, epochs_scale=2 / 12, dataset_override="mnist-5k",
                        batch_size=64, limit=128)


def test_expand_rows_devices_seeds(tmp_path: Path) -> None:
    jobs = sweep.expand(MNIST_ROWS, ["n", "si"], 2, tmp_path, epochs_scale=0.1, dataset_override="mnist-5k")
    assert len(jobs) == 4 * 2 * 2
    assert len({job.out_dir for job in jobs}) == len(jobs)
    assert {job.device for job in jobs} == {"pytorch", "semi-ideal"}
    step = next(j for j in jobs if j.row == "mnist-lenet5-step-50")
    assert step.config.epochs == 5 and step.config.schedule_options["step_size"] == pytest.approx(0.2)
    assert step.config.dataset == "mnist-5k" and step.config.batch_size == 512 and step.config.lr == 0.01
    clr = next(j for j in jobs if j.row == "mnist-lenet5-one-cycle-25" and j.seed == 1)
    assert clr.config.epochs == 2 and clr.config.schedule_options["pct_start"] == pytest.approx(12 / 25)
    assert clr.config.seed == 1 and clr.out_dir == tmp_path / "runs" / clr.row / clr.device / "s1"


def test_expand_errors(tmp_path: Path) -> None:
    cifar = [r for r in table1.load_rows() if r.dataset == "cifar10"]
    with pytest.raises(ValueError, match=r"row cifar10-resnet18-step-100 trains resnet18 on 3x32x32 inputs but "
                                         r"mnist-5k has 1x28x28"):
        sweep.expand(cifar, ["n"], 1, tmp_path, dataset_override="mnist-5k")
    with pytest.raises(ValueError, match="--epochs-scale must be positive"):
        sweep.expand(MNIST_ROWS, ["n"], 1, tmp_path, epochs_scale=0)
    with pytest.raises(ValueError, match="unknown preset 'gw'"):
        sweep.expand(MNIST_ROWS, ["gw"], 1, tmp_path)


def test_resume_skips_finished_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = tiny_jobs(tmp_path)
    first = executor.execute(jobs, workers=1, quiet=True)
    assert all(r is not None and r["summary"]["status"] == "complete" for r in first)
    assert all(job.result_path.is_file() for job in jobs)
    calls: list[str] = []
    real = executor.run_job

    def counting(config: dict[str, Any], out_dir: str) -> dict[str, Any]:
        calls.append(out_dir)
        return real(config, out_dir)

    monkeypatch.setattr(executor, "run_job", counting)
    again = executor.execute(jobs, workers=1, quiet=True)
    assert calls == [] and again == first
    jobs[1].result_path.unlink()
    (jobs[1].out_dir / "checkpoint.pt").unlink()
    executor.execute(jobs, workers=1, quiet=True)
    assert calls == [str(jobs[1].out_dir)]


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    (job,) = tiny_jobs(tmp_path / "cut", seeds=1)
    (reference,) = executor.execute(tiny_jobs(tmp_path / "full", seeds=1), workers=1, quiet=True)

    def stop(row: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(TrainingStopped):
        train(job.config, job.out_dir, quiet=True, on_epoch=stop)  # killed after epoch 1 of 2
    assert not job.result_path.exists() and (job.out_dir / "checkpoint.pt").is_file()
    (record,) = executor.execute([job], workers=1, quiet=True)
    assert record is not None and reference is not None
    strip = ("wall_time_s", "samples_per_s")
    assert [{k: v for k, v in m.items() if k not in strip} for m in record["metrics"]] == \
        [{k: v for k, v in m.items() if k not in strip} for m in reference["metrics"]]


def test_table_format(tmp_path: Path) -> None:
    jobs = tiny_jobs(tmp_path, devices=("n", "gv"))
    curves = {("pytorch", 0): [0.5, 0.96], ("pytorch", 1): [0.6, 0.98], ("gokmen-vlasov", 0): [0.8, 0.90],
              ("gokmen-vlasov", 1): [0.1, 0.12]}  # the last never left chance: collapsed, and still counted
    records: list[dict[str, Any] | None] = [
        {"metrics": [{"test_accuracy": a, "test_loss": 2.0 - a} for a in curves[(j.device, j.seed)]],
         "summary": {"status": "complete", "wall_time_s": 3.14159, "aihwkit_build": "seeded"}}
        if (j.device, j.seed) != ("pytorch", 1) else None for j in jobs]  # pytorch seed 1 did not finish
    rows = [r for r in MNIST_ROWS if r.id == "mnist-lenet5-one-cycle-12"]
    runs = report.run_rows(jobs, records)
    assert [(r["device"], r["seed"], r["status"]) for r in runs] == [
        ("pytorch", 0, "complete"), ("gokmen-vlasov", 0, "complete"), ("gokmen-vlasov", 1, "collapsed")]
    assert runs[0] | {"accuracies": None} == {
        "row": "mnist-lenet5-one-cycle-12", "device": "pytorch", "seed": 0, "dataset": "mnist-5k", "epochs": 2,
        "batch_size": 64, "schedule": "one-cycle", "lr": 0.1, "status": "complete", "final_accuracy": 0.96,
        "accuracies": None, "test_losses": [1.5, pytest.approx(1.04)], "build": "seeded", "wall_time_s": 3.1}
    assert tuple(runs[0]) == report.RUN_FIELDS
    table = report.table_rows(rows, ["pytorch", "gokmen-vlasov"], jobs, records)
    assert table == report.table_from_runs(rows, ["pytorch", "gokmen-vlasov"], runs)  # the same from the CSV's rows
    assert table[0]["ours_mean"] == pytest.approx(96.0) and table[0]["runs"] == 1 and table[0]["ours_std"] == 0.0
    assert table[1]["ours_mean"] == pytest.approx(51.0) and table[1]["ours_std"] == pytest.approx(55.1543, rel=1e-4)
    assert table[1]["runs"] == 2 and table[1]["collapsed"] == 1
    assert table[0]["difference"] == pytest.approx(96.0 - 98.59)
    text = report.markdown(table)
    assert "| mnist-lenet5-one-cycle-12 | mnist-5k | lenet5 | CLR/0.01-0.1/5 | 0.95-0.85/5 | 0.0005 | 64 | 2 (12) |" \
        in text
    assert "| pytorch | 96.00 ± 0.00 | 1 | 98.59 ± 0.03 | -2.59 |" in text
    assert "| gokmen-vlasov | 51.00 ± 55.15, 1 collapsed | 2 | 90.07 ± 1.11 | -39.07 |" in text
    csv_text = report.to_csv(table)
    assert csv_text.splitlines()[0].startswith("row,dataset,model,setting,momentum,weight_decay,batch,epochs")
    assert len(csv_text.splitlines()) == 3


@pytest.mark.slow
def test_ray_backend_on_a_local_instance(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    jobs = tiny_jobs(tmp_path)
    records = executor.execute(jobs, backend="ray", workers=2, quiet=True)
    assert all(r is not None and r["summary"]["status"] == "complete" for r in records)
    assert all(json.loads(job.result_path.read_text())["config"]["seed"] == job.seed for job in jobs)


def test_unknown_backend(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown backend 'dask': choose 'local' or 'ray'"):
        executor.execute(tiny_jobs(tmp_path), backend="dask", quiet=True)


@pytest.mark.slow
def test_reproduce_cli_tiny(tmp_path: Path) -> None:
    out = tmp_path / "t1"
    args = ["reproduce", "table1", "--rows", "mnist-lenet5-step-50,12", "--devices", "n,gv", "--seeds", "1",
            "--epochs-scale", "0.04", "--dataset-override", "mnist-5k", "--batch-size", "64", "--limit", "128",
            "--workers", "1", "--matched-step-lr", "--out", str(out), "--quiet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "6/6 runs finished" in result.output
    table = (out / "table1.md").read_text()
    assert "mnist-lenet5-step-50-matched-lr" in table and "step/range-test/0.94/2" in table
    assert (out / "table1.csv").is_file() and (out / "fig2-mnist-lenet5-step-50.png").is_file()
    assert (out / "fig4-5-mnist-lenet5-one-cycle-25.png").is_file()
    assert len((out / "table1-runs.csv").read_text().splitlines()) == 1 + 6  # one row per finished run
    lrs = json.loads((out / "matched_lr.json").read_text())
    assert set(lrs) == {"mnist-lenet5-step-50|pytorch", "mnist-lenet5-step-50|gokmen-vlasov"}
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "6/6 runs finished" in again.output


def test_a_sweep_run_uses_one_thread_per_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker of a sweep limits OpenBLAS (aihwkit's matrix-vector products) and OpenMP to one thread, as torch:
    with OpenBLAS's default pool, 2 workers on 2 cores lost 1.7x of their throughput to spinning threads."""
    limited: list[bool] = []
    monkeypatch.setattr(executor, "one_thread_per_library",  # returns the limiter an in-process run hands back
                        lambda: limited.append(True) or SimpleNamespace(restore_original_limits=lambda: None))
    executor.execute(tiny_jobs(tmp_path, seeds=1), workers=1, quiet=True)
    assert limited == [True]
    probe = ("import threadpoolctl, aihwkit.simulator.rpu_base\n"
             "from aihwkit_sc.experiments.executor import one_thread_per_library\n"
             "before = {i['internal_api']: i['num_threads'] for i in threadpoolctl.threadpool_info()}\n"
             "one_thread_per_library()\n"
             "after = {i['internal_api']: i['num_threads'] for i in threadpoolctl.threadpool_info()}\n"
             "print(before.get('openblas'), after)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")})
    before, after = out.stdout.split(" ", 1)
    assert ast.literal_eval(after) == {"openblas": 1, "openmp": 1}
    assert int(before) == os.cpu_count()  # the default it replaces: one thread per core

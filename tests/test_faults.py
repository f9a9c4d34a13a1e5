"""Runs and sweeps under faults: Ctrl-C, SIGTERM and kill -9 at any point, corrupt or missing files,
unwritable folders, two processes on one folder. Each test injects the real fault (a signal, a truncated file, a
folder where a file must go) and checks that nothing finished is lost and a re-run ends where an uninterrupted run
would."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch

from aihwkit_sc import rundir, training
from aihwkit_sc.experiments import executor, sweep, table1
from aihwkit_sc.rundir import CheckpointError, UnreadableCheckpoint
from aihwkit_sc.training import TrainConfig, TrainingStopped, train

TIMING = {"wall_time_s", "samples_per_s"}


def comparable(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k not in TIMING} for m in metrics]


def tiny(**kwargs: Any) -> TrainConfig:  # epochs=1: the conftest's FINISHED_RUN
    defaults: dict[str, Any] = {"epochs": 4, "limit": 256, "batch_size": 32, "lr": 0.05}
    return TrainConfig(**(defaults | kwargs))


def stop_at(epoch: int) -> Any:
    def callback(row: dict[str, Any]) -> None:
        if row["epoch"] == epoch:
            raise KeyboardInterrupt

    return callback


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- one run ------------------------------------------------------------------------------------------------------
def test_resume_any_number_of_times(tmp_path: Path) -> None:
    """Defect 1: the second --resume was refused because the first stored the filled-in one-cycle max_lr."""
    config = tiny(schedule="one-cycle")  # max_lr: the optimizer's LR
    full = train(config, tmp_path / "full", quiet=True).metrics
    out = tmp_path / "cut"
    for stop in (1, 2, 3):
        with pytest.raises(TrainingStopped, match="interrupted"):
            train(config, out, resume=stop > 1, quiet=True, on_epoch=stop_at(stop))
        saved = torch.load(out / "checkpoint.pt", weights_only=False)
        assert saved["config"] == training.canonical(config).to_json()
        assert saved["epoch"] == stop and saved["scheduler"]["peak_lrs"] == [0.05]
    resumed = train(config, out, resume=True, quiet=True).metrics
    assert comparable(resumed) == comparable(full)
    assert comparable(lines(out / "metrics.jsonl")) == comparable(full)


def test_no_silent_overwrite(tmp_path: Path) -> None:
    """Defect 2: a second run into the same folder replaced the first without a word."""
    first = train(tiny(epochs=2), tmp_path, quiet=True)
    before = {name: (tmp_path / name).read_bytes() for name in ("metrics.jsonl", "summary.json", "checkpoint.pt")}
    with pytest.raises(rundir.RunDirectoryError, match=r"already holds a run \(checkpoint.pt, metrics.jsonl, "
                                                       r"summary.json\); --resume continues it, --overwrite"):
        train(tiny(epochs=1, seed=5), tmp_path, quiet=True)
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    replaced = train(tiny(epochs=1, seed=5), tmp_path, overwrite=True, quiet=True)
    assert lines(tmp_path / "metrics.jsonl") == replaced.metrics != first.metrics
    assert json.loads((tmp_path / "summary.json").read_text())["epochs_done"] == 1


@pytest.mark.parametrize("damage", ["garbage-line", "deleted", "doubled-epoch"])
def test_metrics_rebuilt_from_checkpoint_on_resume(tmp_path: Path, damage: str) -> None:
    """Defect 5: a torn, missing or doubled metrics line stayed after resume."""
    config = tiny(epochs=3)
    full = train(config, tmp_path / "full", quiet=True).metrics
    out = tmp_path / "cut"
    with pytest.raises(TrainingStopped):
        train(config, out, quiet=True, on_epoch=stop_at(2))
    metrics = out / "metrics.jsonl"
    if damage == "garbage-line":
        metrics.write_text(metrics.read_text() + '{"epoch": 3, "train_lo')
    elif damage == "deleted":
        metrics.unlink()
    else:  # a checkpoint save that failed after the metrics line was written, then resumed
        metrics.write_text(metrics.read_text() + metrics.read_text().splitlines()[-1] + "\n")
    train(config, out, resume=True, quiet=True)
    assert comparable(lines(metrics)) == comparable(full)


def test_the_shared_finished_run_is_the_tiny_run_these_tests_would_train(finished_run: Path) -> None:
    expected = json.loads(json.dumps(training.canonical(tiny(epochs=1)).to_json()))
    assert json.loads((finished_run / "config.json").read_text()) == expected
    assert json.loads((finished_run / "summary.json").read_text())["status"] == "complete"


@pytest.mark.parametrize("content", [b"", os.urandom(4096), b"PK\x03\x04 truncated zip"])
def test_unreadable_checkpoint_is_one_line(finished_run: Path, content: bytes) -> None:
    """Defect 7: random bytes gave an UnpicklingError traceback, an empty file only 'Aborted!'."""
    tmp_path = finished_run  # tiny(epochs=1), trained once per session
    (tmp_path / "checkpoint.pt").write_bytes(content)
    with pytest.raises(UnreadableCheckpoint) as info:
        train(tiny(epochs=1), tmp_path, resume=True, quiet=True)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'checkpoint.pt'} is not a readable checkpoint (")
    assert message.endswith("delete it (or the run folder) to start the run again")


def test_checkpoint_of_another_kind_is_named(finished_run: Path) -> None:
    tmp_path = finished_run  # tiny(epochs=1), trained once per session
    torch.save({"weights": torch.zeros(2)}, tmp_path / "checkpoint.pt")
    with pytest.raises(UnreadableCheckpoint, match=r"is not an aihwkit-sc checkpoint \(it lacks config, epoch, "
                                                   r"metrics, schedule_options, model\)"):
        train(tiny(epochs=1), tmp_path, resume=True, quiet=True)


def test_resume_names_the_options_that_differ(finished_run: Path) -> None:
    tmp_path = finished_run  # tiny(epochs=1), trained once per session
    with pytest.raises(CheckpointError, match=r"different configuration \(epochs, seed differ\)"):
        train(tiny(epochs=2, seed=3), tmp_path, resume=True, quiet=True)


def test_output_folder_that_cannot_be_made(tmp_path: Path) -> None:
    """Defect 7: an unusable --out parent gave a PermissionError traceback (here: the parent is a file)."""
    (tmp_path / "file").write_text("")
    with pytest.raises(rundir.RunDirectoryError, match=r"cannot create output directory .*file/run: Not a "
                                                       r"directory; choose a writable --out"):
        train(tiny(epochs=1), tmp_path / "file" / "run", quiet=True)


def test_folder_unwritable_mid_run_stops_with_one_line(tmp_path: Path) -> None:
    """Defect 7: a checkpoint that cannot be written mid-run gave torch's inline_container.cc text and no summary.
    The fault: after epoch 1 the temporary checkpoint's name is taken by a folder (as root, chmod cannot stop us)."""

    def block(row: dict[str, Any]) -> None:
        (tmp_path / "checkpoint.pt.tmp").mkdir()

    with pytest.raises(TrainingStopped, match=r"^cannot save epoch 2 in .*; 1 finished epoch\(s\) kept in") as info:
        train(tiny(epochs=3), tmp_path, quiet=True, on_epoch=block)
    assert "\n" not in str(info.value) and "inline_container" not in str(info.value)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["epochs_done"] == 1
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["epoch"] == 1
    assert len(lines(tmp_path / "metrics.jsonl")) == 1


def test_sigterm_writes_the_summary(tmp_path: Path) -> None:
    """Defect 9: SIGTERM left no summary.json."""

    def terminate(row: dict[str, Any]) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingStopped, match=r"terminated \(SIGTERM\); 1 finished epoch\(s\) kept"):
        train(tiny(epochs=3), tmp_path, quiet=True, on_epoch=terminate)
    assert signal.getsignal(signal.SIGTERM) is previous
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "interrupted"
    assert train(tiny(epochs=3), tmp_path, resume=True, quiet=True).summary["epochs_done"] == 3


def test_ctrl_c_during_set_up_leaves_a_summary_and_a_fresh_start(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop while the run is being set up (data, model, range test) ended it without a summary.json; a Ctrl-C to
    a sweep's process group can land there (seen in CI). The same command must then simply start again."""
    real_run = training.Run

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "Run", interrupted)
    with pytest.raises(TrainingStopped, match=r"interrupted by the user \(Ctrl-C\); 0 finished epoch"):
        train(tiny(epochs=2), tmp_path, quiet=True)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["status"], summary["epochs_done"], summary["schedule_options"]) == ("interrupted", 0, None)
    assert not (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "metrics.jsonl").exists()
    assert rundir.existing_run(tmp_path) == []  # nothing to lose: no --overwrite needed
    monkeypatch.setattr(training, "Run", real_run)
    assert train(tiny(epochs=2), tmp_path, quiet=True).summary["epochs_done"] == 2
    assert rundir.existing_run(tmp_path) == ["checkpoint.pt", "metrics.jsonl", "summary.json"]


def test_ctrl_c_before_set_up_leaves_a_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C to a sweep's process group can land after the run folder is locked and before set-up starts (seen
    in CI: a run folder with neither a result nor a summary). It must say how the run ended there too."""
    def interrupted(out: Path) -> list[str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "existing_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(epochs=2), tmp_path, quiet=True)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["status"], summary["epochs_done"]) == ("interrupted", 0)
    monkeypatch.undo()
    assert rundir.existing_run(tmp_path) == []  # nothing to lose: the same command starts again
    assert train(tiny(epochs=1), tmp_path, quiet=True).summary["epochs_done"] == 1


def test_bad_option_touches_nothing_in_the_run_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown"):
        train(tiny(preset="no-such-device"), tmp_path, quiet=True)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []


def test_second_ctrl_c_while_the_summary_is_written_cannot_tear_it(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep's worker gets Ctrl-C from the terminal and again from its watchdog a moment later; the second one
    used to land while the summary was written, and the run ended with no summary.json (seen in CI)."""
    real_write = rundir.atomic_write_text

    def write(path: Path, text: str) -> None:
        if path.name == "summary.json":
            os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, delivered right here
        real_write(path, text)

    monkeypatch.setattr(rundir, "atomic_write_text", write)
    # Python's own Ctrl-C handler, whatever this process inherited (started with `&`, SIGINT comes in ignored)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(TrainingStopped, match=r"interrupted by the user \(Ctrl-C\); 1 finished epoch"):
            train(tiny(epochs=3), tmp_path, quiet=True, on_epoch=stop_at(1))
        assert json.loads((tmp_path / "summary.json").read_text())["status"] == "interrupted"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back after the summary
        # a Ctrl-C while a finished run writes its summary: the summary is kept, then the stop goes to the caller
        with pytest.raises(KeyboardInterrupt):
            train(tiny(epochs=1), tmp_path / "done", quiet=True)
        assert json.loads((tmp_path / "done" / "summary.json").read_text())["status"] == "complete"
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_ctrl_c_during_checkpoint_save_leaves_no_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 9: checkpoint.pt.tmp was left after a Ctrl-C."""
    real_write = Path.write_bytes
    calls = []

    def write_bytes(path: Path, data: Any) -> int:
        if path.name == "checkpoint.pt.tmp":
            calls.append(path)
            if len(calls) == 2:  # epoch 2: half a file, then Ctrl-C
                real_write(path, bytes(data)[:100])
                raise KeyboardInterrupt
        return real_write(path, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    with pytest.raises(TrainingStopped, match="interrupted"):
        train(tiny(epochs=3), tmp_path, quiet=True)
    assert len(calls) == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["epoch"] == 1
    monkeypatch.setattr(Path, "write_bytes", real_write)
    assert [m["epoch"] for m in train(tiny(epochs=3), tmp_path, resume=True, quiet=True).metrics] == [1, 2, 3]


def test_alias_and_canonical_name_are_one_run(tmp_path: Path) -> None:
    """Defect 9: train stored the alias ('n'), so resuming with the canonical name was refused."""
    with pytest.raises(TrainingStopped):
        train(tiny(preset="n", schedule="clr", epochs=2), tmp_path, quiet=True, on_epoch=stop_at(1))
    assert json.loads((tmp_path / "config.json").read_text())["preset"] == "pytorch"
    result = train(tiny(preset="pytorch", schedule="one-cycle", epochs=2), tmp_path, resume=True, quiet=True)
    assert [m["epoch"] for m in result.metrics] == [1, 2]


def test_two_processes_never_share_a_run_folder(tmp_path: Path) -> None:
    # another holder of the lock (flock is per open file, so this process counts)
    with rundir.locked(tmp_path), pytest.raises(rundir.RunDirectoryError,
                                                match=rf"is in use by another run \(pid {os.getpid()}\)"):
        train(tiny(epochs=1), tmp_path, quiet=True)
    assert not (tmp_path / "metrics.jsonl").exists()
    assert train(tiny(epochs=1), tmp_path, quiet=True).summary["status"] == "complete"  # released


# -- sweeps -------------------------------------------------------------------------------------------------------
def sweep_jobs(out: Path, seeds: int = 3) -> list[executor.Job]:
    row = next(r for r in table1.load_rows() if r.id == "mnist-lenet5-one-cycle-12")
    return sweep.expand([row], ["n"], seeds, out, epochs_scale=3 / 12, dataset_override="mnist-5k",
                        batch_size=64, limit=128)


class EpochSpy:
    """Wraps the training loop's epoch: records each finished (seed, epoch) and raises Ctrl-C at chosen calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, interrupt_at: tuple[int, ...] = ()) -> None:
        self.calls = 0
        self.finished: list[tuple[int, int]] = []
        self.interrupt_at = set(interrupt_at)
        real = training.train_epoch

        def epoch(run: training.Run, index: int, *args: Any) -> dict[str, Any]:
            self.calls += 1
            if self.calls in self.interrupt_at:
                raise KeyboardInterrupt
            row = real(run, index, *args)
            self.finished.append((run.config.seed, index + 1))
            return row

        monkeypatch.setattr(training, "train_epoch", epoch)


def test_sweep_interrupted_twice_inside_one_run_finishes_untouched(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 3 and the issue's 'done when': Ctrl-C stops the whole sweep (it used to stop only the current run);
    interrupted twice inside the same run (seed 1: in epoch 2, then in epoch 3), the re-run finishes it, every finished
    run's files stay byte for byte, no epoch is trained twice, and the records equal an uninterrupted sweep's."""
    reference = executor.execute(sweep_jobs(tmp_path / "ref"), workers=1, quiet=True)
    jobs = sweep_jobs(tmp_path / "cut")
    spy = EpochSpy(monkeypatch, interrupt_at=(5, 6))  # calls 1-3: seed 0; 4: seed 1 epoch 1; 5: its epoch 2
    with pytest.raises(executor.SweepInterrupted, match=r"interrupted: 1 of 3 runs finished .*run the same command"):
        executor.execute(jobs, workers=1, quiet=True)
    assert spy.finished == [(0, 1), (0, 2), (0, 3), (1, 1)]  # seed 2 never started
    kept = {p: p.read_bytes() for p in jobs[0].out_dir.iterdir()}
    with pytest.raises(executor.SweepInterrupted, match="1 of 3 runs finished"):
        executor.execute(jobs, workers=1, quiet=True)  # call 6: seed 1 again, interrupted at the start of epoch 2
    assert torch.load(jobs[1].out_dir / "checkpoint.pt", weights_only=False)["epoch"] == 1
    records = executor.execute(jobs, workers=1, quiet=True)
    assert {p: p.read_bytes() for p in jobs[0].out_dir.iterdir()} == kept
    assert sorted(Counter(spy.finished).values()) == [1] * 9  # every (run, epoch) trained exactly once
    assert all(r is not None for r in records)
    for got, want in zip(records, reference, strict=True):
        assert got is not None and want is not None
        assert comparable(got["metrics"]) == comparable(want["metrics"])
    assert not list(tmp_path.glob("cut/**/*.tmp"))


def test_corrupt_result_is_named_and_the_run_finished_from_its_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Defect 4: one truncated or empty result.json blocked the whole sweep with a traceback naming no file."""
    jobs = sweep_jobs(tmp_path, seeds=3)
    first = executor.execute(jobs, workers=1, quiet=True)
    text = jobs[0].result_path.read_text()
    jobs[0].result_path.write_text(text[: text.index('"metrics"') + 5])  # torn inside a key
    jobs[1].result_path.write_text("{}")
    capsys.readouterr()
    spy = EpochSpy(monkeypatch)
    again = executor.execute(jobs, workers=1, quiet=True)
    err = capsys.readouterr().err.splitlines()
    assert [line.split(" cannot be read ")[0] for line in err] == [str(jobs[0].result_path),
                                                                  str(jobs[1].result_path)]
    assert "Unterminated string" in err[0] and "config, metrics or summary missing" in err[1]
    assert spy.finished == []  # both came back from their finished checkpoints, nothing retrained
    assert [comparable(r["metrics"]) for r in again if r] == [comparable(r["metrics"]) for r in first if r]
    assert json.loads(jobs[0].result_path.read_text())["summary"]["status"] == "complete"


def test_unreadable_checkpoint_in_a_sweep_is_set_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (job,) = sweep_jobs(tmp_path, seeds=1)
    with pytest.raises(TrainingStopped):
        train(job.config, job.out_dir, quiet=True, on_epoch=stop_at(2))
    (job.out_dir / "checkpoint.pt").write_bytes(b"\x00" * 100)
    spy = EpochSpy(monkeypatch)
    (record,) = executor.execute([job], workers=1, quiet=True)
    assert record is not None and record["summary"]["epochs_done"] == 3
    assert spy.finished == [(0, 1), (0, 2), (0, 3)]
    assert (job.out_dir / "checkpoint.pt.unreadable").read_bytes() == b"\x00" * 100
    assert "checkpoint.pt is not a readable checkpoint" in capsys.readouterr().err


def test_a_second_sweep_into_the_same_folder_stops_at_once(tmp_path: Path) -> None:
    """Defect 3: nothing stopped a re-run from sharing a running sweep's folders."""
    jobs = sweep_jobs(tmp_path / "s")
    root = tmp_path / "s" / "runs" / jobs[0].row / "pytorch"
    with rundir.locked(root, what="sweep", name=executor.SWEEP_LOCK), \
            pytest.raises(rundir.RunDirectoryError, match=r"in use by another sweep \(pid \d+\)"):
        executor.execute(jobs, workers=1, quiet=True)
    assert not jobs[0].out_dir.exists()


# -- the command line -----------------------------------------------------------------------------------------------
def test_cli_refuses_overwrite_and_unreadable_checkpoints_in_one_line(tmp_path: Path) -> None:
    """Defects 2 and 7 as a user meets them: exit 2 and one line, and nothing of the first run lost."""
    from click.testing import CliRunner

    from aihwkit_sc.cli import main

    out = str(tmp_path / "run")
    base = ["train", "--limit", "256", "--batch-size", "64", "-q", "--out", out]
    assert CliRunner().invoke(main, [*base, "--epochs", "2"]).exit_code == 0
    first = (tmp_path / "run" / "metrics.jsonl").read_text()
    again = CliRunner().invoke(main, [*base, "--epochs", "1", "--seed", "5"])
    assert again.exit_code == 2 and (tmp_path / "run" / "metrics.jsonl").read_text() == first
    assert again.output.strip().splitlines()[-1] == (
        f"Error: {out} already holds a run (checkpoint.pt, metrics.jsonl, summary.json); --resume continues it, "
        "--overwrite replaces it, or choose another --out")
    both = CliRunner().invoke(main, [*base, "--resume", "--overwrite"])
    assert both.exit_code == 2 and "give one of them" in both.output
    replaced = CliRunner().invoke(main, [*base, "--epochs", "1", "--seed", "5", "--overwrite"])
    assert replaced.exit_code == 0 and len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 1
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"")
    broken = CliRunner().invoke(main, [*base, "--epochs", "1", "--seed", "5", "--resume"])
    assert broken.exit_code == 2 and "Traceback" not in broken.output and "Aborted" not in broken.output
    assert "checkpoint.pt is not a readable checkpoint" in broken.output.strip().splitlines()[-1]


def test_library_rejects_run_supplied_schedule_options_in_one_line(tmp_path: Path) -> None:
    """Defect 7 through the library (and so through sweeps): epochs inside the schedule options was a TypeError."""
    with pytest.raises(ValueError, match=r"schedule 'step' option epochs cannot be set here: the run passes it"):
        train(tiny(schedule="step", schedule_options={"epochs": 3}), tmp_path, quiet=True)
    assert not (tmp_path / "metrics.jsonl").exists()


# -- trust, round two (issue 19) ----------------------------------------------------------------------------------
def analog_optimizer() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """A two-tile Gokmen-Vlasov model with a digital layer between, its AnalogSGD regrouped."""
    from aihwkit.nn import AnalogLinear, AnalogSequential

    from aihwkit_sc import presets, zoo

    torch.manual_seed(0)
    config = presets.get("gv").rpu_config()
    model = AnalogSequential(AnalogLinear(4, 6, rpu_config=config), torch.nn.ReLU(), torch.nn.Linear(6, 5),
                             AnalogLinear(5, 3, rpu_config=config))
    return model, zoo.make_optimizer(model, lr=0.05, momentum=0.9)


def schedule_cases() -> list[Any]:
    """Every registered schedule at its defaults, plus the options that reach the end differently."""
    from aihwkit_sc import schedules

    cases = [pytest.param(name, {}, id=name) for name in schedules.names()]
    cases += [pytest.param("one-cycle", {"anneal_strategy": "linear"}, id="one-cycle-linear"),
              pytest.param("one-cycle", {"anneal_strategy": "linear", "three_phase": True}, id="one-cycle-3-phase"),
              pytest.param("one-cycle", {"analog_max_lr": "device", "xd_product": 0.5}, id="one-cycle-device"),
              pytest.param("cosine", {"min_lr": 0.0, "analog_lr": "device", "xd_product": 0.5}, id="cosine-to-0"),
              pytest.param("triangular", {"mode": "triangular2"}, id="triangular2")]
    return cases


@pytest.mark.parametrize(("name", "opts"), schedule_cases())
def test_every_schedule_to_and_past_its_end_gives_tiles_positive_lrs(name: str, opts: dict[str, Any]) -> None:
    """Item 1: at step == total_steps torch's linear one-cycle extrapolated below zero and the tile refused it, so a
    run's last epoch was lost. Every schedule, stepped with real pulsed updates to its end and beyond, keeps every
    tile's LR positive and finite and holds the final step's LR (a new schedule is covered by registering it)."""
    from aihwkit_sc import schedules
    from aihwkit_sc.plugins import registry
    from aihwkit_sc.schedules.analog import analog_tiles_by_group

    model, opt = analog_optimizer()
    steps_per_epoch, epochs = 5, 2
    sched = schedules.build(name, opt, epochs=epochs, steps_per_epoch=steps_per_epoch, **opts)
    # the built-ins know their end; a plugin's schedule holds its final LR when it sets end_step too
    ends = getattr(sched, "end_step", None) is not None
    assert ends or registry("schedule").entry(name).plugin != "aihwkit_sc.default_plugins.schedules"
    pairs = analog_tiles_by_group(opt)
    assert pairs, "the model has analog groups"
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    history = []
    for step in range(epochs * steps_per_epoch + 4):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()  # aihwkit pushes the group LR into the tiles here (and refuses a negative one)
        if step >= epochs * steps_per_epoch:
            with pytest.warns(RuntimeWarning, match="stepped past its 10 total steps") if step == 10 and ends \
                    else warnings.catch_warnings():
                sched.step()
        else:
            sched.step()
        for index, tiles in pairs:
            for tile in tiles:
                lr = tile.get_learning_rate()
                assert math.isfinite(lr) and lr > 0, (step, index, lr)
                assert lr == pytest.approx(opt.param_groups[index]["lr"], rel=1e-6)
        history.append([g["lr"] for g in opt.param_groups])
    final = history[epochs * steps_per_epoch - 2]  # the LR after 9 steps: what step 9 of 0..9 trained with
    for after in history[epochs * steps_per_epoch - 1:] if ends else []:
        assert after == final  # held at and past the end
    assert all(math.isfinite(lr) and lr > 0 for lr in final)


def test_linear_one_cycle_on_an_analog_run_finishes(tmp_path: Path) -> None:
    """Item 1 as the user met it: `train --preset gv --epochs 2 -O anneal_strategy=linear` exited 2 at the last
    step, threw the last epoch away and could never be resumed."""
    config = tiny(preset="gv", epochs=2, schedule="one-cycle", schedule_options={"anneal_strategy": "linear"})
    result = train(config, tmp_path, quiet=True)
    assert result.summary["status"] == "complete" and result.summary["epochs_done"] == 2
    last = lines(tmp_path / "metrics.jsonl")[-1]
    assert last["lr_end"] == pytest.approx(0.05 / 25 / 1e4)  # the final LR, held
    assert all(0 < lr < 1e-4 for lr in last["tile_lr_end"])


def test_past_the_end_holds_the_final_lr_not_the_extrapolated_one(tmp_path: Path) -> None:
    """Item 3: with total_steps=100, stepping on held 5e-5 (torch's value at step 100) while the final LR is 4e-7,
    and the last metrics row recorded the held value as lr_end."""
    from aihwkit_sc.schedules import AnalogOneCycleLR

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    sched = AnalogOneCycleLR(opt, max_lr=0.1, total_steps=100)
    for _ in range(99):
        opt.step()
        sched.step()
    final = opt.param_groups[0]["lr"]
    assert final == pytest.approx(0.1 / 25 / 1e4)
    opt.step()
    sched.step()  # step 100: the run's step after its last batch
    opt.step()
    with pytest.warns(RuntimeWarning, match="holding the final LR"):
        sched.step()
    for _ in range(4):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == final and sched.get_last_lr() == [final]
    result = train(tiny(epochs=2), tmp_path, quiet=True)
    assert result.metrics[-1]["lr_end"] == pytest.approx(0.05 / 25 / 1e4)


class UnusedParameter(torch.nn.Module):
    """LeNet-5 with a parameter the forward never reads: it can overflow while every loss stays finite."""

    def __init__(self) -> None:
        super().__init__()
        from aihwkit_sc.zoo.lenet5 import lenet5

        self.net = lenet5()
        self.spare = torch.nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def test_non_finite_weights_with_a_finite_loss_are_diverged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            fresh_host: Any) -> None:
    """Item 2: `-O max_lr=1e30` ended "complete" with loss 6e30. Such an LR is refused now; a run whose weights
    still overflow is diverged, whatever its loss says."""
    from aihwkit_sc.plugins import registry

    registry("model").register("spare-lenet5", UnusedParameter, plugin="test")
    original = torch.optim.SGD.step

    def overflow(self: torch.optim.SGD, closure: Any = None) -> Any:
        out = original(self, closure)
        for param in self.param_groups[0]["params"]:
            if param.grad is None:  # the spare one: no loss ever reads it
                param.data.fill_(math.inf)
        return out

    monkeypatch.setattr(torch.optim.SGD, "step", overflow)
    with pytest.raises(TrainingStopped, match="became non-finite in epoch 1"):
        train(tiny(model="spare-lenet5", epochs=2), tmp_path, quiet=True)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["epochs_done"] == 0


def test_a_stop_during_epoch_1_does_not_block_the_same_command(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 7: interrupted before the first checkpoint, the folder kept an empty metrics.jsonl; the same command then
    said "already holds a run" and --resume said "no checkpoint.pt". Nothing was finished, so both start over."""
    config = tiny(epochs=2)
    real = training.train_epoch
    monkeypatch.setattr(training, "train_epoch", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    for resume in (False, True):
        with pytest.raises(TrainingStopped, match="interrupted"):
            train(config, tmp_path, resume=resume, quiet=True)
        assert (tmp_path / "metrics.jsonl").read_text() == "" and not (tmp_path / "checkpoint.pt").exists()
        assert json.loads((tmp_path / "summary.json").read_text())["epochs_done"] == 0
    monkeypatch.setattr(training, "train_epoch", real)
    assert train(config, tmp_path, quiet=True).summary["status"] == "complete"
    out = tmp_path / "again"
    monkeypatch.setattr(training, "train_epoch", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(TrainingStopped):
        train(config, out, quiet=True)
    monkeypatch.setattr(training, "train_epoch", real)
    assert [m["epoch"] for m in train(config, out, resume=True, quiet=True).metrics] == [1, 2]


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A 4 MiB tmpfs (a real file system that fills up); skipped where mounting is not allowed."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_is_named_and_finished_epochs_kept(small_disk: Path) -> None:
    """Item 8: a full disk said "[enforce fail at inline_container.cc:672] unexpected pos ..."."""
    out = small_disk / "run"

    def fill(row: dict[str, Any]) -> None:
        if row["epoch"] == 1:  # the disk fills up after the first checkpoint
            with open(small_disk / "filler", "wb") as f, contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()

    with pytest.raises(TrainingStopped) as stopped:
        train(tiny(epochs=3), out, quiet=True, on_epoch=fill)
    message = str(stopped.value)
    assert message.startswith(f"no space left on the device writing {out / 'checkpoint.pt'}"), message
    assert "\n" not in message and "inline_container" not in message
    assert torch.load(out / "checkpoint.pt", weights_only=False)["epoch"] == 1  # the finished epoch is kept
    assert len(lines(out / "metrics.jsonl")) == 1 and not list(out.glob("*.tmp"))
    (small_disk / "filler").unlink()
    assert [m["epoch"] for m in train(tiny(epochs=3), out, resume=True, quiet=True).metrics] == [1, 2, 3]


def test_resume_with_the_default_data_root_spelled_out(tmp_path: Path) -> None:
    """Item 10: --resume was refused when --data-root spelled out the default path."""
    from aihwkit_sc import data

    with pytest.raises(TrainingStopped):
        train(tiny(epochs=2), tmp_path, quiet=True, on_epoch=stop_at(1))
    spelled = tiny(epochs=2, data_root=str(data.default_root()) + "/.")
    assert [m["epoch"] for m in train(spelled, tmp_path, resume=True, quiet=True).metrics] == [1, 2]
    with pytest.raises(ValueError, match="data_root must name a folder, got ''"):
        train(tiny(data_root=""), tmp_path / "x", quiet=True)


def test_any_accepted_seed_trains_an_analog_model(tmp_path: Path) -> None:
    """Item 5: `--seed 4294967295` (or -2) on an analog preset died in pybind: the device seed must fit 32 bits."""
    for seed in (4294967295, 2**63 - 1):
        result = train(tiny(preset="gv", epochs=1, limit=64, seed=seed), quiet=True)
        assert result.summary["status"] == "complete"
    for bad in (-2, training.MAX_SEED + 1, True):
        with pytest.raises(ValueError, match=r"^seed must be an integer from 0 to 9223372036854775807"):
            tiny(seed=bad)


def test_an_in_process_sweep_hands_its_threads_back(tmp_path: Path) -> None:
    """A run in the caller's process (one worker) limited torch, OpenBLAS and OpenMP to one thread and left them so:
    the rest of the process (the test session, a notebook) then ran on one core."""
    from threadpoolctl import threadpool_info

    def threads() -> tuple[int, set[tuple[str, int]]]:  # (torch's, {(library, threads)}): the run may load more
        return torch.get_num_threads(), {(i["internal_api"], i["num_threads"]) for i in threadpool_info()}

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        before = threads()
        assert before[0] == 2
        (record,) = executor.execute(sweep_jobs(tmp_path, seeds=1), workers=1, quiet=True)
        assert record is not None and record["summary"]["status"] == "complete"
        assert threads() == before
    finally:
        torch.set_num_threads(previous)


def test_a_worker_run_gets_one_keyboard_interrupt_however_many_ctrl_c_arrive(monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst of Ctrl-C under load: the second SIGINT landed while the run was saving, in tqdm's ``__del__``, and a
    worker printed "Exception ignored ... Traceback". A run now gets one KeyboardInterrupt; later ones only mark the
    worker as stopping."""
    monkeypatch.setattr(executor, "_running", True)
    monkeypatch.setattr(executor, "_interrupted", False)
    monkeypatch.setattr(executor, "_stopping", False)
    with pytest.raises(KeyboardInterrupt):
        executor._worker_sigint(signal.SIGINT, None)
    assert executor._stopping and executor._interrupted
    executor._worker_sigint(signal.SIGINT, None)  # while it saves: nothing raised
    executor._worker_sigint(signal.SIGINT, None)
    monkeypatch.setattr(executor, "_running", False)
    executor._worker_sigint(signal.SIGINT, None)  # between runs: nothing raised either


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_ends_it_with_one_line_and_the_same_command_finishes(tmp_path: Path) -> None:
    """A pool worker killed by the system (the OOM killer sends SIGKILL) used to hang the sweep for ever: its
    parent waited in ``Event.set`` for the dead worker's ``Event.wait``. Now the sweep ends at once with
    ``WorkerDied``; runs that had finished keep their files, and the same call finishes the rest."""
    import multiprocessing
    import threading
    import time

    jobs = [executor.Job("r", "pytorch", s, TrainConfig(epochs=60, limit=1024, batch_size=64, seed=s),
                         tmp_path / f"s{s}") for s in range(3)]
    killed: list[int] = []

    def kill_a_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            workers = [p for p in multiprocessing.active_children() if "SpawnProcess" in p.name]
            if len(workers) == 2 and any((j.out_dir / "checkpoint.pt").is_file() for j in jobs):
                assert workers[0].pid is not None
                os.kill(workers[0].pid, signal.SIGKILL)
                killed.append(workers[0].pid)
                return
            time.sleep(0.2)

    ended = threading.Event()

    def guard() -> None:  # a hung sweep fails this test (as an interrupted one) instead of hanging the suite
        if not ended.wait(150):
            os.kill(os.getpid(), signal.SIGINT)

    killer = threading.Thread(target=kill_a_worker, daemon=True)
    killer.start()
    threading.Thread(target=guard, daemon=True).start()
    start = time.monotonic()
    try:
        with pytest.raises(executor.WorkerDied, match=r"a sweep worker died .*run the same command again"):
            executor.execute(jobs, workers=2, quiet=True)
    except executor.SweepInterrupted:
        pytest.fail("the sweep hung after one of its workers was killed (the guard interrupted it)")
    finally:
        ended.set()
    killer.join(5)
    assert killed, "no worker was killed: the test did not inject its fault"
    assert time.monotonic() - start < 140  # ended, not hung or waiting for the 60 epochs
    assert not multiprocessing.active_children()  # the pool's workers are gone too
    records = executor.execute(jobs, workers=1, quiet=True)
    assert all(r is not None and r["summary"]["epochs_done"] == 60 for r in records)

"""Real signals to real processes: a two-worker ``reproduce table1`` sweep stopped by Ctrl-C to its whole
process group twice, then finished; and the parent killed with ``kill -9``, after which no worker may live on."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-c", "from aihwkit_sc.cli import main; main()"]


def sweep_command(out: Path, seeds: int, limit: int, epochs_scale: float) -> list[str]:
    return [*CLI, "reproduce", "table1", "--rows", "mnist-lenet5-one-cycle-12", "--devices", "n", "--seeds",
            str(seeds), "--epochs-scale", str(epochs_scale), "--dataset-override", "mnist-5k", "--limit", str(limit),
            "--workers", "2", "-q", "--out", str(out)]


def run_dirs(out: Path) -> list[Path]:
    return sorted((out / "runs" / "mnist-lenet5-one-cycle-12" / "pytorch").glob("s*"))


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split(") ")[1].startswith("Z"))  # a zombie has exited


def group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().split(") ")[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def epochs_done(run: Path) -> int:
    path = run / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def test_ctrl_c_twice_then_finish(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    command = sweep_command(out, seeds=4, limit=1024, epochs_scale=0.25)  # 4 runs of 3 epochs
    kept: dict[Path, bytes] = {}
    for _ in range(2):
        before = sum(epochs_done(run) for run in run_dirs(out))
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        wait_for(lambda b=before: sum(epochs_done(run) for run in run_dirs(out)) > b,  # type: ignore[misc]
                 120, "an epoch to finish")
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert last_line(err).startswith("interrupted: "), err
        assert "run the same command again to continue" in err
        pgid = proc.pid
        wait_for(lambda g=pgid: not group_members(g), 30, "every worker to exit")  # type: ignore[misc]
        for run in run_dirs(out):  # finished runs stay byte for byte
            if (run / "result.json").is_file():
                kept.setdefault(run, (run / "result.json").read_bytes())
            elif {path.name for path in run.iterdir()} - {".lock"}:  # a run that had started says how it ended
                assert json.loads((run / "summary.json").read_text())["status"] in ("interrupted", "complete")
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "4/4 runs finished" in done.stdout
    for run, content in kept.items():
        assert (run / "result.json").read_bytes() == content
    for run in run_dirs(out):
        assert [m["epoch"] for m in json.loads((run / "result.json").read_text())["metrics"]] == [1, 2, 3]
        assert epochs_done(run) == 3
    assert not list(out.glob("**/*.tmp"))


def test_kill_9_of_the_parent_leaves_no_worker(tmp_path: Path) -> None:
    """Defect 3: after kill -9 of the sweep, a worker finished its run and then idled (~800 MB) forever."""
    out = tmp_path / "sweep"
    proc = subprocess.Popen(sweep_command(out, seeds=2, limit=4000, epochs_scale=2.0), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # 2 runs of 24 epochs: long
    locks = [run / ".lock" for run in (out / "runs" / "mnist-lenet5-one-cycle-12" / "pytorch" / "s0",
                                       out / "runs" / "mnist-lenet5-one-cycle-12" / "pytorch" / "s1")]
    wait_for(lambda: all(lock.is_file() and lock.read_text().strip() for lock in locks), 120, "both workers")
    workers = [int(lock.read_text()) for lock in locks]
    wait_for(lambda: all(epochs_done(lock.parent) >= 1 for lock in locks), 120, "an epoch of each run")
    assert proc.pid not in workers and all(alive(pid) for pid in workers)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    wait_for(lambda: not any(alive(pid) for pid in workers), 30, f"orphaned workers {workers} to exit")
    for lock in locks:  # each worker stopped its run the Ctrl-C way: summary written, checkpoint kept
        summary = json.loads((lock.parent / "summary.json").read_text())
        assert summary["status"] == "interrupted" and summary["epochs_done"] < 24


def test_sigterm_to_a_background_sweep_stops_its_workers(tmp_path: Path) -> None:
    """A sweep started in the background by a shell inherits SIGINT ignored, and so did its workers: SIGTERM to the
    parent then waited forever for runs that never stopped. Now the workers stop too, saved, and all exit."""
    out = tmp_path / "sweep"
    proc = subprocess.Popen(sweep_command(out, seeds=2, limit=4000, epochs_scale=2.0), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # as `cmd &` does
    runs = [out / "runs" / "mnist-lenet5-one-cycle-12" / "pytorch" / f"s{seed}" for seed in (0, 1)]
    wait_for(lambda: all(epochs_done(run) >= 1 for run in runs), 180, "an epoch of each run")
    workers = [int((run / ".lock").read_text()) for run in runs]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and last_line(err).startswith("interrupted: 0 of 2 runs"), err
    wait_for(lambda: not any(alive(pid) for pid in workers), 30, f"workers {workers} to exit")
    for run in runs:
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "interrupted" and 1 <= summary["epochs_done"] < 24


def test_a_burst_of_ctrl_c_leaves_no_orphan_and_no_traceback(tmp_path: Path) -> None:
    """Issue 19, item 4: three Ctrl-C within 0.6 s on a 2-worker sweep left a worker and multiprocessing's resource
    tracker with parent PID 1 (3 of 6 tries), with tracebacks: the parent stopped waiting for its workers at the
    second Ctrl-C, and the workers' watchdog had stopped watching the parent once the sweep stopped. Bursts at three
    moments: as the workers start, a second into training, and after a finished epoch."""
    for attempt, settle in enumerate((0.0, 1.0, None)):
        out = tmp_path / f"sweep{attempt}"
        proc = subprocess.Popen(sweep_command(out, seeds=2, limit=4000, epochs_scale=2.0), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        runs = [out / "runs" / "mnist-lenet5-one-cycle-12" / "pytorch" / f"s{seed}" for seed in (0, 1)]
        wait_for(lambda r=runs: all((run / ".lock").is_file() and (run / ".lock").read_text().strip()  # type: ignore[misc]
                                    for run in r), 120, "both workers")
        if settle is None:
            wait_for(lambda r=runs: any(epochs_done(run) >= 1 for run in r), 120, "an epoch")  # type: ignore[misc]
        else:
            time.sleep(settle)
        for _ in range(3):  # Ctrl-C, Ctrl-C, Ctrl-C: to the whole foreground group, as a terminal sends them
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            time.sleep(0.2)
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 130, err
        assert "Traceback" not in err, err
        assert last_line(err).startswith("interrupted: "), err
        wait_for(lambda g=proc.pid: not group_members(g), 30, f"every process of sweep {attempt} to exit")  # type: ignore[misc]
        for run in runs:  # each run that started says how it ended; its finished epochs are kept
            if (run / "summary.json").is_file():
                assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"


TRACKER_CLEANUP = ("resource_tracker.py", "warnings.warn('resource_tracker: ")
"""multiprocessing's resource tracker (a separate process) cleans up a semaphore whose creator was interrupted while
the pool started, and says so on stderr after the sweep's last line: Python's cleanup working, not our output."""


def last_line(err: str) -> str:
    """The sweep's last line of stderr, without the resource tracker's cleanup warning after it."""
    lines = [line for line in err.strip().splitlines()
             if not any(mark in line for mark in TRACKER_CLEANUP) and line.strip()]
    return lines[-1] if lines else ""

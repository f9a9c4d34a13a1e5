"""The one run executor: independent training runs in this process, a pool of spawned workers, or on Ray.

Every run goes through the one training loop (:func:`aihwkit_sc.training.train`) into its own directory. The demo,
the examples, Table 1 (:mod:`aihwkit_sc.experiments.sweep` expands its rows into :class:`Job` s) and the study
scripts all run through this module:

- :func:`run_all` trains ``(TrainConfig, out_dir)`` pairs and returns their records (the demo, the examples);
- :func:`execute` runs :class:`Job` s with a result file per run: when a run ends its ``result.json`` is written
  atomically, and the same call again skips the runs that have one and resumes the ones that left a checkpoint, so
  an interrupted sweep loses at most the epoch in progress of each run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aihwkit_sc import rundir
from aihwkit_sc.rundir import CHECKPOINT
from aihwkit_sc.training import TrainConfig

RESULT = "result.json"
SWEEP_LOCK = ".sweep.lock"


@dataclass(frozen=True)
class Job:
    row: str
    device: str
    seed: int
    config: TrainConfig
    out_dir: Path

    @property
    def result_path(self) -> Path:
        return self.out_dir / RESULT


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) stopped a sweep; every finished run is on disk and the same command continues it."""


class WorkerDied(RuntimeError):
    """A pool worker died mid-sweep (e.g. killed for memory); every finished run is on disk and the same command
    continues the others from their checkpoints."""


# In a pool worker (never in the process that runs the sweep): once a run was interrupted, take no further run.
_in_worker = False
_stopping = False
_running = False  # a run is training in this process
_interrupted = False  # the run in progress has been sent its one KeyboardInterrupt


def notify(message: str) -> None:
    """One line to stderr that does not break a progress bar."""
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stderr)


def run_job(config: dict[str, Any], out_dir: str | None) -> dict[str, Any]:
    """Train one run on one torch thread. With ``out_dir``: resume a checkpoint left by an interrupted sweep and
    write ``result.json`` atomically when the run completes.

    An interrupted run (Ctrl-C, SIGTERM) raises :class:`KeyboardInterrupt` after saving, so the sweep stops too; the
    process then refuses further runs. An unreadable checkpoint is set aside (``checkpoint.pt.unreadable``) with one
    line naming it, and the run trains from the start.
    """
    global _stopping, _running, _interrupted
    import torch

    from aihwkit_sc.rundir import UnreadableCheckpoint
    from aihwkit_sc.training import TrainingStopped, train

    if _stopping:
        raise KeyboardInterrupt("the sweep was interrupted")
    threads = torch.get_num_threads()
    limits = one_thread_per_library()  # first: it records the limits to restore, torch's OpenMP count among them
    torch.set_num_threads(1)
    cfg = TrainConfig(**{**config, "digital_layers": tuple(config["digital_layers"])})
    out = Path(out_dir) if out_dir else None
    _running, _interrupted = True, False
    try:
        try:
            resume = bool(out and (out / CHECKPOINT).is_file())
            # without a checkpoint nothing finished is there to lose: a killed first epoch's files are replaced
            result = train(cfg, out, resume=resume, overwrite=not resume, quiet=True)
        except UnreadableCheckpoint as exc:
            assert out is not None
            aside = out / (CHECKPOINT + ".unreadable")
            os.replace(out / CHECKPOINT, aside)
            notify(f"{exc}; moved it to {aside.name} and training the run from the start")
            result = train(cfg, out, overwrite=True, quiet=True)
    except TrainingStopped as exc:
        result = exc.result
        if result.summary["status"] == "interrupted":
            _stopping = _in_worker
            raise KeyboardInterrupt(str(exc)) from None
    finally:
        _running = False
        if not _in_worker:  # a run in the caller's process (one worker) hands its threads back
            limits.restore_original_limits()
            torch.set_num_threads(threads)
    record = {"config": json.loads(json.dumps(config)), "metrics": result.metrics, "summary": result.summary}
    if out and result.summary["status"] == "complete":
        rundir.atomic_write_json(out / RESULT, record)
    return record


def one_thread_per_library() -> Any:
    """One thread for OpenBLAS (aihwkit's analog matrix-vector products) and OpenMP in this process, as torch's;
    returns threadpoolctl's limiter.

    A sweep runs one worker per core; OpenBLAS's own pool (one thread per core by default) then spins for work the
    other worker's core is doing, which cost 2 workers on 2 cores 1.7x of their throughput
    (``benchmarks/test_bench_aihwkit_builds.py::test_threads_for_two_workers``)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)  # .restore_original_limits() undoes it


def load_result(job: Job) -> dict[str, Any] | None:
    """The finished run's record, or ``None`` when it has none for this configuration. A ``result.json`` that
    cannot be read is reported in one line and counts as unfinished (the run resumes from its checkpoint)."""
    path = job.result_path
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict) or not {"config", "metrics", "summary"} <= record.keys():
            raise ValueError("it is not a run record: config, metrics or summary missing")
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        notify(f"{path} cannot be read ({str(exc).splitlines()[0]}); the run will be finished from its checkpoint")
        return None
    wanted = json.loads(json.dumps(job.config.to_json()))  # as stored: tuples become lists
    return record if TrainConfig.upgrade(record["config"]) == wanted else None


def execute(jobs: list[Job], *, backend: str = "local", workers: int = 2, address: str | None = None,
            quiet: bool = False, on_result: Callable[[Job, dict[str, Any]], None] | None = None,
            ) -> list[dict[str, Any] | None]:
    """Run the jobs that have no result yet; return every job's record (``None`` where a run did not finish).

    ``on_result(job, record)`` is called in this process as each run ends, diverged ones included (a study appends
    its compact row).

    The jobs' common folder is locked for the sweep (a second sweep into it stops at once with one line).
    Ctrl-C or SIGTERM stops every run after saving it and raises :class:`SweepInterrupted`; run again, the sweep
    skips the finished runs and resumes the others, however often it was interrupted.
    """
    if not jobs:
        return []
    root = Path(os.path.commonpath([job.out_dir for job in jobs]))
    with rundir.locked(root, what="sweep", name=SWEEP_LOCK):
        records: list[dict[str, Any] | None] = [load_result(job) for job in jobs]
        todo = [i for i, r in enumerate(records) if r is None]
        bar = _progress(len(jobs), len(jobs) - len(todo), quiet)
        args: list[tuple[dict[str, Any], str | None]] = [(jobs[i].config.to_json(), str(jobs[i].out_dir))
                                                         for i in todo]
        gpus = 1.0 if any(job.config.torch_device == "cuda" for job in jobs) else 0.0
        try:
            with rundir.sigterm_raises(KeyboardInterrupt):
                for k, record in _backend(backend, workers, address, gpus)(args):
                    i = todo[k]
                    records[i] = record if record["summary"]["status"] == "complete" else None
                    if on_result is not None:  # diverged runs too: a study counts them, never drops them
                        on_result(jobs[i], record)
                    bar.update()
        except KeyboardInterrupt:
            done = sum(r is not None for r in records)
            raise SweepInterrupted(f"interrupted: {done} of {len(jobs)} runs finished and kept in {root}; run the "
                                   "same command again to continue") from None
        finally:
            bar.close()
    return records


def run_all(
    jobs: list[tuple[TrainConfig, Path | None]], *, workers: int = 2, quiet: bool = False
) -> list[dict[str, Any]]:
    """Train every (config, out_dir) job; records (config, metrics, summary) in job order."""
    records: list[dict[str, Any]] = [{} for _ in jobs]
    args = [(config.to_json(), str(out) if out else None) for config, out in jobs]
    with _progress(len(jobs), 0, quiet) as bar:
        for k, record in run_local(args, workers):
            records[k] = record
            bar.update()
    return records


def _progress(total: int, done: int, quiet: bool) -> Any:
    """The one progress bar of a set of runs (tqdm; off with ``quiet``)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc="runs", unit="run", disable=True if quiet else None)


def _backend(
    name: str, workers: int, address: str | None, gpus: float
) -> Callable[[list[tuple[dict[str, Any], str | None]]], Any]:
    if name == "local":
        return lambda args: run_local(args, workers)
    if name == "ray":
        return lambda args: _ray(args, workers, address, gpus)
    raise ValueError(f"unknown backend {name!r}: choose 'local' or 'ray'")


def run_local(
    args: list[tuple[dict[str, Any], str | None]], workers: int
) -> Iterable[tuple[int, dict[str, Any]]]:
    """(index, record) of every :func:`run_job` as it finishes: in this process for one worker, else in a pool of
    spawned processes.

    The workers follow the parent: when it is interrupted they stop their runs (saved) and take no new one; when it
    dies (even by ``kill -9``) they stop within a second or two and exit, so no orphan keeps training or idles. A
    worker that dies (the kernel's out-of-memory killer, ``kill -9``) ends the sweep with :class:`WorkerDied` (a
    study then rewrites its page from the finished rows): the pool stops the other workers too, and every run keeps
    its checkpoint of the last finished epoch.

    The stop signal is a lock-free shared byte the workers poll, not a ``multiprocessing.Event``: an Event's
    condition variable counts its sleepers, so a worker killed inside ``Event.wait`` left ``Event.set`` in the
    parent waiting for it for ever (a sweep hung silently after a worker was OOM-killed).
    """
    if workers <= 1:
        for k, (config, out) in enumerate(args):
            yield k, run_job(config, out)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")
    stop = context.RawValue("b", 0)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_follow_parent,
                               initargs=(os.getpid(), stop))
    try:
        futures = {pool.submit(run_job, config, out): k for k, (config, out) in enumerate(args)}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BrokenProcessPool:
            raise WorkerDied("a sweep worker died (killed by the system: out of memory? see `dmesg`); the finished "
                             "runs are kept and the others resume from their last epoch: run the same command again, "
                             "with fewer --workers if memory ran out") from None
    except BaseException:
        stop.value = 1  # workers save and stop their runs, and take no new one
        # more Ctrl-C (a terminal sends each to the workers too) must not cut this wait short: a parent gone before
        # its workers leaves them (and multiprocessing's resource tracker) orphaned; they are saving already
        with rundir.deferred_interrupts():
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _worker_sigint(signum: int, frame: Any) -> None:
    """A worker's Ctrl-C: interrupts the run in progress once (it saves and ends); a further Ctrl-C while it saves,
    or any between runs, only marks the worker as stopping, so a burst of Ctrl-C never lands in the run's clean-up
    (an object's ``__del__`` printed "Exception ignored" with a traceback) or in the pool's bookkeeping."""
    global _stopping, _interrupted
    _stopping = True
    if _running and not _interrupted:
        _interrupted = True
        raise KeyboardInterrupt


def _follow_parent(parent: int, stop: Any) -> None:
    """Worker initializer: a watchdog thread that interrupts this worker when the sweep stops, and makes it exit
    when its parent dies (even after the sweep stopped: the watch never ends while the worker lives)."""

    global _in_worker
    _in_worker = True
    # a process started in the background by a shell inherits SIGINT ignored: the watchdog's SIGINT must interrupt
    signal.signal(signal.SIGINT, _worker_sigint)

    def watch() -> None:
        global _stopping
        interrupted = False
        while True:
            time.sleep(1.0)
            stopped = bool(stop.value) and not interrupted
            parent_gone = os.getppid() != parent
            if (stopped or parent_gone) and not interrupted:
                interrupted = _stopping = True
                if _running:
                    os.kill(os.getpid(), signal.SIGINT)  # the run saves and ends as on Ctrl-C
            if parent_gone:  # nobody is left to collect a result: exit once the run has saved
                deadline = time.monotonic() + 10.0
                while _running and time.monotonic() < deadline:
                    time.sleep(0.1)
                os._exit(1)

    threading.Thread(target=watch, name="aihwkit-sc-follow-parent", daemon=True).start()


RAY_CONNECT_TIMEOUT_S = 5.0


def check_reachable(address: str, timeout: float = RAY_CONNECT_TIMEOUT_S) -> None:
    """One line (``RuntimeError``) when nothing listens at a Ray ``address`` (``host:port`` or ``ray://host:port``;
    ``auto`` and other forms are left to Ray): Ray itself retries an unreachable address for minutes."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or address == "auto":
        return
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = f"no answer in {timeout:g} s" if isinstance(exc, TimeoutError) else exc.strerror or type(exc).__name__
        raise RuntimeError(f"cannot reach a Ray cluster at {address} ({reason}); start one there ('ray start --head') "
                           "or leave out --address to run on a local Ray instance") from None


def _ray(
    args: list[tuple[dict[str, Any], str | None]], workers: int, address: str | None, gpus: float = 0.0
) -> Iterable[tuple[int, Any]]:
    """Ray's task API: one task per run (1 CPU, and 1 GPU for CUDA runs) on an existing cluster (``address``) or a
    local instance."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray backend needs Ray: pip install 'aihwkit-sc[ray]'") from None
    started = not ray.is_initialized()
    if started and address:
        check_reachable(address)
    if started:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1, num_gpus=gpus)(run_job)
        pending = {task.remote(config, out): k for k, (config, out) in enumerate(args)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
    finally:
        if started:
            ray.shutdown()

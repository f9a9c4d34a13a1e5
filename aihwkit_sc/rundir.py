"""A run directory's files on disk: atomic writes, an exclusive lock, reading a checkpoint back, and one-line errors
for what can go wrong.

Every file a run or a sweep leaves (``checkpoint.pt``, ``metrics.jsonl``, ``summary.json``, ``result.json``) is
written to ``NAME.tmp`` and renamed over ``NAME`` (``os.replace`` is atomic on POSIX), so a crash, Ctrl-C or
``kill -9`` leaves either the old or the new file, never half of one, and no ``.tmp`` after an interrupt.

The lock is ``fcntl.flock`` on ``DIR/.lock``: the kernel releases it when its holder dies, even by ``kill -9``, so a
stale lock can never block a re-run, while two live processes can never train into the same folder.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

LOCK = ".lock"
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"


class RunDirectoryError(ValueError):
    """A run directory cannot be used as asked (taken by another run or process, not writable)."""


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` then rename ``tmp`` over ``path``; on any failure (Ctrl-C included) remove ``tmp``."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def atomic_write_json(path: Path, value: Any, **kwargs: Any) -> None:
    atomic_write_text(path, json.dumps(value, **kwargs))


def write_error(exc: OSError, path: Path, doing: str) -> str:
    """One line for a failed write of ``path``: "no space left on the device writing PATH" for a full disk, else
    ``doing`` in the folder with the system's reason."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device writing {path}; {doing.replace('cannot', 'could not')} (free space and " \
               "run the same command with --resume)"
    return f"{doing} in {path.parent}: {exc.strerror or exc}"


def make_dir(path: Path, what: str = "output directory") -> None:
    """``mkdir -p`` with a one-line error naming the folder when it cannot be made or written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirectoryError(f"cannot create {what} {path}: {exc.strerror or exc}; choose a writable --out") \
            from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunDirectoryError(f"{what} {path} is not writable; choose a writable --out")


@contextlib.contextmanager
def locked(path: Path, what: str = "run", name: str = LOCK) -> Iterator[None]:
    """Hold an exclusive lock (file ``name``) on folder ``path`` (made if needed) for the ``with`` block.

    Raises :class:`RunDirectoryError` naming the holder's pid when another live process holds it.
    """
    make_dir(path)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield
        return
    lock_path = path / name
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise RunDirectoryError(
                f"{path} is in use by another {what} (pid {holder}); wait for it to end or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def sigterm_raises(exception: Callable[[], BaseException]) -> Iterator[None]:
    """For the ``with`` block, SIGTERM raises ``exception()`` (a run: its own stop; a sweep: ``KeyboardInterrupt``, so
    it stops as Ctrl-C does). Outside the main thread (where handlers cannot be set) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise exception()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupt_once() -> None:
    """From now on, in this process, the first Ctrl-C raises ``KeyboardInterrupt`` and later ones are ignored: a
    command that stops a sweep keeps waiting for its workers to save, and exits with its one line, however often the
    user presses Ctrl-C (a terminal sends each one to the workers too). For commands, which end right after; a
    process that ignores SIGINT (started in the background by a shell) keeps ignoring it."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        return
    def handler(signum: int, frame: Any) -> None:
        # ignored from now on, through the interpreter's exit too (Python resets its own handlers to the default,
        # which kills, when it finalizes, but leaves SIG_IGN alone)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[list[int]]:
    """Hold Ctrl-C and SIGTERM while a record is written (a run's summary), so a second stop cannot tear it.

    Yields the list of signals that arrived meanwhile; the caller decides what they mean once the record is safe.
    Outside the main thread (where handlers cannot be set) nothing is held.
    """
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    previous = {sig: signal.signal(sig, lambda signum, frame: held.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(sig) != signal.SIG_IGN}
    try:
        yield held
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for this run (unreadable, or written for another configuration)."""


class UnreadableCheckpoint(CheckpointError):
    """A checkpoint file that is truncated, empty or not an aihwkit-sc checkpoint."""


def read_checkpoint(path: Path, map_location: str = "cpu") -> dict[str, Any]:
    """A checkpoint written by :func:`aihwkit_sc.training.train`, or a one-line :class:`CheckpointError` saying
    what is wrong with it."""
    try:
        import torch

        state = torch.load(path, weights_only=False, map_location=map_location)
    except Exception as exc:  # truncated, empty, random bytes: pickle, zip and EOF errors alike
        detail = str(exc).splitlines()[0] if str(exc) else "empty or truncated"
        raise UnreadableCheckpoint(f"{path} is not a readable checkpoint ({type(exc).__name__}: {detail}); delete it "
                              "(or the run folder) to start the run again") from None
    missing = [k for k in ("config", "epoch", "metrics", "schedule_options", "model") if k not in state] \
        if isinstance(state, dict) else ["everything"]
    if missing:
        raise UnreadableCheckpoint(f"{path} is not an aihwkit-sc checkpoint (it lacks {', '.join(missing)}); delete it "
                              "to start the run again")
    return state


def existing_run(out: Path) -> list[str]:
    """The files of an earlier run in ``out`` that a new run would overwrite. A run stopped before it finished an
    epoch (during set-up or epoch 1: no checkpoint, no metrics line, a summary saying it was interrupted) leaves
    nothing that starting again would lose, so it counts as none."""
    found = [name for name in (CHECKPOINT, METRICS, SUMMARY) if (out / name).is_file()]
    return [] if nothing_finished(out) else found


def nothing_finished(out: Path) -> bool:
    """True when ``out`` holds only what a run stopped before its first epoch ended leaves: no checkpoint, an empty
    or missing ``metrics.jsonl`` and a summary saying it was interrupted after 0 epochs."""
    if (out / CHECKPOINT).is_file() or not (out / SUMMARY).is_file():
        return False
    try:
        if (out / METRICS).is_file() and (out / METRICS).read_text().strip():
            return False
        summary = json.loads((out / SUMMARY).read_text())
        return bool(summary.get("status") == "interrupted" and summary.get("epochs_done") == 0)
    except (OSError, ValueError, AttributeError):
        return False

"""What every study shares: its CSV of finished runs (one row appended at once per run, a line torn by a crash dropped
on reading and ended before the next append, so that run is trained again), the runs of a plan still missing from
it (resume by key), and its page (regenerated from the CSV; findings written by hand below a marker are kept).
A torn line is cut off before the next append (a torn quoted field would swallow the rows after it).

Also the one way a study trains what is missing (:func:`train_rows`: planned runs onto the executor, one row per run
appended as it ends). Used by :mod:`aihwkit_sc.experiments.plans` and the studies in ``benchmarks/``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from aihwkit_sc.experiments.executor import Job, WorkerDied, execute

T = TypeVar("T")

FINDINGS = "<!-- findings: written by hand, kept when the tables above are regenerated -->"
"""The marker below which a page's hand-written findings live; :func:`write_page` keeps what follows it."""


class StudyTable:
    """A study's CSV of finished runs.

    ``required``: the fields a complete row has (default: all of ``fields``); a row that lacks one was torn by a crash
    and is left out by :meth:`read`, so its run counts as missing. Lists and dicts are stored as JSON.
    """

    def __init__(self, path: Path, fields: Sequence[str], required: Sequence[str] | None = None) -> None:
        self.path = path
        self.fields = tuple(fields)
        self.required = tuple(required if required is not None else fields)

    def read(self) -> list[dict[str, str]]:
        """The complete rows, as strings (the study converts its own fields)."""
        if not self.path.is_file():
            return []
        rows = csv.DictReader(io.StringIO(self.path.read_text(), newline=""))
        return [row for row in rows if not any(row.get(f) in (None, "") for f in self.required)]

    def append(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append ``rows`` in one write (a header first for a new or empty file). A last line torn by a crash (every
        append is whole rows in one write, so only the last line can be torn) is cut off first: it holds no finished
        run, and a torn quoted field would otherwise swallow the rows after it. Keeps the file's line ending."""
        text = self.path.read_bytes() if self.path.is_file() else b""
        if text and not text.endswith(b"\n"):
            with open(self.path, "r+b") as f:
                f.truncate(text.rfind(b"\n") + 1)
            text = text[: text.rfind(b"\n") + 1]
        ending = "\r\n" if not text or text.split(b"\n", 1)[0].endswith(b"\r") else "\n"
        if text:
            text = self._widen(text, ending)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=self.fields, lineterminator=ending)
        if not text:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="") as f:
            f.write(out.getvalue())
            f.flush()


    def _widen(self, text: bytes, ending: str) -> bytes:
        """A CSV written before the study gained fields at the end of its row gets the new header (its rows read the
        new fields as empty); any other header mismatch is an error rather than rows under the wrong columns."""
        head, _, rest = text.partition(b"\n")
        columns = next(csv.reader([head.decode().rstrip("\r")]))
        if columns == list(self.fields):
            return text
        if list(self.fields[: len(columns)]) != columns:
            raise ValueError(f"{self.path} has the columns {','.join(columns)}, not this study's "
                             f"{','.join(self.fields)}: move it aside or pass another --csv")
        widened = (",".join(self.fields) + ending).encode() + rest
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(widened)
        os.replace(tmp, self.path)
        return widened


def missing(planned: Iterable[T], done: Iterable[Hashable], key: Callable[[T], Hashable]) -> list[T]:
    """The planned runs whose key is not among ``done`` (the keys of the rows already in the CSV), in plan order."""
    finished = set(done)
    return [run for run in planned if key(run) not in finished]


def train_rows(todo: Sequence[T], job_of: Callable[[T], Job],
               rows_of: Callable[[T, dict[str, Any]], list[dict[str, Any]]], table: StudyTable, *, workers: int,
               quiet: bool = False) -> None:
    """Train the planned runs ``todo`` on the executor and append each run's rows (``rows_of(run, record)``, one
    append per run, so a crash tears at most the last line) to ``table`` as the run ends, diverged runs included.
    A run that had finished in its folder earlier (a crash between its end and its append) is appended too.
    Ctrl-C raises :class:`~aihwkit_sc.experiments.executor.SweepInterrupted` after the finished rows are written."""
    jobs = [job_of(run) for run in todo]
    by_dir = {job.out_dir: run for job, run in zip(jobs, todo, strict=True)}
    if len(by_dir) != len(jobs):
        raise ValueError("two planned runs share a run folder; each run needs its own out_dir")
    written: set[Path] = set()

    def write(job: Job, record: dict[str, Any]) -> None:
        rows = rows_of(by_dir[job.out_dir], record)
        if rows:
            table.append(rows)
        written.add(job.out_dir)

    records = execute(jobs, workers=workers, quiet=quiet, on_result=write)
    for job, record in zip(jobs, records, strict=True):
        if record is not None and job.out_dir not in written:
            write(job, record)


def write_page(path: Path, text: str, *, findings: bool = False) -> None:
    """Write a study's page. With ``findings``, the text below :data:`FINDINGS` in the existing page (written by hand)
    is kept after the regenerated ``text``; a new page gets the marker."""
    kept = ""
    if findings:
        old = path.read_text() if path.is_file() else ""
        kept = "\n" + (old[old.index(FINDINGS):] if FINDINGS in old else FINDINGS + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + kept)


def add_study_options(parser: argparse.ArgumentParser, *, csv: Path, out: Path) -> None:
    """The options every study takes: its CSV, its page, ``--report-only`` and ``--quiet``."""
    parser.add_argument("--csv", type=Path, default=csv, help="the study's CSV of finished runs")
    parser.add_argument("--out", type=Path, default=out, help="the study's page")
    parser.add_argument("--report-only", action="store_true", help="rewrite the page from the CSV, train nothing")
    parser.add_argument("--quiet", action="store_true")


def run_then_report(args: argparse.Namespace, run_missing: Callable[[], None],
                    rows: Callable[[], list[dict[str, Any]]], write: Callable[[list[dict[str, Any]]], str]) -> None:
    """A study's command: train the missing runs (unless ``--report-only``; Ctrl-C or SIGTERM, or a worker killed by
    the system, keeps the finished rows, rewrites the page from them and says how to continue), then rewrite the page
    from the CSV alone (``write(rows)`` returns what it wrote)."""
    if not args.report_only:
        try:
            run_missing()
        except KeyboardInterrupt:  # the executor's SweepInterrupted too
            so_far = rows()
            shown = f" and on the page ({write(so_far)})" if so_far else ""
            print(f"interrupted: the finished runs are in the CSV{shown}; run the same command again to continue",
                  file=sys.stderr)
            raise SystemExit(130) from None
        except WorkerDied as exc:  # the finished rows are in the CSV; the page is rewritten from them
            so_far = rows()
            shown = f" (the page, from the finished runs: {write(so_far)})" if so_far else ""
            print(f"error: {exc}{shown}", file=sys.stderr)
            raise SystemExit(1) from None
    table = rows()
    if not table:
        raise SystemExit(f"error: {args.csv} holds no runs; run without --report-only first")
    wrote = write(table)
    if not args.quiet:
        print(f"wrote {wrote}", file=sys.stderr)

"""Benchmarks measure ratios against a baseline timed in the same run (the machine is shared and noisy)."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aihwkit_sc.experiments.tables import markdown_table

RATIOS: dict[str, str] = {}


def interleaved_ratio(candidate: Callable[[], object], baseline: Callable[[], object], *, rounds: int = 25,
                      inner: int = 20) -> tuple[float, float, float]:
    """Median time per call of candidate and baseline, timed in alternating rounds, and their ratio."""
    times_c, times_b = [], []
    for _ in range(rounds):
        for fn, times in ((candidate, times_c), (baseline, times_b)):
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            times.append((time.perf_counter() - start) / inner)
    c, b = statistics.median(times_c), statistics.median(times_b)
    return c, b, c / b


def record(name: str, text: str) -> None:
    RATIOS[name] = text


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--ratios-page", default=None,
                     help="write the ratios of this run to this Markdown page (make bench: docs/results/benchmarks.md)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if not RATIOS:
        return
    terminalreporter.section("aihwkit-sc ratios (same run)")
    for name, text in RATIOS.items():
        terminalreporter.write_line(f"{name}: {text}")
    page = config.getoption("--ratios-page")
    if page:
        write_page(Path(page), RATIOS)
        terminalreporter.write_line(f"wrote {page}")


def provenance() -> str:
    """When, from which commit and on what machine a page was measured: "on DATE, commit C, N CPU cores (ARCH)"."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip() or "unknown"
    return (f"on {datetime.date.today()}, commit {commit}, {os.cpu_count()} CPU cores "
            f"({platform.processor() or platform.machine()})")


def write_page(path: Path, ratios: dict[str, str]) -> None:
    """The measured ratios as a page: every line a ratio against a baseline timed in the same run."""
    lines = ["# Benchmarks: ratios against a baseline timed in the same run", "",
             f"Written by `make bench` (pytest-benchmark, `benchmarks/`) {provenance()}; the machine is shared, so "
             "only ratios are reported. Re-run `make bench` to measure on yours.", "",
             *markdown_table(["benchmark", "result"], [[f"`{name}`", text] for name, text in ratios.items()]), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))

"""Benchmarks measure ratios against a baseline timed in the same run (the machine is shared and noisy)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest

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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RATIOS:
        terminalreporter.section("aihwkit-sc ratios (same run)")
        for name, text in RATIOS.items():
            terminalreporter.write_line(f"{name}: {text}")

"""Run the throughput worker on one aihwkit build variant: its cached wheel (``scripts/aihwkit_wheel.sh``) unpacked once
next to it and put first on ``PYTHONPATH`` of a fresh process, so every variant runs the same aihwkit-sc code.
Shared by ``test_bench_aihwkit_builds.py`` and ``study_builds.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "throughput_worker.py"
VARIANTS = ("stock", "seeded", "native", "fastrand", "batched")
INSTALLED = "installed"
"""Pseudo-variant: the aihwkit installed in this environment (no ``PYTHONPATH`` override)."""


def variant_site(variant: str) -> Path | None:
    """The unpacked wheel of ``variant`` (a folder to put first on ``PYTHONPATH``), or None when it is not built."""
    where = subprocess.run(["bash", str(ROOT / "scripts" / "aihwkit_wheel.sh"), variant, "--where"],
                           capture_output=True, text=True, check=True, env={**os.environ, "PY": sys.executable})
    folder = Path(where.stdout.strip())
    wheels = sorted(folder.glob("aihwkit-*.whl"))
    if not wheels:
        return None
    site = folder / "site"
    if not (site / "aihwkit").is_dir():
        with zipfile.ZipFile(wheels[0]) as wheel:
            wheel.extractall(site)
    return site


def worker_env(site: Path | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    paths = [str(site)] if site else []
    paths += [str(WORKER.parent), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, **(extra or {}), "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def run_worker(command: list[str], site: Path | None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a worker script on the build at ``site`` (None: the installed aihwkit); its last stdout line as JSON."""
    proc = subprocess.run(command, capture_output=True, text=True, env=worker_env(site, env), timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(command[1]).name} failed on {site or INSTALLED}: {proc.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if site is not None and not result["aihwkit"].startswith(str(site)):
        raise RuntimeError(f"the worker imported {result['aihwkit']}, not the variant in {site}")
    return result


def worker_command(*, threads: int = 1, seed: int = 0, batches: int = 8, epochs: int = 3,
                   test_size: int = 256) -> list[str]:
    return [sys.executable, str(WORKER), "--threads", str(threads), "--seed", str(seed), "--batches", str(batches),
            "--epochs", str(epochs), "--test-size", str(test_size)]


def measure(site: Path | None, *, env: dict[str, str] | None = None, **options: Any) -> dict[str, Any]:
    """One throughput worker process on the build at ``site`` (None: the installed aihwkit); its JSON result."""
    return run_worker(worker_command(**options), site, env)

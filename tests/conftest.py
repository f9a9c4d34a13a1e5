from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from aihwkit_sc import plugins
from aihwkit_sc.training import TrainConfig

FINISHED_RUN = TrainConfig(epochs=1, limit=256, batch_size=32, lr=0.05)
"""The configuration of the :func:`finished_run` fixture (digital LeNet-5, one epoch of 256 mnist-5k digits)."""


@pytest.fixture
def fresh_host() -> Iterator[plugins.PluginHost]:
    """A new plugin host with only the built-in plugins, installed as the process-wide one for the test."""
    host = plugins.PluginHost(load_entrypoints=False)
    previous = plugins.set_host(host)
    yield host
    plugins.set_host(previous)


@pytest.fixture(scope="session")
def _finished_run_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aihwkit_sc.training import train

    out = tmp_path_factory.mktemp("finished-run") / "run"
    train(FINISHED_RUN, out, quiet=True)
    return out


@pytest.fixture
def finished_run(_finished_run_once: Path, tmp_path: Path) -> Path:
    """``tmp_path`` holding a copy of one finished tiny run (:data:`FINISHED_RUN`), trained once per test session, for
    tests that need a finished run folder to break, resume or read rather than a run of their own."""
    shutil.copytree(_finished_run_once, tmp_path, dirs_exist_ok=True)
    return tmp_path


_OFFLINE: list[str | None] = []


def offline_reason() -> str | None:
    """Why the package index cannot be reached (one line), or None when it can; asked once per test session."""
    if not _OFFLINE:
        import os
        import urllib.request

        index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
        try:
            with urllib.request.urlopen(f"{index}/aihwkit/", timeout=5) as response:
                response.read(1)
            _OFFLINE.append(None)
        except OSError as exc:
            _OFFLINE.append(f"needs the package index {index} (offline: {exc})")
    return _OFFLINE[0]


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("network") is not None:
        reason = offline_reason()
        if reason is not None:
            pytest.skip(reason)

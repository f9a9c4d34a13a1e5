"""The package imports cheaply and exposes its version and lazy public names."""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys

import pytest

import aihwkit_sc

HEAVY = ("torch", "aihwkit", "torchvision", "matplotlib", "mlxtend")


def test_version_matches_distribution_metadata() -> None:
    assert aihwkit_sc.__version__ == md.version("aihwkit-sc")


def test_import_does_not_load_torch_or_aihwkit() -> None:
    code = f"import sys, json, aihwkit_sc; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_lazy_names_resolve_to_their_modules() -> None:
    from aihwkit_sc import abi

    assert aihwkit_sc.ensure_aihwkit is abi.ensure_aihwkit
    assert "ensure_aihwkit" in dir(aihwkit_sc)
    for name in aihwkit_sc.__all__:
        assert getattr(aihwkit_sc, name) is not None


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = aihwkit_sc.nope  # type: ignore[attr-defined]


def test_python_dash_m_runs_the_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "aihwkit_sc", "--version"], capture_output=True, text=True,
                          timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"aihwkit-sc {aihwkit_sc.__version__}"

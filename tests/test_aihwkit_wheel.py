"""``scripts/aihwkit_wheel.sh``: the wheel cache key keeps aihwkit build variants apart (a patched and a stock wheel
never mix), changes with the patch and the flags, and the patch applies to the real 1.2.0 sources."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "aihwkit_wheel.sh"
PATCH = ROOT / "scripts" / "patches" / "aihwkit-1.2.0-seed.patch"


def where(root: Path, variant: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(root / "scripts" / "aihwkit_wheel.sh"), variant, "--where"],
                          capture_output=True, text=True,
                          env={**os.environ, "PY": sys.executable, "AIHWKIT_SC_WHEEL_CACHE": str(cache)})


def copy_of_scripts(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "scripts", root / "scripts")
    shutil.copy(ROOT / "constraints.txt", root / "constraints.txt")
    return root


def test_each_variant_has_its_own_cache_folder_keyed_by_torch(tmp_path: Path) -> None:
    import torch

    folders = {variant: Path(where(ROOT, variant, tmp_path).stdout.strip())
               for variant in ("stock", "seeded", "native", "fastrand", "batched")}
    assert len(set(folders.values())) == 5
    for variant, folder in folders.items():
        assert folder.parent.parent == tmp_path and folder.name.startswith(variant + "-")
        assert folder.parent.name.startswith(f"torch-{torch.__version__}-cp{sys.version_info[0]}{sys.version_info[1]}")
    assert not any(folder.exists() for folder in folders.values())  # --where builds nothing


def test_a_changed_patch_gets_a_new_key_and_stock_does_not_depend_on_it(tmp_path: Path) -> None:
    root = copy_of_scripts(tmp_path)
    before = {v: where(root, v, tmp_path).stdout for v in ("stock", "seeded")}
    with (root / "scripts" / "patches" / PATCH.name).open("a") as patch:
        patch.write("\n")
    after = {v: where(root, v, tmp_path).stdout for v in ("stock", "seeded")}
    assert after["stock"] == before["stock"] and after["seeded"] != before["seeded"]


def test_an_unknown_variant_is_one_line_naming_the_choices(tmp_path: Path) -> None:
    proc = where(ROOT, "fast", tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: unknown aihwkit build variant 'fast'; choose stock, seeded, native, "
                                   "fastrand or batched")


def test_the_patch_touches_only_cpp_sources_and_the_installed_build_has_its_bindings() -> None:
    from aihwkit.simulator import rpu_base

    names = [line.split()[1] for line in PATCH.read_text().splitlines() if line.startswith("+++ ")]
    assert len(names) == 22
    assert all(name.startswith("aihwkit-1.2.0/src/") and name.endswith((".cpp", ".h")) for name in names)
    assert hasattr(rpu_base, "set_global_random_seed")
    assert hasattr(rpu_base.tiles.AnalogTile, "set_random_seed")


@pytest.mark.slow
@pytest.mark.network
def test_the_patch_applies_to_the_published_sdist(tmp_path: Path) -> None:
    """What the installer does first: download the 1.2.0 sdist from PyPI and apply the patch (checked, not built)."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    "--no-build-isolation", "aihwkit==1.2.0", "-d", str(tmp_path)], check=True, capture_output=True)
    shutil.unpack_archive(tmp_path / "aihwkit-1.2.0.tar.gz", tmp_path)
    proc = subprocess.run(["git", "apply", "--check", "-p1", str(PATCH)], cwd=tmp_path / "aihwkit-1.2.0",
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    reverse = subprocess.run(["git", "apply", "--check", "--reverse", "-p1", str(PATCH)],
                             cwd=tmp_path / "aihwkit-1.2.0", capture_output=True, text=True)
    assert reverse.returncode != 0  # the sources are unpatched: the patch is not already in them
    # the batched-tile patch (variant "batched", what make install builds) applies on top of the seed patch
    subprocess.run(["git", "apply", "-p1", str(PATCH)], cwd=tmp_path / "aihwkit-1.2.0", check=True)
    batched = ROOT / "scripts" / "patches" / "batched" / "aihwkit-1.2.0-batched.patch"
    proc = subprocess.run(["git", "apply", "--check", "-p1", str(batched)], cwd=tmp_path / "aihwkit-1.2.0",
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr



def test_a_network_test_is_skipped_with_the_reason_when_the_index_cannot_be_reached(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text((Path(__file__).parent / "conftest.py").read_text())
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    network: needs the index\n")
    (tmp_path / "test_it.py").write_text("import pytest\n\n@pytest.mark.network\ndef test_download():\n"
                                         "    assert False\n\ndef test_local():\n    assert True\n")
    env = {**os.environ, "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}  # nothing listens on the discard port
    done = subprocess.run([sys.executable, "-m", "pytest", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert "1 passed, 1 skipped" in done.stdout, done.stdout
    assert "needs the package index http://127.0.0.1:9/simple (offline: " in done.stdout

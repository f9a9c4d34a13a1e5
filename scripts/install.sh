#!/usr/bin/env bash
# Idempotent set-up of aihwkit-sc into a virtual environment (default: ./.venv).
#
#   1. Debian's libopenblas-dev (aihwkit's C++ core links against OpenBLAS);
#   2. torch + torchvision pinned by constraints.txt;
#   3. aihwkit 1.2.0 built from its sdist against *this* torch (--no-build-isolation), the wheel kept in a cache
#      keyed by torch version and Python ABI, so a second install reuses it and a torch upgrade rebuilds it;
#   4. aihwkit-sc itself, editable, with the dev extra.
#
# Environment: VENV (default .venv), PYTHON (interpreter for a new venv, default python3),
#              AIHWKIT_SC_WHEEL_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/aihwkit-sc/wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
case $VENV in /*) ;; *) VENV=$ROOT/$VENV ;; esac  # absolute: the aihwkit build runs tools from other directories
PYTHON=${PYTHON:-python3}
CONSTRAINTS=$ROOT/constraints.txt
CACHE=${AIHWKIT_SC_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aihwkit-sc/wheels}
AIHWKIT_VERSION=$(sed -n 's/^aihwkit==//p' "$CONSTRAINTS")
t0=$(date +%s)
say() { printf '[install %3ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

# 1. libopenblas-dev -------------------------------------------------------------------------------------------
if ! dpkg -s libopenblas-dev >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: libopenblas-dev is missing and apt-get is not available; install OpenBLAS headers with your" \
         "system's package manager (e.g. 'dnf install openblas-devel', 'brew install openblas') and re-run." >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "error: libopenblas-dev is missing; run 'apt-get install libopenblas-dev' as root, then re-run." >&2
      exit 1
    fi
  fi
  say "installing Debian libopenblas-dev"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenblas-dev >/dev/null
fi

# 2. venv + torch ----------------------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY=$VENV/bin/python
export PATH="$VENV/bin:$PATH"  # the aihwkit build calls tools (stubgen, cmake, ninja) by name
PIP=("$PY" -m pip --disable-pip-version-check --quiet)
if ! "$PY" - "$CONSTRAINTS" <<'PYEOF' 2>/dev/null
import sys, importlib.metadata as md
pins = dict(l.strip().split("==") for l in open(sys.argv[1]) if "==" in l and not l.startswith("#"))
for name in ("torch", "torchvision"):
    if md.version(name).split("+")[0] != pins[name]:
        raise SystemExit(1)
PYEOF
then
  say "installing torch/torchvision pinned in constraints.txt"
  "${PIP[@]}" install -c "$CONSTRAINTS" torch torchvision
fi

# 3. aihwkit built against this torch ---------------------------------------------------------------------------
# Cache key: the exact torch build (e.g. 2.14.1+cu128) and the interpreter's wheel tag (cp311-cp311-linux_x86_64).
KEY=$("$PY" -c 'import torch, sys, sysconfig; print(f"torch-{torch.__version__}-cp{sys.version_info.major}{sys.version_info.minor}-{sysconfig.get_platform()}")')
WHEEL_DIR=$CACHE/$KEY
aihwkit_ok() {
  "$PY" - "$AIHWKIT_VERSION" <<'PYEOF' >/dev/null 2>&1
import sys, importlib.metadata as md
assert md.version("aihwkit") == sys.argv[1]
import torch
from aihwkit.simulator.tiles import AnalogTile
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.configs.devices import ConstantStepDevice
tile = AnalogTile(3, 4, SingleRPUConfig(device=ConstantStepDevice(w_min_dtod=0.0, w_max_dtod=0.0)))
w = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 100
tile.set_weights(w)
assert torch.allclose(tile.get_weights()[0], w)
PYEOF
}
if ! aihwkit_ok; then
  if ! ls "$WHEEL_DIR"/aihwkit-"$AIHWKIT_VERSION"-*.whl >/dev/null 2>&1; then
    say "building aihwkit $AIHWKIT_VERSION from sdist against $KEY (takes ~4 min on 2 cores)"
    "${PIP[@]}" install -c "$CONSTRAINTS" "cmake>=4.2.1" "scikit-build>=0.18.1" "pybind11>=3.0.1" ninja mypy \
      setuptools wheel
    tmp=$(mktemp -d)
    # --no-cache-dir: pip's wheel cache does not key on the torch version and could hand back an ABI-broken wheel.
    CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
      "${PIP[@]}" wheel --no-build-isolation --no-deps --no-cache-dir --no-binary aihwkit \
      -c "$CONSTRAINTS" "aihwkit==$AIHWKIT_VERSION" -w "$tmp"
    mkdir -p "$WHEEL_DIR"
    mv "$tmp"/aihwkit-*.whl "$WHEEL_DIR"/
    rm -rf "$tmp"
  else
    say "reusing cached aihwkit wheel from $WHEEL_DIR"
  fi
  "${PIP[@]}" install --no-cache-dir --force-reinstall --no-deps "$WHEEL_DIR"/aihwkit-"$AIHWKIT_VERSION"-*.whl
  "${PIP[@]}" install -c "$CONSTRAINTS" "$WHEEL_DIR"/aihwkit-"$AIHWKIT_VERSION"-*.whl  # its other dependencies
  aihwkit_ok || { echo "error: aihwkit $AIHWKIT_VERSION installed but its tile self-check fails;" \
                       "delete $WHEEL_DIR and re-run 'make install'." >&2; exit 1; }
fi

# 4. aihwkit-sc, editable, with dev extra, and the example plugins ------------------------------------------------------------------------
say "installing aihwkit-sc (editable, dev extra)"
"${PIP[@]}" install -c "$CONSTRAINTS" -e "$ROOT[dev]"
# The example third-party plugins, so the real entry-point path is tested (see plugins/README.md).
for plugin in "$ROOT"/plugins/*/pyproject.toml; do
  [ -e "$plugin" ] && "${PIP[@]}" install --no-deps -e "$(dirname "$plugin")"
done
say "done: $("$PY" -c 'import aihwkit, torch; print(f"aihwkit {aihwkit.__version__}, torch {torch.__version__}")')"

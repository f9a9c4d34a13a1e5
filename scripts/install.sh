#!/usr/bin/env bash
# Idempotent set-up of aihwkit-sc into a virtual environment (default: ./.venv).
#
#   1. Debian's libopenblas-dev (aihwkit's C++ core links against OpenBLAS);
#   2. torch + torchvision pinned by constraints.txt;
#   3. aihwkit 1.2.0 built from its sdist against *this* torch (--no-build-isolation) with the seed and batched-tile
#      patches of scripts/patches/ (scripts/aihwkit_wheel.sh), the wheel kept in a cache keyed by torch version, Python ABI,
#      build variant and patch hash, so a second install reuses it and a torch upgrade or a new patch rebuilds it;
#   4. aihwkit-sc itself, editable, with the dev extra.
#
# Environment: VENV (default .venv), PYTHON (interpreter for a new venv, default python3),
#              AIHWKIT_SC_WHEEL_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/aihwkit-sc/wheels),
#              AIHWKIT_SC_BUILD (aihwkit build variant, default fastrand; see scripts/aihwkit_wheel.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
case $VENV in /*) ;; *) VENV=$ROOT/$VENV ;; esac  # absolute: the aihwkit build runs tools from other directories
PYTHON=${PYTHON:-python3}
CONSTRAINTS=$ROOT/constraints.txt
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

# 3. aihwkit built against this torch, with the seed patch -------------------------------------------------------
# scripts/aihwkit_wheel.sh builds the wheel (or finds it in the cache, keyed by the torch build, the interpreter's
# wheel tag, the build variant and a hash of the patches and flags) and prints its path. AIHWKIT_SC_BUILD picks the
# variant (default: batched, the seed patch with aihwkit's fast random generator and batched forward/backward for
# pulsed CPU tiles; docs/results/batched-fidelity.md and docs/results/benchmarks.md say how it trains and how fast;
# 'fastrand' is the same without the batched path, 'seeded' the seed patch alone, 'stock' aihwkit as published, whose
# analog runs repeat only statistically).
VARIANT=${AIHWKIT_SC_BUILD:-batched}
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
WHEEL_DIR=$(PY=$PY bash "$ROOT/scripts/aihwkit_wheel.sh" "$VARIANT" --where)
if ls "$WHEEL_DIR"/aihwkit-"$AIHWKIT_VERSION"-*.whl >/dev/null 2>&1; then
  say "using the cached $VARIANT aihwkit wheel in $WHEEL_DIR"
else
  say "building the $VARIANT aihwkit $AIHWKIT_VERSION wheel (about 6 min on 2 cores; cached afterwards)"
fi
WHEEL=$(PY=$PY bash "$ROOT/scripts/aihwkit_wheel.sh" "$VARIANT")
# which variant and wheel this venv holds (aihwkit-sc reads the variant for doctor and summary.json): a variant switch
# or a rebuilt wheel reinstalls
MARK=$VENV/.aihwkit-wheel
want="$VARIANT $(sha256sum "$WHEEL" | cut -c1-64)"
if [ "$(cat "$MARK" 2>/dev/null)" != "$want" ] || ! aihwkit_ok; then
  say "installing the $VARIANT aihwkit $AIHWKIT_VERSION wheel"
  "${PIP[@]}" install --no-cache-dir --force-reinstall --no-deps "$WHEEL"
  "${PIP[@]}" install -c "$CONSTRAINTS" "$WHEEL"  # its other dependencies
  aihwkit_ok || { echo "error: aihwkit $AIHWKIT_VERSION installed but its tile self-check fails;" \
                       "delete $WHEEL_DIR and re-run 'make install'." >&2; exit 1; }
  echo "$want" > "$MARK"
fi

# 4. aihwkit-sc, editable, with dev extra, and the example plugins ------------------------------------------------------------------------
say "installing aihwkit-sc (editable, dev extra)"
"${PIP[@]}" install -c "$CONSTRAINTS" -e "$ROOT[dev]"
# The example third-party plugins, so the real entry-point path is tested (see plugins/README.md).
for plugin in "$ROOT"/plugins/*/pyproject.toml; do
  [ -e "$plugin" ] && "${PIP[@]}" install --no-deps -e "$(dirname "$plugin")"
done
say "done: $("$PY" -c 'import aihwkit, torch; print(f"aihwkit {aihwkit.__version__}, torch {torch.__version__}")')"

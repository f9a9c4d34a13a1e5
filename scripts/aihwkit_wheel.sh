#!/usr/bin/env bash
# Build (or find in the cache) an aihwkit wheel of one build variant against the venv's torch; print its path.
#
#   scripts/aihwkit_wheel.sh VARIANT [--where]   (run by scripts/install.sh and by the build benchmark;
#                                                --where prints the variant's cache folder and builds nothing)
#
# Variants (what is applied to the aihwkit 1.2.0 sdist before `pip wheel --no-build-isolation`):
#   stock     the sdist as published (no patch, aihwkit's own Release flags: -O3 -ftree-vectorize)
#   seeded    + scripts/patches/*.patch (binds seeds to Python; changes no arithmetic)
#   native    seeded, compiled with -march=native (for this CPU only: the key holds the CPU's flags)
#   fastrand  seeded, with aihwkit's CMake options RPU_USE_FASTRAND=ON and RPU_USE_FASTMOD=ON (a 15-bit LCG
#             replaces rand(): a different random stream, statistically the same physics)
#   batched   fastrand + scripts/patches/batched/aihwkit-1.2.0-batched.patch: batched IO-managed forward and
#             backward for pulsed CPU tiles (one GEMM per batch, the random numbers drawn in the looped order;
#             AIHWKIT_LOOPED_MATRIX=1 or rpu_base.set_looped_matrix(True) switches back to aihwkit's
#             per-sample loop)                                                            <- make install
#
# The cache key holds the torch build, the interpreter's wheel tag, the variant and a hash of everything that
# changes the binary (patch files, CMake options, compiler flags), so a patched and a stock wheel never mix.
# Environment: PY (the venv's python, required), AIHWKIT_SC_WHEEL_CACHE, CMAKE_BUILD_PARALLEL_LEVEL.
set -euo pipefail
PY=${PY:?set PY to the venv python}
case $PY in */*) PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY") ;; esac  # absolute, symlink kept (the venv)
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VARIANT=${1:?usage: scripts/aihwkit_wheel.sh stock|seeded|native|fastrand|batched}
export PATH="$(dirname "$PY"):$PATH"  # the aihwkit build calls tools (stubgen, cmake, ninja) by name
CONSTRAINTS=$ROOT/constraints.txt
CACHE=${AIHWKIT_SC_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aihwkit-sc/wheels}
AIHWKIT_VERSION=$(sed -n 's/^aihwkit==//p' "$CONSTRAINTS")

patches=()
cmake_args=""
cxxflags=""
case $VARIANT in
  stock) ;;
  seeded) patches=("$ROOT"/scripts/patches/*.patch) ;;
  native) patches=("$ROOT"/scripts/patches/*.patch); cxxflags="-march=native" ;;
  fastrand) patches=("$ROOT"/scripts/patches/*.patch); cmake_args="-DRPU_USE_FASTRAND=ON -DRPU_USE_FASTMOD=ON" ;;
  batched) patches=("$ROOT"/scripts/patches/*.patch "$ROOT"/scripts/patches/batched/aihwkit-1.2.0-batched.patch)
           cmake_args="-DRPU_USE_FASTRAND=ON -DRPU_USE_FASTMOD=ON" ;;
  *) echo "error: unknown aihwkit build variant '$VARIANT'; choose stock, seeded, native, fastrand or batched" >&2
     exit 2 ;;
esac

cpu=""
if [ -n "$cxxflags" ]; then  # -march=native: the binary is for this CPU's instruction set only
  cpu=$(${CXX:-c++} -march=native -Q --help=target 2>/dev/null | grep -E '^\s+-m(arch|tune)=|\[enabled\]' || true)
fi
digest=$( { for p in "${patches[@]}"; do cat "$p"; done; echo "$cmake_args|$cxxflags|$cpu"; } \
          | sha256sum | cut -c1-12)
# torch.__version__ with its build tag (e.g. 2.14.1+cu130), read from torch/version.py: importing torch takes
# seconds, and the package metadata drops the tag
TAG=$("$PY" - <<'PYEOF'
import importlib.util, pathlib, sys, sysconfig
version = {}
exec((pathlib.Path(importlib.util.find_spec("torch").origin).parent / "version.py").read_text(), version)
print(f"torch-{version['__version__']}-cp{sys.version_info.major}{sys.version_info.minor}-{sysconfig.get_platform()}")
PYEOF
)
WHEEL_DIR=$CACHE/$TAG/$VARIANT-$digest
if [ "${2:-}" = "--where" ]; then echo "$WHEEL_DIR"; exit 0; fi  # the cache folder, built or not

if ! ls "$WHEEL_DIR"/aihwkit-"$AIHWKIT_VERSION"-*.whl >/dev/null 2>&1; then
  t0=$(date +%s)
  echo "[aihwkit] building the $VARIANT variant of aihwkit $AIHWKIT_VERSION against $TAG (about 5 min on 2 cores)" >&2
  "$PY" -m pip --disable-pip-version-check --quiet install -c "$CONSTRAINTS" "cmake>=4.2.1" "scikit-build>=0.18.1" \
    "pybind11>=3.0.1" ninja mypy setuptools wheel >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$PY" -m pip --disable-pip-version-check --quiet download --no-deps --no-binary :all: --no-build-isolation \
    "aihwkit==$AIHWKIT_VERSION" -d "$tmp" >&2
  tar -xzf "$tmp"/aihwkit-"$AIHWKIT_VERSION".tar.gz -C "$tmp"
  src=$tmp/aihwkit-$AIHWKIT_VERSION
  for p in "${patches[@]}"; do
    (cd "$src" && git apply --unsafe-paths -p1 "$p") || {
      echo "error: patch $p does not apply to the aihwkit $AIHWKIT_VERSION sdist" >&2; exit 1; }
  done
  # --no-cache-dir: pip's wheel cache does not key on the torch version and could hand back an ABI-broken wheel.
  (cd "$src" && CXXFLAGS="${CXXFLAGS:-} $cxxflags" CMAKE_ARGS="$cmake_args" \
     CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
     "$PY" -m pip --disable-pip-version-check --quiet wheel --no-build-isolation --no-deps --no-cache-dir . \
       -w "$tmp/out" >&2)
  mkdir -p "$WHEEL_DIR"
  mv "$tmp"/out/aihwkit-*.whl "$WHEEL_DIR"/
  echo "$VARIANT: patches=${patches[*]##*/} cmake_args=$cmake_args cxxflags=$cxxflags built_in_s=$(( $(date +%s) - t0 ))" \
    > "$WHEEL_DIR/BUILD-INFO"
fi
ls "$WHEEL_DIR"/aihwkit-"$AIHWKIT_VERSION"-*.whl

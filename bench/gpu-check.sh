#!/usr/bin/env bash
# The GPU check, in one command and without Node (needs cmake >= 3.18, a C++17 compiler, nvcc; PyTorch
# optional): builds tegnas-gpu-check with the CUDA backend for this machine's GPU, runs it (every op
# and indicator on CPU and GPU, compared; the 5 benchmark architectures timed on both), then, if
# PyTorch with CUDA is importable, the repository's PyTorch reference timing on the GPU. Everything
# goes into one folder. Takes 2-4 minutes on a machine with a recent GPU and a few cores.
#
#   bench/gpu-check.sh [OUT_DIR]          (default: gpu-check-out)
#
# Environment: CUDA_ARCH (e.g. 90; default: the first GPU's, from nvidia-smi), PYTHON (default python3),
# TEGNAS_CUDA_LIB_DIR (where libcublas / libcusolver are, when the loader cannot find them; by default
# this script also looks in PyTorch's nvidia-* wheels), JOBS (build parallelism).
# Exit code: that of tegnas-gpu-check (0 all agree, 1 a disagreement, 2 no usable GPU), or 3 if the
# build failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${1:-gpu-check-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BUILD=${BUILD_DIR:-build-gpu-check}
PY=${PYTHON:-python3}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
START=$(date +%s)
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }
elapsed() { echo $(( $(date +%s) - START )); }

note "tegnas GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
{
  echo "== nvidia-smi"; nvidia-smi 2>&1 || true
  echo "== nvcc"; nvcc --version 2>&1 || true
  echo "== cmake"; cmake --version 2>&1 | head -1 || true
  echo "== c++"; c++ --version 2>&1 | head -1 || true
  echo "== python"; "$PY" -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())" 2>&1 || true
} > "$OUT/environment.txt"
note "environment: $OUT/environment.txt"

# ---- build ----
ARCH=${CUDA_ARCH:-}
if [ -z "$ARCH" ] && command -v nvidia-smi >/dev/null 2>&1; then
  ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
fi
ARCH_FLAG=-UCMAKE_CUDA_ARCHITECTURES
if [ -n "$ARCH" ]; then ARCH_FLAG=-DCMAKE_CUDA_ARCHITECTURES="$ARCH"; note "building for sm_$ARCH"; else note "building for the default architecture list"; fi
build() {
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTEGNAS_CUDA=ON -DTEGNAS_BUILD_TOOLS=ON "$ARCH_FLAG" "$@" &&
    cmake --build "$BUILD" --target tegnas-gpu-check -j "$JOBS"
}
if ! build > "$OUT/build.log" 2>&1; then
  # The compile-time check of our cuBLAS/cuSOLVER declarations against the installed headers is the
  # likeliest first-time failure: keep its errors, and run the check anyway without it.
  if grep -q "abi_check.cc" "$OUT/build.log"; then
    note "BUILD: native/cuda/cuda_libs.h does not match the installed cuBLAS/cuSOLVER headers (see build.log); rebuilding without that check"
    cp "$OUT/build.log" "$OUT/build-abi-check-failed.log"
    rm -rf "$BUILD"
    if ! build -DTEGNAS_CUDA_ABI_CHECK=OFF > "$OUT/build.log" 2>&1; then
      note "BUILD FAILED: see $OUT/build.log"; tail -30 "$OUT/build.log"; exit 3
    fi
  else
    note "BUILD FAILED: see $OUT/build.log"; tail -30 "$OUT/build.log"; exit 3
  fi
fi
note "built in $(elapsed) s"
CHECK="$BUILD/tegnas-gpu-check"

# ---- cuBLAS / cuSOLVER ----
if ! "$CHECK" --libs > "$OUT/libs.txt" 2>&1 && [ -z "${TEGNAS_CUDA_LIB_DIR:-}" ]; then
  # PyTorch's pip wheels carry them in site-packages/nvidia/<lib>/lib (the right major version only
  # if PyTorch was built for the same CUDA major as nvcc here).
  DIRS=$("$PY" - <<'EOF' 2>/dev/null
import importlib, os
out = []
for m in ("nvidia.cublas", "nvidia.cusolver", "nvidia.cusparse", "nvidia.nvjitlink", "nvidia.cu13", "nvidia.cu12"):
    try:
        mod = importlib.import_module(m)
    except Exception:
        continue
    for p in list(getattr(mod, "__path__", [])):
        d = os.path.join(p, "lib")
        if os.path.isdir(d):
            out.append(d)
print(":".join(out))
EOF
)
  if [ -n "$DIRS" ]; then
    note "cuBLAS/cuSOLVER not on the loader's path; trying PyTorch's: TEGNAS_CUDA_LIB_DIR=$DIRS"
    export TEGNAS_CUDA_LIB_DIR="$DIRS"
    "$CHECK" --libs > "$OUT/libs.txt" 2>&1
  fi
fi
note "libraries: $(tr '\n' ' ' < "$OUT/libs.txt")"

# ---- the check ----
timeout 300 "$CHECK" --root "$ROOT" --cases "$ROOT/bench/gpu-cases.json" --out "$OUT" > "$OUT/check.log" 2>&1
CODE=$?
[ $CODE -eq 124 ] && note "tegnas-gpu-check TIMED OUT (300 s)"
tail -12 "$OUT/check.log" | tee -a "$SUMMARY"
note "tegnas-gpu-check exit code $CODE after $(elapsed) s (report: $OUT/report.txt, numbers: $OUT/results.json)"

# ---- the PyTorch reference on the GPU ----
if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" > /dev/null 2>&1; then
  LEFT=$(( 290 - $(elapsed) ))
  if [ $LEFT -gt 30 ]; then
    QUICK=()
    [ $LEFT -lt 120 ] && QUICK=(--quick)
    if timeout "$LEFT" "$PY" bench/reference_timing.py --device cuda --threads "$JOBS" "${QUICK[@]}" > "$OUT/reference-cuda.json" 2> "$OUT/reference-cuda.log"; then
      note "PyTorch reference on the GPU (${QUICK[*]:-repeat 3}): $(cat "$OUT/reference-cuda.json")"
    else
      note "PyTorch reference on the GPU failed or ran out of time: see $OUT/reference-cuda.log"
    fi
  else
    note "PyTorch reference skipped: not enough of the 5 minutes left"
  fi
else
  note "PyTorch reference skipped: $PY cannot import torch with CUDA"
fi
note "done in $(elapsed) s; everything is in $OUT"
exit $CODE

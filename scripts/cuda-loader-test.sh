#!/usr/bin/env bash
# Tests the CUDA backend's dlopen loader of cuBLAS / cuSOLVER without a GPU or the real libraries:
# stub libraries with the right names and symbols, in a folder off the loader's search path, found
# through TEGNAS_CUDA_LIB_DIR (cuBLAS's dependency on cuBLASLt resolved from the same folder); a missing
# symbol and a missing folder give messages that name the library, the symbol and dlopen's text.
#
#   scripts/cuda-loader-test.sh PATH/TO/tegnas-gpu-check       (needs cc)
set -euo pipefail
CHECK=$(realpath "${1:?usage: scripts/cuda-loader-test.sh PATH/TO/tegnas-gpu-check}")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "cuda-loader-test: FAIL: $*" >&2; exit 1; }

# The names this build looks for, from its own message.
MSG=$(TEGNAS_CUDA_LIB_DIR="$TMP/none" "$CHECK" --libs || true)
BLAS=$(echo "$MSG" | sed -n 's/.*(\(libcublas\.so\.[0-9]*\) and \(libcusolver\.so\.[0-9]*\)).*/\1/p')
SOLVER=$(echo "$MSG" | sed -n 's/.*(\(libcublas\.so\.[0-9]*\) and \(libcusolver\.so\.[0-9]*\)).*/\2/p')
[ -n "$BLAS" ] && [ -n "$SOLVER" ] || fail "could not read the library names from: $MSG"
echo "$MSG" | grep -q "TEGNAS_CUDA_LIB_DIR=$TMP/none" || fail "the message does not name the override: $MSG"
echo "$MSG" | grep -q "cannot open shared object file" || fail "the message does not carry dlopen's text: $MSG"
LT=${BLAS/libcublas/libcublasLt}

cd "$TMP"
echo 'int cublasLtCreate(void) { return 0; }' > lt.c
for f in cublasCreate_v2 cublasDestroy_v2 cublasSetStream_v2 cublasSetMathMode cublasSgemm_v2 cublasDgemm_v2 \
         cublasSgemmStridedBatched cublasDgemmStridedBatched cublasDsyrk_v2; do echo "int $f(void) { return 0; }"; done > blas.c
for f in cusolverDnCreate cusolverDnDestroy cusolverDnSetStream cusolverDnDsyevd_bufferSize cusolverDnDsyevd \
         cusolverDnDgetrf_bufferSize cusolverDnDgetrf; do echo "int $f(void) { return 0; }"; done > solver.c
mkdir libs
cc -shared -fPIC -o "libs/$LT" -Wl,-soname,"$LT" lt.c
cc -shared -fPIC -o "libs/$BLAS" -Wl,-soname,"$BLAS" blas.c -Llibs -Wl,--no-as-needed -l:"$LT"
cc -shared -fPIC -o "libs/$SOLVER" -Wl,-soname,"$SOLVER" solver.c

# cusolverDnDgetrs is missing: the message names the library and the symbol.
MSG=$(TEGNAS_CUDA_LIB_DIR="$TMP/libs" "$CHECK" --libs || true)
echo "$MSG" | grep -q "$SOLVER has no symbol cusolverDnDgetrs" || fail "missing symbol not reported: $MSG"

echo 'int cusolverDnDgetrs(void) { return 0; }' >> solver.c
cc -shared -fPIC -o "libs/$SOLVER" -Wl,-soname,"$SOLVER" solver.c
MSG=$(TEGNAS_CUDA_LIB_DIR="/nonexistent:$TMP/libs" "$CHECK" --libs) || fail "stub libraries not loaded: $MSG"
echo "$MSG" | grep -q "cuBLAS $TMP/libs/$BLAS" || fail "cuBLAS path not reported: $MSG"
echo "$MSG" | grep -q "cuSOLVER $TMP/libs/$SOLVER" || fail "cuSOLVER path not reported: $MSG"

# Without cuBLASLt next to it, libcublas cannot load, and the message says which dependency.
rm "libs/$LT"
MSG=$(TEGNAS_CUDA_LIB_DIR="$TMP/libs" "$CHECK" --libs || true)
echo "$MSG" | grep -q "$LT" || fail "missing cuBLASLt not reported: $MSG"
echo "cuda-loader-test: ok ($BLAS, $SOLVER, $LT)"

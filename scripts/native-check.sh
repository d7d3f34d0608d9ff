#!/usr/bin/env bash
# Builds the native check executable (native/check/, CMake target tegnas-check) from the engine sources,
# without Node, into build-check/ (or $TEGNAS_CHECK_BUILD), and runs it on the committed fixtures.
#
#   npm run check:native [-- tegnas-check arguments]      e.g. -- --only oracle, -- --case darts
#   scripts/native-check.sh --build-only                  just build; prints the executable's path
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${TEGNAS_CHECK_BUILD:-$root/build-check}"
cd "$root"
if [ ! -f "$build/CMakeCache.txt" ]; then
  generator=()
  if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
  # RelWithDebInfo: the same optimised code (the engine's own -O3), with line numbers for valgrind.
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTEGNAS_CUDA=OFF -DTEGNAS_CHECK=ON >/dev/null
fi
cmake --build "$build" --target tegnas-check -- ${TEGNAS_BUILD_JOBS:+-j "$TEGNAS_BUILD_JOBS"} >&2
if [ "${1:-}" = "--build-only" ]; then
  echo "$build/tegnas-check"
  exit 0
fi
exec "$build/tegnas-check" --fixtures "$root/test/fixtures" "$@"

#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer (cmake option TEGNAS_SANITIZE:
# -fsanitize=address,undefined -fno-sanitize-recover=all, -O1 -g) into build-asan/ (or $TEGNAS_ASAN_BUILD),
# then runs the native-facing ava tests against it: node loads it through TEGNAS_ADDON, with the ASan
# runtime preloaded (node itself is not instrumented). The first report stops the run with a non-zero
# status. Leak detection is off: node's own allocations at exit are not ours to judge (the native check
# executable runs under valgrind's leak check instead: npm run test:valgrind).
#
#   npm run test:asan                        the suite below, fuzz properties at 100 cases each
#   npm run test:asan -- test/linalg.test.ts  other ava arguments instead of the default test files
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${TEGNAS_ASAN_BUILD:-$root/build-asan}"
cd "$root"

libasan="$(gcc -print-file-name=libasan.so)"
if [ ! -f "$libasan" ]; then
  echo "test:asan needs gcc's AddressSanitizer runtime (libasan.so); gcc -print-file-name gave '$libasan'" >&2
  exit 1
fi
npx cmake-js compile --out "$build" --CDTEGNAS_SANITIZE=ON --CDTEGNAS_CUDA=OFF >&2
addon="$build/Release/tegnas.node"
# (ldd's output captured first: grep -q stops reading early, and pipefail would count ldd's SIGPIPE.)
linked="$(ldd "$addon")"
if ! grep -q libasan <<<"$linked"; then
  echo "$addon is not linked with AddressSanitizer (stale $build? remove it and rerun)" >&2
  exit 1
fi

export TEGNAS_ADDON="$addon"
export LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}"
# Not detect_stack_use_after_return: its fake stack frames are less aligned than the 64-byte stack arrays
# GCC gives the AVX-512 clones of the kernels, whose aligned stores then fault (a segfault, no report).
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:check_initialization_order=1:strict_init_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export TEGNAS_FUZZ_RUNS="${TEGNAS_FUZZ_RUNS:-100}"

# The sanitized addon must be the one that loads (TEGNAS_ADDON in src/native.ts).
node --import=tsx -e "
  const { rawBinding } = await import('./src/native.ts');
  rawBinding();
  console.error('test:asan: addon ' + process.env.TEGNAS_ADDON + ' loaded under ' + process.env.LD_PRELOAD);
" >&2

if [ "$#" -gt 0 ]; then
  files=("$@")
else
  files=(test/gradcheck.test.ts test/network.test.ts test/oracle.test.ts test/indicators.test.ts test/linalg.test.ts test/fuzz/*.test.ts)
fi
# Two test files at a time (the sanitized engine is 3 to 5 times slower; the whole run takes 10 to 20 minutes on 2 cores).
exec npx ava --concurrency 2 --timeout 20m "${files[@]}"

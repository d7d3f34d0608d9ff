#!/usr/bin/env bash
# Runs the native check executable under valgrind (memcheck, full leak check) on a small subset of the
# fixtures (tegnas-check --subset valgrind: two oracle cases and one repeat of two indicator cases, about
# two minutes). Any memory error or leak fails it (exit status 1).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
command -v valgrind >/dev/null 2>&1 || { echo "test:valgrind needs valgrind on PATH" >&2; exit 1; }
exe="$("$root/scripts/native-check.sh" --build-only)"
cd "$root"
exec valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible \
  "$exe" --fixtures "$root/test/fixtures" --subset valgrind --repeats 1 --no-float32 --threads 2

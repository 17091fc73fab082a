#!/usr/bin/env bash
# Builds samcli with AddressSanitizer + UndefinedBehaviorSanitizer in its own build directory and
# runs the whole test suite under them: the Catch2 unit tests and the end-to-end tests, whose Python
# scripts run the instrumented tools on the fixture models. Any sanitizer report fails the run.
# Usage: scripts/sanitize.sh [--core] [build-dir] [ctest args...]   (default build-asan; e.g. -R unit to subset)
#   --core: only the torch-free core (the parsers of untrusted input and everything else in
#   samcli_core) with its unit tests and the fuzz corpora, CTest label "core": what CI runs
#   (docs/hardening.md), a few minutes instead of the hour the instrumented LibTorch half takes.
# Suppressions (reports inside LibTorch/OpenCV/OpenBLAS only, each explained): tests/sanitizer/*.supp.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
targets=()
ctest_subset=()
if [[ "${1:-}" == "--core" ]]; then
  shift
  targets=(--target unit_tests fuzz_targets)
  ctest_subset=(-L core)
fi
build="${1:-build-asan}"
shift || true
jobs="$(nproc)"

# -O1, as the sanitizers' documentation advises: reports keep their line numbers, and it compiles
# faster than Release's -O3 (the build is most of this script's time).
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" -DSAMCLI_SANITIZE=ON \
  -DSAMCLI_BUILD_BENCH=OFF >/dev/null
# Test discovery runs unit_tests/model_tests at build time: under the same options as the tests.
logs="$root/$build/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"

# Reports go to files (log_path) as well as failing the process with a distinctive exit code: a
# tool the e2e tests expect to fail (exit 1) must not pass because ASan also exits 1, and a report
# in a process whose exit status a test ignores is still found below.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1:log_path=$logs/asan:suppressions=$root/tests/sanitizer/asan.supp"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=86:log_path=$logs/ubsan:suppressions=$root/tests/sanitizer/ubsan.supp"
export LSAN_OPTIONS="exitcode=86:suppressions=$root/tests/sanitizer/lsan.supp:print_suppressions=0"

start=$(date +%s)
cmake --build "$build" -j"$jobs" "${targets[@]}"
built=$(date +%s)
status=0
ctest --test-dir "$build" --output-on-failure -j"$jobs" "${ctest_subset[@]}" "$@" || status=$?
end=$(date +%s)

if compgen -G "$logs/*" >/dev/null; then
  echo "sanitize.sh: sanitizer reports:" >&2
  for f in "$logs"/*; do echo "== $f" >&2; cat "$f" >&2; done
  status=1
fi
echo "sanitize.sh: build $((built - start)) s, tests $((end - built)) s, status $status" >&2
exit "$status"

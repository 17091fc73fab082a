#!/usr/bin/env bash
# Builds samcli (Release) and runs the whole test suite: Catch2 unit tests and the end-to-end tests
# of every tool on fixture models generated during the run. Usage: scripts/test.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"

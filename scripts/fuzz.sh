#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan) in their own build directory and
# runs each for N seconds (default 60), starting from the seed corpus in tests/fuzz/corpus/<target>.
# Usage: scripts/fuzz.sh [seconds] [target...]     (targets: rle coco prompt_file clip_tokenizer npy
#                                                   manifest embedding_cache session_line; default all)
# Environment: FUZZ_BUILD (default build-fuzz), FUZZ_JOBS (parallel fuzz processes per target, default 1).
# Findings are saved as <build>/findings/<target>/crash-*|oom-*|timeout-* (reproduce with
# <build>/tests/fuzz/fuzz_<target> FILE); the script exits 1 when there is any. Inputs that found
# new coverage go to <build>/corpus/<target> (the committed seeds are never modified).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(rle coco prompt_file clip_tokenizer npy manifest embedding_cache session_line)
build="${FUZZ_BUILD:-build-fuzz}"
probe='extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }'
if ! echo "$probe" | clang++ -x c++ -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
  echo "fuzz.sh: needs clang++ with libFuzzer (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DSAMCLI_FUZZ=ON -DSAMCLI_BUILD_TESTS=OFF -DSAMCLI_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_targets

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:allocator_may_return_null=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  findings="$build/findings/$t"
  log="$build/fuzz_$t.log"
  mkdir -p "$corpus" "$findings"
  : >"$log"
  dict=()
  case "$t" in coco | prompt_file | manifest | embedding_cache | session_line) dict=(-dict="$root/tests/fuzz/json.dict") ;; esac
  echo "== fuzz_$t: ${seconds} s" >&2
  # libFuzzer stops at a finding; it is saved and fuzzing resumes for the rest of the time, so one
  # run reports every finding it can reach, not just the first. -rss_limit_mb: a parser asked for
  # gigabytes by a few bytes of input is a finding too.
  end=$((SECONDS + seconds))
  while left=$((end - SECONDS)); [ "$left" -gt 0 ]; do
    before=$(find "$findings" -type f | wc -l)
    if "$build/tests/fuzz/fuzz_$t" "$corpus" "$root/tests/fuzz/corpus/$t" -max_total_time="$left" "${dict[@]}" \
        -timeout=10 -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$findings/" -print_final_stats=1 \
        >>"$log" 2>&1; then
      break
    fi
    if [ "$(find "$findings" -type f | wc -l)" -eq "$before" ]; then
      echo "fuzz_$t failed without a finding; see $log" >&2
      status=1
      break
    fi
  done
  runs=$(awk '/^stat::number_of_executed_units/ {n += $NF} END {print n + 0}' "$log")
  last=$(grep -E '^#[0-9]+.*(DONE|NEW|REDUCE|pulse)' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' || true)
  n=$(find "$findings" -type f | wc -l)
  echo "fuzz_$t: $runs runs in ${seconds} s ($((runs / seconds))/s), $last, $n finding(s) in $findings" >&2
  [ "$n" -eq 0 ] || status=1
done
exit "$status"

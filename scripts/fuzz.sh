#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets of tests/fuzz with clang (preset `fuzz`: ASan + UBSan +
# coverage for libFuzzer) and runs each for FUZZ_SECONDS on a scratch copy of its seed corpus.
#
#   FUZZ_SECONDS=60       time per target (a real run: 60 s or more each)
#   FUZZ_TARGETS="a b"    which targets (default: all of tests/fuzz/CMakeLists.txt's list)
#   FUZZ_MERGE=1          afterwards, merge inputs that add coverage into tests/fuzz/corpus/<target>/
#                         (otherwise the repository's corpus is never written)
#   FUZZ_KEEP_GOING=1     after a crash, still run the remaining targets (exit status stays 1)
#   JOBS=2                build parallelism
#
# A crash, leak, UB report or timeout stops the run with exit status 1 and prints the input's
# path (build/fuzz/artifacts/<target>-crash-…); replay it with
#   build/fuzz/tests/fuzz/fuzz_<target> <file>    or    anteroom_fuzz_replay <target> <file>
# and, once fixed, copy it into tests/fuzz/corpus/<target>/ as a regression seed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
jobs="${JOBS:-2}"
all_targets=(request_head token config client_hello booking_json)
read -r -a targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"

# Longest input per target: a request head up to max_header_size (16 KiB) plus some body; a
# token well past max_token_length; a config file; a ClientHello up to the scanner's 64 KiB
# bound; a booking request line and body.
max_len_for() {
  case "$1" in
    request_head) echo 20000 ;;
    token) echo 600 ;;
    config) echo 16384 ;;
    client_hello) echo 70000 ;;
    booking_json) echo 4096 ;;
    *) echo 4096 ;;
  esac
}

# The build packages and clang-14 with its runtime libraries (libFuzzer, the sanitizers).
scripts/install-deps.sh --fuzz

cmake --preset fuzz >/dev/null
build_targets=()
for t in "${targets[@]}"; do
  build_targets+=("fuzz_$t")
done
echo "building ${build_targets[*]} (log build/fuzz/build.log)"
if ! cmake --build build/fuzz --target "${build_targets[@]}" -j "$jobs" >build/fuzz/build.log 2>&1; then
  tail -n 40 build/fuzz/build.log >&2
  exit 1
fi

out=build/fuzz/run
artifacts=build/fuzz/artifacts
mkdir -p "$out" "$artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

rows=()
status=0
for t in "${targets[@]}"; do
  bin="build/fuzz/tests/fuzz/fuzz_$t"
  seeds="tests/fuzz/corpus/$t"
  scratch="$out/$t/corpus"
  log="$out/$t/fuzz.log"
  rm -rf "$out/$t"
  mkdir -p "$scratch"
  cp -r "$seeds/." "$scratch/" 2>/dev/null || true
  echo "== fuzz_$t: ${seconds}s, max_len $(max_len_for "$t"), log $log"
  set +e
  "$bin" -max_total_time="$seconds" -max_len="$(max_len_for "$t")" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$scratch" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "$scratch" -type f | wc -l)
  if [[ $rc -eq 0 ]]; then
    result=ok
  else
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    result="FAILED (exit $rc) ${crash:-see $log}"
    status=1
    grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' "$log" >&2 || true
    echo "fuzz_$t: ${crash:-no input file} (log $log)" >&2
  fi
  rows+=("$(printf '%-14s %12s %9s %7s %7s %7s  %s' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" \
    "$corpus" "$result")")
  if [[ $rc -eq 0 && "${FUZZ_MERGE:-0}" == "1" ]]; then
    "$bin" -merge=1 -max_len="$(max_len_for "$t")" "$seeds" "$scratch" >"$out/$t/merge.log" 2>&1
    echo "merged into $seeds: $(grep -o 'added [0-9]* new units' "$out/$t/merge.log" | tail -1)"
  fi
  if [[ $rc -ne 0 && "${FUZZ_KEEP_GOING:-0}" != "1" ]]; then
    break
  fi
done

echo
printf '%-14s %12s %9s %7s %7s %7s  %s\n' target runs exec/s cov ft corpus result
printf '%s\n' "${rows[@]}"
exit $status

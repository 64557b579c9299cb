#!/usr/bin/env bash
# make fuzz: runs every fuzz target (or those named in FUZZ_TARGETS) for
# FUZZ_SECONDS each, one after the other, from its seed corpus plus what
# earlier runs found (kept in the build tree). Prints one line per target;
# a crash leaves its input in <build>/fuzz/artifacts/ and fails the run.
set -uo pipefail
BUILD=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS]}
SECONDS_EACH=${2:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$BUILD/fuzz
TARGETS=${FUZZ_TARGETS:-$(cd "$ROOT/fuzz/corpus" && ls)}
mkdir -p "$BIN/artifacts" "$BIN/logs"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=0
printf '%-26s %8s %10s %8s %6s %s\n' target seconds execs exec/s new result
for t in $TARGETS; do
  work=$BIN/work/$t
  log=$BIN/logs/$t.log
  mkdir -p "$work"
  start=$(date +%s)
  "$BIN/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$BIN/artifacts/$t-" \
    "$work" "$ROOT/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  new=$(sed -n 's/^stat::new_units_added: *//p' "$log")
  result=ok
  if [ $rc -ne 0 ]; then
    result="CRASH ($(grep -m1 -o 'Test unit written to .*' "$log" || echo "see $log"))"
    failed=1
  fi
  printf '%-26s %8s %10s %8s %6s %s\n' "$t" "$took" "${execs:--}" "${speed:--}" "${new:--}" "$result"
done
exit $failed

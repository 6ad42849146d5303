#!/bin/sh
# Runs each libFuzzer target named on the command line (built by
# `make fuzz-build` as $FUZZ_BUILD/fuzz_<target>) for $FUZZ_SECONDS
# seconds, starting from its seed corpus and its regression inputs. New
# corpus entries go to $FUZZ_BUILD/corpus/<target>, crashing inputs to
# $FUZZ_BUILD/crashes/<target>/. Prints executions and crashes per target
# and exits non-zero when any target crashed.
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
here=$(dirname "$0")
total_crashes=0
ok=0
bad=0
printf '%-14s %12s %8s\n' target executions crashes
for t in "$@"; do
  bin="$FUZZ_BUILD/fuzz_$t"
  work="$FUZZ_BUILD/corpus/$t"
  crashes="$FUZZ_BUILD/crashes/$t"
  log="$FUZZ_BUILD/fuzz_$t.log"
  mkdir -p "$work" "$crashes"
  set -- "$work"
  [ -d "$here/corpus/$t" ] && set -- "$@" "$here/corpus/$t"
  [ -d "$here/regress/$t" ] && set -- "$@" "$here/regress/$t"
  before=$(ls "$crashes" | wc -l)
  "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$@" > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  found=$(( $(ls "$crashes" | wc -l) - before ))
  [ "$rc" -ne 0 ] && [ "$found" -eq 0 ] && found=1
  printf '%-14s %12s %8s\n' "$t" "${execs:-?}" "$found"
  if [ "$found" -ne 0 ]; then
    grep -E 'ERROR: |runtime error|invariant broken|SUMMARY' "$log" | head -5
    echo "  inputs: $crashes/ (log: $log)"
  fi
  total_crashes=$((total_crashes + found))
  if [ "$found" -eq 0 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
done
echo "$ok passed, $bad failed"
[ "$total_crashes" -eq 0 ]

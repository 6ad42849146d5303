#!/bin/sh
# runner_check.sh -- checks that tests/run.sh can fail: it runs the runner
# on fake build directories (test programs that print a passing RESULT line
# and then exit 1, crash, skip; a fake busted) and compares its last two
# lines and exit status with the expected ones. Prints "not ok - NAME" for
# each mismatch and "RESULT <passed> <failed> 0"; exits 1 on a mismatch.
# tests/run.sh runs it with the C tests.
set -u
RUNNER_CHECK=1  # the runners started here do not run this check again
export RUNNER_CHECK
unset VALGRIND ONLY LUA BUSTED  # as the cases below set them
RUNNER=$(cd "$(dirname "$0")" && pwd)/run.sh
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

# prog NAME BODY: a fake test program in the fake build directory.
prog() {
  mkdir -p "$tmp/build/tests"
  printf '#!/bin/sh\n%s\n' "$2" > "$tmp/build/tests/$1"
  chmod +x "$tmp/build/tests/$1"
}

# expect NAME RC "SKIPPED_LINE" "LAST_LINE" [VAR=VALUE...]: runs the runner
# in $tmp on $tmp/build and checks its exit status and last two lines.
expect() {
  name=$1 want_rc=$2 want_skip=$3 want_last=$4
  shift 4
  (cd "$tmp" && env BUILD=build NO_CONFORMANCE=1 "$@" sh "$RUNNER") \
    > "$tmp/out" 2>&1
  rc=$?
  [ "$rc" -ne 0 ] && rc=1
  got_skip=$(tail -n 2 "$tmp/out" | head -n 1)
  got_last=$(tail -n 1 "$tmp/out")
  if [ "$rc" = "$want_rc" ] && [ "$got_skip" = "$want_skip" ] &&
     [ "$got_last" = "$want_last" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "not ok - $name: exit $rc, \"$got_skip\" / \"$got_last\";" \
      "expected exit $want_rc, \"$want_skip\" / \"$want_last\"" >&2
    sed 's/^/   | /' "$tmp/out" >&2
  fi
  rm -rf "$tmp/build" "$tmp/tests"
}

prog test_a 'echo "RESULT 3 0"; exit 0'
expect all_pass 0 "0 skipped" "3 passed, 0 failed" ONLY=c

prog test_a 'echo "RESULT 3 0"; exit 1'
expect passing_result_then_exit_1 1 "0 skipped" "3 passed, 1 failed" ONLY=c

prog test_a 'echo "RESULT 2 1"; exit 1'
expect failure_not_counted_twice 1 "0 skipped" "2 passed, 1 failed" ONLY=c

# VALGRIND: a wrapper that runs the program, then exits 9 as valgrind
# does when it found an error or a leak.
printf '"$@"\nexit 9\n' > "$tmp/vg"
prog test_a 'echo "RESULT 4 0"; exit 0'
expect valgrind_error_exit 1 "0 skipped" "4 passed, 1 failed" ONLY=c \
  VALGRIND="sh $tmp/vg"

prog test_a 'kill -SEGV $$'
prog test_b 'echo "RESULT 1 0 2"; exit 0'
expect crash_and_skips 1 "2 skipped" "1 passed, 1 failed" ONLY=c

# busted: LUA and BUSTED replaced by a shell script printing TAP.
fake_busted() {
  mkdir -p "$tmp/tests/lua"
  : > "$tmp/tests/lua/x_spec.lua"
  printf '%s\n' "$@" > "$tmp/busted"
}
fake_busted 'echo "ok 1 - a"; echo "ok 2 - # SKIP b (no tool)"' \
  'echo "1..2"; exit 0'
expect busted_pending_is_skipped 0 "1 skipped" "1 passed, 0 failed" \
  ONLY=lua LUA=sh BUSTED="$tmp/busted"
fake_busted 'echo "ok 1 - a"; echo "1..1"; exit 1'
expect busted_exit_1 1 "0 skipped" "1 passed, 1 failed" \
  ONLY=lua LUA=sh BUSTED="$tmp/busted"
fake_busted 'echo "ok 1 - a"; exit 0'
expect busted_no_plan 1 "0 skipped" "1 passed, 1 failed" \
  ONLY=lua LUA=sh BUSTED="$tmp/busted"

# conformance without node and npm: 1 skipped. PATH holds only the tools
# the runner needs.
mkdir -p "$tmp/bin"
for t in sh mktemp rm basename dirname grep tail head ls cat; do
  p=$(command -v "$t") && ln -s "$p" "$tmp/bin/$t"
done
prog test_a 'echo "RESULT 1 0"'
mkdir -p "$tmp/tests/lua"
expect conformance_without_node 0 "1 skipped" "1 passed, 0 failed" \
  PATH="$tmp/bin" NO_CONFORMANCE= ONLY=

echo "RESULT $passed $failed 0"
[ "$failed" -eq 0 ]

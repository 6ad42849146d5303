#!/bin/sh
# Runs the C test programs, the busted specs and the conformance check, then
# prints "N skipped" and, as the very last line, "N passed, N failed".
# ONLY=c or ONLY=lua restricts the run; NO_CONFORMANCE=1 leaves out the
# conformance check. Exits 0 only when nothing failed.
#
# A C test program passes when it prints "RESULT <passed> <failed>
# [<skipped>]" and exits 0: any other exit status (a valgrind error or
# leak, a LeakSanitizer report, a crash) with no failure in its RESULT
# line is one failure. The specs pass when busted's TAP report is complete
# and busted exits 0; pending specs ("# SKIP": a tool they need is
# missing) count as skipped. When node or npm is missing the conformance
# check counts as 1 skipped. tests/runner_check.sh checks all this.
BUILD=${BUILD:-build}
# LUAS: the Luas whose busted run is part of it (all five unless told; each
# when its interpreter and its module build, build-lua5.1/ ..., exist; 5.4
# always), each with a line "luaX.Y: N passed, N failed[, N skipped]";
# LUA_BIN replaces lua5.4's command (the sanitizer run).
LUAS=${LUAS:-5.4 5.1 5.2 5.3 luajit}
BUSTED=${BUSTED:-/usr/bin/busted}
passed=0
failed=0
skipped=0
tmp=$(mktemp)
export LLMGATEWAY_BUILD="$BUILD"
export LLMGATEWAY_SIM="${LLMGATEWAY_SIM:-$BUILD/llmgateway-sim}"
trap 'rm -f "$tmp"' EXIT

# add P F S [NAME]: adds to the totals and prints the part's line.
add() {
  passed=$((passed + $1))
  failed=$((failed + $2))
  skipped=$((skipped + $3))
  if [ "$3" -gt 0 ]; then
    echo "   ${4:+$4: }$1 passed, $2 failed, $3 skipped"
  else
    echo "   ${4:+$4: }$1 passed, $2 failed"
  fi
}

# result RC: adds up the RESULT line in $tmp of a program that exited RC.
result() {
  line=$(grep '^RESULT [0-9]* [0-9]*' "$tmp" | tail -n 1)
  if [ -n "$line" ]; then
    set -- $line "$1"
    if [ $# = 5 ]; then s=$4 rc=$5; else s=0 rc=$4; fi
    f=$3
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
      echo "   exit status $rc after its RESULT line"
      f=$((f + 1))
    fi
    add "$2" "$f" "$s"
  else
    echo "   crashed (exit $1)"
    add 0 1 0
  fi
}

if [ "${ONLY:-c}" = c ] || [ -z "$ONLY" ]; then
  for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    echo "== $(basename "$t")"
    $VALGRIND "$t" > "$tmp"
    result $?
  done
  # the runner's own check that it can fail (not inside that check)
  if [ -z "$RUNNER_CHECK" ]; then
    echo "== runner_check.sh"
    RUNNER_CHECK=1 sh "$(dirname "$0")/runner_check.sh" > "$tmp"
    result $?
  fi
fi

if [ "${ONLY:-lua}" = lua ] || [ -z "$ONLY" ]; then
  if ls tests/lua/*_spec.lua >/dev/null 2>&1; then
    for v in $LUAS; do
      # the interpreter, and the module built for it (5.4's is $BUILD's)
      case $v in
        luajit) lua=luajit dir=build-luajit ;;
        5.4) lua=lua5.4 dir=$BUILD ;;
        *) lua=lua$v dir=build-lua$v ;;
      esac
      [ -n "$LUA_BIN" ] && [ "$v" = 5.4 ] && lua=$LUA_BIN
      if ! command -v "${lua##* }" > /dev/null 2>&1 ||
         [ ! -e "$dir/llmgateway/core.so" ]; then
        [ "$v" = 5.4 ] || continue
      fi
      echo "== busted ($lua)"
      case $dir in /*) cdir=$dir ;; *) cdir=./$dir ;; esac
      # the other Luas' runs are bounded: a hang counts as a failure
      limit=
      [ "$v" = 5.4 ] || limit="timeout ${LUA_TIMEOUT:-900}"
      LLMGATEWAY_LUA="$lua" LLMGATEWAY_CPATH="$cdir" \
        $limit $lua "$BUSTED" --lpath='./lua/?.lua;./lua/?/init.lua;./tests/lua/?.lua' \
        --cpath="$cdir/?.so" --helper=tests/lua/support/compat.lua \
        -o TAP --pattern=_spec tests/lua > "$tmp" 2>&1
      rc=$?
      grep -E '^(not ok|#)|^ok [0-9]+ - # SKIP' "$tmp" | head -200
      ok=$(grep '^ok ' "$tmp" | grep -vc '^ok [0-9]* - # SKIP')
      skip=$(grep -c '^ok [0-9]* - # SKIP' "$tmp")
      nok=$(grep -c '^not ok ' "$tmp")
      if ! grep -q '^1\.\.' "$tmp"; then
        tail -20 "$tmp"
        nok=$((nok + 1))
      elif [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then
        tail -20 "$tmp"
        echo "   busted exited with status $rc"
        nok=1
      fi
      add "$ok" "$nok" "$skip" "${lua##* }"
    done
  fi
fi

# Requests against the official OpenAPI specs (Prism), when node/npm exist.
if [ -z "$ONLY" ] && [ -z "$NO_CONFORMANCE" ]; then
  echo "== conformance (Prism)"
  if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
    make --no-print-directory conformance BUILD="$BUILD" > "$tmp" 2>&1
    rc=$?
    grep -E 'FAIL|violation' "$tmp" | head -40
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp" | tail -n 1)
    if [ -n "$line" ]; then
      set -- $line
      f=$3
      if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "   exit status $rc after its summary"
        f=1
      fi
      add "$1" "$f" 0
    else
      tail -15 "$tmp"
      add 0 1 0
    fi
  else
    echo "   skipped: node and npm are needed to run Prism"
    add 0 0 1
  fi
fi

echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

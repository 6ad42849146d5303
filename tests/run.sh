#!/bin/sh
# Runs the C test programs and the busted specs, then prints one closing
# line "N passed, N failed". ONLY=c or ONLY=lua restricts the run.
BUILD=${BUILD:-build}
LUA=${LUA:-lua5.4}
passed=0
failed=0
tmp=$(mktemp)
export LLMGATEWAY_BUILD="$BUILD"
export LLMGATEWAY_SIM="${LLMGATEWAY_SIM:-$BUILD/llmgateway-sim}"
trap 'rm -f "$tmp"' EXIT

if [ "${ONLY:-c}" = c ] || [ -z "$ONLY" ]; then
  for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    echo "== $(basename "$t")"
    $VALGRIND "$t" > "$tmp"
    rc=$?
    line=$(grep '^RESULT ' "$tmp" | tail -n 1)
    if [ -n "$line" ]; then
      set -- $line
      passed=$((passed + $2))
      failed=$((failed + $3))
      echo "   $2 passed, $3 failed"
    else
      echo "   crashed (exit $rc)"
      failed=$((failed + 1))
    fi
  done
fi

if [ "${ONLY:-lua}" = lua ] || [ -z "$ONLY" ]; then
  if ls tests/lua/*_spec.lua >/dev/null 2>&1; then
    echo "== busted"
    LLMGATEWAY_BUILD="$BUILD" "$LUA" /usr/bin/busted --lpath='./lua/?.lua;./lua/?/init.lua;./tests/lua/?.lua' \
      --cpath="./$BUILD/?.so" -o TAP --pattern=_spec tests/lua > "$tmp" 2>&1
    grep -E '^(not ok|#)' "$tmp" | head -200
    ok=$(grep -c '^ok ' "$tmp")
    nok=$(grep -c '^not ok ' "$tmp")
    if ! grep -q '^1\.\.' "$tmp"; then
      tail -20 "$tmp"
      nok=$((nok + 1))
    fi
    echo "   $ok passed, $nok failed"
    passed=$((passed + ok))
    failed=$((failed + nok))
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

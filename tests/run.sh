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
    case $BUILD in /*) cdir=$BUILD ;; *) cdir=./$BUILD ;; esac
    LLMGATEWAY_BUILD="$BUILD" $LUA /usr/bin/busted --lpath='./lua/?.lua;./lua/?/init.lua;./tests/lua/?.lua' \
      --cpath="$cdir/?.so" -o TAP --pattern=_spec tests/lua > "$tmp" 2>&1
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

# Requests against the official OpenAPI specs (Prism), when node/npm exist.
if [ -z "$ONLY" ] && command -v npm >/dev/null 2>&1 && \
   command -v node >/dev/null 2>&1 && [ -z "$NO_CONFORMANCE" ]; then
  echo "== conformance (Prism)"
  make --no-print-directory conformance BUILD="$BUILD" > "$tmp" 2>&1
  rc=$?
  grep -E 'FAIL|violation' "$tmp" | head -40
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp" | tail -n 1)
  if [ -n "$line" ]; then
    set -- $line
    passed=$((passed + $1))
    failed=$((failed + $3))
    echo "   $1 passed, $3 failed"
  else
    tail -15 "$tmp"
    failed=$((failed + 1))
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

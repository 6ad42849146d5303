#!/bin/sh
# valgrind_examples.sh -- runs every examples/*.lua with the llmgateway host,
# and examples/embed, under $VALGRIND (set by `make valgrind`) against the
# provider simulator (examples/with-sim.sh). A run passes when it exits
# 0 and valgrind reports no error and no definitely or indirectly lost
# bytes (the Makefile's VALGRIND makes those exit 9). Prints one line per
# program, then "0 skipped" and the closing "N passed, N failed"; exits
# non-zero when a program failed.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
VALGRIND=${VALGRIND:-valgrind -q --error-exitcode=9 --leak-check=full \
  --errors-for-leak-kinds=definite,indirect \
  --show-leak-kinds=definite,indirect}
SIM="$BUILD/llmgateway-sim"
HOST="$BUILD/bin/llmgateway"
EMBED="$BUILD/examples/embed"
for f in "$SIM" "$HOST"; do
  [ -x "$f" ] || { echo "valgrind_examples: $f is missing; run make first" >&2; exit 1; }
done

# Run under examples/with-sim.sh, which starts the simulator.
if [ -z "${LLMGATEWAY_SIM_URL:-}" ]; then
  exec examples/with-sim.sh "$BUILD" sh "$0"
fi
url=$LLMGATEWAY_SIM_URL
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

# check NAME COMMAND...: runs COMMAND under valgrind with a fresh
# provider state; valgrind's report goes to $tmp/NAME.vg.
check() {
  name=$1
  shift
  export LLMGATEWAY_PROVIDER_STATE="$tmp/$name.state.json"
  # shellcheck disable=SC2086
  $VALGRIND --log-file="$tmp/$name.vg" "$@" > "$tmp/$name.out" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ] && ! grep -q 'ERROR SUMMARY: [1-9]\|definitely lost: [1-9]\|indirectly lost: [1-9]\|^==[0-9]*== [A-Z]' "$tmp/$name.vg"; then
    echo "ok    $name"
    passed=$((passed + 1))
  else
    echo "FAIL  $name (exit $rc)"
    sed 's/^/   | /' "$tmp/$name.out" | tail -20
    sed 's/^/   vg| /' "$tmp/$name.vg" | head -60
    failed=$((failed + 1))
  fi
}

for script in examples/*.lua; do
  # the queue examples need a Redis server: tests/lua/queue_spec.lua runs them
  case $script in examples/queue_*) continue ;; esac
  check "$(basename "$script" .lua)" "$HOST" -c examples/sim.yaml "$script"
done
if [ -x "$EMBED" ]; then
  check embed "$EMBED" "$url"
fi

echo "0 skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

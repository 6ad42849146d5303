#!/bin/sh
# valgrind_examples.sh -- runs every examples/*.lua with the llmgateway host,
# and examples/embed, under $VALGRIND (set by `make valgrind`) against the
# provider simulator, as examples/demo.sh does. A run passes when it exits
# 0 and valgrind reports no error and no definitely or indirectly lost
# bytes (the Makefile's VALGRIND makes those exit 9). Prints one line per
# program and a closing "N passed, N failed".
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

tmp=$(mktemp -d) || exit 1
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$SIM" --port 0 --quiet > "$tmp/sim.out" 2> "$tmp/sim.err" &
sim_pid=$!
url=
for _ in $(seq 50); do
  url=$(sed -n 's/^llmgateway-sim listening on //p' "$tmp/sim.out")
  [ -n "$url" ] && break
  kill -0 "$sim_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "valgrind_examples: the simulator did not start:" >&2
  cat "$tmp/sim.err" >&2
  exit 1
fi

export LLMGATEWAY_SIM_URL="$url"
export LUA_PATH="./lua/?.lua;./lua/?/init.lua;;"
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
  check "$(basename "$script" .lua)" "$HOST" -c examples/sim.yaml "$script"
done
if [ -x "$EMBED" ]; then
  check embed "$EMBED" "$url"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/sh
# with-sim.sh BUILD_DIR COMMAND [ARGS...] -- runs COMMAND against the
# provider simulator: starts BUILD_DIR/llmgateway-sim on an ephemeral
# loopback port, exports LLMGATEWAY_SIM_URL (examples/sim.yaml reads it),
# a temporary LLMGATEWAY_PROVIDER_STATE and LUA_PATH for the source tree,
# runs COMMAND, stops the simulator and exits with COMMAND's status.
#   examples/with-sim.sh build build/bin/llmgateway -c examples/sim.yaml my.lua
set -u
[ $# -ge 2 ] || { echo "usage: with-sim.sh BUILD_DIR COMMAND [ARGS...]" >&2; exit 2; }
BUILD=$1
shift
SIM="$BUILD/llmgateway-sim"
[ -x "$SIM" ] || { echo "with-sim: $SIM is missing; run make first" >&2; exit 1; }

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
  echo "with-sim: the simulator did not start:" >&2
  cat "$tmp/sim.err" >&2
  exit 1
fi

export LLMGATEWAY_SIM_URL="$url"
export LLMGATEWAY_PROVIDER_STATE="$tmp/provider-state.json"
export LUA_PATH="./lua/?.lua;./lua/?/init.lua;;"
"$@"

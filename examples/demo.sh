#!/bin/sh
# demo.sh BUILD_DIR -- runs examples/quickstart.lua offline: starts the
# provider simulator on an ephemeral loopback port, points
# examples/sim.yaml at it, and runs the script with the llmgateway host.
# No network, no API keys. Exits with the script's status.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
SIM="$BUILD/llmgateway-sim"
HOST=${LLMGATEWAY_HOST:-$BUILD/llmgateway}
[ -f "$HOST" ] || HOST="$BUILD/bin/llmgateway"
for f in "$SIM" "$HOST"; do
  [ -f "$f" ] && [ -x "$f" ] || { echo "demo: $f is missing; run make first" >&2; exit 1; }
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
  echo "demo: the simulator did not start:" >&2
  cat "$tmp/sim.err" >&2
  exit 1
fi

export LLMGATEWAY_SIM_URL="$url"
export LLMGATEWAY_PROVIDER_STATE="$tmp/provider-state.json"
export LUA_PATH="./lua/?.lua;./lua/?/init.lua;;"
echo "simulator at $url; config examples/sim.yaml (its first provider is down)"
echo

start=$(date +%s.%N)
"$HOST" -c examples/sim.yaml examples/quickstart.lua
status=$?
end=$(date +%s.%N)
echo
echo "quickstart exited with status $status after $(awk "BEGIN { printf \"%.2f\", $end - $start }") s"
exit $status

#!/bin/sh
# demo.sh BUILD_DIR -- runs examples/quickstart.lua offline against the
# provider simulator (examples/with-sim.sh), with the llmgateway host and
# examples/sim.yaml. No network, no API keys. Exits with the script's
# status.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
HOST=${LLMGATEWAY_HOST:-$BUILD/bin/llmgateway}
[ -x "$HOST" ] || { echo "demo: $HOST is missing; run make first" >&2; exit 1; }

run() {
  echo "simulator at $LLMGATEWAY_SIM_URL; config examples/sim.yaml" \
    "(its first provider is down)"
  echo
  start=$(date +%s.%N)
  "$HOST" -c examples/sim.yaml examples/quickstart.lua
  status=$?
  end=$(date +%s.%N)
  echo
  echo "quickstart exited with status $status after" \
    "$(awk "BEGIN { printf \"%.2f\", $end - $start }") s"
  return $status
}

if [ "${LLMGATEWAY_SIM_URL:-}" ]; then
  run
else
  LLMGATEWAY_HOST=$HOST exec examples/with-sim.sh "$BUILD" sh "$0" "$BUILD"
fi

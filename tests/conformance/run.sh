#!/bin/sh
# run.sh -- `make conformance`: checks the gateway's requests against the
# official OpenAI and Anthropic OpenAPI specs. Installs Stoplight Prism once
# into $BUILD/prism (npm), starts one mock per spec on free loopback ports, runs
# $BUILD/conformance/conformance against them and stops the mocks on exit.
#
# SPECS_DIR: directory with openai-openapi.prism.json and
# anthropic-openapi.prism.json (default: tests/conformance/specs, then
# ../shared/specs). PRISM_VERSION: the prism-cli version to install.
set -u
BUILD=${BUILD:-build}
PRISM_VERSION=${PRISM_VERSION:-5.14.2}
PRISM_DIR="$BUILD/prism"
PRISM="$PRISM_DIR/node_modules/.bin/prism"
PROG="$BUILD/conformance/conformance"

die() {
  echo "conformance: $*" >&2
  exit 2
}

specs=""
for d in ${SPECS_DIR:-} tests/conformance/specs ../shared/specs; do
  if [ -f "$d/openai-openapi.prism.json" ] &&
     [ -f "$d/anthropic-openapi.prism.json" ]; then
    specs=$d
    break
  fi
done
[ -n "$specs" ] || die "no *.prism.json specs found (set SPECS_DIR)"
[ -x "$PROG" ] || die "$PROG is not built (run make conformance)"
command -v node >/dev/null 2>&1 || die "node is required (Prism runs on it)"

if [ ! -x "$PRISM" ]; then
  command -v npm >/dev/null 2>&1 || die "npm is required to install Prism"
  echo "conformance: installing @stoplight/prism-cli@$PRISM_VERSION into $PRISM_DIR"
  mkdir -p "$PRISM_DIR"
  npm install --prefix "$PRISM_DIR" --no-audit --no-fund --loglevel=error \
    "@stoplight/prism-cli@$PRISM_VERSION" >/dev/null ||
    die "npm install of @stoplight/prism-cli failed"
fi

# Two distinct free ports: both listeners are open at once.
ports=$(node -e '
  const net = require("net");
  const a = net.createServer(), b = net.createServer();
  a.listen(0, "127.0.0.1", () => b.listen(0, "127.0.0.1", () => {
    console.log(a.address().port + " " + b.address().port);
    a.close(); b.close();
  }));') || die "cannot find free ports"
set -- $ports
oa_port=$1
an_port=$2

oa_pid=""
an_pid=""
cleanup() {
  for p in $oa_pid $an_pid; do
    kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$PRISM" mock "$specs/openai-openapi.prism.json" -p "$oa_port" \
  -h 127.0.0.1 >"$PRISM_DIR/openai.log" 2>&1 &
oa_pid=$!
"$PRISM" mock "$specs/anthropic-openapi.prism.json" -p "$an_port" \
  -h 127.0.0.1 >"$PRISM_DIR/anthropic.log" 2>&1 &
an_pid=$!

# Ready when GET / answers at all (Prism says 404).
answers() {
  node -e '
    require("http").get("http://127.0.0.1:" + process.argv[1] + "/",
      (r) => { r.resume(); process.exit(0); })
      .on("error", () => process.exit(1));' "$1" 2>/dev/null
}
wait_ready() {  # port pid log
  i=0
  while ! answers "$1"; do
    if ! kill -0 "$2" 2>/dev/null || [ $i -ge 200 ]; then
      tail -n 20 "$3" >&2
      die "Prism did not start on port $1 (log: $3)"
    fi
    i=$((i + 1))
    sleep 0.25
  done
}
start=$(date +%s)
wait_ready "$oa_port" "$oa_pid" "$PRISM_DIR/openai.log"
wait_ready "$an_port" "$an_pid" "$PRISM_DIR/anthropic.log"

version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
  "$PRISM_DIR/node_modules/@stoplight/prism-cli/package.json")
echo "conformance: Prism $version on" \
  "127.0.0.1:$oa_port (OpenAI) and 127.0.0.1:$an_port (Anthropic)," \
  "specs from $specs"
echo "conformance: mocks ready after $(($(date +%s) - start)) s"
"$PROG" "http://127.0.0.1:$oa_port" "http://127.0.0.1:$an_port"

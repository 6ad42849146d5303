#!/bin/bash
# run.sh -- starts the benchmark servers (nginx from a generated config,
# the simulator), runs run.lua against them and stops them again. All
# files live in a temporary directory. Client and server are pinned to
# different cores when the machine has two or more.
#
# Environment: BUILD (default build), BENCH_REPEAT (runs per figure,
# default 3), BENCH_PROFILE (0 skips the callgrind profile),
# BENCH_ONLY (stages to run, e.g. "3,profile"; see run.lua), BENCH_RESULTS
# (file to update, default tests/bench/RESULTS.md; empty
# string: print only). The HTTPS server (nginx_tls.conf) runs when
# openssl could make its certificate; TLS_PORT (HTTP/2), TLS1_PORT
# (HTTP/1.1 only) and BENCH_CAFILE name them.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lgw-bench.XXXXXX")
nginx_pid=
sim_pid=
cleanup() {
  [ -z "$nginx_pid" ] || kill "$nginx_pid" 2>/dev/null || true
  [ -z "$sim_pid" ] || kill "$sim_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(nproc)" -ge 2 ]; then
  BENCH_CLIENT_PIN="taskset -c 0"
  server_pin="taskset -c 1"
else
  BENCH_CLIENT_PIN=
  server_pin=
fi
export BENCH_CLIENT_PIN

nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nofile" -gt 1048576 ] && nofile=1048576
ulimit -n "$nofile" 2>/dev/null || true
BENCH_NOFILE=$nofile
export BENCH_NOFILE

# Is anything listening on 127.0.0.1:$1?
listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
# A port in 20000-32767 (below the ephemeral range) nobody listens on.
free_port() {
  while :; do
    p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 12768 ))
    listening "$p" || { echo "$p"; return; }
  done
}
# The fixed answer (~300 bytes) and the big answers.
reply='{"id":"chatcmpl-bench","object":"chat.completion","created":0,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox jumps over the lazy dog. ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":10,"total_tokens":22}}'
mkdir -p "$tmp/www"
/usr/bin/python3 - "$tmp/www" <<'PY'
import json, sys
# A chat completion whose text is itself a JSON document, padded to size.
for name, size in (("big1.json", 1 << 20), ("big2.json", 2 << 20)):
    rows, i = [], 0
    est = 0
    while est < size:
        row = {"id": i, "name": "item %d" % i, "tags": ["alpha", "beta"],
               "score": i * 0.5, "ok": i % 2 == 0}
        rows.append(row)
        est += len(json.dumps(row)) * 1.18 + 2
        i += 1
    text = json.dumps(rows)
    body = json.dumps({"id": "chatcmpl-big", "object": "chat.completion",
                       "created": 0, "model": "bench-model",
                       "choices": [{"index": 0, "message": {
                           "role": "assistant", "content": text},
                           "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 12,
                                 "completion_tokens": len(rows),
                                 "total_tokens": 12 + len(rows)}},
                      separators=(",", ":"))
    with open(sys.argv[1] + "/" + name, "w") as f:
        f.write(body)
PY

# The HTTPS workload: a CA made for this run signs a certificate for
# 127.0.0.1; clients trust the system's CA bundle plus this CA (the size
# of store a real client loads), given as BENCH_CAFILE, SSL_CERT_FILE and
# CURL_CA_BUNDLE.
BENCH_CAFILE=
mkdir -p "$tmp/tls"
if (cd "$tmp/tls" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout ca.key -out ca.pem -days 2 -subj "/CN=llmgateway bench CA" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout server.key -out server.csr -subj "/CN=127.0.0.1" &&
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" > ext.cnf &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
      -CAcreateserial -days 2 -extfile ext.cnf -out server.pem &&
    cat /etc/ssl/certs/ca-certificates.crt ca.pem > bundle.pem
   ) >"$tmp/tls/openssl.log" 2>&1; then
  BENCH_CAFILE=$tmp/tls/bundle.pem
else
  echo "bench: cannot make a certificate (openssl); no HTTPS workload:"
  cat "$tmp/tls/openssl.log"
fi

# nginx: one foreground process, everything under $tmp.
NGINX_PORT=
TLS_PORT=
TLS1_PORT=
if command -v nginx >/dev/null 2>&1 &&
   [ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ]; then
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    tls_port=$(free_port)
    tls1_port=$(free_port)
    [ "$tls_port" != "$port" ] && [ "$tls1_port" != "$port" ] &&
      [ "$tls1_port" != "$tls_port" ] || continue
    if [ -n "$BENCH_CAFILE" ]; then
      sed -e "s|@TMP@|$tmp|g" -e "s|@TLSPORT@|$tls_port|" \
          -e "s|@TLS1PORT@|$tls1_port|" \
          -e "s|@REPLY@|$reply|" tests/bench/nginx_tls.conf > "$tmp/tls.conf"
    else
      : > "$tmp/tls.conf"
    fi
    sed -e "s|@TMP@|$tmp|g" -e "s|@PORT@|$port|" \
        -e "s|@NOFILE@|$nofile|" -e "s|@CONNS@|$((nofile - 64))|" \
        -e "s|@REPLY@|$reply|" tests/bench/nginx.conf > "$tmp/nginx.conf"
    $server_pin nginx -e "$tmp/error.log" -p "$tmp" -c "$tmp/nginx.conf" \
      2>>"$tmp/nginx.stderr" &
    nginx_pid=$!
    i=0
    while [ $i -lt 50 ] && kill -0 "$nginx_pid" 2>/dev/null &&
          ! listening "$port"; do
      sleep 0.1; i=$((i + 1))
    done
    if kill -0 "$nginx_pid" 2>/dev/null && listening "$port"; then
      NGINX_PORT=$port
      [ -z "$BENCH_CAFILE" ] || { TLS_PORT=$tls_port; TLS1_PORT=$tls1_port; }
      break
    fi
    kill "$nginx_pid" 2>/dev/null || true
    nginx_pid=
  done
  [ -n "$NGINX_PORT" ] || { echo "bench: nginx did not start:"; cat "$tmp/error.log" "$tmp/nginx.stderr" 2>/dev/null; }
else
  echo "bench: nginx-light or libnginx-mod-http-echo missing (make bench installs them)"
fi

SIM_PORT=
if [ -x "$BUILD/llmgateway-sim" ]; then
  $server_pin "$BUILD/llmgateway-sim" --port 0 --port-file "$tmp/sim.port" \
    --quiet >/dev/null 2>"$tmp/sim.stderr" &
  sim_pid=$!
  i=0
  while [ $i -lt 50 ] && [ ! -s "$tmp/sim.port" ]; do
    sleep 0.1; i=$((i + 1))
  done
  SIM_PORT=$(cat "$tmp/sim.port" 2>/dev/null || true)
  [ -n "$SIM_PORT" ] || { echo "bench: the simulator did not start:"; cat "$tmp/sim.stderr"; }
fi

DEAD_PORT=$(free_port)
export NGINX_PORT SIM_PORT DEAD_PORT TLS_PORT TLS1_PORT BENCH_CAFILE
BENCH_TMP=$tmp lua5.4 tests/bench/run.lua

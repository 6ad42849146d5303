#!/bin/sh
# json_bench.sh BIN [MODE...] -- callgrind instructions (Ir) of one run of
# each json_bench mode: (Ir at N2 runs - Ir at N1 runs) / (N2 - N1), which
# removes start-up and the building of the inputs. Small answers run
# 1 and 201 times, 1 MiB ones 1 and 6 times.
bin=${1:?usage: json_bench.sh BIN [MODE...]}
shift
[ $# -gt 0 ] || set -- responses anthropic chat responses_delta \
  anthropic_delta responses_big anthropic_big chat_big extract cjson
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ir() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$1" "$2" \
    >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/err"
}
for mode in "$@"; do
  case $mode in
    *_big|extract|cjson) n2=6 ;;
    *) n2=201 ;;
  esac
  a=$(ir "$mode" 1)
  b=$(ir "$mode" "$n2")
  echo "$mode $(( (b - a) / (n2 - 1) ))"
done

#!/usr/bin/env bash
# User-space instructions per proxied request, counted by valgrind's callgrind: anteroom (one
# worker thread) and HAProxy (nbthread 1) in front of the same nginx `return 200`, one after the
# other, each sent the same keep-alive load by anteroom-bench raw. Unlike req/s on this shared
# 2-core machine, the count is the same from run to run (within a fraction of a percent), so it
# shows the effect of a change in user-space work that the noise hides in throughput. It says
# nothing about system calls (compare those with strace -c) or about cache misses.
#
#   bench/compare/instructions.sh [--requests 20000] [--anteroom build/bench/app/anteroom]
#                                 [--anteroom-b other/anteroom] [--no-haproxy]
#                                 [--bench build/bench/bench/tool/anteroom-bench] [--keep DIR]
#
# --keep DIR copies the callgrind profiles to DIR (read them with callgrind_annotate).
#
# Needs: valgrind, nginx, haproxy (make bench installs them). The servers run under callgrind
# with instrumentation off; it is switched on only around the measured requests (after 2,000
# warm-up requests), so start-up and the pool's first connections are not counted.
set -euo pipefail
cd "$(dirname "$0")/../.."

requests=20000 anteroom=build/bench/app/anteroom anteroom_b= haproxy=1 keep=
bench=build/bench/bench/tool/anteroom-bench
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --anteroom) anteroom=$2; shift 2 ;;
    --anteroom-b) anteroom_b=$2; shift 2 ;;
    --no-haproxy) haproxy=0; shift ;;
    --bench) bench=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
for needed in valgrind callgrind_control callgrind_annotate nginx python3; do
  command -v "$needed" >/dev/null || { echo "missing $needed (make bench installs it)" >&2; exit 1; }
done
[[ $haproxy -eq 0 ]] || command -v haproxy >/dev/null || { echo "missing haproxy" >&2; exit 1; }
for b in "$anteroom" "$bench" ${anteroom_b:+"$anteroom_b"}; do
  [[ -x $b ]] || { echo "missing $b (run make bench)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/anteroom-instructions.XXXXXX)
pids=()
source bench/compare/common.sh
trap cleanup EXIT

up_port=$(free_port)
start_upstream_200
wait_port "$up_port"

# $1 row name, $2 port; the rest is the server's command line. Prints one summary row.
measure() {
  local name=$1 port=$2 pid out ir
  shift 2
  out="$work/$name.callgrind"
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$@" > "$work/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  "$bench" raw -c 32 -n 2000 "http://127.0.0.1:$port/" > /dev/null
  callgrind_control -i on "$pid" > /dev/null 2>&1
  "$bench" raw -c 32 -n "$requests" --json "$work/$name.json" "http://127.0.0.1:$port/" > /dev/null
  callgrind_control -i off "$pid" > /dev/null 2>&1
  callgrind_control -d "$pid" > /dev/null 2>&1
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # The dump holds exactly the instrumented stretch (the file written at exit holds nothing).
  if [[ -n $keep ]]; then mkdir -p "$keep" && cp "$out"* "$keep/"; fi
  ir=$(for f in "$out"*; do callgrind_annotate "$f" 2>/dev/null; done |
       awk '/PROGRAM TOTALS/ {gsub(",", "", $1); if ($1 + 0 > m) m = $1 + 0} END {print m + 0}')
  python3 - "$name" "$ir" "$requests" "$work/$name.json" <<'PY'
import json, sys
name, ir, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ok = json.load(open(sys.argv[4]))["status"]["2xx"]
if ok != n:
    sys.exit(f"{name}: only {ok} of {n} requests answered 2xx")
print(f"| {name} | {n} | {ir:,} | {ir / n:,.0f} |")
PY
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); callgrind, anteroom-bench raw -c 32, keep-alive, $requests requests"
echo "| server | requests | instructions (user space) | per request |"
echo "|---|---:|---:|---:|"
for variant in a b; do
  bin=$anteroom name=anteroom
  if [[ $variant == b ]]; then
    [[ -n $anteroom_b ]] || continue
    bin=$anteroom_b name=anteroom-b
  fi
  port=$(free_port)
  anteroom_conf "$port" "$(free_port)" 1 true "" | sed "s|$work/state|$work/state-$variant|" > "$work/$name.toml"
  measure "$name" "$port" "$bin" serve --config "$work/$name.toml"
done
if [[ $haproxy -eq 1 ]]; then
  port=$(free_port)
  write_haproxy_conf "$work/haproxy.cfg" "$port"
  measure haproxy "$port" haproxy -f "$work/haproxy.cfg"
fi

#!/usr/bin/env bash
# System calls per proxied request: anteroom (one worker thread) and HAProxy (nbthread 1) in
# front of the same nginx `return 200`, each under wrk -t1 -c128 keep-alive, one after the
# other, counted by the kernel's syscall tracepoints (perf stat -e syscalls:sys_enter_*) on the
# proxy's process only. instructions.sh counts user-space work; this counts the calls into the
# kernel, each of which costs about a microsecond on this VM whatever it does (a getppid loop:
# 1.0-1.2 µs). The counts depend on timing (a read tried at once finds data or not), so run it
# more than once.
#
#   bench/compare/syscalls.sh [--duration 5s] [--anteroom build/bench/app/anteroom]
#                             [--anteroom-b other/anteroom] [--no-haproxy]
#
# Needs: perf (linux-perf), wrk, nginx, haproxy; tracepoints readable (root).
set -euo pipefail
cd "$(dirname "$0")/../.."

duration=5s anteroom=build/bench/app/anteroom anteroom_b= haproxy=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --anteroom) anteroom=$2; shift 2 ;;
    --anteroom-b) anteroom_b=$2; shift 2 ;;
    --no-haproxy) haproxy=0; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
for needed in perf wrk nginx python3; do
  command -v "$needed" >/dev/null || { echo "missing $needed" >&2; exit 1; }
done
[[ $haproxy -eq 0 ]] || command -v haproxy >/dev/null || { echo "missing haproxy" >&2; exit 1; }

source bench/compare/common.sh
begin_with_upstream syscalls

names=() ports=() server_pids=()
start_anteroom() {  # $1 row name, $2 binary
  local port i=${#names[@]}
  port=$(free_port)
  anteroom_conf "$port" "$(free_port)" 1 true "" | sed "s|$work/state|$work/state$i|" > "$work/$1.toml"
  "$2" serve --config "$work/$1.toml" > "$work/$1.log" 2>&1 &
  pids+=($!) server_pids+=($!) names+=("$1") ports+=("$port")
  wait_port "$port"
}
start_anteroom anteroom "$anteroom"
[[ -z $anteroom_b ]] || start_anteroom anteroom-b "$anteroom_b"
if [[ $haproxy -eq 1 ]]; then
  port=$(free_port)
  write_haproxy_conf "$work/haproxy.cfg" "$port"
  haproxy -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 &
  pids+=($!) server_pids+=($!) names+=(haproxy) ports+=("$port")
  wait_port "$port"
fi

calls=(recvfrom recvmsg sendto sendmsg read write readv writev epoll_wait epoll_ctl)
events=(-e raw_syscalls:sys_enter)
for c in "${calls[@]}"; do events+=(-e "syscalls:sys_enter_$c"); done

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); wrk -t1 -c128 -d$duration keep-alive; system calls per request"
printf '| server | req/s | all |'; for c in "${calls[@]}"; do printf ' %s |' "$c"; done; echo
printf '|---|---:|---:|'; for _ in "${calls[@]}"; do printf -- '---:|'; done; echo
for k in "${!names[@]}"; do
  url="http://127.0.0.1:${ports[$k]}/"
  wrk -t1 -c128 -d1s "$url" > /dev/null  # warm-up: upstream pool, caches
  perf stat -x, "${events[@]}" -p "${server_pids[$k]}" -o "$work/perf.$k" &
  perf_pid=$!
  sleep 0.2  # perf attaches before the load starts
  out=$(wrk -t1 -c128 -d"$duration" "$url")
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
  python3 - "${names[$k]}" "$work/perf.$k" "${calls[@]}" <<PY
import sys
name, path, calls = sys.argv[1], sys.argv[2], sys.argv[3:]
out = """$out"""
n = int(next(l.split()[0] for l in out.splitlines() if "requests in" in l))
rps = float(next(l.split()[1] for l in out.splitlines() if l.startswith("Requests/sec")))
counts = {}
for line in open(path):
    parts = line.strip().split(",")
    if len(parts) > 2 and parts[0].replace(".", "").isdigit():
        counts[parts[2]] = float(parts[0])
cells = [f"{counts.get('syscalls:sys_enter_' + c, 0) / n:.3f}" for c in calls]
print(f"| {name} | {rps:,.0f} | {counts.get('raw_syscalls:sys_enter', 0) / n:.3f} | " + " | ".join(cells) + " |")
PY
done

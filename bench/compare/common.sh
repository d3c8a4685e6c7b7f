# Helpers for the scripts in bench/compare/ (sourced, not run). The caller sets $work (its
# temporary directory, where the servers' logs go) and fills the array `pids` with what it starts.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Polls until something accepts on 127.0.0.1:$1 (at most 10 s), else shows the logs and exits.
wait_port() {
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on port $1; logs in $work:" >&2; tail -n 5 "$work"/*.log "$work"/*.err >&2 2>/dev/null; exit 1
}

# Stops what the script started (by process id) and removes $work unless $keep_work is set.
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null
  [[ -n ${keep_work:-} ]] || rm -rf "$work"
}

# One measurement, one line on stdout: "req/s p50_ms p99_ms notes". $1 tool (wrk: -t1, or raw:
# anteroom-bench raw at $bench, JSON in $work), $2 connections, $3 duration, $4 URL; the rest
# goes to the tool before the URL (-H "Cookie: x", --no-keepalive, --tls-resume ...). raw's
# notes say non-2xx answers, errors by kind and, over TLS, the full vs resumed handshakes.
measure_once() {
  local tool=$1 conns=$2 duration=$3 url=$4 out
  shift 4
  if [[ $tool == wrk ]]; then
    out=$(wrk -t1 -c"$conns" -d"$duration" --latency "$@" "$url")
    # wrk writes latencies with a unit (850.00us, 1.23ms, 1.02s).
    awk '/^Requests\/sec/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx|Socket errors/ {notes=notes $0 " "}
         function ms(v) { n = v + 0; if (v ~ /us$/) return n / 1000; if (v ~ /ms$/) return n; if (v ~ /s$/) return n * 1000; return n }
         END {printf "%s %.3f %.3f %s\n", rps, ms(p50), ms(p99), notes}' <<<"$out"
  else
    "$bench" raw -c "$conns" -d "$duration" --json "$work/raw.json" "$@" "$url" > /dev/null
    python3 - "$work/raw.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
non2xx = sum(v for k, v in j["status"].items() if k != "2xx")
notes = [f"non-2xx: {non2xx}"] if non2xx else []
notes += [f"{k} errors: {v}" for k, v in j["errors"].items() if v and k != "total"]
if "tls" in j:
    notes.append(f'handshakes {j["tls"]["full_handshakes"]} full / {j["tls"]["resumed_handshakes"]} resumed')
print(f'{j["requests_per_second"]:.2f} {j["latency_us"]["p50"] / 1e3:.3f} {j["latency_us"]["p99"] / 1e3:.3f}', ", ".join(notes))
PY
  fi
}

# CPU time (user + system, all threads) the processes $@ and their children have used so far,
# in clock ticks (/proc/PID/stat fields 14 and 15; the children are nginx's workers under its
# master).
cpu_ticks() {
  local total=0 p
  for p in "$@" $(for q in "$@"; do pgrep -P "$q"; done); do
    [[ -r /proc/$p/stat ]] || continue
    total=$((total + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
  done
  echo "$total"
}

# measure_once (same arguments after $1) plus the CPU time the server spent per request: $1 the
# server's process ids (space-separated). One line: "req/s p50_ms p99_ms cpu_us_per_req notes".
# Unlike req/s, a server's CPU time per request moves little when the load generator and the
# upstream take the cores from it, so it shows a difference that the noise hides in req/s.
measure_with_cpu() {
  local procs=$1 t0 t1 rps p50 p99 notes
  shift
  t0=$(cpu_ticks $procs)
  read -r rps p50 p99 notes < <(measure_once "$@")
  t1=$(cpu_ticks $procs)
  python3 - "$((t1 - t0))" "$rps" "$3" "$p50" "$p99" "$notes" <<'PY'
import os, sys
ticks, rps, d = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
seconds = float(d[:-1]) * {"s": 1, "m": 60}[d[-1]] if d[-1] in "sm" else float(d)
us = ticks / os.sysconf("SC_CLK_TCK") * 1e6 / max(rps * seconds, 1)
print(sys.argv[2], sys.argv[4], sys.argv[5], f"{us:.1f}", sys.argv[6])
PY
}

# One measured round: appended to $results (for results.py) and shown. $1 round, $2 row name,
# $3 req/s, $4 p50 ms, $5 p99 ms, $6 notes, $7 CPU us per request (optional).
record_round() {
  printf '%s\t%s\t%s\t%s\t%s%s\n' "$1" "$2" "$3" "$4" "$5" "${7:+$'\t'$7}" >> "$results"
  printf 'round %s %-30s %10s req/s  p50 %8sms p99 %8sms%s %s\n' "$1" "$2" "$3" "$4" "$5" "${7:+  cpu $7 us/req}" "${6:-}"
}

# Writes $1/nginx.conf for one worker without access log and with long keep-alive; $2 is the
# text inside http { } (upstream and server blocks), $3 worker_connections (default 4096).
# Start it with: nginx -c "$1/nginx.conf" -g 'daemon off;'
write_nginx_conf() {
  mkdir -p "$1"
  cat > "$1/nginx.conf" <<CONF
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections ${3:-4096}; }
http {
  access_log off;
  keepalive_requests 100000;
$2
}
CONF
}

# The usual start of a script: $work (a new directory under /tmp named after $1), removed with
# everything started (cleanup) when the script exits, and the nginx upstream (start_upstream_200)
# listening on $up_port.
begin_with_upstream() {
  work=$(mktemp -d "/tmp/anteroom-$1.XXXXXX")
  pids=()
  trap cleanup EXIT
  up_port=$(free_port)
  start_upstream_200
  wait_port "$up_port"
}

# The upstream every proxy comparison stands in front of: nginx (one worker) answering every
# request with `return 200 "ok\n"` on 127.0.0.1:$up_port (the caller picks the port). Started in
# the background; its process id is appended to `pids` and kept in $up_pid.
start_upstream_200() {
  write_nginx_conf "$work/up" "  server { listen 127.0.0.1:$up_port reuseport; location / { return 200 \"ok\\n\"; } }"
  nginx -c "$work/up/nginx.conf" -g 'daemon off;' &
  up_pid=$!
  pids+=("$up_pid")
}

# HAProxy with one thread in front of 127.0.0.1:$up_port, keep-alive both ways, upstream
# connections reused (http-reuse always): $1 file to write, $2 port to listen on.
# Start it with: haproxy -f "$1"
write_haproxy_conf() {
  cat > "$1" <<CONF
global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:$2
  default_backend be
backend be
  server up 127.0.0.1:$up_port maxconn 1000
CONF
}

# anteroom's config as a proxy in front of 127.0.0.1:$up_port (state in $work/state): $1 port,
# $2 admin port, $3 threads, $4 reuse_port, $5 access log path ("" = off), $6 more entries for
# the listen list (e.g. '{ address = "127.0.0.1:8443", tls = true }'). Written to stdout.
anteroom_conf() {
  cat <<CONF
state_dir = "$work/state"
[server]
listen = ["127.0.0.1:$1"${6:+, $6}]
threads = $3
reuse_port = $4
max_requests_per_connection = 10000000
[[upstream]]
name = "up"
servers = ["127.0.0.1:$up_port"]
pool_size = 256
[log]
access_log = "$5"
level = "warn"
[admin]
listen = "127.0.0.1:$2"
CONF
}

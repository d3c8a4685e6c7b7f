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

# One measured round: appended to $results (for results.py) and shown. $1 round, $2 row name,
# $3 req/s, $4 p50 ms, $5 p99 ms, $6 notes.
record_round() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >> "$results"
  printf 'round %s %-30s %10s req/s  p50 %8sms p99 %8sms %s\n' "$1" "$2" "$3" "$4" "$5" "${6:-}"
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

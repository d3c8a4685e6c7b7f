#!/usr/bin/env bash
# Side-by-side proxy throughput: wrk against anteroom, nginx and HAProxy, each with one worker
# thread, all in front of the same upstream (nginx `return 200`). Rounds are interleaved so that
# machine noise hits every contender alike; the summary prints per-contender medians and ratios.
#
#   bench/compare/proxy_compare.sh [--rounds N] [--duration 10s] [--connections 128]
#                                  [--anteroom build/bench/app/anteroom] [--extra] [--admission]
#
# --extra adds rows: anteroom with its JSON access log written to a file, and anteroom with two
# worker threads in both acceptor modes (SO_REUSEPORT per worker vs one distributing acceptor).
# --admission adds a row for admitted traffic: anteroom with a waiting room on "/" and every
# request carrying a valid pass (signature check, binding, pass table touch per request).
# Needs: wrk, nginx (nginx-light), haproxy, python3. Run `make bench` first.
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=5 duration=10s conns=128 anteroom=build/bench/app/anteroom extra=0 admission=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --anteroom) anteroom=$2; shift 2 ;;
    --extra) extra=1; shift ;;
    --admission) admission=1; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
for tool in wrk nginx haproxy python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (make bench installs it)" >&2; exit 1; }
done
[[ -x $anteroom ]] || { echo "missing $anteroom (run make bench)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true

work=$(mktemp -d /tmp/anteroom-compare.XXXXXX)
pids=()
source bench/compare/common.sh
trap cleanup EXIT

up_port=$(free_port); ng_port=$(free_port); ha_port=$(free_port); an_port=$(free_port)
an_admin=$(free_port)

mkdir -p "$work/up" "$work/ng"
cat > "$work/up/nginx.conf" <<CONF
worker_processes 1;
pid $work/up/nginx.pid;
error_log $work/up/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$up_port reuseport; location / { return 200 "ok\n"; } }
}
CONF
cat > "$work/ng/nginx.conf" <<CONF
worker_processes 1;
pid $work/ng/nginx.pid;
error_log $work/ng/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  upstream up { server 127.0.0.1:$up_port; keepalive 64; }
  server {
    listen 127.0.0.1:$ng_port;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
cat > "$work/haproxy.cfg" <<CONF
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
  bind 127.0.0.1:$ha_port
  default_backend be
backend be
  server up 127.0.0.1:$up_port maxconn 1000
CONF
anteroom_conf() {  # $1 port, $2 admin port, $3 threads, $4 reuse_port, $5 access_log
  cat <<CONF
state_dir = "$work/state"
[server]
listen = ["127.0.0.1:$1"]
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
anteroom_conf "$an_port" "$an_admin" 1 true "" > "$work/anteroom.toml"

nginx -c "$work/up/nginx.conf" -g 'daemon off;' & pids+=($!)
nginx -c "$work/ng/nginx.conf" -g 'daemon off;' & pids+=($!)
haproxy -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 & pids+=($!)
"$anteroom" serve --config "$work/anteroom.toml" 2>"$work/anteroom.err" & pids+=($!)
an_pid=$!
contenders=("anteroom:$an_port" "nginx:$ng_port" "haproxy:$ha_port")

if [[ $extra -eq 1 ]]; then
  p1=$(free_port) a1=$(free_port) p2=$(free_port) a2=$(free_port) p3=$(free_port) a3=$(free_port)
  anteroom_conf "$p1" "$a1" 1 true "$work/access.log" > "$work/an-log.toml"
  anteroom_conf "$p2" "$a2" 2 true "" > "$work/an-2t-reuseport.toml"
  anteroom_conf "$p3" "$a3" 2 false "" > "$work/an-2t-one-acceptor.toml"
  "$anteroom" serve --config "$work/an-log.toml" 2>>"$work/anteroom.err" & pids+=($!)
  "$anteroom" serve --config "$work/an-2t-reuseport.toml" 2>>"$work/anteroom.err" & pids+=($!)
  "$anteroom" serve --config "$work/an-2t-one-acceptor.toml" 2>>"$work/anteroom.err" & pids+=($!)
  contenders+=("anteroom+accesslog:$p1" "anteroom-2t-reuseport:$p2" "anteroom-2t-one-acceptor:$p3")
fi
declare -A headers=()
if [[ $admission -eq 1 ]]; then
  p4=$(free_port) a4=$(free_port)
  echo "bench-agent-token-0123456789" > "$work/agent.token"
  { anteroom_conf "$p4" "$a4" 1 true ""
    printf '[admission]\nagent_token_file = "%s"\n[[room]]\nid = "portal"\npaths = ["/"]\nmax_active_users = 100000\n' \
      "$work/agent.token"; } | sed "s|$work/state|$work/state-admission|" > "$work/an-admission.toml"
  "$anteroom" serve --config "$work/an-admission.toml" 2>>"$work/anteroom.err" & pids+=($!)
  wait_port "$p4"
  pass=$(python3 - "$p4" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request("GET", "/", headers={"Anteroom-Agent": "bench-agent-token-0123456789"})
r = c.getresponse()
print(next(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie" and v.startswith("anteroom_pass_")))
PY
)
  contenders+=("anteroom+pass:$p4")
  headers[anteroom+pass]="Cookie: $pass"
fi
for c in "${contenders[@]}"; do wait_port "${c##*:}"; done
wait_port "$up_port"

# Every contender must answer 200 before it is measured.
for c in "${contenders[@]}"; do
  code=$(python3 - "${c##*:}" "${headers[${c%%:*}]:-}" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
h = dict([sys.argv[2].split(": ", 1)]) if len(sys.argv) > 2 and sys.argv[2] else {}
c.request("GET", "/", headers=h); print(c.getresponse().status)
PY
)
  [[ $code == 200 ]] || { echo "${c%%:*} answered $code" >&2; exit 1; }
done

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); wrk -t1 -c$conns -d$duration, $rounds rounds"
results="$work/results.tsv"
for r in $(seq "$rounds"); do
  for c in "${contenders[@]}"; do
    name=${c%%:*} port=${c##*:}
    hdr=()
    [[ -n ${headers[$name]:-} ]] && hdr=(-H "${headers[$name]}")
    out=$(wrk -t1 -c"$conns" -d"$duration" --latency "${hdr[@]}" "http://127.0.0.1:$port/")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
    printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$name" "$rps" "$p50" "$p99" >> "$results"
    printf 'round %s %-26s %10s req/s  p50 %-8s p99 %-8s %s\n' "$r" "$name" "$rps" "$p50" "$p99" "$errs"
  done
done
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$an_pid/status")
echo "anteroom (1 thread) RSS after the runs: ${rss_kb} KiB"

python3 - "$results" <<'PY'
import statistics, sys, collections
def ms(v):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit) and not (unit == "s" and v.endswith(("us", "ms"))):
            return float(v[: -len(unit)]) * f
    return float(v)
rows = collections.defaultdict(lambda: {"rps": [], "p50": [], "p99": []})
for line in open(sys.argv[1]):
    _, name, rps, p50, p99 = line.split()
    rows[name]["rps"].append(float(rps)); rows[name]["p50"].append(ms(p50)); rows[name]["p99"].append(ms(p99))
med = {n: {k: statistics.median(v) for k, v in d.items()} for n, d in rows.items()}
print("\n| contender | median req/s | median p50 ms | median p99 ms | req/s vs HAProxy | req/s vs nginx |")
print("|---|---:|---:|---:|---:|---:|")
for n, m in med.items():
    print(f"| {n} | {m['rps']:.0f} | {m['p50']:.3f} | {m['p99']:.3f} | "
          f"{m['rps']/med['haproxy']['rps']:.2f}x | {m['rps']/med['nginx']['rps']:.2f}x |")
PY

#!/usr/bin/env bash
# Side-by-side proxy throughput: wrk against anteroom, nginx and HAProxy, each with one worker
# thread, all in front of the same upstream (nginx `return 200`). Rounds are interleaved so that
# machine noise hits every contender alike; the summary prints per-contender medians and ratios.
#
#   bench/compare/proxy_compare.sh [--rounds N] [--duration 10s] [--connections 128]
#                                  [--anteroom build/bench/app/anteroom] [--extra] [--admission]
#                                  [--waiting-room] [--tool wrk|raw|both]
#                                  [--bench build/bench/bench/tool/anteroom-bench]
#                                  [--anteroom-b other/build/app/anteroom]
#
# --extra adds rows: anteroom with its JSON access log written to a file, and anteroom with two
# worker threads in both acceptor modes (SO_REUSEPORT per worker vs one distributing acceptor).
# --admission adds a row for admitted traffic: anteroom with a waiting room on "/" and every
# request carrying a valid pass (signature check, binding, pass table touch per request).
# --waiting-room adds the waiting room's own answers, against the upstream nginx `return 200`
# measured directly (row "nginx-200"): "anteroom-first-visit" (no cookie: a new ticket and the
# waiting page every request) and "anteroom-status" (/_anteroom/status polls with a ticket in
# line). --tool both measures every contender with wrk and with anteroom-bench raw in each round
# (rows name@wrk, name@raw). --anteroom-b adds a second anteroom binary with the same config (row
# "anteroom-b"), for an A/B of two builds in one run. Every row also shows the contender's CPU
# time per request (measure_with_cpu in common.sh). bench/compare.sh runs all of it.
# Needs: wrk, nginx (nginx-light), haproxy, python3. Run `make bench` first.
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=5 duration=10s conns=128 anteroom=build/bench/app/anteroom extra=0 admission=0
waiting_room=0 tool=wrk bench=build/bench/bench/tool/anteroom-bench anteroom_b=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --anteroom) anteroom=$2; shift 2 ;;
    --extra) extra=1; shift ;;
    --admission) admission=1; shift ;;
    --waiting-room) waiting_room=1; shift ;;
    --tool) tool=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    --anteroom-b) anteroom_b=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
for needed in wrk nginx haproxy python3; do
  command -v "$needed" >/dev/null || { echo "missing $needed (make bench installs it)" >&2; exit 1; }
done
[[ -x $anteroom ]] || { echo "missing $anteroom (run make bench)" >&2; exit 1; }
case $tool in wrk) tools=(wrk) ;; raw) tools=(raw) ;; both) tools=(wrk raw) ;; *) echo "--tool: wrk, raw or both" >&2; exit 2 ;; esac
if [[ $tool != wrk && ! -x $bench ]]; then
  echo "missing $bench (run make bench)" >&2; exit 1
fi
ulimit -n 65536 2>/dev/null || true

work=$(mktemp -d /tmp/anteroom-compare.XXXXXX)
pids=()
source bench/compare/common.sh
trap cleanup EXIT

up_port=$(free_port); ng_port=$(free_port); ha_port=$(free_port); an_port=$(free_port)
an_admin=$(free_port)

write_nginx_conf "$work/ng" "  upstream up { server 127.0.0.1:$up_port; keepalive 64; }
  server {
    listen 127.0.0.1:$ng_port;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
  }"
write_haproxy_conf "$work/haproxy.cfg" "$ha_port"
anteroom_conf "$an_port" "$an_admin" 1 true "" > "$work/anteroom.toml"

# procs[name]: the process whose CPU time a row counts (nginx: its master, with the worker).
declare -A procs=()
start_upstream_200
nginx -c "$work/ng/nginx.conf" -g 'daemon off;' & pids+=($!)
procs[nginx]=$!
haproxy -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 & pids+=($!)
procs[haproxy]=$!
"$anteroom" serve --config "$work/anteroom.toml" 2>"$work/anteroom.err" & pids+=($!)
an_pid=$!
procs[anteroom]=$an_pid
contenders=("anteroom:$an_port" "nginx:$ng_port" "haproxy:$ha_port")
if [[ -n $anteroom_b ]]; then
  [[ -x $anteroom_b ]] || { echo "missing $anteroom_b" >&2; exit 1; }
  pb=$(free_port) ab=$(free_port)
  anteroom_conf "$pb" "$ab" 1 true "" | sed "s|$work/state|$work/state-b|" > "$work/anteroom-b.toml"
  "$anteroom_b" serve --config "$work/anteroom-b.toml" 2>>"$work/anteroom.err" & pids+=($!)
  procs[anteroom-b]=$!
  contenders+=("anteroom-b:$pb")
fi

if [[ $extra -eq 1 ]]; then
  p1=$(free_port) a1=$(free_port) p2=$(free_port) a2=$(free_port) p3=$(free_port) a3=$(free_port)
  anteroom_conf "$p1" "$a1" 1 true "$work/access.log" > "$work/an-log.toml"
  anteroom_conf "$p2" "$a2" 2 true "" > "$work/an-2t-reuseport.toml"
  anteroom_conf "$p3" "$a3" 2 false "" > "$work/an-2t-one-acceptor.toml"
  "$anteroom" serve --config "$work/an-log.toml" 2>>"$work/anteroom.err" & pids+=($!)
  procs[anteroom+accesslog]=$!
  "$anteroom" serve --config "$work/an-2t-reuseport.toml" 2>>"$work/anteroom.err" & pids+=($!)
  procs[anteroom-2t-reuseport]=$!
  "$anteroom" serve --config "$work/an-2t-one-acceptor.toml" 2>>"$work/anteroom.err" & pids+=($!)
  procs[anteroom-2t-one-acceptor]=$!
  contenders+=("anteroom+accesslog:$p1" "anteroom-2t-reuseport:$p2" "anteroom-2t-one-acceptor:$p3")
fi
declare -A headers=() paths=()
if [[ $admission -eq 1 ]]; then
  p4=$(free_port) a4=$(free_port)
  echo "bench-agent-token-0123456789" > "$work/agent.token"
  { anteroom_conf "$p4" "$a4" 1 true ""
    printf '[admission]\nagent_token_file = "%s"\n[[room]]\nid = "portal"\npaths = ["/"]\nmax_active_users = 100000\n' \
      "$work/agent.token"; } | sed "s|$work/state|$work/state-admission|" > "$work/an-admission.toml"
  "$anteroom" serve --config "$work/an-admission.toml" 2>>"$work/anteroom.err" & pids+=($!)
  procs[anteroom+pass]=$!
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
if [[ $waiting_room -eq 1 ]]; then
  # The room's one active place is taken (an agent's pass that does not lapse for a day), so
  # every visitor stays in line: each cookie-less request is a first visit, and the polled
  # ticket stays queued for the whole run.
  p5=$(free_port) a5=$(free_port)
  echo "bench-agent-token-0123456789" > "$work/agent.token"
  { anteroom_conf "$p5" "$a5" 1 true ""
    printf '[admission]\nagent_token_file = "%s"\n[[room]]\nid = "portal"\npaths = ["/"]\n' "$work/agent.token"
    printf 'new_users_per_minute = 1\nmax_active_users = 1\nsession_idle_timeout = "24h"\nsession_max_duration = "24h"\n'; } |
    sed "s|$work/state|$work/state-waiting|" > "$work/an-waiting.toml"
  "$anteroom" serve --config "$work/an-waiting.toml" 2>>"$work/anteroom.err" & pids+=($!)
  procs[anteroom-first-visit]=$!
  procs[anteroom-status]=$!
  wait_port "$p5"
  ticket=$(python3 - "$p5" <<'PY'
import http.client, sys
def get(headers):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
    c.request("GET", "/", headers=headers)
    r = c.getresponse()
    r.read()
    return r
get({"Anteroom-Agent": "bench-agent-token-0123456789"})  # takes the only active place
r = get({"Accept": "application/json"})
print(next(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie" and v.startswith("anteroom_ticket_")))
PY
)
  procs[nginx-200]=$up_pid
  contenders+=("nginx-200:$up_port" "anteroom-first-visit:$p5" "anteroom-status:$p5")
  headers[anteroom-status]="Cookie: $ticket"
  paths[anteroom-status]="/_anteroom/status?room=portal"
fi
for c in "${contenders[@]}"; do wait_port "${c##*:}"; done
wait_port "$up_port"

# Every contender must answer 200 before it is measured.
for c in "${contenders[@]}"; do
  code=$(python3 - "${c##*:}" "${headers[${c%%:*}]:-}" "${paths[${c%%:*}]:-/}" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
h = dict([sys.argv[2].split(": ", 1)]) if sys.argv[2] else {}
c.request("GET", sys.argv[3], headers=h); print(c.getresponse().status)
PY
)
  [[ $code == 200 ]] || { echo "${c%%:*} answered $code" >&2; exit 1; }
done

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); ${tools[*]}: 1 thread, $conns connections, $duration; $rounds rounds"
results="$work/results.tsv"
for r in $(seq "$rounds"); do
  for c in "${contenders[@]}"; do
    for t in "${tools[@]}"; do
      name=${c%%:*} port=${c##*:} row=${c%%:*}
      [[ ${#tools[@]} -gt 1 ]] && row=$name@$t
      hdr=()
      [[ -n ${headers[$name]:-} ]] && hdr=(-H "${headers[$name]}")
      read -r rps p50 p99 cpu errs < <(measure_with_cpu "${procs[$name]}" "$t" "$conns" "$duration" \
        "http://127.0.0.1:$port${paths[$name]:-/}" "${hdr[@]}")
      record_round "$r" "$row" "$rps" "$p50" "$p99" "$errs" "$cpu"
    done
  done
done
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$an_pid/status")
echo "anteroom (1 thread) RSS after the runs: ${rss_kb} KiB"

PYTHONPATH=bench/compare python3 - "$results" <<'PY'
import statistics, sys
from results import load
rows, med = load(sys.argv[1])
# Ratios within one tool: "x@wrk" against "haproxy@wrk" (plain names when there is one tool).
def base(name, of):
    tool = name.partition("@")[2]
    return med.get(of + ("@" + tool if tool else ""))
def ratio(m, b, k="rps"):
    return f"{m[k] / b[k]:.2f}x" if b and k in m and k in b else ""
print("\n| contender | median req/s | median p50 ms | median p99 ms | req/s vs HAProxy | req/s vs nginx | "
      "req/s vs nginx return 200 | median CPU us/req | CPU per request vs HAProxy |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for n, m in med.items():
    print(f"| {n} | {m['rps']:.0f} | {m['p50']:.3f} | {m['p99']:.3f} | "
          f"{ratio(m, base(n, 'haproxy'))} | {ratio(m, base(n, 'nginx'))} | {ratio(m, base(n, 'nginx-200'))} | "
          f"{m.get('cpu', 0):.1f} | {ratio(m, base(n, 'haproxy'), 'cpu')} |")
PY

#!/usr/bin/env bash
# A surge on this machine: nginx as the portal behind anteroom (1 worker thread) with one waiting
# room "portal" on "/", then `anteroom-bench surge` with a scenario against it.
#
#   bench/compare/surge_local.sh [--scenario bench/scenarios/launch-day.toml] [--rate 3000]
#                                [--opens-in 20s] [--anteroom build/bench/app/anteroom]
#                                [--bench build/bench/bench/tool/anteroom-bench] [--out DIR]
#                                [-- extra anteroom-bench surge options, e.g. --scale 0.1]
#
# --rate is the room's new_users_per_minute (put the same figure in the scenario's [target]).
# --opens-in gives the room a [room.event] starting that long after anteroom starts (the
# scenario's [arrivals] start should match; "0" = no event, the room is open at once).
# The portal (nginx) answers 200 on every page and 404 JSON under /api/, so admitted visitors end
# their walk with "booking unavailable" until the embedded booking backend is in place.
# Writes surge.json, surge.html and surge.txt into --out (default: a new directory under /tmp).
# Needs: nginx, python3. Run `make bench` first (or pass the binaries).
set -euo pipefail
cd "$(dirname "$0")/../.."

scenario=bench/scenarios/launch-day.toml rate=3000 opens_in=20 out=""
anteroom=build/bench/app/anteroom bench=build/bench/bench/tool/anteroom-bench
while [[ $# -gt 0 ]]; do
  case "$1" in
    --scenario) scenario=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --opens-in) opens_in=${2%s}; shift 2 ;;
    --anteroom) anteroom=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
for tool in nginx python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (make bench installs it)" >&2; exit 1; }
done
[[ -x $anteroom ]] || { echo "missing $anteroom (run make bench)" >&2; exit 1; }
[[ -x $bench ]] || { echo "missing $bench (run make bench)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /tmp/anteroom-surge.XXXXXX)
out=${out:-$work/out}
mkdir -p "$out"
pids=()
keep_work=1  # the results stay in $out; the servers' state is removed below
source bench/compare/common.sh
trap 'cleanup; rm -rf "$work/state" "$work/up"' EXIT

up_port=$(free_port); an_port=$(free_port); an_admin=$(free_port)

mkdir -p "$work/up"
cat > "$work/up/nginx.conf" <<CONF
worker_processes 1;
pid $work/up/nginx.pid;
error_log $work/up/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$up_port reuseport;
    location / { default_type text/html; return 200 "<!doctype html><title>Portal</title><p>Book an appointment</p>\n"; }
    location /api/ { default_type application/json; return 404 '{"code":"not_found","message":"no booking backend here"}'; }
  }
}
CONF
event=""
if [[ $opens_in != 0 ]]; then
  read -r opens starts < <(python3 - "$opens_in" <<'PY'
import datetime, sys
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
f = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
print(f(now - datetime.timedelta(seconds=5)), f(now + datetime.timedelta(seconds=float(sys.argv[1]) + 1)))
PY
)
  event=$'[room.event]\n'"prequeue_opens = \"$opens\""$'\n'"starts = \"$starts\""$'\n'
fi
cat > "$work/anteroom.toml" <<CONF
state_dir = "$work/state"
[server]
listen = ["127.0.0.1:$an_port"]
threads = 1
max_connections = 60000
[[upstream]]
name = "portal"
servers = ["127.0.0.1:$up_port"]
pool_size = 256
[log]
access_log = ""
level = "warn"
[admin]
listen = "127.0.0.1:$an_admin"
[[room]]
id = "portal"
paths = ["/"]
exclude = ["/favicon.ico"]
new_users_per_minute = $rate
max_active_users = 1000000
$event
CONF

nginx -c "$work/up/nginx.conf" -g 'daemon off;' & pids+=($!)
"$anteroom" serve --config "$work/anteroom.toml" 2>"$work/anteroom.err" & pids+=($!)
an_pid=$!
wait_port "$up_port"; wait_port "$an_port"

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); room rate $rate/min, opens in ${opens_in}s; scenario $scenario" | tee "$out/surge.txt"
cpu_before=$(awk '{print $14 + $15}' "/proc/$an_pid/stat")
/usr/bin/time -v -o "$out/time.txt" "$bench" surge --scenario "$scenario" --target "http://127.0.0.1:$an_port/" \
  --json "$out/surge.json" --report "$out/surge.html" "$@" | tee -a "$out/surge.txt"
cpu_after=$(awk '{print $14 + $15}' "/proc/$an_pid/stat")
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$an_pid/status")
{
  echo "anteroom: $(( (cpu_after - cpu_before) / $(getconf CLK_TCK) )) s CPU during the run, RSS ${rss_kb} KiB at the end"
  grep -E "Maximum resident|Elapsed|User time|System time" "$out/time.txt" | sed 's/^\s*/anteroom-bench: /'
  curl -s "http://127.0.0.1:$an_admin/metrics" | grep -E '^anteroom_room_(admitted|passes_issued|tickets_issued|waiting|skipped)_?[a-z]*\{room="portal"\}' || true
} | tee -a "$out/surge.txt"
echo "report: $out/surge.html  json: $out/surge.json"

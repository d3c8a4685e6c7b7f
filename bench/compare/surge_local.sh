#!/usr/bin/env bash
# A surge on this machine: anteroom (1 worker thread) with one waiting room "portal" on "/" in
# front of a portal, then `anteroom-bench surge` with a scenario against it.
#
#   bench/compare/surge_local.sh [--scenario bench/scenarios/launch-day.toml] [--rate 3000]
#                                [--opens-in 20s] [--portal booking|nginx] [--bots on|off|dry-run]
#                                [--anteroom build/bench/app/anteroom]
#                                [--bench build/bench/bench/tool/anteroom-bench] [--out DIR]
#                                [-- extra anteroom-bench surge options, e.g. --scale 0.1]
#
# --rate is the room's new_users_per_minute (put the same figure in the scenario's [target]).
# --opens-in gives the room a [room.event] starting that long after anteroom starts (the
# scenario's [arrivals] start should match; "0" = no event, the room is open at once).
# --portal booking (default): the embedded booking backend with demo stock (two centres, 14
# days), so admitted visitors register, log in and book; the bench then reports who got the
# appointments. --portal nginx: nginx answering 200 on pages and 404 JSON under /api/.
# --bots: [bot_detect] on (default, with `action_header = true` so the bench sees each action),
# off, or dry-run.
# Writes surge.json, surge.html and surge.txt into --out (default: a new directory under /tmp).
# Needs: python3 (and nginx for --portal nginx). Run `make bench` first (or pass the binaries).
set -euo pipefail
cd "$(dirname "$0")/../.."

scenario=bench/scenarios/launch-day.toml rate=3000 opens_in=20 out="" portal=booking bots=on
anteroom=build/bench/app/anteroom bench=build/bench/bench/tool/anteroom-bench
while [[ $# -gt 0 ]]; do
  case "$1" in
    --scenario) scenario=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --opens-in) opens_in=${2%s}; shift 2 ;;
    --portal) portal=$2; shift 2 ;;
    --bots) bots=$2; shift 2 ;;
    --anteroom) anteroom=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
[[ $portal == booking || $portal == nginx ]] || { echo "--portal must be booking or nginx" >&2; exit 2; }
[[ $bots == on || $bots == off || $bots == dry-run ]] || { echo "--bots must be on, off or dry-run" >&2; exit 2; }
for tool in python3 $([[ $portal == nginx ]] && echo nginx); do
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

upstream_block="" booking_block=""
if [[ $portal == nginx ]]; then
  write_nginx_conf "$work/up" "  server {
    listen 127.0.0.1:$up_port reuseport;
    location / { default_type text/html; return 200 \"<!doctype html><title>Portal</title><p>Book an appointment</p>\\n\"; }
    location /api/ { default_type application/json; return 404 '{\"code\":\"not_found\",\"message\":\"no booking backend here\"}'; }
  }" 8192
  upstream_block=$'[[upstream]]\nname = "portal"\n'"servers = [\"127.0.0.1:$up_port\"]"$'\npool_size = 256\n'
else
  # Demo stock: 400 vials a day per centre for 14 days (2,400 appointments a day each); PINs
  # hashed with the minimum PBKDF2 cost so registrations measure the flow, not the hash.
  booking_block=$'[booking]\nembedded = true\nthreads = 2\nopen_groups = [1, 2, 3]\ndemo_vials_per_day = 400\npin_iterations = 1000\nhotline_contingent = 0\n[[booking.centre]]\nname = "Messehalle"\nopens = "08:00"\ncloses = "20:00"\nslot_minutes = 1\n[[booking.centre]]\nname = "Stadthalle"\nopens = "08:00"\ncloses = "20:00"\nslot_minutes = 1\n'
fi
bot_block=""
case $bots in
  on) bot_block=$'[bot_detect]\nenabled = true\naction_header = true\n' ;;
  dry-run) bot_block=$'[bot_detect]\nenabled = true\ndry_run = true\n' ;;
esac
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
$upstream_block
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
$booking_block
$bot_block
CONF

if [[ $portal == nginx ]]; then
  nginx -c "$work/up/nginx.conf" -g 'daemon off;' & pids+=($!)
  wait_port "$up_port"
fi
"$anteroom" serve --config "$work/anteroom.toml" 2>"$work/anteroom.err" & pids+=($!)
an_pid=$!
wait_port "$an_port"

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); room rate $rate/min, opens in ${opens_in}s; portal $portal; bot detection $bots; scenario $scenario" | tee "$out/surge.txt"
cpu_before=$(awk '{print $14 + $15}' "/proc/$an_pid/stat")
/usr/bin/time -v -o "$out/time.txt" "$bench" surge --scenario "$scenario" --target "http://127.0.0.1:$an_port/" \
  --json "$out/surge.json" --report "$out/surge.html" "$@" | tee -a "$out/surge.txt"
cpu_after=$(awk '{print $14 + $15}' "/proc/$an_pid/stat")
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$an_pid/status")
{
  echo "anteroom: $(( (cpu_after - cpu_before) / $(getconf CLK_TCK) )) s CPU during the run, RSS ${rss_kb} KiB at the end"
  grep -E "Maximum resident|Elapsed|User time|System time" "$out/time.txt" | sed 's/^\s*/anteroom-bench: /'
  curl -s "http://127.0.0.1:$an_admin/metrics" | grep -E '^anteroom_room_(admitted|passes_issued|tickets_issued|waiting|skipped|admissions_returned)_?[a-z]*\{room="portal"\}|^anteroom_bot_(decisions|challenges|holds|reasons)' || true
} | tee -a "$out/surge.txt"
echo "report: $out/surge.html  json: $out/surge.json"

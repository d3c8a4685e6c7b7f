#!/usr/bin/env bash
# The shared store's cost (issue 9): one anteroom node with `[state] backend = "redis"` against
# one with the embedded store, same config otherwise, both in front of nginx `return 200`, one
# worker thread each, measured interleaved with wrk (-t1):
#   status  — /_anteroom/status polls of a ticket that stays in line (the room's only active
#             place is taken by an agent's pass), the waiting room's busiest answer on launch day;
#   pass    — admitted traffic: every request carries a valid pass and goes to the upstream.
# Then Redis's side: commands Redis ran (INFO commandstats, scripts' inner commands included)
# and round trips (EVALSHA calls) per admitted visitor, for two crowd sizes (the cost must not
# grow with the crowd), with the node's background cost (its syncs while nothing happens)
# measured first and subtracted.
#
#   bench/compare/redis_store.sh [--rounds 5] [--duration 10s] [--connections 128]
#                                [--visitors "300 1200"] [--anteroom build/bench/app/anteroom]
#
# Needs: wrk, nginx (nginx-light), redis-server, redis-cli, python3. Run `make bench` first.
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=5 duration=10s conns=128 anteroom=build/bench/app/anteroom visitors="300 1200"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --visitors) visitors=$2; shift 2 ;;
    --anteroom) anteroom=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
for needed in wrk nginx redis-server redis-cli python3; do
  command -v "$needed" >/dev/null || { echo "missing $needed (make bench installs it)" >&2; exit 1; }
done
[[ -x $anteroom ]] || { echo "missing $anteroom (run make bench)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true

work=$(mktemp -d /tmp/anteroom-redis-store.XXXXXX)
pids=()
source bench/compare/common.sh
trap cleanup EXIT

up_port=$(free_port)
start_upstream_200
sock=$work/redis.sock
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --save '' --appendonly no --dir "$work" \
  >"$work/redis.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do redis-cli -s "$sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -s "$sock" ping >/dev/null || { echo "redis-server did not start" >&2; cat "$work/redis.log" >&2; exit 1; }
echo "bench-agent-token-0123456789" > "$work/agent.token"

# Three rooms: "portal" on / (admitted traffic), "wait" on /w (one active place, taken by an
# agent: its tickets stay in line), "flow" on /f (for counting Redis commands per visitor).
rooms() {
  cat <<CONF
[admission]
agent_token_file = "$work/agent.token"
[[room]]
id = "portal"
paths = ["/"]
max_active_users = 100000
[[room]]
id = "wait"
paths = ["/w"]
new_users_per_minute = 1
max_active_users = 1
session_idle_timeout = "24h"
session_max_duration = "24h"
[[room]]
id = "flow"
paths = ["/f"]
new_users_per_minute = 6000
max_active_users = 100000
CONF
}
emb_port=$(free_port) emb_admin=$(free_port) red_port=$(free_port) red_admin=$(free_port)
{ anteroom_conf "$emb_port" "$emb_admin" 1 true ""; rooms; } | sed "s|$work/state|$work/state-embedded|" > "$work/embedded.toml"
{ anteroom_conf "$red_port" "$red_admin" 1 true ""; rooms
  printf '[state]\nbackend = "redis"\naddress = "unix:%s"\nkey_prefix = "bench"\nnode_name = "bench-node"\n' "$sock"; } |
  sed "s|$work/state|$work/state-redis|" > "$work/redis.toml"
"$anteroom" serve --config "$work/embedded.toml" 2>"$work/embedded.err" & pids+=($!)
"$anteroom" serve --config "$work/redis.toml" 2>"$work/redis.err" & pids+=($!)
wait_port "$up_port"; wait_port "$emb_port"; wait_port "$red_port"

# A pass for "portal" and a ticket in line for "wait", per node (the redis node may need a
# moment for its first sync: asked again until it answers).
cookies() {
  python3 - "$1" <<'PY'
import http.client, sys, time
port = int(sys.argv[1])
def get(path, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path, headers=headers)
    r = c.getresponse(); r.read()
    return r
def cookie(r, prefix):
    return next((v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie" and v.startswith(prefix)), None)
agent = {"Anteroom-Agent": "bench-agent-token-0123456789"}
deadline = time.time() + 10
while True:
    p = cookie(get("/", agent), "anteroom_pass_portal")
    w = cookie(get("/w/", agent), "anteroom_pass_wait")  # takes the only place of "wait"
    t = cookie(get("/w/", {"Accept": "application/json"}), "anteroom_ticket_wait") if w else None
    if p and t:
        print(p); print(t); break
    if time.time() > deadline:
        sys.exit("no pass or ticket from port %d" % port)
    time.sleep(0.2)
PY
}
mapfile -t emb < <(cookies "$emb_port")
mapfile -t red < <(cookies "$red_port")
declare -A port=([embedded]=$emb_port [redis]=$red_port)
declare -A pass=([embedded]=${emb[0]} [redis]=${red[0]})
declare -A ticket=([embedded]=${emb[1]} [redis]=${red[1]})

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); redis-server $(redis-server --version | grep -o 'v=[0-9.]*'), unix socket"
echo "# wrk -t1 -c$conns -d$duration; $rounds rounds, interleaved; anteroom 1 worker thread"
results="$work/results.tsv"
for r in $(seq "$rounds"); do
  for store in embedded redis; do
    for kind in status pass; do
      if [[ $kind == status ]]; then
        url="http://127.0.0.1:${port[$store]}/_anteroom/status?room=wait" hdr="Cookie: ${ticket[$store]}"
      else
        url="http://127.0.0.1:${port[$store]}/" hdr="Cookie: ${pass[$store]}"
      fi
      read -r rps p50 p99 notes < <(measure_once wrk "$conns" "$duration" "$url" -H "$hdr")
      record_round "$r" "$kind-$store" "$rps" "$p50" "$p99" "$notes"
    done
  done
done
PYTHONPATH=bench/compare python3 - "$results" <<'PY'
import statistics, sys
from results import load
rows, med = load(sys.argv[1])
print("\n| row | median req/s | median p50 ms | median p99 ms | redis vs embedded (median req/s) | per-round ratios |")
print("|---|---:|---:|---:|---:|---|")
for n, m in sorted(med.items()):
    kind, store = n.split("-")
    ratio = per_round = ""
    if store == "redis":
        e = rows[kind + "-embedded"]["rps"]
        ratio = f"{m['rps'] / statistics.median(e):.2f}x"
        per_round = " ".join(f"{a / b:.2f}" for a, b in zip(rows[n]["rps"], e))
    print(f"| {n} | {m['rps']:.0f} | {m['p50']:.3f} | {m['p99']:.3f} | {ratio} | {per_round} |")
PY

# Redis commands per admitted visitor. Visitors arrive on /f, poll until admitted, then make
# five requests with their pass; 32 at a time.
python3 - "$red_port" "$sock" $visitors <<'PY'
import concurrent.futures, http.client, subprocess, sys, time
port, sock, sizes = int(sys.argv[1]), sys.argv[2], [int(x) for x in sys.argv[3:]]
def stats():
    out = subprocess.run(["redis-cli", "-s", sock, "info", "commandstats"], capture_output=True, text=True).stdout
    calls = {}
    for line in out.splitlines():
        if line.startswith("cmdstat_"):
            name, rest = line[len("cmdstat_"):].split(":", 1)
            calls[name] = int(dict(kv.split("=") for kv in rest.split(","))["calls"])
    return calls
def total(c): return sum(c.values())
def delta(a, b): return {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b)}
def visitor(_):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    cookies = {}
    def get(path):
        h = {"Accept": "application/json"}
        if cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        conn.request("GET", path, headers=h)
        r = conn.getresponse(); r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, value = v.split(";")[0].partition("=")
                if value:
                    cookies[name] = value
        return r.status
    polls = 0
    while "anteroom_pass_flow" not in cookies:
        status = get("/f/page")
        polls += 1
        if "anteroom_pass_flow" not in cookies:
            time.sleep(0.5 if status == 200 else 0.2)
        if polls > 600:
            raise RuntimeError("not admitted")
    for _ in range(5):
        get("/f/page")
    return polls
idle_s = 10
a = stats(); time.sleep(idle_s); b = stats()
idle = delta(a, b)
print(f"\nbackground (1 node, 3 rooms, nothing happening): {total(idle) / idle_s:.0f} commands/s, "
      f"{idle.get('evalsha', 0) / idle_s:.0f} EVALSHA/s")
print("\n| visitors | seconds | polls per visitor | Redis commands per admitted visitor | EVALSHA per admitted visitor | top commands per visitor |")
print("|---:|---:|---:|---:|---:|---|")
for n in sizes:
    a = stats(); t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        polls = list(ex.map(visitor, range(n)))
    time.sleep(1)  # the last sync's flush
    secs = time.time() - t0; b = stats()
    d = delta(a, b)
    net = {k: v - idle.get(k, 0) * secs / idle_s for k, v in d.items()}
    top = sorted(((v / n, k) for k, v in net.items() if k != "info" and v > 0), reverse=True)[:5]
    print(f"| {n} | {secs:.1f} | {sum(polls) / n:.1f} | {sum(v for k, v in net.items() if k != 'info') / n:.1f} | "
          f"{net.get('evalsha', 0) / n:.2f} | " + ", ".join(f"{k} {v:.1f}" for v, k in top) + " |")
PY

#!/usr/bin/env bash
# Slow HTTP attacks with slowhttptest (Debian's slowhttptest package) against a running
# anteroom, one after the other: slowloris (a head that never ends), slow POST (a body that
# trickles) and slow read (a client that reads its responses a few bytes at a time). During
# each, a normal client (anteroom-bench raw at a fixed rate, latency measured from the
# intended send time) must keep its p99 under 50 ms with no errors, anteroom's resident memory
# must stay under a bound, and the attack's connections must be cut by anteroom's timeouts
# (at any moment, most of the connections accepted so far are gone again).
#
#   tests/attack/slowhttptest.sh --anteroom build/debug/app/anteroom \
#       --bench build/debug/bench/tool/anteroom-bench --artifacts build/debug/attack-artifacts
#
# ATTACK_SECONDS (default 15) sets each attack's length; ATTACK_CONNECTIONS (default 1500) its
# connections, opened evenly over that time so the pressure lasts (slowhttptest polls all of
# them with select(), so on a 2-core machine more mostly measures the attacker's own CPU use);
# P99_LIMIT_MS (default 50) and RSS_LIMIT_MIB (default 400, an ASan build) the bounds.
set -euo pipefail

source "$(dirname "$0")/common.sh"
parse_args "$@"
command -v slowhttptest >/dev/null || { echo "slowhttptest not installed (apt-get install slowhttptest)" >&2; exit 1; }
seconds="${ATTACK_SECONDS:-15}"
conns="${ATTACK_CONNECTIONS:-1500}"
p99_limit_ms="${P99_LIMIT_MS:-50}"
rss_limit_mib="${RSS_LIMIT_MIB:-400}"

# Timeouts as a deployment would tighten them for launch day: the head within 5 s, no body or
# write pause longer than 5 s, idle keep-alive connections closed after 5 s.
# Bot detection is off: timeouts are under test here, not scoring, and the normal client is a tool.
write_config 'max_connections = 20000
header_read_timeout = "5s"
body_timeout = "5s"
idle_timeout = "5s"' 'enabled = false'
start_anteroom "$anteroom" "$work/anteroom.toml" "$work/anteroom.log"
echo "anteroom pid $pid on port $port (admin $admin_port)"

summary="$artifacts/slowhttptest-summary.txt"
: > "$summary"
failed=0

run_attack() {
  local name="$1"; shift
  local timeouts_before accepted_before rss_max=0 rss open open_max=0
  timeouts_before=$(metric anteroom_timeouts_total)
  accepted_before=$(metric anteroom_connections_accepted_total)
  # The normal client runs a little longer than the attack and starts once it is under way.
  slowhttptest "$@" -c "$conns" -r "$(( conns / seconds + 1 ))" -l "$seconds" -u "http://127.0.0.1:$port/" -g -o "$artifacts/slowhttptest-$name" \
    > "$artifacts/slowhttptest-$name.txt" 2>&1 &
  local attacker=$!
  "$bench" raw "http://127.0.0.1:$port/" --rate 50 --connections 4 --duration "$((seconds - 3))s" --timeout 2s \
    -H "Accept: text/html" --json "$artifacts/normal-$name.json" > "$artifacts/normal-$name.txt" 2>&1 &
  local normal=$!
  # Samples anteroom's memory and open connections while both run.
  while kill -0 "$attacker" 2>/dev/null; do
    rss=$(rss_kib "$pid")
    (( rss > rss_max )) && rss_max=$rss
    open=$(metric anteroom_connections_open)
    (( ${open%.*} > open_max )) && open_max=${open%.*}
    sleep 0.5
  done
  # Connections anteroom accepted during the attack, and how many it had already cut when the
  # attack ended (slowhttptest's own "closed" misses connections reset under unread data).
  local accepted
  accepted=$(( $(metric anteroom_connections_accepted_total | cut -d. -f1) - ${accepted_before%.*} ))
  wait "$attacker" || true
  wait "$normal" || { echo "$name: the normal client failed"; cat "$artifacts/normal-$name.txt"; failed=1; }
  kill -0 "$pid" 2>/dev/null || { echo "$name: anteroom died"; cat "$work/anteroom.log"; exit 1; }
  local timeouts_after
  timeouts_after=$(metric anteroom_timeouts_total)
  python3 - "$name" "$artifacts/normal-$name.json" "$artifacts/slowhttptest-$name.csv" "$p99_limit_ms" \
    "$rss_max" "$rss_limit_mib" "$timeouts_before" "$timeouts_after" "$summary" \
    "$accepted" "$open_max" <<'PY'
import csv, json, sys
name, normal_json, attack_csv, p99_limit, rss_kib, rss_limit, t0, t1, summary = sys.argv[1:10]
accepted, open_max = (int(float(x)) for x in sys.argv[10:12])
n = json.load(open(normal_json))
p99_ms = n["latency_us"]["p99"] / 1000.0
errors = sum(n["errors"].values()) if isinstance(n["errors"], dict) else n["errors"]
non2xx = sum(v for k, v in n["status"].items() if not k.startswith("2"))
cut = float(t1) - float(t0)
# If anteroom cut nothing, the connections open at once would approach all it accepted.
cut_share = 1 - open_max / accepted if accepted else 0
rss_mib = int(rss_kib) / 1024.0
line = (f"{name}: normal client p99 {p99_ms:.1f} ms over {n['responses']} responses, {errors} errors, "
        f"{non2xx} non-2xx; anteroom accepted {accepted} connections, "
        f"at most {open_max} open at once ({cut_share:.0%} already cut), 408/timeouts +{cut:.0f}; RSS max {rss_mib:.0f} MiB")
# Each attack connection lives at most about two timeouts (5 s each) of a 15 s attack: at
# the peak, over a third of those accepted so far must be gone already.
ok = p99_ms < float(p99_limit) and errors == 0 and non2xx == 0 and rss_mib < float(rss_limit) \
     and n["responses"] > 0 and cut_share > 1 / 3
print(("ok   " if ok else "FAIL ") + line)
open(summary, "a").write(("ok   " if ok else "FAIL ") + line + "\n")
sys.exit(0 if ok else 1)
PY
}

# Slowloris: one header line every 2 s, forever.
run_attack slowloris -H -i 2 -x 24 || failed=1
# Slow POST: a 16 KiB form body (Content-Length within upstream.request_buffer, so anteroom
# holds it and the portal never sees the connection), a few bytes every 2 s; body_min_rate
# ends it. Bodies above request_buffer stream to the portal: see docs/security.md.
run_attack slow-post -B -i 2 -s 16384 -x 10 || failed=1
# Slow read: a 32-byte window, read 32 bytes every 2 s, the request sent 3 times on the
# connection (pipelined).
run_attack slow-read -X -w 32 -y 64 -n 2 -z 32 -k 3 || failed=1

echo "--- summary"
cat "$summary"
exit "$failed"

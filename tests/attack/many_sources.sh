#!/usr/bin/env bash
# A connection flood from many distinct source addresses (bound from 127.0.0.0/8), the way a
# botnet or a carrier-grade NAT's worth of people arrives: each request on a new connection
# from the next address. anteroom runs with bot detection on, whose per-address and per-prefix
# tables are bounded (bot_detect.max_tracked); its resident memory must level off instead of
# growing with the number of addresses, the bot tables must stay at their reserved size, and
# every request must be answered.
#
#   tests/attack/many_sources.sh --anteroom build/debug/app/anteroom \
#       --bench build/debug/bench/tool/anteroom-bench --artifacts build/debug/attack-artifacts
#
# SOURCES (default 1000000) addresses, one request each; MAX_TRACKED (default 65536) the bot
# tables' bound; RSS_GROWTH_LIMIT_MIB (default 64) how much the RSS may still grow between the
# end of the first quarter of the run (when the tables are full) and the end.
set -euo pipefail

source "$(dirname "$0")/common.sh"
parse_args "$@"
sources="${SOURCES:-1000000}"
max_tracked="${MAX_TRACKED:-65536}"
growth_limit_mib="${RSS_GROWTH_LIMIT_MIB:-64}"

write_config "" "enabled = true
max_tracked = $max_tracked"
start_anteroom "$anteroom" "$work/anteroom.toml" "$work/anteroom.log"

# The last address of a range of $sources starting at 127.1.0.0.
last=$(python3 -c "import ipaddress,sys; print(ipaddress.IPv4Address('127.1.0.0') + int(sys.argv[1]) - 1)" "$sources")
echo "anteroom pid $pid on port $port; $sources sources 127.1.0.0-$last"

"$bench" raw "http://127.0.0.1:$port/" --no-keepalive --connections 32 --requests "$sources" \
  --source "127.1.0.0-$last" --timeout 10s -H "Accept: text/html" -H "Accept-Language: de" \
  -H "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0" \
  --json "$artifacts/many-sources.json" > "$artifacts/many-sources.txt" 2>&1 &
bench_pid=$!
samples="$artifacts/many-sources-rss.csv"
echo "seconds,rss_kib,bot_table_bytes,open_connections" > "$samples"
start=$(date +%s)
while kill -0 "$bench_pid" 2>/dev/null; do
  echo "$(( $(date +%s) - start )),$(rss_kib "$pid"),$(metric anteroom_bot_table_bytes),$(metric anteroom_connections_open)" >> "$samples"
  sleep 5
done
wait "$bench_pid" || { echo "the load generator failed"; cat "$artifacts/many-sources.txt"; exit 1; }
kill -0 "$pid" 2>/dev/null || { echo "anteroom died"; cat "$work/anteroom.log"; exit 1; }
echo "$(( $(date +%s) - start )),$(rss_kib "$pid"),$(metric anteroom_bot_table_bytes),$(metric anteroom_connections_open)" >> "$samples"

python3 - "$artifacts/many-sources.json" "$samples" "$sources" "$growth_limit_mib" <<'PY'
import csv, json, sys
result, samples, sources, growth_limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
r = json.load(open(result))
rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(open(samples))]
errors = sum(r["errors"].values()) if isinstance(r["errors"], dict) else r["errors"]
answered = sum(r["status"].values())
quarter = rows[max(0, len(rows) // 4 - 1)]
end = rows[-1]
growth = (end["rss_kib"] - quarter["rss_kib"]) / 1024
tables = {row["bot_table_bytes"] for row in rows if row["bot_table_bytes"] > 0}
print(f"{answered} answered of {sources} ({r['requests_per_second']:.0f} req/s, {r['connections_opened']} connections), "
      f"{errors} errors; status {r['status']}; RSS {quarter['rss_kib']/1024:.0f} MiB after a quarter, "
      f"{end['rss_kib']/1024:.0f} MiB at the end (+{growth:.0f} MiB), peak {max(x['rss_kib'] for x in rows)/1024:.0f} MiB; "
      f"bot table bytes {sorted(tables)}")
ok = errors == 0 and answered == sources and growth <= growth_limit and len(tables) <= 1
print("ok" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY

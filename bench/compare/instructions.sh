#!/usr/bin/env bash
# User-space instructions per proxied request, counted by valgrind's callgrind: anteroom (one
# worker thread) and HAProxy (nbthread 1) in front of the same nginx `return 200`, one after the
# other, each sent the same keep-alive load by anteroom-bench raw. Unlike req/s on this shared
# 2-core machine, the count is the same from run to run (within a fraction of a percent), so it
# shows the effect of a change in user-space work that the noise hides in throughput. It says
# nothing about system calls (compare those with strace -c), and nothing about cache misses
# unless --cache-sim is given.
#
#   bench/compare/instructions.sh [--requests 20000] [--anteroom build/bench/app/anteroom]
#                                 [--anteroom-b other/anteroom] [--no-haproxy] [--tls]
#                                 [--bench build/bench/bench/tool/anteroom-bench] [--keep DIR]
#                                 [--cache-sim]
#
# --tls: the clients speak TLS 1.3 to the proxy over their keep-alive connections (one handshake
# per connection, during the warm-up); the rows are anteroom's TLS listener and nginx (one
# worker process, master off) terminating TLS and proxying to the same upstream, as
# tls_compare.sh's nginx-proxy. Counts include OpenSSL's record encryption.
# --keep DIR copies the callgrind profiles to DIR (read them with callgrind_annotate).
# --cache-sim adds callgrind's simulated cache and branch predictor: columns for first-level
# instruction-cache misses and mispredicted branches per request (a model, not the machine's
# counters, which this VM does not expose; its 32 KiB L1 is what the hot path must fit in).
#
# Needs: valgrind, nginx, haproxy (make bench installs them). The servers run under callgrind
# with instrumentation off; it is switched on only around the measured requests (after 2,000
# warm-up requests), so start-up and the pool's first connections are not counted.
set -euo pipefail
cd "$(dirname "$0")/../.."

requests=20000 anteroom=build/bench/app/anteroom anteroom_b= haproxy=1 keep= tls=0 cache_sim=0
bench=build/bench/bench/tool/anteroom-bench
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --anteroom) anteroom=$2; shift 2 ;;
    --anteroom-b) anteroom_b=$2; shift 2 ;;
    --no-haproxy) haproxy=0; shift ;;
    --bench) bench=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --tls) tls=1; shift ;;
    --cache-sim) cache_sim=1; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
for needed in valgrind callgrind_control callgrind_annotate nginx python3; do
  command -v "$needed" >/dev/null || { echo "missing $needed (make bench installs it)" >&2; exit 1; }
done
[[ $haproxy -eq 0 || $tls -eq 1 ]] || command -v haproxy >/dev/null || { echo "missing haproxy" >&2; exit 1; }
for b in "$anteroom" "$bench" ${anteroom_b:+"$anteroom_b"}; do
  [[ -x $b ]] || { echo "missing $b (run make bench)" >&2; exit 1; }
done

scheme=http raw_args=(--timeout 60s) sim_args=()  # callgrind is slow: no request may time out
if [[ $tls -eq 1 ]]; then
  scheme=https raw_args+=(-k --tls-version 1.3)
fi
[[ $cache_sim -eq 0 ]] || sim_args=(--cache-sim=yes --branch-sim=yes)
source bench/compare/common.sh
begin_with_upstream instructions

# $1 row name, $2 port; the rest is the server's command line. Prints one summary row.
# After a warm-up, two runs are counted: $requests / 5 requests, then $requests, each over 32 new
# connections. Their difference is the cost of the extra requests alone, without accepting the
# connections (and, with --tls, without the handshakes, which alone would add thousands of
# instructions to every request's share); what remains of the first run is shown per connection.
measure() {
  local name=$1 port=$2 pid out url small=$((requests / 5))
  shift 2
  out="$work/$name.callgrind"
  valgrind --tool=callgrind --instr-atstart=no "${sim_args[@]}" --callgrind-out-file="$out" "$@" \
    > "$work/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  url="$scheme://127.0.0.1:$port/"
  "$bench" raw -c 32 -n 2000 "${raw_args[@]}" "$url" > /dev/null
  callgrind_control -i on "$pid" > /dev/null 2>&1
  "$bench" raw -c 32 -n "$small" "${raw_args[@]}" --json "$work/$name-small.json" "$url" > /dev/null
  callgrind_control -d "$pid" > /dev/null 2>&1  # dump 1 (and the counters start again from 0)
  "$bench" raw -c 32 -n "$requests" "${raw_args[@]}" --json "$work/$name.json" "$url" > /dev/null
  callgrind_control -d "$pid" > /dev/null 2>&1  # dump 2
  callgrind_control -i off "$pid" > /dev/null 2>&1
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [[ -n $keep ]]; then mkdir -p "$keep" && cp "$out"* "$keep/"; fi
  python3 - "$name" "$small" "$requests" "$out" "$work/$name-small.json" "$work/$name.json" <<'PY'
import json, sys
name, small, big, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for n, f in ((small, sys.argv[5]), (big, sys.argv[6])):
    j = json.load(open(f))
    if j["status"]["2xx"] != n:
        sys.exit(f"{name}: only {j['status']['2xx']} of {n} requests answered 2xx: {j['status']}, errors {j['errors']}")
def totals(path):  # event name -> count, from the dump's "events:" and "totals:" lines
    events = counts = None
    for line in open(path):
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith(("totals:", "summary:")):
            counts = [int(x) for x in line.split()[1:]]
    return dict(zip(events, counts + [0] * (len(events) - len(counts))))
t1, t2 = totals(out + ".1"), totals(out + ".2")
per = lambda *ev: sum(t2.get(e, 0) - t1.get(e, 0) for e in ev) / (big - small)
ir = per("Ir")
conn = (t1["Ir"] - ir * small) / 32
row = f"| {name} | {small:,} + {big:,} | {ir:,.0f} | {conn:,.0f} |"
if "I1mr" in t1:
    row += f" {per('I1mr'):,.0f} | {per('D1mr', 'D1mw'):,.0f} | {per('Bcm', 'Bim'):,.0f} |"
print(row)
PY
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); callgrind, anteroom-bench raw -c 32, keep-alive$([[ $tls -eq 1 ]] && echo ", TLS 1.3")"
if [[ $cache_sim -eq 1 ]]; then
  echo "| server | requests counted | instructions per request | per connection | I1 misses per request | D1 misses per request | mispredicted branches per request |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
else
  echo "| server | requests counted | instructions per request (user space) | per connection (accept$([[ $tls -eq 1 ]] && echo ", TLS handshake")) |"
  echo "|---|---:|---:|---:|"
fi
tls_listener=
if [[ $tls -eq 1 ]]; then
  # EC P-256, as tls_compare.sh; the clients do not verify it (-k).
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
    -addext "subjectAltName=DNS:bench.test,IP:127.0.0.1" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
fi
for variant in a b; do
  bin=$anteroom name=anteroom
  if [[ $variant == b ]]; then
    [[ -n $anteroom_b ]] || continue
    bin=$anteroom_b name=anteroom-b
  fi
  port=$(free_port)
  if [[ $tls -eq 1 ]]; then
    # Only the TLS listener is measured; the plain one comes with anteroom_conf.
    { anteroom_conf "$(free_port)" "$(free_port)" 1 true "" "{ address = \"127.0.0.1:$port\", tls = true }"
      printf '[[tls.certificate]]\ncert = "%s"\nkey = "%s"\n' "$work/cert.pem" "$work/key.pem"; } |
      sed "s|$work/state|$work/state-$variant|" > "$work/$name.toml"
  else
    anteroom_conf "$port" "$(free_port)" 1 true "" | sed "s|$work/state|$work/state-$variant|" > "$work/$name.toml"
  fi
  measure "$name" "$port" "$bin" serve --config "$work/$name.toml"
done
if [[ $tls -eq 1 ]]; then
  port=$(free_port)
  # As tls_compare.sh's nginx-proxy, in one process so that callgrind sees the worker.
  write_nginx_conf "$work/ngp" "  upstream up { server 127.0.0.1:$up_port; keepalive 64; }
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
  }"
  measure nginx-proxy "$port" nginx -c "$work/ngp/nginx.conf" -g 'daemon off; master_process off;'
elif [[ $haproxy -eq 1 ]]; then
  port=$(free_port)
  write_haproxy_conf "$work/haproxy.cfg" "$port"
  measure haproxy "$port" haproxy -f "$work/haproxy.cfg"
fi

#!/usr/bin/env bash
# TLS throughput (issue 7): anteroom-bench raw (and wrk, as a check of the tool) against HTTPS on
# loopback, in three modes: keepalive (one handshake per connection, then only record
# encryption), newconn (a new connection per request, every handshake a full one) and resumed (a
# new connection per request resuming the slot's previous session). Rounds are interleaved; the
# summary prints medians.
#
#   bench/compare/tls_compare.sh [--target nginx,nginx-proxy,anteroom | all] [--rounds 5]
#                                [--duration 10s] [--connections 64] [--tool raw|wrk|both]
#                                [--modes keepalive,newconn,resumed] [--tls-version 1.2|1.3]
#                                [--anteroom build/bench/app/anteroom] [--anteroom-b OTHER_BINARY]
#                                [--bench build/bench/bench/tool/anteroom-bench]
#
# Targets, each with one worker, all with the same EC P-256 certificate made for the run:
#   nginx        nginx terminates TLS and serves a small static file itself
#   nginx-proxy  nginx terminates TLS and proxies to the plain upstream (like for like with anteroom)
#   anteroom     anteroom's TLS listener ([server] listen { address, tls = true } and
#                [[tls.certificate]]), proxying to the plain upstream
#   anteroom-b   the same with another anteroom binary (--anteroom-b), for an A/B of two builds
# The plain upstream is nginx serving the same file, as in proxy_compare.sh. Without
# --tls-version the client offers TLS 1.2 and 1.3 (TLS 1.3 is chosen); --tls-version pins raw
# only (wrk has no such option and gets TLS 1.3). Sent "Connection: close", wrk reconnects per
# request and always resumes its session (nginx's $ssl_session_reused says "r" for all but the
# first), so wrk runs in the keepalive and resumed modes only. Latency differs by design in the
# new-connection modes: raw counts from before connect (TCP and TLS handshakes included), wrk
# from its write after the handshake.
# Needs: nginx (nginx-light), openssl, python3, wrk for --tool wrk|both. Run `make bench` first.
set -euo pipefail
cd "$(dirname "$0")/../.."

targets=nginx rounds=5 duration=10s conns=64 tool=both modes=keepalive,newconn,resumed tls_version=""
anteroom=build/bench/app/anteroom bench=build/bench/bench/tool/anteroom-bench anteroom_b=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --target) targets=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --tool) tool=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --tls-version) tls_version=$2; shift 2 ;;
    --anteroom) anteroom=$2; shift 2 ;;
    --anteroom-b) anteroom_b=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
[[ $targets == all ]] && targets=nginx,nginx-proxy,anteroom
[[ -n $anteroom_b ]] && targets+=,anteroom-b
IFS=, read -r -a target_list <<<"$targets"
for t in "${target_list[@]}"; do
  case $t in nginx|nginx-proxy|anteroom|anteroom-b) ;; *) echo "--target: nginx, nginx-proxy, anteroom or all" >&2; exit 2 ;; esac
done
case $tool in wrk) tools=(wrk) ;; raw) tools=(raw) ;; both) tools=(raw wrk) ;; *) echo "--tool: raw, wrk or both" >&2; exit 2 ;; esac
case $tls_version in ""|1.2|1.3) ;; *) echo "--tls-version: 1.2 or 1.3" >&2; exit 2 ;; esac
IFS=, read -r -a mode_list <<<"$modes"
for m in "${mode_list[@]}"; do
  case $m in keepalive|newconn|resumed) ;; *) echo "--modes: keepalive, newconn, resumed" >&2; exit 2 ;; esac
done
needed=(nginx openssl python3)
[[ $tool != raw ]] && needed+=(wrk)
for n in "${needed[@]}"; do
  command -v "$n" >/dev/null || { echo "missing $n (make bench installs it)" >&2; exit 1; }
done
# raw also checks every target before it is measured, so it is needed whatever --tool says.
[[ -x $bench ]] || { echo "missing $bench (run make bench)" >&2; exit 1; }
if [[ -n $anteroom_b && ! -x $anteroom_b ]]; then
  echo "missing $anteroom_b" >&2; exit 1
fi
if [[ ,$targets, == *,anteroom,* && ! -x $anteroom ]]; then
  echo "missing $anteroom (run make bench)" >&2; exit 1
fi
ulimit -n 65536 2>/dev/null || true

work=$(mktemp -d /tmp/anteroom-tls-compare.XXXXXX)
pids=()
source bench/compare/common.sh
trap cleanup EXIT

# The certificate: EC P-256, for 127.0.0.1 (the bench verifies the IP address when it has no SNI
# name) and bench.test.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
  -addext "subjectAltName=DNS:bench.test,IP:127.0.0.1" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
mkdir -p "$work/www"
head -c 128 /dev/zero | tr '\0' 'x' > "$work/www/small.txt"
chmod 755 "$work" "$work/www"  # nginx's workers run as another user when started as root
path=/small.txt

up_port=$(free_port)
nginx_tls() {  # $1 directory, $2 port, $3 location body
  write_nginx_conf "$1" "  upstream up { server 127.0.0.1:$up_port; keepalive 64; }
  server {
    listen 127.0.0.1:$2 ssl;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
    root $work/www;
    location / { $3 }
  }"
}
write_nginx_conf "$work/up" "  server { listen 127.0.0.1:$up_port reuseport; root $work/www; }"
nginx -c "$work/up/nginx.conf" -g 'daemon off;' & pids+=($!)
contenders=()
declare -A procs=()  # the process whose CPU time a target's rows count (nginx: master + worker)
for t in "${target_list[@]}"; do
  port=$(free_port)
  case $t in
    nginx)
      nginx_tls "$work/ng" "$port" ""
      nginx -c "$work/ng/nginx.conf" -g 'daemon off;' & pids+=($!) ;;
    nginx-proxy)
      nginx_tls "$work/ngp" "$port" 'proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";'
      nginx -c "$work/ngp/nginx.conf" -g 'daemon off;' & pids+=($!) ;;
    anteroom|anteroom-b)
      bin=$anteroom
      [[ $t == anteroom-b ]] && bin=$anteroom_b
      # Only the TLS listener is measured; the plain one comes with anteroom_conf.
      { anteroom_conf "$(free_port)" "$(free_port)" 1 true "" "{ address = \"127.0.0.1:$port\", tls = true }" |
          sed "s|$work/state|$work/state-$t|"
        printf '[[tls.certificate]]\ncert = "%s"\nkey = "%s"\n' "$work/cert.pem" "$work/key.pem"; } > "$work/$t.toml"
      if ! "$bin" check-config --config "$work/$t.toml" > "$work/check-config.log" 2>&1; then
        echo "anteroom does not accept the TLS config (is its TLS support built?):" >&2
        cat "$work/check-config.log" >&2
        exit 1
      fi
      "$bin" serve --config "$work/$t.toml" 2>>"$work/anteroom.err" & pids+=($!) ;;
  esac
  procs[$t]=$!
  contenders+=("$t:$port")
done
wait_port "$up_port"
for c in "${contenders[@]}"; do wait_port "${c##*:}"; done

version_args=()
[[ -n $tls_version ]] && version_args=(--tls-version "$tls_version")
# Every target must answer 200 over a verified connection before it is measured.
for c in "${contenders[@]}"; do
  "$bench" raw -c 1 -n 20 --cacert "$work/cert.pem" "${version_args[@]}" --json "$work/check.json" \
    "https://127.0.0.1:${c##*:}$path" > "$work/check.out" || true
  python3 - "$work/check.json" "${c%%:*}" <<'PY' || { cat "$work/check.out" >&2; exit 1; }
import json, sys
j = json.load(open(sys.argv[1]))
if j["status"]["2xx"] != 20:
    sys.exit(f"{sys.argv[2]}: {j['status']['2xx']} of 20 checks answered 2xx over verified TLS; errors {j['errors']}")
PY
done

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); ${tools[*]}: 1 thread, $conns connections, $duration;" \
  "$rounds rounds; TLS ${tls_version:-1.2+1.3}, server not verified during the runs; GET $path (128 bytes)"
results="$work/results.tsv"
for r in $(seq "$rounds"); do
  for c in "${contenders[@]}"; do
    for m in "${mode_list[@]}"; do
      for t in "${tools[@]}"; do
        args=()
        case $m/$t in
          keepalive/raw) args=(-k "${version_args[@]}") ;;
          newconn/raw) args=(-k --no-keepalive "${version_args[@]}") ;;
          resumed/raw) args=(-k --no-keepalive --tls-resume "${version_args[@]}") ;;
          keepalive/wrk) ;;
          newconn/wrk) continue ;;
          resumed/wrk) args=(-H "Connection: close") ;;
        esac
        row="${c%%:*}/$m@$t"
        read -r rps p50 p99 cpu notes < <(measure_with_cpu "${procs[${c%%:*}]}" "$t" "$conns" "$duration" \
          "https://127.0.0.1:${c##*:}$path" "${args[@]}")
        record_round "$r" "$row" "$rps" "$p50" "$p99" "$notes" "$cpu"
      done
    done
  done
done

PYTHONPATH=bench/compare python3 - "$results" <<'PY'
import statistics, sys
from results import load
rows, med = load(sys.argv[1])
print("\n| target / mode @ tool | median req/s | median p50 ms | median p99 ms | req/s vs keep-alive | raw vs wrk | "
      "median CPU us/req |")
print("|---|---:|---:|---:|---:|---:|---:|")
for n, m in med.items():
    target_mode, _, tool = n.partition("@")
    target, _, mode = target_mode.partition("/")
    ka = med.get(f"{target}/keepalive@{tool}")
    other = med.get(f"{target_mode}@wrk") if tool == "raw" else None
    vs_ka = f"{m['rps'] / ka['rps']:.3f}x" if ka and mode != "keepalive" else ""
    vs_wrk = f"{m['rps'] / other['rps']:.2f}x" if other else ""
    print(f"| {n} | {m['rps']:.0f} | {m['p50']:.3f} | {m['p99']:.3f} | {vs_ka} | {vs_wrk} | {m.get('cpu', 0):.1f} |")
# The like-for-like pair: anteroom (and anteroom-b) and nginx-proxy both terminate TLS and
# proxy to the same upstream.
pairs = []
for n in med:
    target, _, rest = n.partition("/")
    if target in ("anteroom", "anteroom-b") and f"nginx-proxy/{rest}" in med:
        pairs.append((n, f"nginx-proxy/{rest}"))
if pairs:
    print("\n| target / mode @ tool | req/s vs nginx-proxy | CPU per request vs nginx-proxy |")
    print("|---|---:|---:|")
    for a, b in pairs:
        cpu = f"{med[a]['cpu'] / med[b]['cpu']:.2f}x" if med[a].get("cpu") and med[b].get("cpu") else ""
        print(f"| {a} | {med[a]['rps'] / med[b]['rps']:.2f}x | {cpu} |")
PY

#!/usr/bin/env bash
# testssl.sh (Debian's testssl.sh package) against a running anteroom with a TLS listener: the
# protocols, ciphers, server defaults, HTTP headers and known vulnerabilities it checks must
# yield no finding rated HIGH or CRITICAL. The certificate comes from a CA made here, which
# testssl is told to trust (--add-ca), so the chain of trust is judged like a real deployment's.
#
#   tests/tls/testssl.sh --anteroom build/debug/app/anteroom --artifacts build/debug/tls-artifacts
#
# Writes testssl's JSON (severity LOW and above) and a summary to the artifacts directory.
set -euo pipefail

anteroom=""
artifacts=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --anteroom) anteroom="$2"; shift 2 ;;
    --artifacts) artifacts="$2"; shift 2 ;;
    *) echo "usage: $0 --anteroom PATH --artifacts DIR" >&2; exit 2 ;;
  esac
done
[[ -x "$anteroom" && -n "$artifacts" ]] || { echo "usage: $0 --anteroom PATH --artifacts DIR" >&2; exit 2; }
command -v testssl >/dev/null || { echo "testssl not installed (apt-get install testssl.sh)" >&2; exit 1; }
mkdir -p "$artifacts"

work=$(mktemp -d /tmp/anteroom-testssl-XXXXXX)
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A CA and a leaf for localhost, valid for a year (a short validity is itself a finding).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 730 -subj "/CN=anteroom test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$work/site.key" -out "$work/site.csr" 2>/dev/null
# Revocation information as a public CA would put it (testssl rates a certificate without any
# as HIGH); nothing is fetched from these addresses.
printf '%s\n' 'subjectAltName=DNS:localhost' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' \
  'extendedKeyUsage=serverAuth' 'crlDistributionPoints=URI:http://ca.invalid/anteroom-test.crl' \
  'authorityInfoAccess=OCSP;URI:http://ocsp.invalid/' > "$work/ext.cnf"
openssl x509 -req -in "$work/site.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 365 \
  -extfile "$work/ext.cnf" -out "$work/site.pem" 2>/dev/null
cat "$work/site.pem" "$work/ca.pem" > "$work/chain.pem"

cat > "$work/anteroom.toml" <<TOML
state_dir = "$work/state"
[server]
listen = [{ address = "127.0.0.1:0", tls = true }]
threads = 1
[tls]
hsts_max_age = "8760h"
[[tls.certificate]]
cert = "$work/chain.pem"
key = "$work/site.key"
[log]
access_log = ""
[admin]
enabled = false
TOML

"$anteroom" serve --config "$work/anteroom.toml" 2> "$work/anteroom.log" &
pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's#.*listening on https://127\.0\.0\.1:\([0-9]*\) .*#\1#p' "$work/anteroom.log" | head -1)
  [[ -n "$port" ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/anteroom.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "anteroom did not report its TLS port" >&2; cat "$work/anteroom.log" >&2; exit 1; }

json="$artifacts/testssl.json"
rm -f "$json"
# --ip: connect to loopback while the name stays "localhost" (SNI and the certificate's name).
# The checks: protocols, cipher categories, forward secrecy, server preference, server defaults
# (certificate, tickets, resumption), HTTP headers and the known vulnerabilities. Left out: the
# client simulation and per-cipher listings (minutes of handshakes that rate nothing).
testssl --quiet --color 0 --warnings off --openssl-timeout 10 -p -s -f -P -S -h -U \
  --ip 127.0.0.1 --add-ca "$work/ca.pem" --severity LOW \
  --jsonfile "$json" "https://localhost:$port" > "$artifacts/testssl.txt" 2>&1 || true
[[ -s "$json" ]] || { echo "testssl wrote no results" >&2; tail -40 "$artifacts/testssl.txt" >&2; exit 1; }

python3 - "$json" "$artifacts/testssl-summary.txt" <<'PY'
import json, sys, collections
findings = json.load(open(sys.argv[1]))
counts = collections.Counter(f.get("severity", "?") for f in findings)
bad = [f for f in findings if f.get("severity") in ("HIGH", "CRITICAL")]
with open(sys.argv[2], "w") as out:
    out.write("testssl findings by severity (LOW and above): %s\n" % dict(sorted(counts.items())))
    for f in findings:
        if f.get("severity") in ("LOW", "MEDIUM", "HIGH", "CRITICAL"):
            out.write("%-8s %-28s %s\n" % (f["severity"], f["id"], f.get("finding", "")))
print(open(sys.argv[2]).read())
if bad:
    print("FAIL: %d finding(s) rated HIGH or CRITICAL" % len(bad))
    sys.exit(1)
print("ok: no finding rated HIGH or CRITICAL")
PY

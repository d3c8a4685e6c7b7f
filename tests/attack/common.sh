# Shared by the attack scripts: arguments and a scratch directory, start an anteroom from a
# config, learn its ports from its log, sample its memory and metrics, stop it. Sourced, not run.

# parse_args "$@": --anteroom PATH --bench PATH --artifacts DIR into $anteroom, $bench and
# $artifacts (created); then a scratch directory $work, removed on exit after anteroom is
# stopped and its log copied to the artifacts.
parse_args() {
  anteroom="" bench="" artifacts=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --anteroom) anteroom="$2"; shift 2 ;;
      --bench) bench="$2"; shift 2 ;;
      --artifacts) artifacts="$2"; shift 2 ;;
      *) echo "usage: $0 --anteroom PATH --bench PATH --artifacts DIR" >&2; exit 2 ;;
    esac
  done
  [[ -x "$anteroom" && -x "$bench" && -n "$artifacts" ]] ||
    { echo "usage: $0 --anteroom PATH --bench PATH --artifacts DIR" >&2; exit 2; }
  mkdir -p "$artifacts"
  work=$(mktemp -d /tmp/anteroom-attack-XXXXXX)
  pid=""
  trap cleanup EXIT
  ulimit -n 65536 2>/dev/null || true
}

cleanup() {
  stop_anteroom
  cp "$work/anteroom.log" "$artifacts/" 2>/dev/null || true
  rm -rf "$work"
}

# write_config SERVER_KEYS BOT_DETECT_KEYS: $work/anteroom.toml — two workers on 127.0.0.1:0 in
# front of the built-in page, admin on 127.0.0.1:0, no access log; the arguments are extra
# lines for [server] and [bot_detect].
write_config() {
  cat > "$work/anteroom.toml" <<TOML
state_dir = "$work/state"
[server]
listen = ["127.0.0.1:0"]
threads = 2
$1
[[upstream]]
name = "portal"
servers = ["builtin"]
[bot_detect]
$2
[log]
access_log = ""
[admin]
listen = "127.0.0.1:0"
TOML
}

# start_anteroom BINARY CONFIG LOG: sets pid, port (first plain listener), admin_port.
start_anteroom() {
  local bin="$1" cfg="$2" log="$3"
  # An ASan build keeps freed memory in quarantine (256 MiB by default), which would swamp the
  # memory figures the scripts watch; 16 MiB keeps its checks useful and the RSS readable.
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16" "$bin" serve --config "$cfg" 2> "$log" &
  pid=$!
  port=""
  admin_port=""
  # Polls the log for the "listening on" lines (written once the sockets are bound).
  for _ in $(seq 1 200); do
    port=$(sed -n 's#.*listening on http://127\.0\.0\.1:\([0-9]*\) .*#\1#p' "$log" | head -1)
    admin_port=$(sed -n 's#.*admin listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$log" | head -1)
    [[ -n "$port" && -n "$admin_port" ]] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "anteroom did not report its ports" >&2
  cat "$log" >&2
  return 1
}

stop_anteroom() {
  if [[ -n "${pid:-}" ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}

# rss_kib PID: resident set size in KiB (0 when the process is gone).
rss_kib() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# metric NAME: one unlabelled series from the admin listener's /metrics (0 when absent).
metric() {
  curl -s "http://127.0.0.1:$admin_port/metrics" | awk -v n="$1" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }'
}

# Helpers for the scripts in bench/compare/ (sourced, not run). The caller sets $work (its
# temporary directory, where the servers' logs go) and fills the array `pids` with what it starts.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Polls until something accepts on 127.0.0.1:$1 (at most 10 s), else shows the logs and exits.
wait_port() {
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on port $1; logs in $work:" >&2; tail -n 5 "$work"/*.log "$work"/*.err >&2 2>/dev/null; exit 1
}

# Stops what the script started (by process id) and removes $work unless $keep_work is set.
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null
  [[ -n ${keep_work:-} ]] || rm -rf "$work"
}

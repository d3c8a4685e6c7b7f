#!/usr/bin/env bash
# Bookings per second through the booking API, group commit on and off, interleaved:
# `anteroom-booking-load` for each (SQLite workers, write_batch) pair per round, then the median
# bookings/s of each pair and the p99 of its median run.
#
#   bench/compare/booking_load.sh [--rounds 3] [--seconds 10] [--people 130000]
#                                 [--pairs "4:64 4:1 1:64 1:1"]
#                                 [--load build/bench/bench/anteroom-booking-load]
#
# A pair is workers:write_batch (write_batch 1 = every booking commits alone). --people must
# cover the fastest pair for --seconds (each booking takes a new person). Run `make bench` first.
set -euo pipefail

rounds=3 seconds=10 people=130000 pairs="4:64 4:1 1:64 1:1"
load=build/bench/bench/anteroom-booking-load
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) rounds=$2 ;;
    --seconds) seconds=$2 ;;
    --people) people=$2 ;;
    --pairs) pairs=$2 ;;
    --load) load=$2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[[ -x $load ]] || { echo "$load not found: run make bench first" >&2; exit 1; }

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq "$rounds"); do
  for pair in $pairs; do
    workers=${pair%:*} batch=${pair#*:}
    out=$("$load" --clients 64 --seconds "$seconds" --threads "$workers" --write-batch "$batch" --people "$people" 2>/dev/null)
    rate=$(awk '/^bookings\/s/ {print $2}' <<<"$out")
    p99=$(awk '/^latency/ {print $8}' <<<"$out")
    integrity=$(awk '/^integrity/ {print $NF}' <<<"$out")
    echo "round $round workers $workers write_batch $batch: $rate bookings/s, p99 $p99 ms, $integrity"
    echo "$workers $batch $rate $p99 $integrity" >>"$results"
  done
done

echo
echo "workers write_batch  median bookings/s  p99 ms (median run)  integrity"
for pair in $pairs; do
  workers=${pair%:*} batch=${pair#*:}
  awk -v w="$workers" -v b="$batch" '$1 == w && $2 == b' "$results" | sort -n -k3 |
    awk '{r[NR] = $3; p[NR] = $4; ok = ok && ($5 == "OK")} BEGIN {ok = 1}
         END {m = int((NR + 1) / 2); printf "%7s %11s  %18s  %19s  %s\n", w, b, r[m], p[m], ok ? "OK" : "FAILED"}' \
      w="$workers" b="$batch"
done
if grep -qv ' OK$' "$results"; then
  exit 1
fi

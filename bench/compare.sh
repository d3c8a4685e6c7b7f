#!/usr/bin/env bash
# Side by side (issue 5): nginx (1 worker), HAProxy (1 thread) and anteroom (1 worker thread) in
# front of the same nginx `return 200`, on loopback, measured interleaved with wrk and with
# anteroom-bench raw; medians and ratios for proxied traffic, admitted traffic with a valid pass,
# /_anteroom/status polls and first visits (the last two against nginx `return 200`).
#
#   bench/compare.sh [--rounds 5] [--duration 10s] [--connections 128] [other proxy_compare.sh options]
#
# Targets (docs/benchmarks.md): anteroom+pass >= 1.0x HAProxy, status polls >= 1.0x and first
# visits >= 0.6x nginx return 200. Run `make bench` first.
exec "$(dirname "$0")/compare/proxy_compare.sh" --admission --waiting-room --tool both "$@"

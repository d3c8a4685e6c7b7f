#!/usr/bin/env python3
"""RSS per idle keep-alive connection.

Opens N client connections to a proxy, sends one keep-alive request on each and reads the
answer, lets them sit idle, and reports how much the proxy's resident memory grew per
connection (VmRSS from /proc/PID/status before and after).

  bench/compare/idle_rss.py --pid PID --port PORT [--connections 10000] [--batch 100] [--settle 3]

The proxy must allow that many connections (server.max_connections) and file descriptors; the
client needs N descriptors too (ulimit -n). Source addresses are spread over 127.0.0.0/8 so
the client does not run out of ephemeral ports.
"""
import argparse
import selectors
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--settle", type=float, default=3.0, help="seconds idle before measuring")
    ap.add_argument("--path", default="/")
    ap.add_argument("--batch", type=int, default=100, help="connections opened and used at a time")
    a = ap.parse_args()

    base = rss_kib(a.pid)
    sel = selectors.DefaultSelector()
    socks = []
    request = f"GET {a.path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    # Connections are opened and used in batches, the way visitors trickle in: the proxy needs
    # only about `batch` upstream connections at a time, as it would in production.
    for start in range(0, a.connections, a.batch):
        batch = []
        for i in range(start, min(start + a.batch, a.connections)):
            s = socket.socket()
            s.bind((f"127.0.{1 + i // 60000}.{1 + (i // 250) % 250}", 0))
            s.connect(("127.0.0.1", a.port))
            s.sendall(request)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            batch.append(s)
        socks.extend(batch)
        pending = set(batch)
        deadline = time.time() + 30
        while pending and time.time() < deadline:
            for key, _ in sel.select(timeout=1):
                data = key.fileobj.recv(65536)
                if not data:
                    print("a connection was closed by the proxy", file=sys.stderr)
                    return 1
                if b"\r\n\r\n" in data:  # small answers: the head and body arrive together
                    sel.unregister(key.fileobj)
                    pending.discard(key.fileobj)
        if pending:
            print(f"{len(pending)} connections got no answer", file=sys.stderr)
            return 1
    time.sleep(a.settle)  # let the proxy park idle connections (measurement, not synchronisation)
    after = rss_kib(a.pid)
    per = (after - base) * 1024 / a.connections
    print(f"connections={a.connections} rss_before_kib={base} rss_after_kib={after} "
          f"bytes_per_idle_connection={per:.0f}")
    for s in socks:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

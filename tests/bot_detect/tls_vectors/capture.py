#!/usr/bin/env python3
"""Capture the ClientHello a TLS client sends, as hex, for the JA4 test vectors.

Listens on 127.0.0.1 and ::1 on an ephemeral port, runs the client command with "{port}"
replaced by that port, and saves the bytes of the first connection up to the end of the
ClientHello (reassembled across TCP segments and TLS records, like
bot_detect::scan_client_hello) to <out>/<name>.hex, 32 bytes per line. The connection is then
closed: the client fails its handshake, which does not matter, the ClientHello comes first.

  capture.py --name curl -- curl -sk https://127.0.0.1:{port}/
  capture.py --name chromium -- chromium --headless=new --disable-gpu --no-sandbox https://localhost:{port}/

Nothing here is run by the tests; the .hex files are kept in the repository.
"""

import argparse
import os
import selectors
import socket
import subprocess
import sys
import time

MAX_HELLO = 64 * 1024


def hello_complete(data: bytes):
    """True when data holds a whole ClientHello, False when more is needed; raises on garbage."""
    handshake = b""
    pos = 0
    while True:
        if len(data) - pos < 5:
            return False
        if data[pos] != 0x16:
            raise ValueError("not a TLS handshake record")
        length = int.from_bytes(data[pos + 3:pos + 5], "big")
        if len(data) - pos - 5 < length:
            return False
        handshake += data[pos + 5:pos + 5 + length]
        pos += 5 + length
        if len(handshake) >= 4:
            if handshake[0] != 0x01:
                raise ValueError("first handshake message is not a ClientHello")
            if len(handshake) >= 4 + int.from_bytes(handshake[1:4], "big"):
                return True
        if pos > MAX_HELLO:
            raise ValueError("ClientHello larger than 64 KiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True, help="file name without .hex")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = [a for a in args.command if a != "--"]
    if not command:
        ap.error("no client command")

    listeners = []
    v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    v4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    v4.bind(("127.0.0.1", 0))
    port = v4.getsockname()[1]
    listeners.append(v4)
    try:
        v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        v6.bind(("::1", port))
        listeners.append(v6)
    except OSError:
        pass  # no IPv6 loopback: "localhost" resolves to 127.0.0.1 as well
    for s in listeners:
        s.listen(16)

    argv = [a.replace("{port}", str(port)) for a in command]
    client = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sel = selectors.DefaultSelector()
    for s in listeners:
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + args.timeout
    data = b""
    conn = None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                sys.exit(f"timeout: got {len(data)} bytes")
            for key, _ in sel.select(left):
                if conn is None:
                    conn, peer = key.fileobj.accept()
                    for s in listeners:
                        sel.unregister(s)
                    sel.register(conn, selectors.EVENT_READ)
                    continue
                chunk = conn.recv(65536)
                if not chunk:
                    sys.exit(f"client closed after {len(data)} bytes")
                data += chunk
                if hello_complete(data):
                    raise StopIteration
    except StopIteration:
        pass
    finally:
        if conn is not None:
            conn.close()
        client.kill()
        client.wait()

    path = os.path.join(args.out, args.name + ".hex")
    with open(path, "w") as f:
        for i in range(0, len(data), 32):
            f.write(data[i:i + 32].hex() + "\n")
    print(f"{path}: {len(data)} bytes")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Independent JA4 reference for the captured ClientHellos (tests/bot_detect/ja4_test.cpp).

For each <client>.hex here: wrap the bytes in a pcap with text2pcap (a fake TCP stream to
port 443), let tshark 4.0 dissect it, and compute JA4 from the fields tshark reports, written
from the specification (FoxIO-LLC/ja4, technical_details/JA4.md) without looking at the C++
parser. tshark 4.0 has no ja4 field itself; the point is that the values come from Wireshark's
TLS dissector, not from our parser.

  ja4_reference.py            print "<client> <ja4>" and the raw form (JA4_r) per vector
  ja4_reference.py --write    also rewrite expected.txt

Needs tshark and text2pcap (Debian: tshark, wireshark-common).
"""

import glob
import hashlib
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

FIELDS = [
    "tls.handshake.type",
    "tls.handshake.version",
    "tls.handshake.ciphersuite",
    "tls.handshake.extension.type",
    "tls.handshake.sig_hash_alg",
    "tls.handshake.extensions_alpn_str",
    "tls.handshake.extensions.supported_version",
]

VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
            0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}


def is_grease(v):
    # RFC 8701: 0x0A0A, 0x1A1A, ..., 0xFAFA
    return (v >> 8) == (v & 0xFF) and (v & 0x0F) == 0x0A


def numbers(field):
    """tshark prints hex ("0x1301") for some fields and decimal for others."""
    return [int(x, 0) for x in field.split(",") if x]


def dissect(hex_path):
    data = bytes.fromhex("".join(open(hex_path).read().split()))
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "hello.txt")
        pcap = os.path.join(tmp, "hello.pcap")
        with open(dump, "w") as f:
            for i in range(0, len(data), 16):
                f.write("%06x " % i + " ".join("%02x" % b for b in data[i:i + 16]) + "\n")
        subprocess.run(["text2pcap", "-q", "-T", "50000,443", dump, pcap], check=True)
        cmd = ["tshark", "-r", pcap, "-d", "tcp.port==443,tls", "-T", "fields", "-E", "separator=|",
               "-E", "occurrence=a", "-E", "aggregator=,"]
        for field in FIELDS:
            cmd += ["-e", field]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    lines = [l for l in out.splitlines() if l.strip()]
    if len(lines) != 1:
        sys.exit(f"{hex_path}: expected one packet, tshark printed {len(lines)}")
    row = dict(zip(FIELDS, lines[0].split("|")))
    if numbers(row["tls.handshake.type"]) != [1]:
        sys.exit(f"{hex_path}: not a single ClientHello: {row['tls.handshake.type']}")
    return row


def ja4(row):
    ciphers = [c for c in numbers(row["tls.handshake.ciphersuite"]) if not is_grease(c)]
    extensions = [e for e in numbers(row["tls.handshake.extension.type"]) if not is_grease(e)]
    # tls.handshake.sig_hash_alg collects the algorithms of every extension that lists them;
    # only signature_algorithms (13) may contribute, so refuse hellos that carry the others.
    if 34 in extensions or 50 in extensions:
        sys.exit("delegated_credentials / signature_algorithms_cert present: sig_hash_alg is ambiguous")
    sigalgs = [s for s in numbers(row["tls.handshake.sig_hash_alg"]) if not is_grease(s)]
    versions = [v for v in numbers(row["tls.handshake.extensions.supported_version"]) if not is_grease(v)]
    alpn = row["tls.handshake.extensions_alpn_str"].split(",")[0] if row["tls.handshake.extensions_alpn_str"] else ""

    version = max(versions) if 43 in extensions and versions else numbers(row["tls.handshake.version"])[0]
    a = "t" + VERSIONS.get(version, "00") + ("d" if 0 in extensions else "i")
    a += "%02d%02d" % (min(len(ciphers), 99), min(len(extensions), 99))
    if not alpn:
        a += "00"
    elif alpn[0].isascii() and alpn[0].isalnum() and alpn[-1].isascii() and alpn[-1].isalnum():
        a += alpn[0] + alpn[-1]
    else:
        h = alpn.encode().hex()
        a += h[0] + h[-1]

    cipher_text = ",".join("%04x" % c for c in sorted(ciphers))
    ext_text = ",".join("%04x" % e for e in sorted(extensions) if e not in (0x0000, 0x0010))
    if sigalgs:
        ext_text += "_" + ",".join("%04x" % s for s in sigalgs)

    def h12(text):
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    b = h12(cipher_text) if ciphers else "000000000000"
    c = h12(ext_text) if [e for e in extensions if e not in (0x0000, 0x0010)] else "000000000000"
    return f"{a}_{b}_{c}", f"{a}_{cipher_text}_{ext_text}"


def main():
    results = []
    for path in sorted(glob.glob(os.path.join(HERE, "*.hex"))):
        name = os.path.splitext(os.path.basename(path))[0]
        fp, raw = ja4(dissect(path))
        results.append((name, fp))
        print(f"{name} {fp}\n    JA4_r {raw}")
    if "--write" in sys.argv:
        with open(os.path.join(HERE, "expected.txt"), "w") as f:
            f.write("# <client> <JA4>, computed by ja4_reference.py from tshark 4.0's dissection of <client>.hex\n")
            for name, fp in results:
                f.write(f"{name} {fp}\n")


if __name__ == "__main__":
    main()

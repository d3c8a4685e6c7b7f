#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/token_fuzz.cpp: real tokens made with the fuzz target's
fixed test keys (key id 0x11 x 6, secret 0xa1 x 32, as tests/admission/token_test.cpp), in the
formats documented in admission/token.cpp and bot_detect/challenge.cpp. Each seed is the
target's mode byte followed by the token text (or, with mode bit 0x08, the raw record the
target signs itself). Run from anywhere; rewrites corpus/token/."""
import base64, hashlib, hmac, os, struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "token")
KEY_ID = bytes([0x11] * 6)
SECRET = bytes([0xA1] * 32)
NOW = 1_796_000_000_000  # the target's clock (ms)
UA = b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CLIENT_PREFIX = bytes(10) + b"\xff\xff" + bytes([198, 51, 100, 0])  # 198.51.100.23 as /24, v4-mapped


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def sign(body):
    return body + hmac.new(SECRET, body, hashlib.sha256).digest()[:16]


def admission(kind, fields, room=b"book"):
    return sign(bytes([1, kind]) + KEY_ID + bytes([len(room)]) + room + fields)


def bot_binding():
    msg = b"anteroom-bot" + CLIENT_PREFIX + hashlib.sha256(UA).digest()[:16]
    v = struct.unpack(">Q", hmac.new(SECRET, msg, hashlib.sha256).digest()[:8])[0]
    return v or 1


def bot(kind, difficulty, nonce, not_before, expires_at):
    body = bytes([0x42, kind]) + KEY_ID + bytes([difficulty]) + struct.pack(
        ">QQqq", nonce, bot_binding(), not_before, expires_at)
    return sign(body)


ticket = admission(1, struct.pack(">QqQIB", 42, NOW - 60_000, 0, 0, 0))
ticket_prequeue = admission(1, struct.pack(">QqQIB", 7, NOW - 3_600_000, 0, 3, 1))
pass_ = admission(2, struct.pack(">QqqQQ", 0x1234_5678_9ABC_DEF0, NOW - 60_000, NOW + 3_600_000, 0, 42))
invitation = admission(3, struct.pack(">Qq", 99, NOW + 86_400_000))
expired_ticket = admission(1, struct.pack(">QqQIB", 1, NOW - 48 * 3_600_000, 0, 0, 0))
wrong_room = admission(1, struct.pack(">QqQIB", 1, NOW, 0, 0, 0), room=b"shop")
challenge = bot(1, 14, 0xDEAD_BEEF, 0, NOW + 300_000)
wait = bot(2, 0, 0xFEED, NOW - 1_000, NOW + 300_000)
clearance = bot(3, 40, 0xC1EA, 0, NOW + 1_800_000)
hold = bot(4, 0, 0x401D, NOW + 30_000, NOW + 600_000)

seeds = {
    # mode 0x10: admission tokens verified without a binding policy (these are unbound)
    "ticket.txt": bytes([0x10]) + b64(ticket),
    "ticket_prequeue.txt": bytes([0x10]) + b64(ticket_prequeue),
    "pass.txt": bytes([0x11]) + b64(pass_),
    "invitation.txt": bytes([0x12]) + b64(invitation),
    "ticket_expired.txt": bytes([0x10]) + b64(expired_ticket),
    "ticket_wrong_room.txt": bytes([0x10]) + b64(wrong_room),
    "ticket_unbound_under_policy.txt": bytes([0x00]) + b64(ticket),
    "challenge.txt": bytes([0x03]) + b64(challenge),
    "wait.txt": bytes([0x04]) + b64(wait),
    "clearance.txt": bytes([0x05]) + b64(clearance),
    "hold.txt": bytes([0x06]) + b64(hold),
    "clearance_as_challenge.txt": bytes([0x03]) + b64(clearance),
    # mode 0x08: raw records the target signs (the fuzzer edits fields behind the MAC)
    "ticket_raw.bin": bytes([0x18]) + ticket,
    "pass_raw.bin": bytes([0x19]) + pass_,
    "invitation_raw.bin": bytes([0x1A]) + invitation,
    "challenge_raw.bin": bytes([0x0B]) + challenge,
    "hold_raw.bin": bytes([0x0E]) + hold,
    # mode 7: proof of work, "token:solution"
    "pow.txt": bytes([0x07]) + b64(challenge) + b":123456",
    "pow_leading_zero.txt": bytes([0x07]) + b64(challenge) + b":0123",
    "garbage.txt": bytes([0x00]) + b"not-a-token",
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {OUT}")

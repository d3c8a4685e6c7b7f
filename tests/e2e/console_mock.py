#!/usr/bin/python3
"""A stand-in for anteroom's admin listener, to develop and test the operations console
(web/console/) without the C++ backend: it serves the page at the contract's paths
(/admin/, /admin/static/console.{css,js}, /admin/login, /admin/logout), /admin/api/live with
evolving samples, the room controls of the admin API, /admin/api/bot-detect and /metrics.

Two ways to run it:

  console_mock.py [--port 8088] [--visitor-port 0]
      Developing: two rooms with synthetic traffic and 30 minutes of history (with gaps and
      nulls). Sign in with the token test-token-0123456789. /__mock/fail?seconds=N makes
      /admin/api/live fail for N seconds, /__mock/expire ends every session.

  console_mock.py serve --config anteroom.toml
      What tests/e2e/cdp.py runs as "anteroom" (console_browser.py --mock): rooms, tokens and
      [bot_detect] from the config, two listeners on port 0 logged like anteroom's, no
      synthetic traffic: visitors are the requests on the visitor listener.

Standard library only; not a model of anteroom's admission, just enough to move the figures.
"""

import argparse
import collections
import html
import http.cookies
import http.server
import json
import math
import os
import random
import secrets
import sys
import threading
import time
import tomllib
import urllib.parse

WEB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web", "console")
DEV_TOKEN = "test-token-0123456789"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
MODES = ("fifo", "random", "passthrough", "reject", "paused")
KEEP = 1800  # samples, one a second


def now_ms():
    return int(time.time() * 1000)


class Room:
    def __init__(self, rid, mode="fifo", rate=60, cap=1000, available=None):
        self.id, self.mode, self.config_mode = rid, mode, mode
        self.rate, self.cap = rate, cap
        self.waiting = self.active = self.admitted_total = self.issued = 0
        self.allowance = 0.0
        self.leave = 0.0
        self.available = available
        self.admits = collections.deque()  # (t, wait seconds) of the last 60 s

    def state(self):
        if self.mode == "reject":
            return "closed"
        if self.mode == "paused":
            return "paused"
        if self.available == 0:
            return "sold_out"
        return "admitted" if self.mode == "passthrough" else "queued"

    def settings_json(self, t):
        per_min = sum(1 for a in self.admits if a[0] > t - 60000)
        return {"id": self.id, "mode": self.mode, "state": self.state(), "new_users_per_minute": self.rate,
                "max_active_users": self.cap, "issued": self.issued, "waiting": self.waiting,
                "active": self.active, "admitted_total": self.admitted_total,
                "outflow_per_minute": float(per_min), "available": self.available,
                "sold_out": self.available == 0}


class Sim:
    """The rooms' figures, advanced once a second, and the samples of the last 30 minutes."""

    def __init__(self, rooms, demo, bot_enabled, bot_dry_run, tokens, state_dir=None):
        self.lock = threading.Lock()
        self.rooms = collections.OrderedDict((r.id, r) for r in rooms)
        self.demo = demo
        self.bot = {"enabled": bot_enabled, "dry_run": bot_dry_run, "dry_run_config": bot_dry_run}
        self.tokens = tokens  # token -> name
        self.sessions = {}  # cookie value -> name
        self.samples = collections.deque(maxlen=KEEP)
        self.audit = collections.deque(maxlen=200)
        self.requests = collections.deque()  # (t, band) of visitor requests, last 60 s
        self.fail_until = 0.0
        self.state_dir = state_dir
        self.tick_no = 0
        if demo:
            start = now_ms() - KEEP * 1000
            for i in range(KEEP):
                self.tick(start + i * 1000)

    def tick(self, t):
        with self.lock:
            self.tick_no += 1
            n = self.tick_no
            for k, r in enumerate(self.rooms.values()):
                if self.demo:
                    # the second room is paused for a while in the history: no admissions, wait = null
                    if k == 1 and 300 <= n < 480:
                        r.mode = "paused"
                    elif k == 1 and n == 480:
                        r.mode = r.config_mode
                    arrivals = max(0.0, 14 + 10 * math.sin(n / 170.0 + k) + random.gauss(0, 3)) / (k + 1)
                    if r.mode != "reject":
                        a = int(arrivals) + (1 if random.random() < arrivals % 1 else 0)
                        r.waiting += a
                        r.issued += a
                    r.leave += r.active / 420.0
                    gone = min(r.active, int(r.leave))
                    r.leave -= gone
                    r.active -= gone
                if r.mode == "passthrough":
                    n_in = r.waiting
                elif r.mode in ("fifo", "random"):
                    r.allowance = min(r.allowance + r.rate / 60.0, max(1.0, r.rate / 60.0))
                    n_in = min(int(r.allowance), r.waiting, max(0, r.cap - r.active))
                    r.allowance -= n_in
                else:
                    n_in = 0
                if r.available is not None:
                    n_in = min(n_in, r.available) if r.available > 0 else 0
                if n_in:
                    base_wait = r.waiting / max(r.rate, 1) * 60.0
                    for _ in range(min(n_in, 50)):
                        r.admits.append((t, max(1.0, random.gauss(base_wait, base_wait * 0.25 + 1))))
                    r.waiting -= n_in
                    r.active += n_in
                    r.admitted_total += n_in
                    if r.available is not None and self.demo:
                        r.available = max(0, r.available - int(n_in * 0.8 + random.random()))
                while r.admits and r.admits[0][0] <= t - 60000:
                    r.admits.popleft()
            while self.requests and self.requests[0][0] <= t - 60000:
                self.requests.popleft()
            self.samples.append(self._sample(t, n))

    def _sample(self, t, n):
        rooms = {}
        for k, r in enumerate(self.rooms.values()):
            waits = sorted(w for _, w in r.admits)
            p = (lambda q: round(waits[min(len(waits) - 1, int(q * len(waits)))], 1)) if waits else (lambda q: None)
            eta = None
            if waits:
                eta = round(min(1.0, 0.93 + 0.05 * math.sin(n / 90.0 + k) + random.gauss(0, 0.01)), 3) \
                    if self.demo else 1.0
            rooms[r.id] = {"waiting": r.waiting, "active": r.active, "max_active_users": r.cap,
                           "new_users_per_minute": r.rate, "admitted_per_minute": len(r.admits),
                           "wait_p50_s": p(0.5), "wait_p90_s": p(0.9), "eta_accuracy": eta,
                           "available": r.available}
        if self.demo:
            gap = 900 <= n < 940  # an upstream outage: no answers, so no latency figures
            load = 30000 + 8000 * math.sin(n / 200.0)
            upstream = {"requests_per_minute": None if gap else round(load),
                        "p50_ms": None if gap else round(12 + 3 * math.sin(n / 60.0) + random.random(), 1),
                        "p99_ms": None if gap else round(150 + 60 * math.sin(n / 45.0) + 20 * random.random(), 1),
                        "error_rate": None if gap else round(max(0.0, 0.002 + (0.03 if 880 <= n < 900 else 0)
                                                                + random.gauss(0, 0.0005)), 4)}
            bots = {"allow": round(load), "challenge": round(400 + 150 * math.sin(n / 80.0)),
                    "deprioritise": round(50 + 20 * math.sin(n / 50.0)),
                    "deny": round(1200 + 900 * max(0.0, math.sin(n / 120.0)))}
        else:
            upstream = {"requests_per_minute": 0, "p50_ms": None, "p99_ms": None, "error_rate": None}
            bots = {"allow": 0, "challenge": 0, "deprioritise": 0, "deny": 0}
            for _, band in self.requests:
                bots[band] += 1
        return {"t": t, "rooms": rooms, "upstream": upstream, "bots": bots}

    def top_reasons(self):
        if self.demo:
            last = self.samples[-1]["bots"] if self.samples else {"deny": 0}
            return [{"reason": "automation_ua", "per_minute": round(last["deny"] * 0.8)},
                    {"reason": "address_rate", "per_minute": round(last["deny"] * 0.15)},
                    {"reason": "missing_fetch_metadata", "per_minute": 211},
                    {"reason": "ticket_farming", "per_minute": 37}]
        deny = sum(1 for _, b in self.requests if b == "deny")
        return [{"reason": "automation_ua", "per_minute": deny}] if deny else []

    def record(self, who, via, what):
        entry = {"at": now_ms(), "who": who, "via": via, "what": what}
        self.audit.appendleft(entry)
        if self.state_dir:
            os.makedirs(self.state_dir, exist_ok=True)
            with open(os.path.join(self.state_dir, "admin-audit.log"), "a") as f:
                f.write(json.dumps(entry) + "\n")

    def update(self, rid, patch, who, via):
        """The admin API's PATCH: (status, json)."""
        r = self.rooms.get(rid)
        if r is None:
            return 404, {"error": "no such room"}
        if not isinstance(patch, dict):
            return 422, {"error": "body must be a JSON object"}
        changes = {}
        for key, value in patch.items():
            if key == "mode":
                if value not in MODES:
                    return 422, {"error": "mode must be one of fifo, random, passthrough, reject, paused"}
                changes["mode"] = value
            elif key == "resume" and value is True:
                changes["mode"] = r.config_mode if r.config_mode != "paused" else "fifo"
            elif key in ("new_users_per_minute", "max_active_users"):
                top = 1000000 if key == "new_users_per_minute" else 10000000
                if type(value) is not int or not 1 <= value <= top:
                    return 422, {"error": f"{key} must be an integer in 1..{top}"}
                changes[key] = value
            else:
                return 422, {"error": f'unknown setting "{key}" (mode, new_users_per_minute, max_active_users)'}
        for key, value in changes.items():
            attr = {"mode": "mode", "new_users_per_minute": "rate", "max_active_users": "cap"}[key]
            old = getattr(r, attr)
            setattr(r, attr, value)
            self.record(who, via, f"room {rid}: {key} {old} -> {value}")
        return 200, r.settings_json(now_ms())


def read_tokens(path):
    tokens = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, token = line.partition(":")
            tokens[token.strip() if sep else line] = name.strip() if sep else "admin"
    return tokens


def read_file(name):
    with open(os.path.join(WEB, name), "rb") as f:
        return f.read()


def page_lang(accept_language):
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("de"):
            return "de"
        if tag.startswith("en"):
            return "en"
    return "de"


def make_admin_handler(sim):
    class Admin(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "anteroom-mock"

        def log_message(self, fmt, *args):
            pass

        def send(self, status, body, ctype, headers=()):
            if isinstance(body, str):
                body = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def json(self, status, obj, headers=()):
            self.send(status, json.dumps(obj), "application/json", headers)

        def page(self, status, name, message="", headers=()):
            lang = page_lang(self.headers.get("Accept-Language"))
            body = read_file(name).decode().replace("{{lang}}", lang).replace("{{message}}", html.escape(message))
            self.send(status, body, "text/html; charset=utf-8",
                      [("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                       ("Referrer-Policy", "no-referrer")] + list(headers))

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def who(self):
            """(name, via) of the request's authentication, or (None, None)."""
            auth = self.headers.get("Authorization", "")
            if auth.lower().startswith("bearer ") and auth[7:] in sim.tokens:
                return sim.tokens[auth[7:]], "api"
            c = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
            if "anteroom_console" in c and c["anteroom_console"].value in sim.sessions:
                return sim.sessions[c["anteroom_console"].value], "console"
            return None, None

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            path, q = url.path, urllib.parse.parse_qs(url.query)
            if path == "/metrics":
                return self.send(200, metrics(sim), "text/plain; version=0.0.4; charset=utf-8")
            if path == "/healthz":
                return self.send(200, "ok\n", "text/plain")
            if path == "/__mock/fail":
                sim.fail_until = time.time() + float(q.get("seconds", ["5"])[0])
                return self.send(200, "failing\n", "text/plain")
            if path == "/__mock/expire":
                sim.sessions.clear()
                return self.send(200, "expired\n", "text/plain")
            if path in ("/admin/static/console.css", "/admin/static/console.js"):
                name = path.rsplit("/", 1)[1]
                ctype = "text/css; charset=utf-8" if name.endswith(".css") else "text/javascript; charset=utf-8"
                return self.send(200, read_file(name), ctype, [("X-Content-Type-Options", "nosniff")])
            if path == "/admin":
                return self.send(303, "", "text/plain", [("Location", "/admin/")])
            who, _ = self.who()
            if path == "/admin/":
                return self.page(200, "index.html") if who else self.page(401, "login.html")
            if not path.startswith("/admin/"):
                return self.send(404, "not found\n", "text/plain")
            if who is None:
                return self.json(401, {"error": "missing or wrong bearer token"})
            if path == "/admin/api/live":
                if time.time() < sim.fail_until:
                    return self.json(503, {"error": "mock: failing on purpose"})
                since = int(float(q.get("since", ["0"])[0] or 0))
                with sim.lock:
                    t = now_ms()
                    out = {"now": t, "step_ms": 1000, "window_s": 60, "who": who, "version": "0.9.0-mock",
                           "bot_detect": dict(sim.bot),
                           "rooms": [r.settings_json(t) for r in sim.rooms.values()],
                           "samples": [x for x in sim.samples if x["t"] > since],
                           "top_reasons": sim.top_reasons(),
                           "audit": list(sim.audit)[:50]}
                return self.json(200, out)
            if path == "/admin/api/audit":
                with sim.lock:
                    return self.json(200, list(sim.audit))
            if path == "/admin/rooms":
                with sim.lock:
                    t = now_ms()
                    return self.json(200, [r.settings_json(t) for r in sim.rooms.values()])
            return self.json(404, {"error": "no such admin endpoint"})

        def do_POST(self):
            self.change("POST")

        def do_PATCH(self):
            self.change("PATCH")

        def change(self, method):
            path = urllib.parse.urlsplit(self.path).path
            raw = self.body()
            if path == "/admin/login" and method == "POST":
                form = urllib.parse.parse_qs(raw.decode(errors="replace"))
                token = form.get("token", [""])[0]
                if token in sim.tokens:
                    sid = secrets.token_urlsafe(24)
                    sim.sessions[sid] = sim.tokens[token]
                    return self.send(303, "", "text/plain", [
                        ("Location", "/admin/"),
                        ("Set-Cookie", f"anteroom_console={sid}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=43200")])
                return self.page(401, "login.html", "Falsches Token. / Wrong token.")
            who, via = self.who()
            if path == "/admin/logout" and method == "POST":
                c = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
                if "anteroom_console" in c:
                    sim.sessions.pop(c["anteroom_console"].value, None)
                return self.send(303, "", "text/plain", [
                    ("Location", "/admin/"),
                    ("Set-Cookie", "anteroom_console=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0")])
            if who is None:
                return self.json(401, {"error": "missing or wrong bearer token"})
            if via == "console" and self.headers.get("X-Anteroom-Console") != "1":
                return self.json(403, {"error": "a console request must carry X-Anteroom-Console: 1"})
            if path.startswith("/admin/rooms/"):
                rest = path[len("/admin/rooms/"):]
                if rest.endswith("/pause") or rest.endswith("/resume"):
                    rid, _, action = rest.rpartition("/")
                    patch = {"mode": "paused"} if action == "pause" else {"resume": True}
                else:
                    rid = rest
                    try:
                        patch = json.loads(raw or b"null")
                    except ValueError:
                        return self.json(400, {"error": "body is not valid JSON"})
                with sim.lock:
                    status, out = sim.update(urllib.parse.unquote(rid), patch, who, via)
                return self.json(status, out)
            if path == "/admin/api/bot-detect" and method == "POST":
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    return self.json(400, {"error": "body is not valid JSON"})
                if not isinstance(body, dict) or not isinstance(body.get("dry_run"), bool):
                    return self.json(422, {"error": 'body must be {"dry_run": true|false}'})
                with sim.lock:
                    if not sim.bot["enabled"]:
                        return self.json(422, {"error": "bot detection is not enabled ([bot_detect] enabled = false)"})
                    old = sim.bot["dry_run"]
                    sim.bot["dry_run"] = body["dry_run"]
                    sim.record(who, via, f"bot_detect: dry_run {str(old).lower()} -> {str(body['dry_run']).lower()}")
                    return self.json(200, dict(sim.bot))
            return self.json(404, {"error": "no such admin endpoint"})

    return Admin


def make_visitor_handler(sim):
    """Every request with Accept: application/json and no ticket joins the first room's line."""
    class Visitor(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def do_GET(self):
            ua = self.headers.get("User-Agent", "")
            band = "deny" if sim.bot["enabled"] and ("urllib" in ua or "curl" in ua or not ua) else "allow"
            with sim.lock:
                sim.requests.append((now_ms(), band))
                r = next(iter(sim.rooms.values()))
                ticket = "anteroom_ticket_" + r.id
                has = ticket in http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
                headers = []
                if not has and r.mode != "reject":
                    r.waiting += 1
                    r.issued += 1
                    headers.append(("Set-Cookie", f"{ticket}={r.issued}; Path=/; HttpOnly"))
                body = json.dumps({"state": r.state(), "position": r.waiting}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    return Visitor


def metrics(sim):
    out = []
    with sim.lock:
        fams = (("anteroom_room_waiting", "waiting"), ("anteroom_room_active", "active"),
                ("anteroom_room_admitted_total", "admitted_total"),
                ("anteroom_room_new_users_per_minute", "rate"), ("anteroom_room_max_active_users", "cap"))
        for fam, attr in fams:
            out.append(f"# TYPE {fam} {'counter' if fam.endswith('_total') else 'gauge'}")
            for r in sim.rooms.values():
                out.append(f'{fam}{{room="{r.id}"}} {getattr(r, attr)}')
    return "\n".join(out) + "\n"


def serve(sim, admin_port, visitor_port):
    admin = http.server.ThreadingHTTPServer(("127.0.0.1", admin_port), make_admin_handler(sim))
    visitor = http.server.ThreadingHTTPServer(("127.0.0.1", visitor_port), make_visitor_handler(sim))
    for s in (admin, visitor):
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
    # The lines tests/e2e/cdp.py reads from anteroom's log.
    print(f"mock server: listening on http://127.0.0.1:{visitor.server_address[1]}", file=sys.stderr, flush=True)
    print(f"mock server: admin listening on http://127.0.0.1:{admin.server_address[1]}", file=sys.stderr, flush=True)
    next_t = time.time()
    while True:
        next_t += 1.0
        time.sleep(max(0.0, next_t - time.time()))
        sim.tick(now_ms())


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        ap = argparse.ArgumentParser(prog="console_mock.py serve")
        ap.add_argument("--config", required=True)
        args = ap.parse_args(sys.argv[2:])
        with open(args.config, "rb") as f:
            conf = tomllib.load(f)
        rooms = [Room(r["id"], r.get("mode", "fifo"), r.get("new_users_per_minute", 60), r.get("max_active_users", 1000))
                 for r in conf.get("room", [])]
        bd = conf.get("bot_detect", {})
        token_file = conf.get("admin", {}).get("token_file")
        sim = Sim(rooms, False, bool(bd.get("enabled", False)), bool(bd.get("dry_run", False)),
                  read_tokens(token_file) if token_file else {}, conf.get("state_dir"))
        serve(sim, 0, 0)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8088, help="admin listener (the console)")
    ap.add_argument("--visitor-port", type=int, default=0)
    ap.add_argument("--no-bot-detect", action="store_true")
    args = ap.parse_args()
    rooms = [Room("portal", "fifo", 600, 2000, available=25000), Room("hotline", "fifo", 120, 300)]
    sim = Sim(rooms, True, not args.no_bot_detect, False, {DEV_TOKEN: "admin"})
    print(f"console: http://127.0.0.1:{args.port}/admin/  token: {DEV_TOKEN}", file=sys.stderr, flush=True)
    serve(sim, args.port, args.visitor_port)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

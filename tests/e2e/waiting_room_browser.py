#!/usr/bin/python3
"""End to end in a real browser: headless Chromium, driven over the DevTools protocol, opens a
room URL, sees the waiting page with its place in line, and lands on the upstream page (with
the URL it asked for) once the room admits it. No manual step; screenshots are kept under
--artifacts.

Needs Debian's `chromium` and `python3-websocket` (make test installs both). Every wait has a
deadline and re-checks a condition; nothing sleeps for a fixed time to synchronise.
"""

import argparse
import base64
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import websocket

ADMIN_TOKEN = "e2e-admin-token-0123456789"


class Failure(Exception):
    pass


def eventually(check, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)  # re-check interval, not synchronisation: the condition decides
    raise Failure(f"timed out after {timeout}s waiting for {what}")


class Proc:
    """A child whose stderr is collected line by line on a thread."""

    def __init__(self, argv, **kw):
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, **kw)
        self.lines = queue.Queue()
        self.err = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stderr:
            self.err.append(line)
            self.lines.put(line)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Cdp:
    """Minimal synchronous DevTools client: one command at a time, events skipped."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise Failure(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, method=method, data=body.encode() if body else None, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def start_anteroom(binary, work):
    with open(os.path.join(work, "admin.token"), "w") as f:
        f.write(ADMIN_TOKEN + "\n")
    conf = os.path.join(work, "anteroom.toml")
    with open(conf, "w") as f:
        f.write(f"""state_dir = "{work}/state"
[server]
listen = ["127.0.0.1:0"]
threads = 1
[log]
access_log = ""
[admin]
listen = "127.0.0.1:0"
token_file = "{work}/admin.token"
[[room]]
id = "portal"
paths = ["/"]
exclude = ["/favicon.ico"]
mode = "paused"
""")
    proc = Proc([binary, "serve", "--config", conf])
    ports = {}

    def ready():
        while not proc.lines.empty():
            line = proc.lines.get()
            m = re.search(r" server: (admin )?listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                ports["admin" if m.group(1) else "proxy"] = int(m.group(2))
        if proc.p.poll() is not None:
            raise Failure("anteroom exited:\n" + "".join(proc.err))
        return len(ports) == 2

    eventually(ready, 30, "anteroom to listen")
    return proc, ports["proxy"], ports["admin"]


def start_chromium(work):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise Failure("chromium is not installed (apt-get install chromium)")
    profile = os.path.join(work, "profile")
    proc = Proc([exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--accept-lang=de-DE,de", "--remote-debugging-port=0", f"--user-data-dir={profile}",
                 "--window-size=1280,800", "about:blank"])
    port_file = os.path.join(profile, "DevToolsActivePort")
    eventually(lambda: os.path.exists(port_file) and open(port_file).read().strip(), 60, "chromium to start")
    port = int(open(port_file).read().split()[0])

    def page_target():
        _, body, _ = http("GET", f"http://127.0.0.1:{port}/json/list")
        pages = [t for t in json.loads(body) if t.get("type") == "page"]
        return pages[0]["webSocketDebuggerUrl"] if pages else None

    return proc, Cdp(eventually(page_target, 30, "a browser page"))


def run(binary, artifacts):
    os.makedirs(artifacts, exist_ok=True)
    work = tempfile.mkdtemp(prefix="anteroom-e2e-")
    procs = []
    try:
        anteroom, port, admin = start_anteroom(binary, work)
        procs.append(anteroom)
        base = f"http://127.0.0.1:{port}"
        # Somebody is already in line, so the browser's place is the second.
        status, body, _ = http("GET", base + "/", headers={"Accept": "application/json"})
        if status != 200 or json.loads(body).get("position") != 1:
            raise Failure(f"first visitor: {status} {body}")

        chromium, cdp = start_chromium(work)
        procs.append(chromium)
        cdp.call("Page.enable")
        cdp.call("Runtime.enable")
        cdp.call("Page.navigate", url=base + "/termine?zentrum=3")

        def waiting_page():
            state = cdp.eval("document.readyState === 'complete' && "
                             "JSON.stringify({lang: document.documentElement.lang, text: document.body.innerText,"
                             " live: !!document.querySelector('[aria-live]')})")
            return json.loads(state) if state else None

        page = eventually(waiting_page, 30, "the waiting page")
        if page["lang"] != "de" or not page["live"]:
            raise Failure(f"waiting page: lang={page['lang']} aria-live={page['live']}")
        if not re.search(r"\b2\b", page["text"]):
            raise Failure("waiting page does not show place 2:\n" + page["text"])
        cdp.screenshot(os.path.join(artifacts, "waiting-page.png"))
        cookies = cdp.call("Network.getCookies", urls=[base])["cookies"]
        ticket = [c for c in cookies if c["name"] == "anteroom_ticket_portal"]
        if not ticket or not ticket[0]["httpOnly"]:
            raise Failure(f"no HttpOnly ticket cookie in the browser: {cookies}")

        # Open the room: the page's own polling (or its meta refresh) must take the visitor in.
        status, body, _ = http("PATCH", f"http://127.0.0.1:{admin}/admin/rooms/portal",
                               body=json.dumps({"mode": "fifo", "new_users_per_minute": 600000}),
                               headers={"Authorization": "Bearer " + ADMIN_TOKEN,
                                        "Content-Type": "application/json"})
        if status != 200:
            raise Failure(f"admin PATCH: {status} {body}")

        def landed():
            v = cdp.eval("document.readyState === 'complete' && document.title === 'anteroom' && "
                         "location.pathname + location.search")
            return v or None

        where = eventually(landed, 90, "the upstream page after admission")
        if where != "/termine?zentrum=3":
            raise Failure(f"landed on {where}, not on the URL the visitor asked for")
        cdp.screenshot(os.path.join(artifacts, "admitted.png"))
        cookies = cdp.call("Network.getCookies", urls=[base])["cookies"]
        if not any(c["name"] == "anteroom_pass_portal" and c["httpOnly"] for c in cookies):
            raise Failure(f"no HttpOnly pass cookie after admission: {cookies}")
        print(f"ok: waiting page showed place 2, admitted to {where}; screenshots in {artifacts}")
        return 0
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--anteroom", required=True)
    ap.add_argument("--artifacts", required=True)
    args = ap.parse_args()
    try:
        return run(args.anteroom, args.artifacts)
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

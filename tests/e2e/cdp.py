"""Shared helpers of the end-to-end browser tests: anteroom and headless Chromium as children, a
minimal DevTools protocol client, plain HTTP, and deadline-bound waits.

Needs Debian's `chromium` and `python3-websocket`. Every wait has a deadline and re-checks a
condition; nothing sleeps for a fixed time to synchronise.
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
import urllib.error
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
    """Minimal synchronous DevTools client: one command at a time. Events that arrive meanwhile
    are kept in `events` (method, params) in order, for the tests that look at them."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0
        self.events = []

    def send(self, method, **params):
        """Sends a command without waiting for its answer (dropped when it comes), for commands
        that answer late, e.g. Page.navigate while the response is held."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))

    def call(self, method, **params):
        self.send(method, **params)
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise Failure(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append((msg["method"], msg.get("params", {})))

    def event(self, method, match=lambda p: True):
        """The first kept event `method` whose params satisfy `match`, or None."""
        return next((p for m, p in self.events if m == method and match(p)), None)

    def wait_event(self, method, timeout, what, match=lambda p: True):
        """Waits for an event `method` matching `match`; a cheap command fetches what arrived."""
        def seen():
            self.call("Browser.getVersion")  # answered by the browser whatever the page is doing
            return self.event(method, match)
        return eventually(seen, timeout, what)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")

    def location(self):
        """URL and title of the current page from the browser, so it works without JavaScript;
        (None, None) during a navigation."""
        try:
            h = self.call("Page.getNavigationHistory")
        except Failure:  # "Not attached to an active page" while a navigation swaps documents
            return None, None
        entry = h["entries"][h["currentIndex"]]
        return entry["url"], entry["title"]

    def has(self, selector):
        """Whether the current document has an element matching `selector` (no JavaScript)."""
        root = self.call("DOM.getDocument", depth=0)["root"]["nodeId"]
        return self.call("DOM.querySelector", nodeId=root, selector=selector).get("nodeId", 0) != 0

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        self.ws.close()


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, method=method, data=body.encode() if body else None, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def start_anteroom(binary, work, sections=""):
    """anteroom on loopback port 0 (client and admin listeners) with the built-in upstream and
    the TOML `sections` appended; returns the process and both ports, read from its log."""
    with open(os.path.join(work, "admin.token"), "w") as f:
        f.write(ADMIN_TOKEN + "\n")
    conf = os.path.join(work, "anteroom.toml")
    with open(conf, "w") as f:
        f.write(f"""state_dir = "{work}/state"
[server]
listen = ["127.0.0.1:0"]
threads = 1
[log]
access_log = "{work}/access.log"
[admin]
listen = "127.0.0.1:0"
token_file = "{work}/admin.token"
""" + sections)
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

    try:
        eventually(ready, 30, "anteroom to listen")
    except Failure:
        proc.stop()
        raise
    return proc, ports["proxy"], ports["admin"]


def metric(admin_port, name, labels=""):
    """The value of one sample on the admin /metrics page (0 when absent)."""
    status, body, _ = http("GET", f"http://127.0.0.1:{admin_port}/metrics")
    if status != 200:
        raise Failure(f"/metrics: {status}")
    m = re.search(r"^" + re.escape(name + labels) + r" ([0-9.eE+-]+)$", body, re.M)
    return float(m.group(1)) if m else 0.0


class Browser:
    """Headless Chromium with its own profile under `work`, driven over the DevTools protocol."""

    def __init__(self, work):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise Failure("chromium is not installed (apt-get install chromium)")
        profile = os.path.join(work, "profile")
        self.proc = Proc([exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          "--no-first-run", "--accept-lang=de-DE,de", "--remote-debugging-port=0",
                          f"--user-data-dir={profile}", "--window-size=1280,800", "about:blank"])
        port_file = os.path.join(profile, "DevToolsActivePort")
        eventually(lambda: os.path.exists(port_file) and open(port_file).read().strip(), 60, "chromium to start")
        self.port = int(open(port_file).read().split()[0])
        self.pages = []

    def _targets(self):
        _, body, _ = http("GET", f"http://127.0.0.1:{self.port}/json/list")
        return [t for t in json.loads(body) if t.get("type") == "page"]

    def first_page(self):
        """The page the browser started with."""
        pages = eventually(self._targets, 30, "a browser page")
        return self._attach(pages[0]["webSocketDebuggerUrl"])

    def fresh_page(self):
        """A page in a new browser context: no cookies, cache or storage shared with others."""
        _, body, _ = http("GET", f"http://127.0.0.1:{self.port}/json/version")
        browser = Cdp(json.loads(body)["webSocketDebuggerUrl"])
        try:
            ctx = browser.call("Target.createBrowserContext", disposeOnDetach=False)["browserContextId"]
            target = browser.call("Target.createTarget", url="about:blank", browserContextId=ctx)["targetId"]
        finally:
            browser.close()
        found = eventually(lambda: [t for t in self._targets() if t["id"] == target], 30, "the new page")
        return self._attach(found[0]["webSocketDebuggerUrl"])

    def _attach(self, ws_url):
        cdp = Cdp(ws_url)
        self.pages.append(cdp)
        return cdp

    def stop(self):
        for c in self.pages:
            try:
                c.close()
            except Exception:
                pass
        self.proc.stop()



class Env:
    """What a test's scenario gets: anteroom's URL and admin port, a work directory, where to
    keep artifacts, and browsers on demand (stopped with anteroom at the end)."""

    def __init__(self, work, artifacts, port, admin):
        self.work, self.artifacts, self.admin = work, artifacts, admin
        self.base = f"http://127.0.0.1:{port}"
        self.procs = []

    def browser(self):
        b = Browser(self.work)
        self.procs.append(b)
        return b


def main(scenario, doc, sections, name):
    """The command line of an end-to-end test (--anteroom BINARY --artifacts DIR): anteroom with
    the TOML `sections`, then scenario(env); 0 when it raised nothing. anteroom's access log is
    kept as DIR/<name>-access.log."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--anteroom", required=True)
    ap.add_argument("--artifacts", required=True)
    args = ap.parse_args()
    os.makedirs(args.artifacts, exist_ok=True)
    work = tempfile.mkdtemp(prefix="anteroom-e2e-")
    env = None
    try:
        anteroom, port, admin = start_anteroom(args.anteroom, work, sections)
        env = Env(work, args.artifacts, port, admin)
        env.procs.append(anteroom)
        scenario(env)
        return 0
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    finally:
        for p in reversed(env.procs if env else []):  # browsers first, anteroom last
            p.stop()
        if os.path.exists(os.path.join(work, "access.log")):
            shutil.copy(os.path.join(work, "access.log"), os.path.join(args.artifacts, name + "-access.log"))
        shutil.rmtree(work, ignore_errors=True)

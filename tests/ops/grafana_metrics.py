#!/usr/bin/env python3
"""Checks conf/grafana-dashboard.json against what anteroom really exports.

1. The dashboard's structure: unique panel ids, a gridPos inside the 24-column grid with no two
   panels overlapping, every non-row panel with the ${DS_PROMETHEUS} data source and at least one
   target with a PromQL expression and a unique refId, balanced brackets in every expression, the
   DS_PROMETHEUS and room template variables.
2. Every metric name the dashboard's PromQL references (panel targets, annotations, template
   queries; `x_bucket`, `x_sum`, `x_count` count as histogram x) is exported: anteroom is started
   with a temporary config (listeners on port 0, a room, bot detection, the embedded booking
   backend, an admin listener with a token file and a key file from `anteroom keygen`), is sent a
   few requests, and its admin /metrics is scraped. A family counts as exported when /metrics has
   its `# TYPE` line or a sample of it.

    tests/ops/grafana_metrics.py --anteroom build/debug/app/anteroom [--dashboard FILE]
    tests/ops/grafana_metrics.py --list [--dashboard FILE]    # only print the referenced names

Exit 0 when both hold, 1 listing every problem and every missing metric, 2 on a bad command line.
Standard library only; no fixed ports; waits are polls against a deadline.
"""

import argparse
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DASHBOARD = os.path.join(HERE, "..", "..", "conf", "grafana-dashboard.json")
DS_UID = "${DS_PROMETHEUS}"
ADMIN_TOKEN = "ops-grafana-admin-token-0123456789"
ROOM = "portal"

# PromQL words that are neither metrics nor functions called with parentheses.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "le", "atan2"}
# Followed by a parenthesised list of label names, not of expressions.
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


class Failure(Exception):
    pass


# ------------------------------------------------------------------------------------------
# PromQL: the metric names an expression references


def _strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)


def metric_names(expr):
    """Metric names in one PromQL expression, in order of first appearance. Label matchers,
    range and subquery brackets, Grafana variables, numbers and durations, function and
    aggregation names (an identifier followed by "("), keywords and the label lists after
    by/without/on/ignoring/group_left/group_right are not metrics."""
    s = _strip_strings(expr)
    s = re.sub(r"\{[^{}]*\}", " ", s)               # label matchers: names and values
    s = re.sub(r"\[[^\[\]]*\]", " ", s)             # [5m], [$__range], [1h:1m]
    s = re.sub(r"\$\{[^}]*\}|\$\w+", " 0 ", s)      # Grafana variables ($__rate_interval, ${x})
    tokens = re.findall(r"\d[\d.]*(?:[eE][+-]?\d+)?(?:ms|[smhdwy])*|[A-Za-z_:][A-Za-z0-9_:]*|[()]|[^\s\w()]+", s)
    names = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if not re.match(r"[A-Za-z_:]", t):
            i += 1
            continue
        low = t.lower()
        if low in GROUPING and nxt == "(":
            depth = 0
            i += 1
            while i < len(tokens):  # skip the label list
                depth += tokens[i] == "("
                depth -= tokens[i] == ")"
                i += 1
                if depth == 0:
                    break
            continue
        # A function or aggregation: "rate(", "sum(", and "sum by (l) (" / "sum without (l) (".
        if nxt == "(" or nxt.lower() in ("by", "without") or low in KEYWORDS:
            i += 1
            continue
        if t not in names:
            names.append(t)
        i += 1
    return names


def template_metric_names(query):
    """Metric names in a Prometheus template variable query: label_values(selector, label),
    query_result(expr), or a plain expression. label_values(label) and metrics(regex) name none."""
    q = query.strip()
    m = re.fullmatch(r"label_values\s*\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)", q, re.S)
    if m:
        return metric_names(m.group(1))
    if re.fullmatch(r"label_values\s*\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)", q) or q.startswith("metrics("):
        return []
    m = re.fullmatch(r"query_result\s*\((.*)\)", q, re.S)
    return metric_names(m.group(1) if m else q)


def family(name):
    """(family, suffix) — suffix is "_bucket", "_sum", "_count" or ""."""
    for suf in HISTOGRAM_SUFFIXES:
        if name.endswith(suf) and len(name) > len(suf):
            return name[: -len(suf)], suf
    return name, ""


# ------------------------------------------------------------------------------------------
# The dashboard


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def expressions(dash):
    """(where, expr) for every PromQL expression: targets, annotations, template queries."""
    out = []
    for p in all_panels(dash.get("panels", [])):
        for t in p.get("targets", []) or []:
            if isinstance(t, dict) and isinstance(t.get("expr"), str):
                out.append((f"panel {p.get('id')} \"{p.get('title', '')}\" target {t.get('refId')}", t["expr"]))
    for a in dash.get("annotations", {}).get("list", []):
        if isinstance(a.get("expr"), str) and a["expr"].strip():
            out.append((f"annotation \"{a.get('name', '')}\"", a["expr"]))
    return out


def template_queries(dash):
    out = []
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query", "")
        if isinstance(q, str) and q.strip():
            out.append((f"variable ${v.get('name')}", q))
    return out


def referenced(dash):
    """{name as written: [where, ...]} over every expression and template query."""
    refs = {}
    for where, expr in expressions(dash):
        for n in metric_names(expr):
            refs.setdefault(n, []).append(where)
    for where, q in template_queries(dash):
        for n in template_metric_names(q):
            refs.setdefault(n, []).append(where)
    return refs


def balanced(expr):
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    for c in _strip_strings(expr):
        if c in "([{":
            stack.append(c)
        elif c in pairs:
            if not stack or stack.pop() != pairs[c]:
                return False
    return not stack


def check_structure(dash):
    """Problems with the dashboard's JSON, as text lines."""
    problems = []
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        problems.append(f"schemaVersion should be an integer >= 36, got {dash.get('schemaVersion')!r}")
    for key in ("title", "uid"):
        if not isinstance(dash.get(key), str) or not dash[key]:
            problems.append(f"dashboard has no {key}")
    inputs = dash.get("__inputs")
    if inputs is not None and not any(i.get("name") == "DS_PROMETHEUS" and i.get("pluginId") == "prometheus"
                                      for i in inputs):
        problems.append("__inputs has no DS_PROMETHEUS Prometheus data source")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("DS_PROMETHEUS")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("templating needs a DS_PROMETHEUS variable of type datasource, query prometheus")
    room = variables.get("room")
    room_query = room.get("query") if room else None
    if isinstance(room_query, dict):
        room_query = room_query.get("query")
    if not room or room.get("type") != "query" or room_query != "label_values(anteroom_room_waiting, room)":
        problems.append("templating needs a room variable: label_values(anteroom_room_waiting, room)")
    elif (room.get("datasource") or {}).get("uid") != DS_UID:
        problems.append(f"the room variable's datasource must be {DS_UID}")

    panels = dash.get("panels")
    if not isinstance(panels, list) or not panels:
        return problems + ["dashboard has no panels"]
    seen_ids = {}
    boxes = []
    for p in all_panels(panels):
        name = f"panel {p.get('id')} \"{p.get('title', '')}\""
        pid = p.get("id")
        if not isinstance(pid, int):
            problems.append(f"{name}: id must be an integer")
        elif pid in seen_ids:
            problems.append(f"{name}: id {pid} also used by \"{seen_ids[pid]}\"")
        else:
            seen_ids[pid] = p.get("title", "")
        g = p.get("gridPos")
        if not isinstance(g, dict) or not all(isinstance(g.get(k), int) for k in ("h", "w", "x", "y")):
            problems.append(f"{name}: gridPos needs integers h, w, x, y")
        elif g["w"] < 1 or g["h"] < 1 or g["x"] < 0 or g["y"] < 0 or g["x"] + g["w"] > 24:
            problems.append(f"{name}: gridPos {g} is outside the 24-column grid")
        elif p in panels:  # top-level panels share one grid (a collapsed row keeps its own)
            boxes.append((name, g))
        if not isinstance(p.get("title"), str) or not p["title"]:
            problems.append(f"{name}: no title")
        if p.get("type") == "row":
            continue
        dsp = p.get("datasource")
        if not isinstance(dsp, dict) or dsp.get("uid") != DS_UID or dsp.get("type") != "prometheus":
            problems.append(f"{name}: datasource must be {{type: prometheus, uid: {DS_UID}}}, got {dsp!r}")
        targets = p.get("targets")
        if not isinstance(targets, list) or not targets:
            problems.append(f"{name}: no targets")
            continue
        ref_ids = set()
        for t in targets:
            ref = t.get("refId") if isinstance(t, dict) else None
            if not ref or ref in ref_ids:
                problems.append(f"{name}: target refId {ref!r} missing or repeated")
            ref_ids.add(ref)
            expr = t.get("expr") if isinstance(t, dict) else None
            if not isinstance(expr, str) or not expr.strip():
                problems.append(f"{name} target {ref}: no expr")
            elif not balanced(expr):
                problems.append(f"{name} target {ref}: unbalanced brackets in {expr}")
            elif not metric_names(expr):
                problems.append(f"{name} target {ref}: references no metric: {expr}")
            tds = t.get("datasource") if isinstance(t, dict) else None
            if tds is not None and (not isinstance(tds, dict) or tds.get("uid") != DS_UID):
                problems.append(f"{name} target {ref}: datasource {tds!r} differs from {DS_UID}")
    for i, (na, a) in enumerate(boxes):
        for nb, b in boxes[i + 1:]:
            if a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]:
                problems.append(f"{na} and {nb} overlap ({a} / {b})")
    for where, expr in expressions(dash):
        if where.startswith("annotation") and not balanced(expr):
            problems.append(f"{where}: unbalanced brackets in {expr}")
    return problems


# ------------------------------------------------------------------------------------------
# anteroom


class Proc:
    """anteroom with its stderr collected line by line on a thread."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.err = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stderr:
            self.err.append(line)
            self.lines.put(line)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def eventually(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)  # re-check interval; the condition decides, not the time
    raise Failure(f"timed out after {timeout}s waiting for {what}")


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, method=method, data=body.encode() if body is not None else None,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def start_anteroom(binary, work):
    keys = os.path.join(work, "keys.toml")
    r = subprocess.run([binary, "keygen", "--out", keys], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise Failure(f"anteroom keygen failed ({r.returncode}): {r.stderr.strip()}")
    token_file = os.path.join(work, "admin.token")
    with open(token_file, "w") as f:
        f.write(ADMIN_TOKEN + "\n")
    os.chmod(token_file, 0o600)
    conf = os.path.join(work, "anteroom.toml")
    with open(conf, "w") as f:
        f.write(f"""state_dir = "{work}/state"
[server]
listen = ["127.0.0.1:0"]
threads = 1
drain_timeout = "1s"
[log]
access_log = ""
[admin]
listen = "127.0.0.1:0"
token_file = "{token_file}"
[admission]
key_file = "{keys}"
[[room]]
id = "{ROOM}"
paths = ["/"]
new_users_per_minute = 60
max_active_users = 100
capacity_url = "builtin:/api/capacity"
capacity_poll_interval = "1s"
[booking]
embedded = true
pin_iterations = 1000
[[booking.centre]]
name = "Messehalle"
[bot_detect]
enabled = true
""")
    proc = Proc([binary, "serve", "--config", conf])
    ports = {}

    def ready():
        while not proc.lines.empty():
            m = re.search(r" server: (admin )?listening on http://127\.0\.0\.1:(\d+)", proc.lines.get())
            if m:
                ports["admin" if m.group(1) else "proxy"] = int(m.group(2))
        if proc.p.poll() is not None:
            raise Failure(f"anteroom exited with {proc.p.returncode}:\n" + "".join(proc.err))
        return len(ports) == 2

    try:
        eventually(ready, 60, "anteroom to report its listening ports")
    except Failure:
        proc.stop()
        raise
    return proc, ports["proxy"], ports["admin"]


def parse_metrics(text):
    """({family: type} from # TYPE lines, {sample names})."""
    types, samples = {}, set()
    for line in text.splitlines():
        m = re.match(r"#\s*TYPE\s+([A-Za-z_:][A-Za-z0-9_:]*)\s+(\w+)", line)
        if m:
            types[m.group(1)] = m.group(2)
            continue
        m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(?:\{|\s)", line)
        if m and not line.startswith("#"):
            samples.add(m.group(1))
    return types, samples


def exported(name, types, samples):
    if name in types or name in samples:
        return True
    base, suf = family(name)
    if suf == "_bucket":
        return types.get(base) == "histogram"
    if suf:
        return types.get(base) in ("histogram", "summary")
    return False


def exercise(port, admin):
    """A few requests so that counters have samples: a browser's first visit, a script's, a
    status poll, the booking API through the room, the admin API with the token."""
    base = f"http://127.0.0.1:{port}"
    browser = {
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/124.0.0.0 Safari/537.36",
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language": "de-DE,de;q=0.9,en;q=0.8",
        "Accept-Encoding": "gzip, deflate, br",
        "Sec-CH-UA": '"Chromium";v="124", "Not-A.Brand";v="99"',
        "Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document",
    }
    statuses = [
        http("GET", base + "/", headers=browser)[0],
        http("GET", base + "/", headers={"User-Agent": "curl/7.88.1"})[0],
        http("GET", base + f"/_anteroom/status?room={ROOM}", headers=dict(browser, Accept="application/json"))[0],
        http("GET", base + "/api/capacity", headers=dict(browser, Accept="application/json"))[0],
    ]
    auth = {"Authorization": "Bearer " + ADMIN_TOKEN}
    s, body = http("GET", f"http://127.0.0.1:{admin}/admin/rooms", headers=auth)
    if s != 200:
        raise Failure(f"GET /admin/rooms with the token file's token: {s} {body[:200]}")
    s, body = http("PATCH", f"http://127.0.0.1:{admin}/admin/rooms/{ROOM}",
                   body=json.dumps({"new_users_per_minute": 120}),
                   headers=dict(auth, **{"Content-Type": "application/json"}))
    if s != 200:
        raise Failure(f"PATCH /admin/rooms/{ROOM}: {s} {body[:200]}")
    return statuses


def scrape(admin):
    s, body = http("GET", f"http://127.0.0.1:{admin}/metrics")
    if s != 200:
        raise Failure(f"GET /metrics: {s}")
    return body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--anteroom", help="the anteroom binary to start")
    ap.add_argument("--dashboard", default=DEFAULT_DASHBOARD)
    ap.add_argument("--list", action="store_true", help="print the metric names the dashboard references and exit")
    args = ap.parse_args()
    if not args.list and not (args.anteroom and os.access(args.anteroom, os.X_OK)):
        ap.error("--anteroom PATH (an executable) is required")

    with open(args.dashboard, encoding="utf-8") as f:
        dash = json.load(f)
    refs = referenced(dash)
    if args.list:
        for n in sorted(refs):
            print(n)
        return 0

    problems = check_structure(dash)
    odd = [n for n in refs if not n.startswith("anteroom_")]
    if odd:
        problems.append("names that are not anteroom metrics (a parsing problem or a foreign metric): "
                        + ", ".join(sorted(odd)))
    n_panels = sum(1 for p in all_panels(dash["panels"]) if p.get("type") != "row")
    print(f"dashboard: {n_panels} panels, {len(expressions(dash))} expressions, "
          f"{len({family(n)[0] for n in refs})} metric families")

    work = tempfile.mkdtemp(prefix="anteroom-ops-")
    proc = None
    try:
        proc, port, admin = start_anteroom(args.anteroom, work)
        statuses = exercise(port, admin)
        print(f"requests answered: {statuses}")
        text = [""]

        def counted():
            text[0] = scrape(admin)
            types, samples = parse_metrics(text[0])
            have_room = f'anteroom_room_waiting{{room="{ROOM}"}}' in text[0]
            requests = sum(float(v) for v in re.findall(r"^anteroom_requests_total\{[^}]*\} (\S+)$", text[0], re.M))
            return have_room and requests > 0

        try:
            eventually(counted, 15, "the requests to show in /metrics")
        except Failure as e:
            print(f"note: {e}; checking the last scrape")
        types, samples = parse_metrics(text[0])
        missing = sorted(n for n in refs if not exported(n, types, samples))
        if missing:
            lines = []
            for n in missing:
                base, suf = family(n)
                shown = f"{base} (histogram; the dashboard uses {n})" if suf else n
                lines.append(f"  {shown}  — {refs[n][0]}" + (f" and {len(refs[n]) - 1} more" if len(refs[n]) > 1 else ""))
            problems.append(f"{len(missing)} metric(s) the dashboard charts are not in anteroom's /metrics:\n"
                            + "\n".join(lines))
        charted = {family(n)[0] for n in refs} | set(refs)
        unused = sorted(t for t in types if t not in charted)
        if unused:
            print("exported but not charted (information only): " + ", ".join(unused))
    except Failure as e:
        problems.append(str(e))
    finally:
        if proc:
            proc.stop()
        shutil.rmtree(work, ignore_errors=True)

    if problems:
        for p in problems:
            print(f"FAIL: {p}", file=sys.stderr)
        return 1
    print(f"PASS: every metric the dashboard references is exported ({len(refs)} names)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

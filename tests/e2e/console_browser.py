#!/usr/bin/python3
"""End to end in a real browser: the operations console at GET /admin/. Headless Chromium signs
in (a wrong token first), the dashboard's live figures for the room match /metrics while
visitors queue, the admission rate is changed through the page's dialog (an invalid value
first: the server's 422 message must show) and lands in the admin API, /metrics and the page's
change log under the token's name, bot detection's dry run is switched from the page, and the
page signs out. Screenshots at 1280x800 and 768x1024 are kept under --artifacts. Any JavaScript
exception, console error or Content-Security-Policy violation in the browser fails the test.

--mock runs tests/e2e/console_mock.py (the console's development stand-in) instead of
anteroom, in place of --anteroom.

Needs Debian's `chromium` and `python3-websocket` (make test installs both). Every wait has a
deadline and re-checks a condition; nothing sleeps for a fixed time to synchronise.
"""

import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for the helper module
from cdp import ADMIN_TOKEN, Failure, eventually, http, main, metric  # noqa: E402

ROOM_ID = "portal"
VISITORS = 20
CAP = 5  # max_active_users: the first CAP visitors get in, the rest keep waiting
NEW_RATE = 1234
# Bot detection in dry run: the test's own urllib visitors are scored and counted but let in.
SECTIONS = f"""[[room]]
id = "{ROOM_ID}"
paths = ["/"]
exclude = ["/favicon.ico"]
mode = "fifo"
new_users_per_minute = 600
max_active_users = {CAP}
[bot_detect]
enabled = true
dry_run = true
"""
FIGURES = {  # data-figure on the page -> metric on the admin listener's /metrics
    "waiting": "anteroom_room_waiting",
    "active": "anteroom_room_active",
    "admitted_total": "anteroom_room_admitted_total",
    "new_users_per_minute": "anteroom_room_new_users_per_minute",
    "max_active_users": "anteroom_room_max_active_users",
}
# Records what the CSP blocks, from before the page's own script runs.
CSP_PROBE = """window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber);
});"""


def js(value):
    return json.dumps(value)


def element_center(cdp, selector):
    """Scrolls the element into view and returns its centre, or None if absent or not shown."""
    box = cdp.eval(f"""(function () {{
      var e = document.querySelector({js(selector)});
      if (!e || e.disabled || !e.getClientRects().length) return null;
      e.scrollIntoView({{block: 'center', inline: 'nearest'}});
      var r = e.getBoundingClientRect();
      return JSON.stringify([r.left + r.width / 2, r.top + r.height / 2]);
    }})()""")
    return json.loads(box) if box else None


def click(cdp, selector, timeout=10):
    """A real mouse click (press and release) in the middle of the element."""
    x, y = eventually(lambda: element_center(cdp, selector), timeout, f"{selector} to be clickable")
    for kind in ("mousePressed", "mouseReleased"):
        cdp.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


def type_into(cdp, selector, text):
    """Focuses the field, selects what it holds and types `text` over it."""
    if not cdp.eval(f"(function () {{ var e = document.querySelector({js(selector)});"
                    f" if (!e) return false; e.focus(); e.select && e.select(); return document.activeElement === e; }})()"):
        raise Failure(f"cannot focus {selector}")
    cdp.call("Input.insertText", text=text)


def safe_eval(cdp, expr):
    """Runtime.evaluate that yields None while a navigation swaps documents."""
    try:
        return cdp.eval(expr)
    except Failure:
        return None


def set_viewport(cdp, width, height):
    cdp.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)


def browser_problems(cdp):
    """JavaScript exceptions, console errors and CSP violations the browser reported so far.
    Network entries (the expected 401 and 422 answers) are not problems."""
    cdp.call("Browser.getVersion")  # fetches the events that arrived meanwhile
    out = []
    for method, p in cdp.events:
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console." + p["type"] + ": " + " ".join(str(a.get("value", a.get("description", "")))
                                                             for a in p.get("args", [])))
        elif method == "Log.entryAdded":
            e = p.get("entry", {})
            if e.get("source") != "network" and e.get("level") in ("error", "warning") or \
                    "Content Security Policy" in e.get("text", ""):
                out.append(f"log {e.get('source')}/{e.get('level')}: {e.get('text')}")
    csp = safe_eval(cdp, "window.__csp ? JSON.stringify(window.__csp) : '[]'")
    out += ["CSP violation: " + v for v in json.loads(csp or "[]")]
    return out


def check_clean(cdp, where):
    problems = browser_problems(cdp)
    if problems:
        raise Failure(f"browser problems {where}:\n  " + "\n  ".join(problems))


def page_figure(cdp, name):
    v = cdp.eval(f"""(function () {{
      var e = document.querySelector('[data-room={js(ROOM_ID)}] [data-figure={js(name)}]');
      return e && e.hasAttribute('data-value') ? e.getAttribute('data-value') : null;
    }})()""")
    return float(v) if v not in (None, "") else None


def admin_api(env, method, path, body=None):
    status, text, _ = http(method, f"http://127.0.0.1:{env.admin}{path}", body=json.dumps(body) if body else None,
                           headers={"Authorization": "Bearer " + ADMIN_TOKEN, "Content-Type": "application/json"})
    if status != 200:
        raise Failure(f"{method} {path}: {status} {text}")
    return json.loads(text)


def dashboard_live(cdp):
    return safe_eval(cdp, "document.getElementById('conn') && document.getElementById('conn').dataset.state === 'live' && "
                    f"!!document.querySelector('[data-room={js(ROOM_ID)}] [data-figure=waiting][data-value]')")


def wait_rendered(cdp, what):
    """Waits until the page has shown a newer sample than now (its 'last update' moves on)."""
    before = cdp.eval("document.getElementById('last-update').getAttribute('datetime')")
    eventually(lambda: cdp.eval("document.getElementById('last-update').getAttribute('datetime')") != before,
               15, f"a fresh update of the page ({what})")


def confirm_dialog(cdp, expect_new=None):
    """In the open dialog: 'Next' (when editing), then 'Confirm'; waits for the dialog to close."""
    if cdp.eval("document.getElementById('dlg-ok').dataset.stage") == "edit":
        click(cdp, "#dlg-ok")
        eventually(lambda: cdp.eval("document.getElementById('dlg-ok').dataset.stage === 'confirm'"), 10,
                   "the dialog's confirmation step")
    change = cdp.eval("document.getElementById('dlg-change').innerText")
    if expect_new and not re.search(expect_new, change or ""):
        raise Failure(f"the confirmation shows {change!r}, expected {expect_new!r}")
    click(cdp, "#dlg-ok")


def scenario(env):
    admin_base = f"http://127.0.0.1:{env.admin}"
    artifacts = env.artifacts

    # 1. Without a session: 401 and the sign-in form.
    status, body, headers = http("GET", admin_base + "/admin/")
    if status != 401 or 'action="/admin/login"' not in body or 'name="token"' not in body \
            or 'type="password"' not in body:
        raise Failure(f"GET /admin/ without a session: {status}\n{body[:500]}")
    csp = headers.get("Content-Security-Policy", "")
    if "script-src 'self'" not in csp or "style-src 'self'" not in csp:
        raise Failure(f"sign-in page without the strict CSP: {csp!r}")
    for asset in ("/admin/static/console.css", "/admin/static/console.js"):
        status, _, _ = http("GET", admin_base + asset)
        if status != 200:
            raise Failure(f"GET {asset}: {status}")

    cdp = env.browser().first_page()
    for domain in ("Page", "Runtime", "Log", "Network"):
        cdp.call(domain + ".enable")
    cdp.call("Page.addScriptToEvaluateOnNewDocument", source=CSP_PROBE)
    set_viewport(cdp, 1280, 800)
    cdp.call("Page.navigate", url=admin_base + "/admin/")
    eventually(lambda: safe_eval(cdp, "document.readyState === 'complete' && !!document.getElementById('token')"),
               30, "the sign-in form")
    if safe_eval(cdp, "document.getElementById('login-message').getClientRects().length") != 0:
        raise Failure("the empty sign-in message takes space on the page")

    type_into(cdp, "#token", "not-the-token")
    click(cdp, "#login-submit")
    message = eventually(lambda: safe_eval(cdp, "document.readyState === 'complete' && "
                                                "document.getElementById('login-message') && "
                                                "document.getElementById('login-message').innerText.trim()"),
                         30, "the wrong-token message")
    check_clean(cdp, "on the sign-in page")

    type_into(cdp, "#token", ADMIN_TOKEN)
    click(cdp, "#login-submit")
    eventually(lambda: safe_eval(cdp, "document.readyState === 'complete'") and dashboard_live(cdp), 30,
               "the dashboard")
    lang = cdp.eval("document.documentElement.lang")
    if lang != "de":
        raise Failure(f"dashboard language {lang!r}, expected de (Accept-Language de-DE)")
    cookies = cdp.call("Network.getCookies", urls=[admin_base + "/admin/"])["cookies"]
    session = [c for c in cookies if c["name"] == "anteroom_console"]
    if not session or not session[0]["httpOnly"] or session[0].get("sameSite") != "Strict":
        raise Failure(f"console cookie: {session}")
    who = cdp.eval("document.getElementById('who').textContent")
    if who != "admin":
        raise Failure(f"signed in as {who!r}, expected admin")

    # 2. Visitors queue; the room admits CAP of them. The page's figures must match /metrics.
    tickets = []
    for i in range(VISITORS):
        status, body, h = http("GET", env.base + f"/?visitor={i}", headers={"Accept": "application/json"})
        if status != 200:
            raise Failure(f"visitor {i}: {status} {body[:200]}")
        tickets += [c.split(";")[0] for c in h.get_all("Set-Cookie") or [] if c.startswith(f"anteroom_ticket_{ROOM_ID}=")]
    for ticket in tickets[:5]:  # some of them poll
        http("GET", env.base + "/", headers={"Accept": "application/json", "Cookie": ticket})
    eventually(lambda: metric(env.admin, "anteroom_room_admitted_total", f'{{room="{ROOM_ID}"}}') >= 1, 60,
               "the room to admit visitors")

    for fig, name in FIGURES.items():
        seen = {}

        def matches():
            page = page_figure(cdp, fig)
            server = metric(env.admin, name, f'{{room="{ROOM_ID}"}}')
            seen.update(page=page, server=server)
            return page is not None and page == server

        try:
            eventually(matches, 30, f"the page's {fig} to match {name}")
        except Failure:
            raise Failure(f"the page's {fig} never matched {name}: last {seen}")
    if page_figure(cdp, "waiting") < 1 or page_figure(cdp, "active") < 1:
        raise Failure("expected both waiting and active visitors")
    set_viewport(cdp, 1280, 800)
    cdp.eval("window.scrollTo(0, 0)")
    wait_rendered(cdp, "1280x800")
    layout = json.loads(cdp.eval(f"""JSON.stringify({{
      sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth,
      figs: document.querySelector('[data-room={js(ROOM_ID)}] .figs').getBoundingClientRect().bottom}})"""))
    if layout["sw"] > layout["cw"]:
        raise Failure(f"horizontal scrolling at 1280x800: {layout}")
    if layout["figs"] > 800:
        raise Failure(f"the room's key figures are below the fold at 1280x800: {layout}")
    cdp.screenshot(os.path.join(artifacts, "console-1280x800.png"))
    check_clean(cdp, "on the dashboard")

    # 3. Change the rate through the page: an invalid value first (the server's message shows),
    # then NEW_RATE.
    old_rate = page_figure(cdp, "new_users_per_minute")
    click(cdp, f"#ctl-rate-{ROOM_ID}")
    eventually(lambda: cdp.eval("document.getElementById('dlg').open"), 10, "the rate dialog")
    type_into(cdp, "#dlg-input", "0")
    confirm_dialog(cdp)
    error = eventually(lambda: cdp.eval("!document.getElementById('dlg-error').hidden && "
                                        "document.getElementById('dlg-error').innerText.trim()"),
                       15, "the server's error message in the dialog")
    if "422" not in error or "new_users_per_minute" not in error:
        raise Failure(f"the dialog shows {error!r}, expected the server's 422 message")
    if not cdp.eval("document.getElementById('dlg').open"):
        raise Failure("the dialog closed after a refused change")
    type_into(cdp, "#dlg-input", str(NEW_RATE))
    confirm_dialog(cdp, expect_new=rf"{old_rate:g}\D+1\.234")  # German number format
    eventually(lambda: not cdp.eval("document.getElementById('dlg').open"), 15, "the dialog to close")

    rooms = admin_api(env, "GET", "/admin/rooms")
    rate = next(r["new_users_per_minute"] for r in rooms if r["id"] == ROOM_ID)
    if rate != NEW_RATE:
        raise Failure(f"admin API after the change: new_users_per_minute {rate}, expected {NEW_RATE} (was {old_rate})")
    m = metric(env.admin, "anteroom_room_new_users_per_minute", f'{{room="{ROOM_ID}"}}')
    if m != NEW_RATE:
        raise Failure(f"/metrics after the change: {m}")

    def audited(pattern):
        return cdp.eval(f"""Array.prototype.some.call(document.querySelectorAll('#audit li'), function (li) {{
          return li.dataset.who === 'admin' && new RegExp({js(pattern)}).test(li.dataset.what)
              && li.innerText.indexOf('admin') >= 0; }})""")

    eventually(lambda: audited(rf"new_users_per_minute.*\b{NEW_RATE}\b"), 15, "the change in the page's change log")
    eventually(lambda: page_figure(cdp, "new_users_per_minute") == NEW_RATE, 15, "the page to show the new rate")

    # 4. Bot detection's dry run, through the page.
    live = admin_api(env, "GET", "/admin/api/live?since=" + str(int(time.time() * 1000)))
    bot = live.get("bot_detect", {})
    if bot.get("enabled"):
        before = bot["dry_run"]
        click(cdp, "#ctl-bot-dry-run")
        eventually(lambda: cdp.eval("document.getElementById('dlg').open"), 10, "the bot-detect dialog")
        confirm_dialog(cdp)
        eventually(lambda: not cdp.eval("document.getElementById('dlg').open"), 15, "the dialog to close")
        after = admin_api(env, "GET", "/admin/api/live?since=" + str(int(time.time() * 1000)))["bot_detect"]
        if after["dry_run"] == before:
            raise Failure(f"dry run still {before} after the switch: {after}")
        eventually(lambda: cdp.eval("document.getElementById('ctl-bot-dry-run').dataset.dryRun") ==
                   js(after["dry_run"]), 15, "the page to show the new dry-run state")
        eventually(lambda: audited(r"dry_run"), 15, "the dry-run switch in the change log")
    else:
        state = json.loads(cdp.eval("JSON.stringify({d: document.getElementById('ctl-bot-dry-run').disabled,"
                                    " n: document.getElementById('bot-note').innerText})"))
        if not state["d"] or not state["n"].strip():
            raise Failure(f"bot detection is off but its control is not disabled with a note: {state}")

    # 5. The tablet layout, then the language switch (re-rendered without a reload).
    set_viewport(cdp, 768, 1024)
    cdp.eval("window.scrollTo(0, 0)")
    wait_rendered(cdp, "768x1024")
    sw = json.loads(cdp.eval("JSON.stringify([document.documentElement.scrollWidth, document.documentElement.clientWidth])"))
    if sw[0] > sw[1]:
        raise Failure(f"horizontal scrolling at 768x1024: {sw}")
    cdp.screenshot(os.path.join(artifacts, "console-tablet.png"))
    set_viewport(cdp, 1280, 800)
    marker = cdp.eval("window.__sameDocument = 1")
    click(cdp, "#lang-switch")
    eventually(lambda: cdp.eval("document.documentElement.lang === 'en' && "
                                "document.getElementById('rooms-h').textContent === 'Rooms'"), 10, "English texts")
    if cdp.eval("window.__sameDocument") != marker:
        raise Failure("the language switch reloaded the page")
    click(cdp, "#lang-switch")
    eventually(lambda: cdp.eval("document.documentElement.lang === 'de'"), 10, "German again")
    check_clean(cdp, "after the controls")

    # 6. Sign out: back to the form, and the session is gone.
    click(cdp, "#logout")
    eventually(lambda: safe_eval(cdp, "document.readyState === 'complete' && !!document.getElementById('token')"),
               30, "the sign-in form after signing out")
    check_clean(cdp, "after signing out")
    print(f"ok: signed in (wrong token refused: {message!r}), figures matched /metrics, rate {old_rate:g} -> "
          f"{NEW_RATE} via the page, bot detect {'switched' if bot.get('enabled') else 'disabled'}; "
          f"screenshots in {artifacts}")


if __name__ == "__main__":
    if "--mock" in sys.argv:  # the console's stand-in instead of anteroom (tests/e2e/console_mock.py)
        i = sys.argv.index("--mock")
        sys.argv[i:i + 1] = ["--anteroom", os.path.join(os.path.dirname(os.path.abspath(__file__)), "console_mock.py")]
    sys.exit(main(scenario, __doc__, SECTIONS, "console"))

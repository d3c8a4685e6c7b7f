#!/usr/bin/python3
"""End to end in a real browser: headless Chromium, driven over the DevTools protocol, opens a
room URL, sees the waiting page with its place in line, and lands on the upstream page (with
the URL it asked for) once the room admits it. No manual step; screenshots are kept under
--artifacts.

Needs Debian's `chromium` and `python3-websocket` (make test installs both). Every wait has a
deadline and re-checks a condition; nothing sleeps for a fixed time to synchronise.
"""

import json
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for the helper module
from cdp import ADMIN_TOKEN, Failure, eventually, http, main  # noqa: E402

ROOM = """[[room]]
id = "portal"
paths = ["/"]
exclude = ["/favicon.ico"]
mode = "paused"
"""


def scenario(env):
    base, admin, artifacts = env.base, env.admin, env.artifacts
    # Somebody is already in line, so the browser's place is the second.
    status, body, _ = http("GET", base + "/", headers={"Accept": "application/json"})
    if status != 200 or json.loads(body).get("position") != 1:
        raise Failure(f"first visitor: {status} {body}")

    cdp = env.browser().first_page()
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


if __name__ == "__main__":
    sys.exit(main(scenario, __doc__, ROOM, "waiting-room"))

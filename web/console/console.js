/* anteroom operations console (GET /admin/). Plain JavaScript, no libraries, no build step.
 *
 * Every second it asks GET /admin/api/live?since=<t of the newest sample it has> and keeps at
 * most 1800 samples (30 minutes). It draws the charts itself as SVG. The Content-Security-Policy
 * forbids inline scripts and styles, style attributes included: nothing here sets element.style;
 * the look comes from classes in console.css, the hidden attribute and SVG attributes.
 *
 * DOM the end-to-end test (tests/e2e/console_browser.py) relies on:
 *   [data-room="<id>"] [data-figure="waiting|active|admitted_total|new_users_per_minute|
 *     max_active_users|admitted_per_minute|available"] with data-value = the raw number;
 *   buttons #ctl-<action>-<room> (action rate, max, mode, pause, resume) and #ctl-bot-dry-run;
 *   the dialog #dlg with #dlg-input, #dlg-select, #dlg-ok, #dlg-cancel, #dlg-error, #dlg-old,
 *   #dlg-new; the change list #audit > li[data-who][data-what]; #conn[data-state] (starting,
 *   live, lost, expired); #notice (result of the last control).
 */
(function () {
  "use strict";

  var MAX_SAMPLES = 1800, WINDOW_MS = 30 * 60 * 1000, POLL_MS = 1000, FETCH_TIMEOUT_MS = 5000;
  var EXPIRED_POLL_MS = 5000, STALE_MS = 3500, LANG_KEY = "anteroom-console-lang";

  // ---- texts -------------------------------------------------------------------------------
  var T = {
    de: {
      doc_title: "anteroom – Betriebskonsole",
      title: "Betriebskonsole",
      skip: "Zum Inhalt springen",
      conn_starting: "Verbinde …",
      conn_live: "Live",
      conn_lost: "Verbindung unterbrochen – neuer Versuch jede Sekunde ({n} Fehlversuche)",
      conn_expired: "Sitzung abgelaufen.",
      sign_in_again: "Neu anmelden",
      last_update: "Letzte Aktualisierung",
      signed_in_as: "Angemeldet als",
      sign_out: "Abmelden",
      lang_other: "English",
      lang_other_label: "Switch to English",
      rooms: "Räume",
      room: "Raum",
      overall: "Gesamt: Upstream und Bot-Erkennung",
      history: "Verlauf der letzten 30 Minuten je Raum",
      history_room: "Verlauf – Raum {room}",
      fig_waiting: "Wartend",
      fig_active: "Aktiv",
      fig_max: "Höchstzahl",
      fig_admitted_pm: "Einlass pro Minute",
      fig_rate: "Eingestellt",
      fig_admitted_total: "Eingelassen gesamt",
      fig_wait: "Wartezeit (Median)",
      fig_eta: "ETA-Treffsicherheit",
      fig_available: "Freie Termine",
      sold_out: "ausgebucht",
      state_prequeue: "Vorwarteschlange",
      state_queued: "Warteschlange läuft",
      state_admitted: "offen, kein Warten",
      state_paused: "angehalten",
      state_sold_out: "ausgebucht",
      state_closed: "geschlossen",
      mode_fifo: "fifo – der Reihe nach",
      mode_random: "random – Losverfahren",
      mode_passthrough: "passthrough – ohne Warten",
      mode_reject: "reject – geschlossen",
      mode_paused: "paused – angehalten",
      btn_change: "Ändern",
      btn_pause: "Anhalten",
      btn_resume: "Fortsetzen",
      btn_mode: "Modus …",
      aria_rate: "Einlassrate von Raum {room} ändern",
      aria_max: "Höchstzahl aktiver Nutzer von Raum {room} ändern",
      aria_mode: "Modus von Raum {room} wechseln",
      aria_pause: "Raum {room} anhalten",
      aria_resume: "Raum {room} fortsetzen",
      dlg_rate_title: "Einlassrate ändern – Raum {room}",
      dlg_rate_label: "Neue Einlassrate (Besucher pro Minute, 1 bis 1.000.000)",
      dlg_max_title: "Höchstzahl aktiver Nutzer ändern – Raum {room}",
      dlg_max_label: "Neue Höchstzahl aktiver Nutzer (1 bis 10.000.000)",
      dlg_mode_title: "Modus wechseln – Raum {room}",
      dlg_mode_label: "Neuer Modus",
      dlg_pause_title: "Raum {room} anhalten",
      dlg_resume_title: "Raum {room} fortsetzen",
      dlg_bot_title: "Bot-Erkennung: Probelauf (dry run) umschalten",
      dlg_check: "Bitte prüfen – diese Änderung wirkt sofort:",
      dlg_next: "Weiter",
      dlg_confirm: "Ja, ändern",
      dlg_back: "Zurück",
      dlg_cancel: "Abbrechen",
      dlg_sending: "Wird gesendet …",
      dlg_empty: "Bitte einen Wert eingeben.",
      dlg_same: "Das ist der bisherige Wert.",
      to: "wird zu",
      configured_mode: "Modus aus der Konfiguration",
      what_rate: "Einlassrate",
      what_max: "Höchstzahl aktiver Nutzer",
      what_mode: "Modus",
      what_dry: "Probelauf",
      per_min: "pro Minute",
      on: "an",
      off: "aus",
      result_ok: "Geändert: {what}",
      result_err: "Nicht geändert ({status}): {msg}",
      result_net: "Nicht geändert: keine Verbindung zum Server.",
      result_403: "abgelehnt",
      bot_detect: "Bot-Erkennung:",
      bot_acting: "wirkt",
      bot_dry: "Probelauf – entscheidet und zählt, wirkt nicht",
      bot_disabled: "ausgeschaltet",
      bot_disabled_note: "Die Bot-Erkennung ist in der Konfiguration ausgeschaltet ([bot_detect] enabled = false); der Probelauf lässt sich darum hier nicht umschalten.",
      bot_config: "(Konfiguration: Probelauf {v})",
      bot_dry_on: "Probelauf einschalten",
      bot_dry_off: "Probelauf ausschalten",
      top_reasons: "Häufigste Gründe der Bot-Erkennung (letzte Minute)",
      th_reason: "Grund",
      th_per_min: "pro Minute",
      th_time: "Zeit",
      no_reasons: "keine",
      audit: "Änderungsprotokoll",
      audit_empty: "Noch keine Änderungen.",
      via_console: "Konsole",
      via_api: "API",
      version: "anteroom-Version",
      now: "jetzt",
      unit_people: "Personen",
      unit_per_min: "pro Minute",
      unit_min: "Minuten",
      unit_ms: "Millisekunden",
      unit_pct: "Prozent",
      unit_appointments: "Termine",
      ch_waiting: "Wartende",
      ch_admitted: "Einlass pro Minute und eingestellte Rate",
      ch_active: "Aktive Nutzer und Höchstzahl",
      ch_wait: "Wartezeit bis zum Einlass",
      ch_eta: "ETA-Treffsicherheit",
      ch_available: "Freie Termine",
      ch_latency: "Upstream-Antwortzeit",
      ch_errors: "Upstream-Fehlerquote",
      ch_bots: "Bot-Entscheidungen pro Minute",
      s_waiting: "wartend",
      s_admitted: "eingelassen",
      s_rate: "eingestellte Rate",
      s_active: "aktiv",
      s_max: "Höchstzahl",
      s_p50: "Median",
      s_p90: "p90",
      s_eta: "bis zur oberen ETA eingelassen",
      s_available: "frei",
      s_lat50: "p50",
      s_lat99: "p99",
      s_err: "Fehlerquote",
      s_allow: "erlauben",
      s_challenge: "Challenge",
      s_deprioritise: "zurückstellen",
      s_deny: "abweisen",
      chart_label: "{title}, letzte 30 Minuten. Aktuell: {now}. Höchstwert: {max}.",
      chart_table: "Werte als Tabelle",
      chart_caption: "{title}: je Minute der letzten 10 Minuten",
      no_data: "keine Daten",
      gap: "keine Daten",
      announce_lost: "Verbindung zum Server unterbrochen. Die Zahlen sind nicht aktuell.",
      announce_back: "Verbindung wieder da.",
      announce_expired: "Sitzung abgelaufen. Bitte neu anmelden.",
      announce_state: "Raum {room}: {state}"
    },
    en: {
      doc_title: "anteroom – operations console",
      title: "Operations console",
      skip: "Skip to content",
      conn_starting: "Connecting …",
      conn_live: "Live",
      conn_lost: "Connection lost, retrying every second ({n} failed attempts)",
      conn_expired: "Session expired.",
      sign_in_again: "Sign in again",
      last_update: "Last update",
      signed_in_as: "Signed in as",
      sign_out: "Sign out",
      lang_other: "Deutsch",
      lang_other_label: "Auf Deutsch umschalten",
      rooms: "Rooms",
      room: "Room",
      overall: "Overall: upstream and bot detection",
      history: "Last 30 minutes per room",
      history_room: "History – room {room}",
      fig_waiting: "Waiting",
      fig_active: "Active",
      fig_max: "Limit",
      fig_admitted_pm: "Admitted per minute",
      fig_rate: "Configured",
      fig_admitted_total: "Admitted in total",
      fig_wait: "Wait (median)",
      fig_eta: "ETA accuracy",
      fig_available: "Appointments left",
      sold_out: "sold out",
      state_prequeue: "pre-queue",
      state_queued: "queue running",
      state_admitted: "open, no waiting",
      state_paused: "paused",
      state_sold_out: "sold out",
      state_closed: "closed",
      mode_fifo: "fifo – first come, first in",
      mode_random: "random – lottery",
      mode_passthrough: "passthrough – no waiting",
      mode_reject: "reject – closed",
      mode_paused: "paused – on hold",
      btn_change: "Change",
      btn_pause: "Pause",
      btn_resume: "Resume",
      btn_mode: "Mode …",
      aria_rate: "Change the admission rate of room {room}",
      aria_max: "Change the active-user limit of room {room}",
      aria_mode: "Switch the mode of room {room}",
      aria_pause: "Pause room {room}",
      aria_resume: "Resume room {room}",
      dlg_rate_title: "Change admission rate – room {room}",
      dlg_rate_label: "New admission rate (visitors per minute, 1 to 1,000,000)",
      dlg_max_title: "Change active-user limit – room {room}",
      dlg_max_label: "New limit of active users (1 to 10,000,000)",
      dlg_mode_title: "Switch mode – room {room}",
      dlg_mode_label: "New mode",
      dlg_pause_title: "Pause room {room}",
      dlg_resume_title: "Resume room {room}",
      dlg_bot_title: "Bot detection: switch dry run",
      dlg_check: "Please check – this change takes effect at once:",
      dlg_next: "Next",
      dlg_confirm: "Yes, change it",
      dlg_back: "Back",
      dlg_cancel: "Cancel",
      dlg_sending: "Sending …",
      dlg_empty: "Please enter a value.",
      dlg_same: "That is the current value.",
      to: "becomes",
      configured_mode: "the configured mode",
      what_rate: "admission rate",
      what_max: "active-user limit",
      what_mode: "mode",
      what_dry: "dry run",
      per_min: "per minute",
      on: "on",
      off: "off",
      result_ok: "Changed: {what}",
      result_err: "Not changed ({status}): {msg}",
      result_net: "Not changed: no connection to the server.",
      result_403: "refused",
      bot_detect: "Bot detection:",
      bot_acting: "acting",
      bot_dry: "dry run – decides and counts, acts on nothing",
      bot_disabled: "switched off",
      bot_disabled_note: "Bot detection is switched off in the configuration ([bot_detect] enabled = false), so its dry run cannot be switched here.",
      bot_config: "(configuration: dry run {v})",
      bot_dry_on: "Turn dry run on",
      bot_dry_off: "Turn dry run off",
      top_reasons: "Top bot-detection reasons (last minute)",
      th_reason: "Reason",
      th_per_min: "per minute",
      th_time: "Time",
      no_reasons: "none",
      audit: "Change log",
      audit_empty: "No changes yet.",
      via_console: "console",
      via_api: "API",
      version: "anteroom version",
      now: "now",
      unit_people: "people",
      unit_per_min: "per minute",
      unit_min: "minutes",
      unit_ms: "milliseconds",
      unit_pct: "per cent",
      unit_appointments: "appointments",
      ch_waiting: "Waiting",
      ch_admitted: "Admitted per minute and configured rate",
      ch_active: "Active users and limit",
      ch_wait: "Wait until admission",
      ch_eta: "ETA accuracy",
      ch_available: "Appointments left",
      ch_latency: "Upstream response time",
      ch_errors: "Upstream error rate",
      ch_bots: "Bot decisions per minute",
      s_waiting: "waiting",
      s_admitted: "admitted",
      s_rate: "configured rate",
      s_active: "active",
      s_max: "limit",
      s_p50: "median",
      s_p90: "p90",
      s_eta: "admitted by the ETA high bound",
      s_available: "left",
      s_lat50: "p50",
      s_lat99: "p99",
      s_err: "error rate",
      s_allow: "allow",
      s_challenge: "challenge",
      s_deprioritise: "deprioritise",
      s_deny: "deny",
      chart_label: "{title}, last 30 minutes. Now: {now}. Highest: {max}.",
      chart_table: "Values as a table",
      chart_caption: "{title}: per minute over the last 10 minutes",
      no_data: "no data",
      gap: "no data",
      announce_lost: "Connection to the server lost. The figures are not current.",
      announce_back: "Connection restored.",
      announce_expired: "Session expired. Please sign in again.",
      announce_state: "Room {room}: {state}"
    }
  };
  var MODES = ["fifo", "random", "passthrough", "reject", "paused"];

  function pickLang() {
    var stored = null;
    try { stored = window.localStorage.getItem(LANG_KEY); } catch (e) { stored = null; }
    if (stored === "de" || stored === "en") { return stored; }
    var l = (document.documentElement.getAttribute("lang") || "").toLowerCase().slice(0, 2);
    return l === "en" ? "en" : "de";  // German unless the server (Accept-Language) said English
  }

  var lang = pickLang();
  var fmtCache = {};

  function t(key, vars) {
    var s = (T[lang] && T[lang][key]) || T.de[key] || key;
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (m, k) { return vars[k] != null ? String(vars[k]) : m; });
    }
    return s;
  }
  function nf(opts) {
    var k = lang + JSON.stringify(opts || {});
    if (!fmtCache[k]) { fmtCache[k] = new Intl.NumberFormat(lang, opts); }
    return fmtCache[k];
  }
  function df(opts) {
    var k = "d" + lang + JSON.stringify(opts);
    if (!fmtCache[k]) { fmtCache[k] = new Intl.DateTimeFormat(lang, opts); }
    return fmtCache[k];
  }
  function num(v, digits) {
    if (v == null || !isFinite(v)) { return "–"; }
    return nf({ maximumFractionDigits: digits == null ? 0 : digits }).format(v);
  }
  function pct(ratio) {
    if (ratio == null || !isFinite(ratio)) { return "–"; }
    return nf({ style: "percent", maximumFractionDigits: ratio > 0 && ratio < 0.1 ? 2 : 1 }).format(ratio);
  }
  function dur(seconds) {
    if (seconds == null || !isFinite(seconds)) { return "–"; }
    if (seconds < 120) { return num(seconds, 0) + " s"; }
    var m = seconds / 60;
    if (m < 120) { return num(m, m < 10 ? 1 : 0) + " min"; }
    return num(m / 60, 1) + " h";
  }
  function hms(ms) { return df({ hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }).format(new Date(ms)); }
  function hm(ms) { return df({ hour: "2-digit", minute: "2-digit", hour12: false }).format(new Date(ms)); }
  function dayTime(ms) {
    var d = new Date(ms), today = new Date();
    if (d.toDateString() === today.toDateString()) { return hms(ms); }
    return df({ day: "2-digit", month: "2-digit" }).format(d) + " " + hms(ms);
  }

  // ---- DOM helpers ---------------------------------------------------------------------------
  var SVGNS = "http://www.w3.org/2000/svg";
  function $(id) { return document.getElementById(id); }
  function h(tag, attrs, kids) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    append(e, kids);
    return e;
  }
  function s(tag, attrs, kids) {
    var e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    append(e, kids);
    return e;
  }
  function setAttrs(e, attrs) {
    if (!attrs) { return; }
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v == null || v === false) { return; }
      if (k === "text") { e.textContent = v; } else { e.setAttribute(k, v === true ? "" : String(v)); }
    });
  }
  function append(e, kids) {
    if (kids == null) { return; }
    (Array.isArray(kids) ? kids : [kids]).forEach(function (k) {
      if (k == null) { return; }
      e.appendChild(typeof k === "string" ? document.createTextNode(k) : k);
    });
  }
  function put(e, text) { if (e && e.textContent !== text) { e.textContent = text; } }
  function attr(e, name, value) {
    if (!e) { return; }
    var v = value == null ? null : String(value);
    if (v === null) { if (e.hasAttribute(name)) { e.removeAttribute(name); } }
    else if (e.getAttribute(name) !== v) { e.setAttribute(name, v); }
  }
  function show(e, on) { if (e && e.hidden === !!on) { e.hidden = !on; } }
  function cssId(s) { return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/[^\w-]/g, "\\$&"); }

  // Texts of elements carrying data-t (textContent) and data-t-aria (aria-label); data-room
  // fills {room}.
  function applyTexts(root) {
    var vars = function (e) { var r = e.closest("[data-room]"); return { room: r ? r.getAttribute("data-room") : "" }; };
    root.querySelectorAll("[data-t]").forEach(function (e) { put(e, t(e.getAttribute("data-t"), vars(e))); });
    root.querySelectorAll("[data-t-aria]").forEach(function (e) {
      attr(e, "aria-label", t(e.getAttribute("data-t-aria"), vars(e)));
    });
  }

  // ---- state --------------------------------------------------------------------------------
  var st = {
    since: 0,
    samples: [],      // oldest first
    live: null,       // the last answer (without its samples)
    lastOk: 0,        // Date.now() of the last good answer
    fails: 0,
    conn: "starting",
    expired: false,
    roomIds: "",
    roomState: {},    // id -> "mode/state" last announced
    timer: 0,
    inflight: false
  };

  function roomNow(id) {
    var rooms = (st.live && st.live.rooms) || [];
    for (var i = 0; i < rooms.length; i++) { if (rooms[i].id === id) { return rooms[i]; } }
    return null;
  }
  function lastSample() { return st.samples.length ? st.samples[st.samples.length - 1] : null; }
  function lastRoomSample(id) {
    var x = lastSample();
    return x && x.rooms ? x.rooms[id] || null : null;
  }

  // ---- polling ------------------------------------------------------------------------------
  function schedule(ms) {
    clearTimeout(st.timer);
    st.timer = setTimeout(poll, ms);
  }

  function poll() {
    if (st.inflight) { return; }
    st.inflight = true;
    var ctrl = window.AbortController ? new AbortController() : null;
    var abortTimer = setTimeout(function () { if (ctrl) { ctrl.abort(); } }, FETCH_TIMEOUT_MS);
    fetch("/admin/api/live?since=" + encodeURIComponent(st.since), {
      credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
      signal: ctrl ? ctrl.signal : undefined
    }).then(function (r) {
      if (r.status === 401) { expired(); return null; }
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json().then(received);
    }).catch(function () {
      failed();
    }).then(function () {
      clearTimeout(abortTimer);
      st.inflight = false;
      schedule(st.expired ? EXPIRED_POLL_MS : POLL_MS);
    });
  }

  function received(j) {
    if (!j || typeof j !== "object") { throw new Error("bad answer"); }
    var samples = Array.isArray(j.samples) ? j.samples : [];
    var last = lastSample();
    if (last && typeof j.now === "number" && j.now + 5000 < last.t) {
      st.samples = [];  // the server's clock went back (another host?): start afresh
      last = null;
    }
    for (var i = 0; i < samples.length; i++) {
      var x = samples[i];
      if (x && typeof x.t === "number" && (!last || x.t > last.t)) { st.samples.push(x); last = x; }
    }
    var end = last ? last.t : j.now || 0;
    var cut = 0;
    while (cut < st.samples.length && st.samples[cut].t < end - WINDOW_MS) { cut++; }
    if (st.samples.length - cut > MAX_SAMPLES) { cut = st.samples.length - MAX_SAMPLES; }
    if (cut > 0) { st.samples.splice(0, cut); }
    if (last) { st.since = last.t; }
    var live = {};
    Object.keys(j).forEach(function (k) { if (k !== "samples") { live[k] = j[k]; } });
    st.live = live;
    st.lastOk = Date.now();
    st.fails = 0;
    if (st.expired) { st.expired = false; }
    setConn("live");
    render();
  }

  function failed() {
    st.fails += 1;
    if (!st.expired) { setConn("lost"); }
  }

  function expired() {
    st.expired = true;
    setConn("expired");
  }

  // Connection state in the header, and the page greyed out while the figures are not live.
  function setConn(c) {
    var was = st.conn;
    st.conn = c;
    var el = $("conn");
    attr(el, "data-state", c);
    put($("conn-text"), c === "live" ? t("conn_live") : c === "lost" ? t("conn_lost", { n: num(st.fails) })
        : c === "expired" ? t("conn_expired") : t("conn_starting"));
    show($("conn-login"), c === "expired");
    document.body.classList.toggle("stale", c === "lost" || c === "expired");
    if (was !== c) {
      if (c === "lost") { announce(t("announce_lost")); }
      else if (c === "expired") { announce(t("announce_expired")); }
      else if (c === "live" && (was === "lost" || was === "expired")) { announce(t("announce_back")); }
    }
  }

  // A request can hang without failing: after STALE_MS without an answer the page says so.
  function watchdog() {
    if (st.conn === "live" && Date.now() - st.lastOk > STALE_MS) {
      st.fails = Math.max(st.fails, 1);
      setConn("lost");
    }
  }

  function announce(text) {
    var a = $("announce");
    a.textContent = "";
    // a fresh text node, so that the same words are announced again
    setTimeout(function () { a.textContent = text; }, 50);
  }

  // ---- rendering ----------------------------------------------------------------------------
  function render() {
    var live = st.live;
    if (!live) { return; }
    var last = lastSample();
    put($("last-update"), hms(last ? last.t : live.now));
    attr($("last-update"), "datetime", new Date(last ? last.t : live.now).toISOString());
    put($("who"), live.who || "–");
    put($("version"), live.version || "–");
    buildRooms();
    (live.rooms || []).forEach(renderRoom);
    renderBot();
    renderReasons();
    renderAudit();
    renderCharts();
  }

  // Room cards (figures + controls) and their chart sections; rebuilt when the set of rooms changes.
  function buildRooms() {
    var ids = (st.live.rooms || []).map(function (r) { return r.id; });
    var key = ids.join("\n");
    if (key === st.roomIds) { return; }
    st.roomIds = key;
    var list = $("room-list"), hist = $("room-charts");
    list.textContent = "";
    hist.textContent = "";
    charts = charts.filter(function (c) { return !c.room; });
    ids.forEach(function (id) {
      list.appendChild(roomCard(id));
      hist.appendChild(roomCharts(id));
    });
    applyTexts(list);
    applyTexts(hist);
  }

  function fig(label, main, extra, acts) {
    return h("div", { "class": "fig" }, [
      h("dt", { "data-t": label }),
      h("dd", null, [main].concat(extra || [])),
      acts ? h("dd", { "class": "acts" }, acts) : null
    ]);
  }
  function figNum(name) { return h("span", { "class": "num", "data-figure": name }); }
  function ctl(action, room, label, aria) {
    return h("button", { type: "button", "class": "btn small", id: "ctl-" + action + "-" + room,
                         "data-action": action, "data-t": label, "data-t-aria": aria });
  }

  function roomCard(id) {
    var hid = "room-h-" + id;
    return h("article", { "class": "room", "data-room": id, "aria-labelledby": hid }, [
      h("div", { "class": "room-head" }, [
        h("h3", { id: hid }, [h("span", { "data-t": "room" }), " ", h("span", { "class": "room-id", text: id })]),
        h("span", { "class": "badge", "data-k": "mode", "data-figure": "mode" }),
        h("span", { "class": "muted", "data-k": "state" }),
        h("span", { "class": "room-acts" }, [
          ctl("pause", id, "btn_pause", "aria_pause"), ctl("resume", id, "btn_resume", "aria_resume"),
          ctl("mode", id, "btn_mode", "aria_mode")])
      ]),
      h("dl", { "class": "figs" }, [
        fig("fig_waiting", figNum("waiting")),
        fig("fig_active", figNum("active"),
            [h("br"), h("span", { "class": "sub" }, [h("span", { "data-t": "fig_max" }), " ",
              h("b", { "data-figure": "max_active_users" })])],
            [ctl("max", id, "btn_change", "aria_max")]),
        fig("fig_admitted_pm", figNum("admitted_per_minute"),
            [h("br"), h("span", { "class": "sub" }, [h("span", { "data-t": "fig_rate" }), " ",
              h("b", { "data-figure": "new_users_per_minute" })])],
            [ctl("rate", id, "btn_change", "aria_rate")]),
        fig("fig_admitted_total", figNum("admitted_total")),
        fig("fig_wait", figNum("wait_p50"),
            [h("br"), h("span", { "class": "sub" }, ["p90 ", h("b", { "data-figure": "wait_p90" })])]),
        fig("fig_eta", figNum("eta_accuracy")),
        fig("fig_available", figNum("available"))
      ])
    ]);
  }

  function setFig(card, name, value, text) {
    var e = card.querySelector('[data-figure="' + name + '"]');
    if (!e) { return; }
    attr(e, "data-value", value == null ? "" : value);
    put(e, text);
  }

  function renderRoom(r) {
    var card = document.querySelector('.room[data-room="' + cssId(r.id) + '"]');
    if (!card) { return; }
    var smp = lastRoomSample(r.id) || {};
    setFig(card, "waiting", r.waiting, num(r.waiting));
    setFig(card, "active", r.active, num(r.active));
    setFig(card, "max_active_users", r.max_active_users, num(r.max_active_users));
    card.querySelector('[data-figure="active"]').classList.toggle("over", r.active > r.max_active_users);
    setFig(card, "new_users_per_minute", r.new_users_per_minute, num(r.new_users_per_minute));
    var apm = smp.admitted_per_minute != null ? smp.admitted_per_minute : r.outflow_per_minute;
    setFig(card, "admitted_per_minute", apm, num(apm, apm != null && apm < 10 ? 1 : 0));
    setFig(card, "admitted_total", r.admitted_total, num(r.admitted_total));
    setFig(card, "wait_p50", smp.wait_p50_s, dur(smp.wait_p50_s));
    setFig(card, "wait_p90", smp.wait_p90_s, dur(smp.wait_p90_s));
    setFig(card, "eta_accuracy", smp.eta_accuracy, pct(smp.eta_accuracy));
    var avail = r.available != null ? r.available : smp.available;
    setFig(card, "available", avail, r.sold_out ? t("sold_out") : num(avail));
    var badge = card.querySelector('[data-k="mode"]');
    attr(badge, "data-value", r.mode);
    put(badge, t("mode_" + r.mode));
    attr(badge, "class", "badge b-" + r.mode);
    put(card.querySelector('[data-k="state"]'), r.state === r.mode ? "" : t("state_" + r.state));
    var paused = r.mode === "paused";
    show($("ctl-pause-" + r.id), !paused);
    show($("ctl-resume-" + r.id), paused);
    var key = r.mode + "/" + r.state, was = st.roomState[r.id];
    st.roomState[r.id] = key;
    if (was && was !== key) { announce(t("announce_state", { room: r.id, state: t("state_" + r.state) + ", " + r.mode })); }
  }

  function renderBot() {
    var b = st.live.bot_detect || {};
    var btn = $("ctl-bot-dry-run"), note = $("bot-note"), badge = $("bot-state");
    if (!b.enabled) {
      put(badge, t("bot_disabled"));
      attr(badge, "class", "badge b-off");
      put($("bot-config"), "");
      btn.disabled = true;
      put(btn, t("bot_dry_on"));
      put(note, t("bot_disabled_note"));
      show(note, true);
      return;
    }
    show(note, false);
    btn.disabled = false;
    put(badge, b.dry_run ? t("bot_dry") : t("bot_acting"));
    attr(badge, "class", b.dry_run ? "badge b-dry" : "badge");
    attr(btn, "data-dry-run", b.dry_run ? "true" : "false");
    put(btn, b.dry_run ? t("bot_dry_off") : t("bot_dry_on"));
    put($("bot-config"), b.dry_run_config !== b.dry_run ? t("bot_config", { v: t(b.dry_run_config ? "on" : "off") }) : "");
  }

  function renderReasons() {
    var rows = st.live.top_reasons || [];
    var key = lang + JSON.stringify(rows);
    var body = $("top-reasons").tBodies[0];
    if (body.getAttribute("data-key") === key) { return; }
    body.setAttribute("data-key", key);
    body.textContent = "";
    if (!rows.length) {
      body.appendChild(h("tr", null, [h("td", { colspan: 2, "class": "muted", text: t("no_reasons") })]));
    }
    rows.forEach(function (x) {
      body.appendChild(h("tr", null, [h("td", null, [h("code", { text: x.reason })]),
                                      h("td", { "class": "r", text: num(x.per_minute, 1) })]));
    });
  }

  function renderAudit() {
    var items = st.live.audit || [];
    var list = $("audit");
    var key = lang + JSON.stringify(items);
    if (list.getAttribute("data-key") === key) { return; }
    list.setAttribute("data-key", key);
    list.textContent = "";
    show($("audit-empty"), !items.length);
    show(list, items.length > 0);
    items.forEach(function (a) {
      list.appendChild(h("li", { "data-who": a.who, "data-what": a.what, "data-at": a.at }, [
        h("time", { datetime: new Date(a.at).toISOString(), text: dayTime(a.at) }),
        h("span", { "class": "who" }, [a.who + " ", h("span", { "class": "via", text: "(" + t(a.via === "api" ? "via_api" : "via_console") + ")" })]),
        h("span", { "class": "what", text: a.what })
      ]));
    });
  }

  // ---- charts -------------------------------------------------------------------------------
  // A chart: title, unit, series [{name, cls, step, dash, get(sample) -> value or null}],
  // fmt(value) for labels, scale (multiplied into the values), fixedMax.
  var charts = [];

  function roomSeries(id, field, scale) {
    return function (x) {
      var r = x.rooms && x.rooms[id];
      var v = r ? r[field] : null;
      return v == null ? null : v * (scale || 1);
    };
  }
  function globalSeries(group, field, scale) {
    return function (x) {
      var g = x[group];
      var v = g ? g[field] : null;
      return v == null ? null : v * (scale || 1);
    };
  }

  function roomCharts(id) {
    var sec = h("section", { "class": "room-charts", "data-room": id, "aria-labelledby": "hist-h-" + id }, [
      h("h3", { id: "hist-h-" + id, "data-t": "history_room" })
    ]);
    var grid = h("div", { "class": "charts" });
    sec.appendChild(grid);
    var mins = function (v) { return num(v, v < 10 ? 1 : 0) + " min"; };
    [
      { key: "waiting", title: "ch_waiting", unit: "unit_people", fmt: num,
        series: [{ name: "s_waiting", cls: "c0", get: roomSeries(id, "waiting") }] },
      { key: "admitted", title: "ch_admitted", unit: "unit_per_min", fmt: num,
        series: [{ name: "s_admitted", cls: "c0", get: roomSeries(id, "admitted_per_minute") },
                 { name: "s_rate", cls: "c1", step: true, dash: "dash", get: roomSeries(id, "new_users_per_minute") }] },
      { key: "active", title: "ch_active", unit: "unit_people", fmt: num,
        series: [{ name: "s_active", cls: "c2", get: roomSeries(id, "active") },
                 { name: "s_max", cls: "c3", step: true, dash: "dash", get: roomSeries(id, "max_active_users") }] },
      { key: "wait", title: "ch_wait", unit: "unit_min", fmt: mins,
        series: [{ name: "s_p50", cls: "c0", get: roomSeries(id, "wait_p50_s", 1 / 60) },
                 { name: "s_p90", cls: "c4", dash: "dash", get: roomSeries(id, "wait_p90_s", 1 / 60) }] },
      { key: "eta", title: "ch_eta", unit: "unit_pct", fixedMax: 100, fmt: function (v) { return num(v, 1) + " %"; },
        series: [{ name: "s_eta", cls: "c2", get: roomSeries(id, "eta_accuracy", 100) }] },
      { key: "available", title: "ch_available", unit: "unit_appointments", fmt: num,
        series: [{ name: "s_available", cls: "c4", get: roomSeries(id, "available") }] }
    ].forEach(function (spec) {
      spec.room = id;
      grid.appendChild(chartFigure(spec, "ch-" + id + "-" + spec.key));
      charts.push(spec);
    });
    return sec;
  }

  function globalCharts() {
    var grid = $("global-charts");
    [
      { key: "latency", title: "ch_latency", unit: "unit_ms", fmt: function (v) { return num(v, v < 10 ? 1 : 0) + " ms"; },
        series: [{ name: "s_lat50", cls: "c0", get: globalSeries("upstream", "p50_ms") },
                 { name: "s_lat99", cls: "c1", dash: "dash", get: globalSeries("upstream", "p99_ms") }] },
      { key: "errors", title: "ch_errors", unit: "unit_pct", fmt: function (v) { return num(v, v < 1 ? 2 : 1) + " %"; },
        series: [{ name: "s_err", cls: "c3", get: globalSeries("upstream", "error_rate", 100) }] },
      { key: "bots", title: "ch_bots", unit: "unit_per_min", fmt: num,
        series: [{ name: "s_allow", cls: "c2", get: globalSeries("bots", "allow") },
                 { name: "s_challenge", cls: "c5", dash: "dash", get: globalSeries("bots", "challenge") },
                 { name: "s_deprioritise", cls: "c4", dash: "dot2", get: globalSeries("bots", "deprioritise") },
                 { name: "s_deny", cls: "c3", get: globalSeries("bots", "deny") }] }
    ].forEach(function (spec) {
      grid.appendChild(chartFigure(spec, "ch-global-" + spec.key));
      charts.push(spec);
    });
  }

  function chartFigure(spec, id) {
    var legend = h("ul", { "class": "legend" });
    spec.series.forEach(function (se) {
      var sw = s("svg", { width: 18, height: 10, "aria-hidden": "true", focusable: "false" },
                 [s("line", { x1: 1, y1: 5, x2: 17, y2: 5, "class": "ln " + se.cls + (se.dash ? " " + se.dash : "") })]);
      se.valueEl = h("b");
      se.nameEl = h("span", { "data-t": se.name });
      legend.appendChild(h("li", null, [sw, se.nameEl, se.valueEl]));
    });
    spec.plot = h("div", { "class": "plot", role: "img", id: id + "-plot" });
    spec.table = h("table", { "class": "data" });
    spec.details = h("details", null, [h("summary", { "data-t": "chart_table" }), spec.table]);
    spec.el = h("figure", { "class": "chart", id: id, "data-chart": spec.key }, [
      h("figcaption", null, [h("span", { "data-t": spec.title }), " ",
                             h("span", { "class": "unit" }, ["(", h("span", { "data-t": spec.unit }), ")"])]),
      legend, spec.plot, spec.details
    ]);
    return spec.el;
  }

  // "Nice" ticks 0..max: steps of 1, 2, 2.5 or 5 times a power of ten.
  function ticks(max, count, integer) {
    if (!(max > 0)) { max = integer ? 4 : 1; }
    var raw = max / count, p = Math.pow(10, Math.floor(Math.log10(raw))), step = p;
    [1, 2, 2.5, 5, 10].some(function (m) { step = m * p; return m * p >= raw; });
    if (integer && step < 1) { step = 1; }
    var out = [];
    for (var v = 0; v <= max + step * 1e-9 || out.length < 2; v += step) { out.push(Math.round(v / step) * step); }
    if (out[out.length - 1] < max) { out.push(out[out.length - 1] + step); }
    return { values: out, step: step, top: out[out.length - 1] };
  }
  function tickLabel(v, step) {
    if (Math.abs(v) >= 100000) { return nf({ notation: "compact", maximumFractionDigits: 1 }).format(v); }
    var d = 0;
    while (d < 4 && Math.abs(Math.round(step * Math.pow(10, d)) - step * Math.pow(10, d)) > 1e-6) { d++; }
    return num(v, d);
  }

  function renderCharts() {
    var last = lastSample();
    var end = last ? last.t : st.live.now;
    charts.forEach(function (c) { drawChart(c, end); });
  }

  function drawChart(c, end) {
    var width = Math.max(240, Math.floor(c.plot.clientWidth || 320)), height = 150;
    var m = { l: 48, r: 10, t: 12, b: 22 };
    var w = width - m.l - m.r, hh = height - m.t - m.b;
    var start = end - WINDOW_MS;
    var data = st.samples;
    var max = 0, any = false, integer = !c.fixedMax && c.fmt === num;
    var cols = c.series.map(function (se) {
      var vals = new Array(data.length);
      for (var i = 0; i < data.length; i++) {
        var v = se.get(data[i]);
        vals[i] = typeof v === "number" && isFinite(v) ? v : null;
        if (vals[i] != null) { any = true; if (vals[i] > max) { max = vals[i]; } if (vals[i] % 1) { integer = false; } }
      }
      return vals;
    });
    var tk = ticks(c.fixedMax || max, 4, integer);
    var top = c.fixedMax || tk.top;
    var x = function (ts) { return m.l + (ts - start) / WINDOW_MS * w; };
    var y = function (v) { return m.t + hh - Math.min(v, top) / top * hh; };
    var r1 = function (v) { return Math.round(v * 10) / 10; };

    var svg = s("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, "aria-hidden": "true", focusable: "false" });
    tk.values.forEach(function (v) {
      if (v > top) { return; }
      var yy = r1(y(v));
      svg.appendChild(s("line", { "class": "grid", x1: m.l, x2: m.l + w, y1: yy, y2: yy }));
      svg.appendChild(s("text", { x: m.l - 5, y: yy + 4, "text-anchor": "end", text: tickLabel(v, tk.step) }));
    });
    // Time axis: every 5 minutes, hh:mm.
    var five = 5 * 60 * 1000;
    for (var tt = Math.ceil(start / five) * five; tt <= end; tt += five) {
      var xx = r1(x(tt));
      svg.appendChild(s("line", { "class": "axis", x1: xx, x2: xx, y1: m.t + hh, y2: m.t + hh + 4 }));
      if (xx > m.l + 14 && xx < m.l + w - 14) {
        svg.appendChild(s("text", { x: xx, y: height - 5, "text-anchor": "middle", text: hm(tt) }));
      }
    }
    svg.appendChild(s("line", { "class": "axis", x1: m.l, x2: m.l + w, y1: m.t + hh, y2: m.t + hh }));
    svg.appendChild(s("line", { "class": "axis", x1: m.l, x2: m.l, y1: m.t, y2: m.t + hh }));

    var step = (st.live && st.live.step_ms) || 1000;
    c.series.forEach(function (se, k) {
      var vals = cols[k], d = "", open = false, prevT = 0, prevY = 0, runLen = 0, dots = [];
      for (var i = 0; i < data.length; i++) {
        var v = vals[i], ts = data[i].t;
        if (ts < start) { continue; }
        if (v == null || (open && ts - prevT > step * 2.5)) {  // null or missing samples: a gap
          if (open && runLen === 1) { dots.push([x(prevT), prevY]); }
          open = false;
          if (v == null) { continue; }
        }
        var px = r1(x(ts)), py = r1(y(v));
        if (!open) { d += "M" + px + " " + py; open = true; runLen = 1; }
        else if (se.step) { d += "H" + px + "V" + py; runLen++; }
        else { d += "L" + px + " " + py; runLen++; }
        prevT = ts; prevY = py;
      }
      if (open && runLen === 1) { dots.push([x(prevT), prevY]); }
      if (d) { svg.appendChild(s("path", { "class": "ln " + se.cls + (se.dash ? " " + se.dash : ""), d: d })); }
      dots.forEach(function (p) { svg.appendChild(s("circle", { "class": "dt " + se.cls, cx: r1(p[0]), cy: p[1], r: 2 })); });
    });
    if (!any) {
      svg.appendChild(s("text", { "class": "nodata", x: m.l + w / 2, y: m.t + hh / 2, "text-anchor": "middle", text: t("no_data") }));
    }
    c.plot.textContent = "";
    c.plot.appendChild(svg);

    // Legend values, the summary for screen readers and the table behind the chart.
    var lastVals = c.series.map(function (se, k) {
      var v = data.length ? cols[k][data.length - 1] : null;
      return v == null ? t("gap") : c.fmt(v);
    });
    c.series.forEach(function (se, k) { put(se.valueEl, lastVals[k]); });
    var nowText = c.series.map(function (se, k) { return t(se.name) + " " + lastVals[k]; }).join(", ");
    attr(c.plot, "aria-label", t("chart_label", { title: t(c.title), now: nowText, max: any ? c.fmt(max) : t("no_data") }));
    renderTable(c, cols, end);
  }

  // One row per full minute of the last 10 minutes plus "now"; rebuilt once a minute, the "now"
  // row updated in place, so that a screen reader reading the table is not disturbed every second.
  function renderTable(c, cols, end) {
    var data = st.samples, minute = 60000;
    var rows = [], idx = data.length - 1;
    var lastMinute = Math.floor(end / minute) * minute;
    for (var k = 0; k < 10; k++) {
      var at = lastMinute - k * minute;
      while (idx >= 0 && data[idx].t > at) { idx--; }
      if (idx < 0 || at - data[idx].t > 2 * minute) { break; }
      rows.push({ at: at, i: idx });
    }
    var key = lang + lastMinute + ":" + rows.length;
    var cell = function (k, i) { var v = cols[k][i]; return v == null ? t("gap") : c.fmt(v); };
    if (c.table.getAttribute("data-key") !== key) {
      c.table.setAttribute("data-key", key);
      c.table.textContent = "";
      c.table.appendChild(h("caption", { text: t("chart_caption", { title: t(c.title) }) }));
      c.table.appendChild(h("thead", null, h("tr", null, [h("th", { scope: "col", text: t("th_time") })].concat(
        c.series.map(function (se) { return h("th", { scope: "col", "class": "r", text: t(se.name) }); })))));
      var body = h("tbody");
      c.nowRow = h("tr", null, [h("th", { scope: "row" })].concat(c.series.map(function () { return h("td", { "class": "r" }); })));
      body.appendChild(c.nowRow);
      rows.forEach(function (r) {
        body.appendChild(h("tr", null, [h("th", { scope: "row", text: hm(r.at) })].concat(
          c.series.map(function (se, k) { return h("td", { "class": "r", text: cell(k, r.i) }); }))));
      });
      c.table.appendChild(body);
    }
    var cellsNow = c.nowRow.children, li = data.length - 1;
    put(cellsNow[0], t("now") + (li >= 0 ? " (" + hms(data[li].t) + ")" : ""));
    c.series.forEach(function (se, k) { put(cellsNow[k + 1], li >= 0 ? cell(k, li) : t("gap")); });
  }

  // ---- controls -----------------------------------------------------------------------------
  var dlg = { action: null, room: null, stage: "edit", oldValue: null, newValue: null, busy: false };

  function openControl(action, room) {
    if (!st.live || st.expired) { return; }
    var r = room ? roomNow(room) : null;
    if (room && !r) { return; }
    var b = st.live.bot_detect || {};
    dlg.action = action;
    dlg.room = room;
    dlg.busy = false;
    var input = $("dlg-input"), select = $("dlg-select");
    show($("dlg-error"), false);
    put($("dlg-error"), "");
    show(input, action === "rate" || action === "max");
    show(select, action === "mode");
    var vars = { room: room };
    if (action === "rate" || action === "max") {
      dlg.field = action === "rate" ? "new_users_per_minute" : "max_active_users";
      dlg.oldValue = r[dlg.field];
      put($("dlg-title"), t("dlg_" + action + "_title", vars));
      put($("dlg-label"), t("dlg_" + action + "_label"));
      input.value = String(dlg.oldValue);
    } else if (action === "mode") {
      dlg.oldValue = r.mode;
      put($("dlg-title"), t("dlg_mode_title", vars));
      put($("dlg-label"), t("dlg_mode_label"));
      select.textContent = "";
      MODES.forEach(function (md) { select.appendChild(h("option", { value: md, text: t("mode_" + md) })); });
      select.value = r.mode === "paused" ? "fifo" : "paused";
    } else if (action === "pause" || action === "resume") {
      dlg.oldValue = r.mode;
      dlg.newValue = action === "pause" ? "paused" : null;  // resume: the server picks the configured mode
      put($("dlg-title"), t("dlg_" + action + "_title", vars));
    } else if (action === "bot") {
      if (!b.enabled) { return; }
      dlg.oldValue = !!b.dry_run;
      dlg.newValue = !b.dry_run;
      put($("dlg-title"), t("dlg_bot_title"));
    }
    stage(action === "rate" || action === "max" || action === "mode" ? "edit" : "confirm");
    var d = $("dlg");
    if (!d.open) { d.showModal(); }
    if (dlg.stage === "edit") {
      (action === "mode" ? select : input).focus();
      if (action !== "mode") { input.select(); }
    } else {
      $("dlg-ok").focus();
    }
  }

  function stage(which) {
    dlg.stage = which;
    show($("dlg-edit"), which === "edit");
    show($("dlg-confirm"), which === "confirm");
    show($("dlg-back"), which === "confirm" && (dlg.action === "rate" || dlg.action === "max" || dlg.action === "mode"));
    put($("dlg-ok"), t(which === "edit" ? "dlg_next" : "dlg_confirm"));
    attr($("dlg-ok"), "data-stage", which);
    if (which === "confirm") {
      put($("dlg-what"), describeWhat());
      put($("dlg-old"), describe(dlg.oldValue));
      put($("dlg-new"), describe(dlg.newValue));
    }
  }

  function describeWhat() {
    var a = dlg.action;
    return t(a === "rate" ? "what_rate" : a === "max" ? "what_max" : a === "bot" ? "what_dry" : "what_mode") +
        (a === "rate" ? " (" + t("per_min") + ")" : "");
  }
  function describe(v) {
    var a = dlg.action;
    if (a === "rate" || a === "max") { return num(v); }
    if (a === "bot") { return t(v ? "on" : "off"); }
    if (v == null) { return t("configured_mode"); }  // resume: the room's configured mode
    return v;
  }

  function dlgError(text) {
    put($("dlg-error"), text);
    show($("dlg-error"), !!text);
  }

  function dlgSubmit() {
    if (dlg.busy) { return; }
    dlgError("");
    if (dlg.stage === "edit") {
      if (dlg.action === "mode") {
        dlg.newValue = $("dlg-select").value;
      } else {
        var raw = $("dlg-input").value.trim().replace(/[\s.,'’_](?=\d{3}(\D|$))/g, "");  // 1.000 / 1,000 / 1 000
        if (!raw) { dlgError(t("dlg_empty")); return; }
        // Whatever was typed goes to the server, which checks it and says what is wrong.
        dlg.newValue = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
      }
      if (dlg.newValue === dlg.oldValue) { dlgError(t("dlg_same")); return; }
      stage("confirm");
      $("dlg-ok").focus();
      return;
    }
    send();
  }

  function send() {
    var a = dlg.action, room = dlg.room, url, body;
    var base = "/admin/rooms/" + encodeURIComponent(room || "");
    if (a === "rate" || a === "max") { url = base; body = {}; body[dlg.field] = dlg.newValue; }
    else if (a === "mode") { url = base; body = { mode: dlg.newValue }; }
    else if (a === "pause" || a === "resume") { url = base + "/" + a; body = {}; }
    else { url = "/admin/api/bot-detect"; body = { dry_run: dlg.newValue }; }
    var method = a === "rate" || a === "max" || a === "mode" ? "PATCH" : "POST";
    var what = (room ? t("room") + " " + room + ", " : "") + describeWhat() + ": " + describe(dlg.oldValue) + " → " +
        describe(dlg.newValue);
    dlg.busy = true;
    $("dlg-ok").disabled = true;
    put($("dlg-ok"), t("dlg_sending"));
    fetch(url, {
      method: method, credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-Anteroom-Console": "1" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (text) {
        var msg = text;
        try { var j = JSON.parse(text); msg = j.error || j.errors || text; } catch (e) { msg = text; }
        return { status: r.status, ok: r.ok, msg: String(msg || r.statusText || "").trim() };
      });
    }).then(function (res) {
      dlg.busy = false;
      $("dlg-ok").disabled = false;
      if (res.ok) {
        $("dlg").close();
        notice(t("result_ok", { what: what }), false);
        schedule(0);  // show the new figures and the audit entry at once
        return;
      }
      if (res.status === 401) { expired(); }
      var msg = res.msg || (res.status === 403 ? t("result_403") : "HTTP " + res.status);
      dlgError(t("result_err", { status: res.status, msg: msg }));
      stage(dlg.action === "rate" || dlg.action === "max" || dlg.action === "mode" ? "edit" : "confirm");
      notice(t("result_err", { status: res.status, msg: msg }), true);
    }).catch(function () {
      dlg.busy = false;
      $("dlg-ok").disabled = false;
      stage(dlg.stage);
      dlgError(t("result_net"));
    });
  }

  // The result of a control: shown at the top of the page and announced (role="status").
  function notice(text, isError) {
    var n = $("notice");
    n.className = isError ? "notice err" : "notice";
    n.textContent = text;
    show(n, true);
  }

  function logout() {
    fetch("/admin/logout", { method: "POST", credentials: "same-origin", headers: { "X-Anteroom-Console": "1" } })
      .catch(function () { return null; })
      .then(function () { window.location.assign("/admin/"); });
  }

  function setLang(l) {
    lang = l;
    try { window.localStorage.setItem(LANG_KEY, l); } catch (e) { /* private mode: not remembered */ }
    document.documentElement.setAttribute("lang", l);
    show($("notice"), false);  // it speaks the other language
    texts();
    setConn(st.conn);
    if (dlg.action && $("dlg").open) { openControl(dlg.action, dlg.room); }
    render();
  }

  function texts() {
    document.title = t("doc_title");
    applyTexts(document);
    var ls = $("lang-switch");
    put(ls, t("lang_other"));
    attr(ls, "lang", lang === "de" ? "en" : "de");
    attr(ls, "aria-label", t("lang_other_label"));
    // Tables are keyed by language: force a rebuild.
    charts.forEach(function (c) { c.table.removeAttribute("data-key"); });
    $("audit").removeAttribute("data-key");
  }

  function init() {
    document.documentElement.setAttribute("lang", lang);
    globalCharts();
    texts();
    setConn("starting");
    document.addEventListener("click", function (ev) {
      var b = ev.target.closest("button[data-action]");
      if (!b || b.disabled) { return; }
      var card = b.closest("[data-room]");
      openControl(b.getAttribute("data-action"), card ? card.getAttribute("data-room") : null);
    });
    $("dlg-form").addEventListener("submit", function (ev) { ev.preventDefault(); dlgSubmit(); });
    $("dlg-cancel").addEventListener("click", function () { $("dlg").close(); });
    $("dlg-back").addEventListener("click", function () {
      dlgError("");
      stage("edit");
      (dlg.action === "mode" ? $("dlg-select") : $("dlg-input")).focus();
    });
    $("dlg").addEventListener("close", function () { dlg.action = null; dlg.busy = false; $("dlg-ok").disabled = false; });
    $("lang-switch").addEventListener("click", function () { setLang(lang === "de" ? "en" : "de"); });
    $("logout").addEventListener("click", logout);
    var pending = 0;
    window.addEventListener("resize", function () {
      if (pending) { return; }
      pending = window.requestAnimationFrame(function () { pending = 0; if (st.live) { renderCharts(); } });
    });
    setInterval(watchdog, 500);
    poll();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();

// The wall: one websocket to the hub (snapshot, then events; resume with since/epoch after a drop),
// the HTTP API for acknowledge, resolve and details. No build step; Leaflet and its cluster plugin are
// vendored under /static/vendor; nothing is fetched from outside the site.
"use strict";

const I18N = {
  id: { cameras: "Kamera", cctv_events: "Kejadian CCTV", incidents: "Insiden", map: "Peta", apps: "Aplikasi", network: "Jaringan",
        sensors: "Sensor", complaints: "Aduan", login: "Masuk", enter: "Masuk", logout: "Keluar", username: "Nama pengguna", password: "Kata sandi",
        rebuilding: "Memulihkan data dari log", connected: "Terhubung", disconnected: "Terputus", connecting: "Menghubungkan", close: "Tutup",
        ack: "Terima", resolve: "Selesaikan", no_incidents: "Tidak ada insiden aktif",
        no_complaints: "Tidak ada aduan terbuka", no_data: "Belum ada data", no_events: "Semua kamera normal",
        bad_token: "Nama pengguna atau kata sandi salah", since: "sejak", open: "terbuka", more: "lagi, gulir untuk melihat",
        due_soon: "jatuh tempo < 1 jam", breached: "melewati SLA", response: "respon", feedback: "tindak lanjut",
        left: "lagi", overdue: "terlambat", ago: "lalu", last_frame: "gambar terakhir", last_reading: "bacaan terakhir",
        down_since: "mati sejak", acked_by: "diterima oleh", step: "langkah", affected: "terdampak", errors: "galat", discards: "dibuang",
        timeline: "Riwayat", pages: "Panggilan ke petugas", round: "putaran", page_sent: "terkirim",
        page_resolved: "kabar selesai terkirim", page_retrying: "gagal, dicoba lagi", page_failed: "gagal", recent_anomalies: "Anomali terakhir", expired: "gambar sudah tidak disimpan", children: "Kejadian di bawahnya", outside: "di luar wilayah (tidak digambar)",
        sound_title: "Bunyi untuk insiden kritis/berat", sound: "Suara", on: "nyala", off: "mati", legend_cam: "kamera", legend_sensor: "sensor",
        legend_complaint: "aduan", legend_incident: "insiden aktif", legend_network: "perangkat/jalur jaringan", legend_bad: "bermasalah",
        cam_offline: "offline", cam_frozen: "gambar membeku", cam_black: "gambar hitam", cam_blurred: "gambar kabur",
        cam_covered: "lensa tertutup", cam_moved: "arah bergeser", people: "orang",
        cam_suspect: "acuan awal meragukan (hampir tanpa detail)", mark_reference: "Jadikan tampilan acuan",
        sev_critical: "kritis", sev_major: "berat", sev_minor: "ringan", sev_info: "info",
        st_ok: "normal", st_up: "normal", st_down: "mati", st_degraded: "menurun", st_unknown: "belum diketahui",
        st_offline: "offline", st_frozen: "membeku", st_black: "hitam", st_blurred: "kabur", st_covered: "tertutup",
        st_moved: "bergeser", st_alarm: "alarm", st_fault: "rusak", st_stale: "basi", st_flatline: "datar",
        st_maintenance: "pemeliharaan", st_open: "terbuka", st_acknowledged: "diterima", st_resolved: "selesai",
        st_cleared: "pulih", st_breached: "lewat SLA", st_learning: "belajar",
        inc_related: (area, n) => `Kejadian terkait di ${area}: ${n} anomali`,
        inc_cause: (what, n) => `Kemungkinan satu penyebab: ${what}: ${n} anomali`,
        inc_breach_response: "melewati batas respon", inc_breach_feedback: "melewati batas tindak lanjut",
        inc_surge: "lonjakan aduan", complaint: "Aduan" },
  en: { cameras: "Cameras", cctv_events: "CCTV events", incidents: "Incidents", map: "Map", apps: "Applications", network: "Network",
        sensors: "Sensors", complaints: "Complaints", login: "Sign in", enter: "Sign in", username: "Username", password: "Password",
        logout: "Sign out", rebuilding: "Restoring state from the log", connected: "Connected", disconnected: "Disconnected", connecting: "Connecting",
        close: "Close", ack: "Acknowledge", resolve: "Resolve", no_incidents: "No active incidents",
        no_complaints: "No open complaints", no_data: "No data yet", no_events: "All cameras normal",
        bad_token: "The username or the password is wrong", since: "since", open: "open", more: "more, scroll to see",
        due_soon: "due within the hour", breached: "past SLA", response: "response", feedback: "follow-up",
        left: "left", overdue: "overdue", ago: "ago", last_frame: "last frame", last_reading: "last reading",
        down_since: "down since", acked_by: "acknowledged by", step: "step", affected: "affected", errors: "errors", discards: "discards",
        timeline: "Timeline", pages: "Pages to staff", round: "round", page_sent: "delivered",
        page_resolved: "resolution delivered", page_retrying: "failed, retrying", page_failed: "failed", recent_anomalies: "Recent anomalies", expired: "frame no longer kept", children: "Grouped under it", outside: "outside the region (not drawn)",
        sound_title: "Sound for critical/major incidents", sound: "Sound", on: "on", off: "off", legend_cam: "camera", legend_sensor: "sensor",
        legend_complaint: "complaint", legend_incident: "active incident", legend_network: "network device/link", legend_bad: "in trouble",
        cam_offline: "offline", cam_frozen: "frozen image", cam_black: "black image", cam_blurred: "blurred",
        cam_covered: "lens covered", cam_moved: "turned away", people: "people",
        cam_suspect: "first baseline suspect (almost no detail)", mark_reference: "Mark as the good view",
        sev_critical: "critical", sev_major: "major", sev_minor: "minor", sev_info: "info",
        st_ok: "ok", st_up: "up", st_down: "down", st_degraded: "degraded", st_unknown: "unknown",
        st_offline: "offline", st_frozen: "frozen", st_black: "black", st_blurred: "blurred", st_covered: "covered",
        st_moved: "moved", st_alarm: "alarm", st_fault: "fault", st_stale: "stale", st_flatline: "flatline",
        st_maintenance: "maintenance", st_open: "open", st_acknowledged: "acknowledged", st_resolved: "resolved",
        st_cleared: "cleared", st_breached: "past SLA", st_learning: "learning",
        inc_related: (area, n) => `Related events in ${area}: ${n} anomalies`,
        inc_cause: (what, n) => `Probably one cause: ${what}: ${n} anomalies`,
        inc_breach_response: "past its response deadline", inc_breach_feedback: "past its follow-up deadline",
        inc_surge: "complaint surge", complaint: "Complaint" },
};
const PANELS_BY_ROLE = { police: ["cameras", "cctv_events"], agency: ["complaints"] };
const CHANNEL_OF = { cameras: "cctv", cctv_events: "cctv", incidents: "incidents", apps: "health", network: "health", sensors: "sensors",
                     complaints: "complaints", map: null };
const SEVERITY_RANK = { critical: 3, major: 2, minor: 1, info: 0 };

const wall = {
  lang: localStorage.getItem("cc.lang") || "id",
  csrf: "", people: new Map(),
  role: "", config: null, panels: [], ws: null, seq: null, epoch: null, retry: 1000, snapshotAt: 0,
  sound: localStorage.getItem("cc.sound") === "on", audio: null, seen: new Set(),
  data: { cctv: new Map(), health: new Map(), complaints: new Map(), sensors: new Map(), incidents: new Map() },
  dirty: new Set(),
};

const $ = (id) => document.getElementById(id);
const t = (key) => (I18N[wall.lang] || I18N.id)[key] ?? I18N.id[key] ?? key;
const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const locale = () => (wall.lang === "id" ? "id-ID" : "en-GB");
const zone = () => (wall.config && wall.config.timezone) || undefined;
const time = (iso) => iso ? new Date(iso).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit", timeZone: zone() }) : "";
const dateTime = (iso) => iso ? new Date(iso).toLocaleString(locale(), { dateStyle: "short", timeStyle: "short", timeZone: zone() }) : "";
const state = (s) => t(`st_${s}`);

function span(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const id = wall.lang === "id";
  if (s < 60) return `${s} ${id ? "dtk" : "s"}`;
  if (s < 3600) return `${Math.floor(s / 60)} ${id ? "mnt" : "min"}`;
  if (s < 86400) return `${Math.floor(s / 3600)} ${id ? "j" : "h"} ${Math.floor((s % 3600) / 60)} ${id ? "mnt" : "min"}`;
  return `${Math.floor(s / 86400)} ${id ? "hr" : "d"} ${Math.floor((s % 86400) / 3600)} ${id ? "j" : "h"}`;
}

// Ages and countdowns tick every second in the page, from the times the views carry: no server round trip.
function tickClocks() {
  const now = Date.now();
  document.querySelectorAll("[data-age]").forEach((el) => {
    const at = Date.parse(el.dataset.age);
    if (!at) return;
    const age = (now - at) / 1000;
    el.textContent = `${el.dataset.label ? `${el.dataset.label} ` : ""}${span(age)} ${t("ago")}`;
    const limit = Number(el.dataset.staleAfter || 0);
    const holder = el.closest("[data-stale-holder]") || el;
    if (limit) holder.classList.toggle("stale", age > limit);
  });
  document.querySelectorAll("[data-due]").forEach((el) => {
    const left = (Date.parse(el.dataset.due) - now) / 1000;
    el.textContent = `${el.dataset.label} ${left >= 0 ? `${span(left)} ${t("left")}` : `${t("overdue")} ${span(-left)}`}`;
    el.dataset.left = String(Math.round(left));
    el.className = `clock ${left < 0 ? "late" : left < 900 ? "soon" : "ok"}`;
  });
  $("clock").textContent = new Date().toLocaleString(locale(), { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: zone(), timeZoneName: "short" });
}

function translate() {
  document.documentElement.lang = wall.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  $("lang").textContent = wall.lang === "id" ? "EN" : "ID";
  $("sound").textContent = `${t("sound")}: ${wall.sound ? t("on") : t("off")}`;
  Object.keys(wall.data).forEach((c) => wall.dirty.add(c));
  wall.dirty.add("map-legend");
  wall.dirty.add("map");
  nameLayers();
  schedule();
}

// Signed in by the session cookie (HttpOnly: no script here reads it, and no URL carries a credential); a change
// carries the session's CSRF token in X-CSRF-Token.
async function api(path, options = {}) {
  const method = (options.method || "GET").toUpperCase();
  const headers = { "Content-Type": "application/json", ...(method === "GET" ? {} : { "X-CSRF-Token": wall.csrf }), ...(options.headers || {}) };
  const response = await fetch(path, { ...options, credentials: "same-origin", headers });
  const body = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) { const err = new Error(body.error ? body.error.message : `HTTP ${response.status}`); err.status = response.status; throw err; }
  return body;
}

const person = (login) => wall.people.get(login) || login;

async function signIn(username, password) {
  $("login-error").textContent = "";
  try {
    start(await api("/api/session", { method: "POST", body: JSON.stringify({ login: username, password }) }));
  } catch (err) {
    $("login-error").textContent = err.status === 401 ? t("bad_token") : err.message;
    $("password").value = "";
  }
}

async function start(who) {
  wall.csrf = who.csrf_token;
  wall.role = who.role;
  document.body.dataset.role = who.role;  // a viewer's wall has no action buttons
  $("who").textContent = `${who.display_name} (${who.role})`;
  api("/api/people").then((p) => { wall.people = new Map(Object.entries(p)); Object.keys(wall.data).forEach((c) => wall.dirty.add(c)); schedule(); }).catch(() => {});
  $("login").hidden = true;
  $("wall").hidden = false;
  $("logout").hidden = false;
  wall.config = await fetch("/api/wall-config").then((r) => r.json());
  $("site").textContent = wall.config.site;
  arrange();
  connect();
  watchState();
}

// While a processor derives its lost state again from the log, the wall says so (what it shows may be behind).
async function watchState() {
  const el = $("rebuilding");
  try {
    const body = await fetch("/api/state").then((r) => r.json());
    el.hidden = !body.rebuilding;
    el.textContent = `${t("rebuilding")}: ${body.detail}`;
    el.title = body.detail;
  } catch { el.hidden = true; }
  setTimeout(watchState, 5000);
}

async function showLogin() {
  $("wall").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("username").focus();
  const config = await fetch("/api/wall-config").then((r) => r.json()).catch(() => ({}));
  if (config.sso) {
    $("sso").textContent = config.sso;
    $("sso").href = `/auth/oidc/login?next=${encodeURIComponent(location.pathname)}`;
    $("sso").hidden = false;
  }
}

// The layout is the path's (/wall/<id>), else the role's own; a panel the role may not see is not drawn at
// all, and the grid fills with what is left, the first panel the largest.
function arrange() {
  const layouts = wall.config.layouts || [];
  const asked = (location.pathname.match(/^\/wall\/([a-z0-9-]+)/) || [])[1];
  const layout = layouts.find((l) => l.id === asked) || layouts.find((l) => l.id === (wall.role === "police" ? "police" : "operator")) || layouts[0];
  const allowed = PANELS_BY_ROLE[wall.role];
  wall.panels = layout.panels.filter((p) => !allowed || allowed.includes(p));
  document.querySelectorAll("main .panel").forEach((el) => { el.hidden = !wall.panels.includes(el.dataset.panel); el.style.gridArea = ""; });
  const main = $("wall");
  main.dataset.layout = layout.id;
  main.dataset.count = String(wall.panels.length);
  const areas = { 1: ["a"], 2: ["a b"], 3: ["a b", "a c"], 4: ["a b c", "a d d"], 5: ["a b c", "d e c"], 6: ["a b c", "d e f"], 7: ["a b c d", "e f g d"] }[wall.panels.length] || ["a"];
  main.style.gridTemplateAreas = areas.map((row) => `"${row}"`).join(" ");
  wall.panels.forEach((p, i) => { $(`panel-${p}`).style.gridArea = "abcdefg"[i]; });
  const nav = $("layouts");
  nav.innerHTML = layouts.filter((l) => !allowed || l.panels.some((p) => allowed.includes(p)))
    .map((l) => `<a href="/wall/${esc(l.id)}"${l.id === layout.id ? ' class="current"' : ""}>${esc(l.name || l.id)}</a>`).join("");
  nav.hidden = false;
  if (wall.panels.includes("map")) setupMap();
  $("sound").hidden = !wall.config.sound || !wall.panels.includes("incidents");
  $("sound").textContent = `${t("sound")}: ${wall.sound ? t("on") : t("off")}`;
}

function channels() {
  return [...new Set(wall.panels.map((p) => CHANNEL_OF[p]).filter(Boolean).concat(wall.panels.includes("map") ? ["cctv", "sensors", "complaints", "incidents", "health"] : []))]
    .filter((c) => !PANELS_BY_ROLE[wall.role] || PANELS_BY_ROLE[wall.role].some((p) => CHANNEL_OF[p] === c));
}

function hubAddress() {
  const base = wall.config.hub_url.startsWith("/") ? `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${wall.config.hub_url}` : wall.config.hub_url;
  return base;  // the browser sends the session cookie with the handshake; the hub checks the page's Origin
}

function setConn(s) {
  const el = $("conn");
  el.className = `conn ${s === "connected" ? "up" : s === "connecting" ? "wait" : "down"}`;
  el.dataset.i18n = s;
  el.textContent = t(s);
}

// A wall screen reports itself through the hub (?screen=<id> once: the screen keeps it), stamped by an animation
// frame: a page that stops drawing (hidden, frozen, closed) stops reporting, and the screen's incident opens.
const SCREEN = (() => {
  const asked = new URLSearchParams(location.search).get("screen");
  if (asked && /^[a-z0-9][a-z0-9-]{0,63}$/.test(asked)) localStorage.setItem("cc.screen", asked);
  return localStorage.getItem("cc.screen") || "";
})();

function reportScreen() {
  if (!SCREEN || !wall.ws || wall.ws.readyState !== WebSocket.OPEN) return;
  const layout = ($("wall").dataset.layout || "");
  requestAnimationFrame(() => {
    if (wall.ws && wall.ws.readyState === WebSocket.OPEN) {
      wall.ws.send(JSON.stringify({ type: "screen", screen: SCREEN, layout, rendered_at: new Date().toISOString(),
                                    visible: document.visibilityState === "visible" }));
    }
  });
}
setInterval(reportScreen, 5000);

function connect() {
  setConn("connecting");
  const ws = new WebSocket(hubAddress());
  wall.ws = ws;
  ws.onopen = () => {
    const message = { type: "subscribe", channels: channels() };
    if (wall.seq !== null) { message.since = wall.seq; message.epoch = wall.epoch; }
    ws.send(JSON.stringify(message));
  };
  ws.onmessage = (msg) => {
    const m = JSON.parse(msg.data);
    if (m.type === "snapshot") {
      for (const [channel, items] of Object.entries(m.channels)) {
        wall.data[channel] = new Map(items.map((item) => [item.id, item]));
        wall.dirty.add(channel);
        if (channel === "incidents") items.forEach((i) => wall.seen.add(i.id));
      }
      wall.seq = m.seq; wall.epoch = m.epoch;
      setConn("connected"); wall.retry = 1000;
      reportScreen();
    } else if (m.type === "resume") {
      setConn("connected"); wall.retry = 1000;
    } else if (m.type === "event") {
      wall.data[m.channel].set(m.entity, m.data);
      wall.dirty.add(m.channel);
      if (m.channel === "incidents") attention(m.data);
      wall.seq = m.seq; wall.epoch = m.epoch;
    }
    schedule();
  };
  ws.onclose = (event) => {
    setConn("disconnected");
    if (event.code === 4403 || event.code === 4401) { showLogin(); return; }
    setTimeout(connect, wall.retry);
    wall.retry = Math.min(wall.retry * 2, 10000);
  };
}

// A new critical or major incident flashes its row and, if this screen allows sound, plays a short tone.
const flashing = new Set();
function attention(incident) {
  if (wall.seen.has(incident.id)) return;
  wall.seen.add(incident.id);
  if (wall.seen.size > 10000) wall.seen.delete(wall.seen.values().next().value);  // a month of incidents, not all
  if (!["critical", "major"].includes(incident.severity) || incident.status === "resolved" || incident.parent_id) return;
  flashing.add(incident.id);
  setTimeout(() => { flashing.delete(incident.id); document.querySelector(`.incident[data-id="${CSS.escape(incident.id)}"]`)?.classList.remove("flash"); }, 20000);
  if (wall.sound && wall.audio) {
    const osc = wall.audio.createOscillator(), gain = wall.audio.createGain();
    osc.frequency.value = incident.severity === "critical" ? 880 : 660;
    gain.gain.setValueAtTime(0.2, wall.audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, wall.audio.currentTime + 0.6);
    osc.connect(gain).connect(wall.audio.destination);
    osc.start(); osc.stop(wall.audio.currentTime + 0.6);
  }
}

// Each panel is redrawn at most every MIN_MS (the map every MAP_MS): a wall taking hundreds of changes a
// second draws the latest of them, not each one, and its frames stay short (bench/wall.py measures it).
const MIN_MS = { cctv: 250, incidents: 0, health: 500, sensors: 500, complaints: 500, map: 2000 };
const drawn = {};
let frame = 0, later = 0;
function schedule() { if (!frame) frame = requestAnimationFrame(render); }

function render() {
  frame = 0;
  const now = performance.now();
  const due = (what) => now - (drawn[what] || -1e9) >= MIN_MS[what];
  const ready = [...wall.dirty].filter((c) => c in MIN_MS && due(c));
  if (["cctv", "sensors", "complaints", "incidents", "health"].some((c) => wall.dirty.has(c))) wall.dirty.add("map");
  if (!wall.panels.includes("map")) { wall.dirty.delete("map"); wall.dirty.delete("map-legend"); }
  if (wall.dirty.has("map") && due("map")) ready.push("map");
  ready.forEach((c) => { wall.dirty.delete(c); drawn[c] = now; });
  const shown = (p) => wall.panels.includes(p);
  const go = new Set(ready);
  if (go.has("cctv") && shown("cameras")) renderCameras();
  if (go.has("cctv") && shown("cctv_events")) renderCctvEvents();
  if (go.has("incidents") && shown("incidents")) renderIncidents();
  if (go.has("health") && shown("apps")) renderApps();
  if (go.has("health") && shown("network")) renderNetwork();
  if (go.has("sensors") && shown("sensors")) renderSensors();
  if (go.has("complaints") && shown("complaints")) renderComplaints();
  if (go.has("map") && shown("map")) renderMap();
  if (go.size && !go.has("cctv")) tickClocks();
  if (go.size) countHiddenSoon();
  if (wall.dirty.size && !later) later = setTimeout(() => { later = 0; schedule(); }, 250);
}

let counting = 0;
function countHiddenSoon() { if (!counting) counting = setTimeout(() => { counting = 0; countHidden(); }, 500); }

// Every list scrolls inside its panel; what is below the fold is counted at the panel's foot.
function countHidden() {
  for (const panel of document.querySelectorAll("main .panel:not([hidden])")) {
    const body = panel.querySelector(".body"), more = panel.querySelector(".more");
    if (!body || !more) continue;
    const bottom = body.getBoundingClientRect().bottom;
    const rows = body.querySelectorAll(".rows > *, #cameras > .cam, #apps tr, #network tr");
    let hidden = 0;
    rows.forEach((row) => { if (row.getBoundingClientRect().top >= bottom - 4) hidden += 1; });
    more.textContent = hidden ? `+${hidden} ${t("more")}` : "";
    more.dataset.hidden = String(hidden);
  }
}

function badge(s) { return `<span class="badge s-${esc(s)}">${esc(state(s))}</span>`; }

function spark(values) {
  if (!values || values.length < 2) return "";
  const min = Math.min(...values), max = Math.max(...values), range = max - min || 1;
  const points = values.map((v, i) => `${(i / (values.length - 1)) * 100},${28 - ((v - min) / range) * 26}`).join(" ");
  return `<svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none"><polyline points="${points}"/></svg>`;
}

// Camera tiles are kept and updated in place: a new image is fetched only when that camera's frame changed.
const cameraTiles = new Map();
function cameraTile() {
  const tile = document.createElement("div");
  tile.className = "cam";
  tile.dataset.staleHolder = "";
  tile.innerHTML = `<img alt=""><div class="why"></div><button class="reference" hidden></button><div class="label"><span class="name"></span><span class="info"></span><span class="age"></span></div>`;
  const img = tile.querySelector("img");
  img.onerror = () => { img.style.visibility = "hidden"; };
  img.onload = () => { img.style.visibility = "visible"; };
  return tile;
}

function renderCameras() {
  const grid = $("cameras");
  const cams = [...wall.data.cctv.values()].sort((a, b) => (a.state === "ok") - (b.state === "ok") || a.name.localeCompare(b.name));
  if (!cams.length) { grid.innerHTML = `<p class="empty">${t("no_data")}</p>`; cameraTiles.clear(); return; }
  grid.querySelector(".empty")?.remove();
  for (const [id, tile] of cameraTiles) if (!wall.data.cctv.has(id)) { tile.remove(); cameraTiles.delete(id); }
  cams.forEach((c, index) => {
    let tile = cameraTiles.get(c.id);
    if (!tile) { tile = cameraTile(); tile.dataset.id = c.id; cameraTiles.set(c.id, tile); }
    if (grid.children[index] !== tile) grid.insertBefore(tile, grid.children[index] || null);
    const people = c.people != null ? `${c.people} ${t("people")} ` : "";
    const info = `${esc(people)}${badge(c.state)}`;
    const key = [info, c.name, c.last_frame_at, wall.lang, wall.role, c.baseline, (c.anomalies || []).join(), c.reason].join("|");
    if (tile.__key === key) return;  // nothing of this tile changed: no DOM write at all
    tile.__key = key;
    if (tile.dataset.state !== c.state) tile.dataset.state = c.state;
    tile.querySelector(".name").textContent = c.name;
    tile.querySelector(".info").innerHTML = info;
    const age = tile.querySelector(".age");
    if (c.last_frame_at) { age.dataset.age = c.last_frame_at; age.dataset.staleAfter = String(3 * (c.interval_s || 10)); }
    const anomalies = (c.anomalies || []).filter((a) => a !== c.state);
    const suspect = c.baseline === "suspect" ? t("cam_suspect") : "";
    tile.querySelector(".why").textContent = c.state === "ok" ? suspect :
      [t(`cam_${c.state}`), ...anomalies.map((a) => t(`cam_${a}`)), c.state === "offline" ? c.reason : "", suspect].filter(Boolean).join(" · ");
    const reference = tile.querySelector("button.reference");
    reference.hidden = !(["operator", "admin"].includes(wall.role) && (suspect || ["blurred", "covered", "moved"].includes(c.state)));
    reference.textContent = t("mark_reference");
    const stamp = c.last_frame_at || "";
    if (tile.dataset.stamp !== stamp) {
      tile.dataset.stamp = stamp;
      if (stamp) tile.querySelector("img").src = `${c.snapshot}?t=${encodeURIComponent(stamp)}`;
    }
  });
}

function renderCctvEvents() {
  const troubled = [...wall.data.cctv.values()].filter((c) => c.state !== "ok" || (c.people || 0) > 0)
    .sort((a, b) => (b.since || "").localeCompare(a.since || ""));
  $("cctv_events").innerHTML = troubled.map((c) => `<li class="event" data-id="${esc(c.id)}" data-state="${esc(c.state)}">
    <div class="title">${badge(c.state)} ${esc(c.name)}</div>
    <div class="meta">${esc(c.area || "-")} · ${t("since")} ${time(c.since)}${c.people ? ` · ${c.people} ${t("people")}` : ""}
      · <span data-age="${esc(c.last_frame_at || "")}" data-label="${t("last_frame")}"></span></div></li>`).join("")
    || `<p class="empty">${t("no_events")}</p>`;
}

function entityName(id) {
  for (const channel of ["cctv", "health", "sensors"]) { const v = wall.data[channel].get(id); if (v) return v.name; }
  return id;
}

// Titles come from templates by kind in the screen's language; the server's own (Indonesian) is the fallback.
function incidentTitle(i) {
  const members = Math.max(i.count, (i.children || []).length);
  if (i.source === "correlation" && i.kind === "cause") return t("inc_cause")(i.cause_name || i.name, members);
  if (i.source === "correlation") return t("inc_related")(i.area || "-", members);
  const entity = (i.entities || [])[0];
  if (i.source === "complaints") return `${t("complaint")} ${entity ? entity.slice(0, 8) : ""} ${t(`inc_${i.kind}`)}`;
  const folded = (i.affected || []).length ? ` (${i.affected.length} ${t("affected")})` : "";  // what is down with it
  if (entity && t(`st_${i.kind}`) !== `st_${i.kind}`) return `${entityName(entity)}: ${state(i.kind)}${folded}`;
  return i.name;
}

function renderIncidents() {
  const all = [...wall.data.incidents.values()];
  const top = all.filter((i) => !i.parent_id && i.status !== "resolved")
    .sort((a, b) => (SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]) || b.opened_at.localeCompare(a.opened_at));
  const canAct = ["operator", "oncall", "admin"].includes(wall.role);
  $("incidents").innerHTML = top.map((i) => {
    const children = (i.children || []).map((id) => wall.data.incidents.get(id)).filter(Boolean);
    const count = Math.max(i.count || 1, (i.children || []).length);
    return `<li class="incident sev-${esc(i.severity)}${flashing.has(i.id) ? " flash" : ""}" data-id="${esc(i.id)}" data-status="${esc(i.status)}">
      <div class="title">${badge(i.status)} ${esc(incidentTitle(i))}</div>
      <div class="meta">${esc(t(`sev_${i.severity}`))} · ${esc(i.area || "-")} · ${t("since")} ${time(i.opened_at)} (<span data-age="${esc(i.opened_at)}"></span>) · ${count}×
        ${i.acknowledged_by ? ` · ${t("acked_by")} <b class="acked-by">${esc(person(i.acknowledged_by))}</b>` : ""}</div>
      ${children.length ? `<ul class="children">${children.slice(0, 5).map((c) => `<li>${badge(c.status)} ${esc(incidentTitle(c))}</li>`).join("")}${children.length > 5 ? `<li>+${children.length - 5}</li>` : ""}</ul>` : ""}
      ${canAct ? `<div class="actions">
        ${i.acknowledged ? "" : `<button data-action="ack">${t("ack")}</button>`}
        <button data-action="resolve">${t("resolve")}</button></div>` : ""}
    </li>`;
  }).join("") || `<p class="empty">${t("no_incidents")}</p>`;
}

const DEVICE = (a) => a.kind && !["app", "screen"].includes(a.kind);  // a switch, a router, a link, ...

function bits(bps) {
  if (bps == null) return "";
  const units = [["G", 1e9], ["M", 1e6], ["k", 1e3]];
  const [unit, size] = units.find(([, s]) => bps >= s) || ["", 1];
  return `${(bps / size).toFixed(bps >= size * 10 ? 0 : 1)} ${unit}b/s`;
}

// The network under the cameras and apps: each watched device, its state, and its interfaces' traffic.
function renderNetwork() {
  const devices = [...wall.data.health.values()].filter(DEVICE)
    .sort((a, b) => (["up", "ok"].includes(a.state)) - (["up", "ok"].includes(b.state)) || a.name.localeCompare(b.name));
  $("network").innerHTML = devices.map((d) => `
    <tr data-id="${esc(d.id)}" data-state="${esc(d.state)}" data-kind="${esc(d.kind)}">
      <td>${esc(d.name)}</td><td>${badge(d.state)}</td>
      <td class="since">${d.state === "down" && d.since ? `${t("down_since")} ${time(d.since)}` : ""}</td>
      <td class="ports">${(d.interfaces || []).map((p) => `<span data-up="${p.up}">${esc(p.name)} ↓${bits(p.in_bps)} ↑${bits(p.out_bps)}${p.errors ? ` <b class="errors">${p.errors} ${t("errors")}</b>` : ""}${p.discards ? ` <b class="discards">${p.discards} ${t("discards")}</b>` : ""}</span>`).join(" ")}</td>
    </tr>`).join("") || `<tr><td class="empty">${t("no_data")}</td></tr>`;
}

function renderApps() {
  const apps = [...wall.data.health.values()].filter((a) => !DEVICE(a)).sort((a, b) => (["up", "ok"].includes(a.state)) - (["up", "ok"].includes(b.state)) || a.name.localeCompare(b.name));
  $("apps").innerHTML = apps.map((a) => `
    <tr data-id="${esc(a.id)}" data-state="${esc(a.state)}">
      <td>${esc(a.name)}</td><td>${badge(a.state)}</td>
      <td class="since">${a.state === "down" && a.since ? `${t("down_since")} ${time(a.since)}` : a.since ? `${t("since")} ${time(a.since)}` : ""}</td>
      <td>${spark((a.latency_ms && a.latency_ms.recent) || [])}</td>
      <td class="num">${a.latency_ms && a.latency_ms.p50 != null ? `${Math.round(a.latency_ms.p50)} ms` : ""}</td>
      <td class="num">${a.uptime && a.uptime["24h"] != null ? `${a.uptime["24h"].toFixed(2)}%` : ""}</td>
    </tr>`).join("") || `<tr><td class="empty">${t("no_data")}</td></tr>`;
}

function renderSensors() {
  const sensors = [...wall.data.sensors.values()];
  $("sensors").innerHTML = sensors.map((s) => {
    const limit = (s.thresholds || [])[0];
    const values = (s.recent || []).map((p) => p[1]);
    const top = Math.max(limit != null ? limit * 1.25 : 0, ...values, s.value || 0, 1);
    const fill = s.value != null ? Math.max(0, Math.min(100, (s.value / top) * 100)) : 0;
    const staleAfter = 3 * (s.interval_s || 60);
    return `<div class="sensor${s.state === "stale" ? " stale" : ""}" data-id="${esc(s.id)}" data-state="${esc(s.state)}" data-stale-holder>
      <div>${esc(s.name)} ${badge(s.state)}</div>
      <div class="value">${s.value != null ? esc(s.value) : "–"} <small>${esc(s.unit)}</small></div>
      <div class="gauge"><div class="fill" style="width:${fill}%"></div>${limit != null ? `<div class="mark" style="left:${(limit / top) * 100}%"></div>` : ""}</div>
      <div class="age" ${s.measured_at ? `data-age="${esc(s.measured_at)}" data-stale-after="${staleAfter}" data-label="${t("last_reading")}"` : ""}></div>
      <div>${spark(values)}</div></div>`;
  }).join("") || `<p class="empty">${t("no_data")}</p>`;
}

// What is owed next on a complaint: its response (until responded), else its follow-up.
function owed(c) {
  if (!c.responded_at && c.response_due) return { label: t("response"), due: c.response_due };
  if (!c.feedback_at && c.feedback_due) return { label: t("feedback"), due: c.feedback_due };
  return null;
}

function renderComplaints() {
  const items = [...wall.data.complaints.values()];
  const now = Date.now();
  const open = items.filter((c) => c.status === "open" && !c.duplicate_of);
  const dueSoon = (c) => { const o = owed(c); return o && Date.parse(o.due) > now && Date.parse(o.due) - now < 3600e3; };
  const byAgency = {};
  open.forEach((c) => { byAgency[c.agency || "-"] = (byAgency[c.agency || "-"] || 0) + 1; });
  $("complaint-summary").innerHTML = `<div class="figures">
      <div><span class="big num" data-count="open">${open.length}</span> ${t("open")}</div>
      <div><span class="big num warn" data-count="due">${open.filter(dueSoon).length}</span> ${t("due_soon")}</div>
      <div><span class="big num bad" data-count="breached">${open.filter((c) => c.breached).length}</span> ${t("breached")}</div></div>
    <div class="agencies">${Object.entries(byAgency).sort((a, b) => b[1] - a[1]).map(([a, n]) => `<span>${esc(a)} <b>${n}</b></span>`).join("")}</div>`;
  const left = (c) => { const o = owed(c); return o ? Date.parse(o.due) - now : Infinity; };
  const sorted = open.slice().sort((a, b) => left(a) - left(b));
  $("complaints").innerHTML = sorted.map((c) => {
    const o = owed(c);
    return `<li class="complaint${c.breached ? " breached" : dueSoon(c) ? " due" : ""}" data-id="${esc(c.id)}">
      <div>${c.breached ? badge("breached") : ""} <b>${esc(c.name)}</b> · ${esc(c.area || "-")} · ${esc(c.agency || "-")} · ${time(c.since)}
        ${o ? `<span class="clock" data-due="${esc(o.due)}" data-label="${esc(o.label)}"></span>` : ""}</div>
      <div class="text">${esc(c.description).slice(0, 140)}</div></li>`;
  }).join("") || `<p class="empty">${t("no_complaints")}</p>`;
}

// The map: Leaflet, the districts from the configuration, bounds from the region (a stray point never moves
// them), a base layer only where the site runs a tile server, layers to toggle, clusters and a legend.
const map = { leaflet: null, layers: {}, legend: null, outside: 0 };
function setupMap() {
  if (map.leaflet || typeof L === "undefined") return;
  const config = wall.config;
  const bounds = config.bounds ? L.latLngBounds(config.bounds) : null;
  map.leaflet = L.map("map", { zoomSnap: 0.25, maxZoom: 18, minZoom: 8, attributionControl: Boolean(config.tile_url), maxBounds: bounds ? bounds.pad(0.5) : undefined, maxBoundsViscosity: 0.8 });
  if (config.tile_url) L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(map.leaflet);
  const districts = L.layerGroup().addTo(map.leaflet);
  for (const a of config.areas || []) {
    const shape = a.polygon.length >= 3 ? L.polygon(a.polygon, { className: "district" })
      : a.center ? L.circle(a.center, { radius: a.radius_km * 1000, className: "district" }) : null;
    if (shape) shape.bindTooltip(a.name, { permanent: true, direction: "center", className: "district-label" }).addTo(districts);
  }
  const cluster = () => L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 40, disableClusteringAtZoom: 15 });
  map.layers = { cameras: cluster(), sensors: L.layerGroup(), complaints: cluster(), incidents: L.layerGroup(), network: L.layerGroup() };
  Object.values(map.layers).forEach((layer) => layer.addTo(map.leaflet));
  map.control = L.control.layers(null, {}, { collapsed: false }).addTo(map.leaflet);
  nameLayers();
  map.legend = L.control({ position: "bottomleft" });
  map.legend.onAdd = () => L.DomUtil.create("div", "legend");
  map.legend.addTo(map.leaflet);
  if (bounds) map.leaflet.fitBounds(bounds); else map.leaflet.setView([-2.5, 118], 5);
  new ResizeObserver(() => map.leaflet.invalidateSize()).observe($("map"));
}

const LINK_COLOUR = { up: "#2ea043", degraded: "#d29922", maintenance: "#8b949e", unknown: "#8b949e" };
function markerStyle(p, kind) {
  const bad = !["ok", "up", "open", "unknown"].includes(p.state);
  if (kind === "network") return { radius: 6, weight: 3, color: LINK_COLOUR[p.state] || "#f85149", fillColor: "#0d1117", fillOpacity: 1, className: "device" };
  if (kind === "incidents") return { radius: 20, color: "#ff3b6b", weight: 3, fill: false, className: "ring" };
  return { radius: kind === "cameras" ? 7 : 8, weight: 1.5, color: "#000", fillOpacity: 0.9, className: `dot ${kind}`,
    fillColor: kind === "complaints" ? (p.breached ? "#f85149" : "#58a6ff") : bad ? (["blurred", "stale", "flatline"].includes(p.state) ? "#d29922" : "#f85149") : "#2ea043" };
}

// Markers are kept per entity and changed in place (colour, place, tooltip); only what came or went is
// added to or taken from its layer, so a busy wall does not rebuild the map.
const markers = { cameras: new Map(), sensors: new Map(), complaints: new Map(), incidents: new Map(), network: new Map() };
function renderMap() {
  if (!map.leaflet) return;
  const region = wall.config.bounds ? L.latLngBounds(wall.config.bounds) : null;
  const sets = {
    cameras: [...wall.data.cctv.values()],
    sensors: [...wall.data.sensors.values()],
    complaints: [...wall.data.complaints.values()].filter((c) => c.status === "open" && !c.duplicate_of),
    incidents: [...wall.data.incidents.values()].filter((i) => i.status !== "resolved" && !i.parent_id),
    network: [...wall.data.health.values()].filter((d) => DEVICE(d) && (d.location || d.path)),
  };
  let outside = 0;
  for (const [kind, items] of Object.entries(sets)) {
    const layer = map.layers[kind], kept = markers[kind], present = new Set(), added = [];
    for (const p of items) {
      if (p.path) { if (drawLink(p, layer, kept, region)) present.add(p.id); else outside += 1; continue; }
      if (!p.location) continue;
      if (region && !region.contains([p.location.lat, p.location.long])) { outside += 1; continue; }
      present.add(p.id);
      const at = [p.location.lat, p.location.long], style = markerStyle(p, kind), tip = `${esc(p.name)} · ${esc(state(p.state) || "")}`;
      let m = kept.get(p.id);
      if (!m) { m = L.circleMarker(at, style).bindTooltip(tip); m.options.entity = p.id; kept.set(p.id, m); added.push(m); continue; }
      if (m.__state !== p.state || m.__breached !== p.breached) { m.setStyle(style); m.setTooltipContent(tip); }
      m.__state = p.state; m.__breached = p.breached;
      const was = m.getLatLng();
      if (was.lat !== at[0] || was.lng !== at[1]) m.setLatLng(at);
    }
    const gone = [...kept.keys()].filter((id) => !present.has(id));
    if (gone.length) { const ms = gone.map((id) => kept.get(id)); gone.forEach((id) => kept.delete(id)); if (layer.removeLayers) layer.removeLayers(ms); else ms.forEach((m) => layer.removeLayer(m)); }
    if (added.length) { if (layer.addLayers) layer.addLayers(added); else added.forEach((m) => layer.addLayer(m)); }
  }
  if (map.outside !== outside || !map.legend.getContainer().innerHTML || wall.dirty.has("map-legend")) {
    wall.dirty.delete("map-legend");
    map.outside = outside;
    map.legend.getContainer().innerHTML = `<div><i class="sw ok"></i>${t("legend_cam")} / ${t("legend_sensor")}</div>
      <div><i class="sw bad"></i>${t("legend_bad")}</div><div><i class="sw info"></i>${t("legend_complaint")}</div>
      <div><i class="sw ring"></i>${t("legend_incident")}</div><div><i class="sw link"></i>${t("legend_network")}</div>${outside ? `<div class="outside" data-outside="${outside}">${outside} ${t("outside")}</div>` : ""}`;
  }
}

// A link is its route, coloured by its state; a route wholly outside the region is counted, not drawn.
function drawLink(p, layer, kept, region) {
  if (region && !p.path.some((at) => region.contains(at))) return false;
  const style = { weight: 5, opacity: 0.9, color: LINK_COLOUR[p.state] || "#f85149", className: "link", dashArray: p.state === "down" ? "8 6" : null };
  const tip = `${esc(p.name)} · ${esc(state(p.state) || "")}${(p.interfaces || []).map((i) => ` · ↓${bits(i.in_bps)} ↑${bits(i.out_bps)}`).join("")}`;
  let line = kept.get(p.id);
  if (!line) { line = L.polyline(p.path, style).bindTooltip(tip, { sticky: true }); line.options.entity = p.id; kept.set(p.id, line); layer.addLayer(line); }
  else if (line.__state !== p.state || line.__tip !== tip) { line.setStyle(style); line.setTooltipContent(tip); }
  line.__state = p.state; line.__tip = tip;
  return true;
}

function nameLayers() {
  if (!map.control) return;
  const names = { cameras: t("cameras"), sensors: t("sensors"), complaints: t("complaints"), incidents: t("incidents"), network: t("network") };
  for (const [kind, layer] of Object.entries(map.layers)) { map.control.removeLayer(layer); map.control.addOverlay(layer, names[kind]); }
}

// Details: a camera's large view, an incident's whole timeline with who did what.
async function showIncident(id) {
  const i = await api(`/api/incidents/${encodeURIComponent(id)}`);
  const paged = await api(`/api/incidents/${encodeURIComponent(id)}/pages`).then((b) => b.pages).catch(() => []);
  const children = (i.children || []).map((c) => wall.data.incidents.get(c)).filter(Boolean);
  $("detail-body").innerHTML = `<h2>${badge(i.status)} ${esc(incidentTitle(i))}</h2>
    <p>${esc(t(`sev_${i.severity}`))} · ${esc(i.area || "-")} · ${dateTime(i.opened_at)}${i.acknowledged_by ? ` · ${t("acked_by")} <b class="acked-by">${esc(person(i.acknowledged_by))}</b>` : ""}</p>
    ${(i.affected || []).length ? `<h3>${t("affected")} (${i.affected.length})</h3><ul class="affected">${i.affected.map((e) => `<li>${esc(entityName(e))}</li>`).join("")}</ul>` : ""}
    ${children.length ? `<h3>${t("children")} (${children.length})</h3><ul>${children.map((c) => `<li>${badge(c.status)} ${esc(incidentTitle(c))}</li>`).join("")}</ul>` : ""}
    ${paged.length ? `<h3>${t("pages")}</h3><table class="pages">${paged.map((p) => `<tr data-status="${esc(p.status)}"><td>${dateTime(p.at)}</td>
      <td>${esc(p.name)}</td><td>${esc(p.channel)}</td><td>${t("step")} ${p.step + 1}${p.round ? ` (${t("round")} ${p.round + 1})` : ""}</td>
      <td>${esc(t(`page_${p.status}`))}</td></tr>`).join("")}</table>` : ""}
    <h3>${t("timeline")}</h3><ol class="timeline">${(i.timeline || []).map((e) => `<li data-kind="${esc(e.kind)}"><time>${dateTime(e.at)}</time> <b>${esc(e.kind)}</b> ${e.actor ? `<span class="actor">${esc(person(e.actor))}</span>` : ""} ${esc(e.text)}</li>`).join("")}</ol>`;
  $("detail").dataset.kind = "incident";
  $("detail").dataset.id = id;
  $("detail").showModal();
}

function showCamera(id) {
  const c = wall.data.cctv.get(id);
  if (!c) return;
  const marks = (c.recent_anomalies || []).map((m) => `<figure><img alt="" loading="lazy" src="${c.snapshot}?frame=${encodeURIComponent(m.frame)}"
      onerror="this.replaceWith(document.createTextNode('${esc(t("expired"))}'))"><figcaption>${esc(t(`cam_${m.kind}`))} · ${dateTime(m.at)}</figcaption></figure>`).join("");
  // the live view: one connection to a stream camera however many screens watch (the API relays it)
  $("detail-body").innerHTML = `<h2>${esc(c.name)} ${badge(c.state)}</h2>
    <img class="large live" alt="" src="/api/cameras/${encodeURIComponent(c.id)}/live.mjpg">
    <p>${esc(c.area || "-")} · ${t("since")} ${dateTime(c.since)} · <span data-age="${esc(c.last_frame_at || "")}" data-label="${t("last_frame")}"></span></p>
    <p>${esc([...(c.anomalies || []).map((a) => t(`cam_${a}`)), c.state === "offline" ? c.reason : ""].filter(Boolean).join(" · "))}</p>
    ${marks ? `<h3>${t("recent_anomalies")}</h3><div class="marks">${marks}</div>` : ""}`;
  $("detail").dataset.kind = "camera";
  $("detail").dataset.id = id;
  $("detail").showModal();
  tickClocks();
}

// closing the dialog ends its live stream (the image's connection) at once
$("detail").addEventListener("close", () => { $("detail-body").innerHTML = ""; });

$("incidents").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  const row = event.target.closest(".incident");
  if (!row) return;
  if (!button) { showIncident(row.dataset.id).catch((err) => { row.title = err.message; }); return; }
  button.disabled = true;
  try { await api(`/api/incidents/${encodeURIComponent(row.dataset.id)}/${button.dataset.action}`, { method: "POST", body: "{}" }); }
  catch (err) { button.title = err.message; button.disabled = false; }
});
$("cameras").addEventListener("click", async (event) => {
  const button = event.target.closest("button.reference");
  const tile = event.target.closest(".cam");
  if (!tile) return;
  if (!button) { showCamera(tile.dataset.id); return; }
  button.disabled = true;
  try { await api(`/api/cameras/${encodeURIComponent(tile.dataset.id)}/reference`, { method: "POST" }); }
  catch (err) { button.title = err.message; }
  finally { button.disabled = false; }
});
document.querySelectorAll("main .body").forEach((body) => body.addEventListener("scroll", countHidden, { passive: true }));
window.addEventListener("resize", () => requestAnimationFrame(countHidden));
$("login").addEventListener("submit", (event) => { event.preventDefault(); signIn($("username").value.trim(), $("password").value); });
$("logout").addEventListener("click", async () => {
  if (wall.ws) wall.ws.close();
  await api("/api/session", { method: "DELETE" }).catch(() => {});  // the session ends on the server, not only here
  location.reload();
});
$("lang").addEventListener("click", () => { wall.lang = wall.lang === "id" ? "en" : "id"; localStorage.setItem("cc.lang", wall.lang); translate(); });
// browsers play sound only after a click on the page: the button is that click, once per screen
$("sound").addEventListener("click", () => {
  wall.sound = !wall.sound;
  localStorage.setItem("cc.sound", wall.sound ? "on" : "off");
  if (wall.sound && !wall.audio) wall.audio = new AudioContext();
  $("sound").textContent = `${t("sound")}: ${wall.sound ? t("on") : t("off")}`;
});
document.addEventListener("click", () => { if (wall.sound && !wall.audio) wall.audio = new AudioContext(); }, { once: true });
setInterval(tickClocks, 1000);

translate();
localStorage.removeItem("cc.token");  // what an earlier version kept: tokens no longer sign the wall in
api("/api/session").then(start).catch(() => showLogin());

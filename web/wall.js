// The wall: one websocket to the hub (snapshot, then events; resume with since/epoch after a drop),
// the HTTP API for acknowledge and resolve. No framework, no build step, nothing fetched from outside.
"use strict";

const I18N = {
  id: { cameras: "Kamera", incidents: "Insiden", map: "Peta", apps: "Aplikasi", sensors: "Sensor",
        complaints: "Aduan", login: "Masuk dengan token", enter: "Masuk", logout: "Keluar",
        connected: "Terhubung", disconnected: "Terputus", connecting: "Menghubungkan",
        ack: "Terima", resolve: "Selesaikan", no_incidents: "Tidak ada insiden aktif",
        no_complaints: "Belum ada aduan", no_data: "Belum ada data", uptime: "uptime 24 j",
        bad_token: "Token tidak dikenal", since: "sejak", count: "kali", open: "terbuka",
        due_soon: "jatuh tempo < 1 jam", breached: "melewati SLA",
        cam_offline: "offline", cam_frozen: "gambar membeku", cam_black: "gambar hitam", cam_blurred: "gambar kabur",
        cam_covered: "lensa tertutup", cam_moved: "arah bergeser", people: "orang",
        cam_suspect: "acuan awal meragukan (hampir tanpa detail)", mark_reference: "Jadikan tampilan acuan" },
  en: { cameras: "Cameras", incidents: "Incidents", map: "Map", apps: "Applications", sensors: "Sensors",
        complaints: "Complaints", login: "Sign in with a token", enter: "Sign in", logout: "Sign out",
        connected: "Connected", disconnected: "Disconnected", connecting: "Connecting",
        ack: "Acknowledge", resolve: "Resolve", no_incidents: "No active incidents",
        no_complaints: "No complaints yet", no_data: "No data yet", uptime: "uptime 24 h",
        bad_token: "Unknown token", since: "since", count: "times", open: "open",
        due_soon: "due within the hour", breached: "past SLA",
        cam_offline: "offline", cam_frozen: "frozen image", cam_black: "black image", cam_blurred: "blurred",
        cam_covered: "lens covered", cam_moved: "turned away", people: "people",
        cam_suspect: "first baseline suspect (almost no detail)", mark_reference: "Mark as the good view" },
};
const CHANNELS_BY_ROLE = { police: ["cctv"], operator: null, oncall: null, admin: null };
const ALL_CHANNELS = ["cctv", "health", "complaints", "sensors", "incidents"];
const SEVERITY_RANK = { critical: 3, major: 2, minor: 1, info: 0 };

const wall = {
  lang: localStorage.getItem("cc.lang") || "id",
  token: localStorage.getItem("cc.token") || new URLSearchParams(location.search).get("token") || "",
  role: "", hubUrl: "/ws", ws: null, seq: null, epoch: null, retry: 1000,
  data: { cctv: new Map(), health: new Map(), complaints: new Map(), sensors: new Map(), incidents: new Map() },
  dirty: new Set(),
};

const $ = (id) => document.getElementById(id);
const t = (key) => (I18N[wall.lang] || I18N.id)[key] || key;
const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const time = (iso) => iso ? new Date(iso).toLocaleTimeString(wall.lang === "id" ? "id-ID" : "en-GB", { hour: "2-digit", minute: "2-digit" }) : "";

function translate() {
  document.documentElement.lang = wall.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = wall.lang === "id" ? "EN" : "ID";
  ALL_CHANNELS.forEach((c) => wall.dirty.add(c));
  schedule();
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { Authorization: `Bearer ${wall.token}`, "Content-Type": "application/json", ...(options.headers || {}) } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
  return body;
}

async function login(token) {
  wall.token = token;
  try {
    const who = await api("/api/whoami");
    wall.role = who.role;
    $("who").textContent = `${who.name} (${who.role})`;
  } catch (err) {
    $("login-error").textContent = t("bad_token");
    showLogin();
    return;
  }
  localStorage.setItem("cc.token", token);
  $("login").hidden = true;
  $("wall").hidden = false;
  const config = await fetch("/api/wall-config").then((r) => r.json());
  $("site").textContent = config.site;
  wall.hubUrl = config.hub_url;
  connect();
}

function showLogin() {
  $("wall").hidden = true;
  $("login").hidden = false;
  $("token").focus();
}

function hubAddress() {
  const base = wall.hubUrl.startsWith("/") ? `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${wall.hubUrl}` : wall.hubUrl;
  return `${base}?token=${encodeURIComponent(wall.token)}`;
}

function setConn(state) {
  const el = $("conn");
  el.className = `conn ${state === "connected" ? "up" : state === "connecting" ? "wait" : "down"}`;
  el.dataset.i18n = state;
  el.textContent = t(state);
}

function connect() {
  setConn("connecting");
  const ws = new WebSocket(hubAddress());
  wall.ws = ws;
  ws.onopen = () => {
    const channels = CHANNELS_BY_ROLE[wall.role] || ALL_CHANNELS;
    const message = { type: "subscribe", channels };
    if (wall.seq !== null) { message.since = wall.seq; message.epoch = wall.epoch; }
    ws.send(JSON.stringify(message));
  };
  ws.onmessage = (msg) => {
    const m = JSON.parse(msg.data);
    if (m.type === "snapshot") {
      for (const [channel, items] of Object.entries(m.channels)) {
        wall.data[channel] = new Map(items.map((item) => [item.id, item]));
        wall.dirty.add(channel);
      }
      wall.seq = m.seq; wall.epoch = m.epoch;
      setConn("connected"); wall.retry = 1000;
    } else if (m.type === "resume") {
      setConn("connected"); wall.retry = 1000;
    } else if (m.type === "event") {
      wall.data[m.channel].set(m.entity, m.data);
      wall.dirty.add(m.channel);
      if (m.channel !== "health") wall.dirty.add("map");
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

let frame = 0;
function schedule() { if (!frame) frame = requestAnimationFrame(render); }

function render() {
  frame = 0;
  const dirty = new Set(wall.dirty);
  wall.dirty.clear();
  if (dirty.has("cctv")) renderCameras();
  if (dirty.has("incidents")) renderIncidents();
  if (dirty.has("health")) renderApps();
  if (dirty.has("sensors")) renderSensors();
  if (dirty.has("complaints")) renderComplaints();
  if (dirty.size) renderMap();
}

function badge(state) { return `<span class="badge s-${esc(state)}">${esc(state)}</span>`; }

function spark(values) {
  if (!values || values.length < 2) return "";
  const min = Math.min(...values), max = Math.max(...values), span = max - min || 1;
  const points = values.map((v, i) => `${(i / (values.length - 1)) * 100},${28 - ((v - min) / span) * 26}`).join(" ");
  return `<svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none"><polyline points="${points}"/></svg>`;
}

// Camera tiles are kept and updated in place: a new image is fetched only when that camera's frame changed,
// so a wall of hundreds of cameras does not reload every image on every event.
const cameraTiles = new Map();
function cameraTile(c) {
  const tile = document.createElement("div");
  tile.className = "cam";
  tile.dataset.id = c.id;
  tile.innerHTML = `<img alt=""><div class="why"></div><button class="reference" hidden></button><div class="label"><span class="name"></span><span class="info"></span></div>`;
  const img = tile.querySelector("img");
  img.onerror = () => { img.style.visibility = "hidden"; };
  img.onload = () => { img.style.visibility = "visible"; };
  return tile;
}

function renderCameras() {
  const grid = $("cameras");
  const cams = [...wall.data.cctv.values()];
  if (!cams.length) { grid.innerHTML = `<p class="empty">${t("no_data")}</p>`; cameraTiles.clear(); return; }
  grid.querySelector(".empty")?.remove();
  for (const [id, tile] of cameraTiles) if (!wall.data.cctv.has(id)) { tile.remove(); cameraTiles.delete(id); }
  for (const c of cams) {
    let tile = cameraTiles.get(c.id);
    if (!tile) { tile = cameraTile(c); cameraTiles.set(c.id, tile); grid.appendChild(tile); }
    tile.dataset.state = c.state;
    tile.querySelector(".name").textContent = c.name;
    const people = c.people != null ? `${c.people} ${t("people")} ` : "";
    tile.querySelector(".info").innerHTML = `${esc(people)}${badge(c.state)}`;
    const anomalies = (c.anomalies || []).filter((a) => a !== c.state);
    const suspect = c.baseline === "suspect" ? t("cam_suspect") : "";
    tile.querySelector(".why").textContent = c.state === "ok" ? suspect :
      [t(`cam_${c.state}`), ...anomalies.map((a) => t(`cam_${a}`)), c.state === "offline" ? c.reason : "", suspect].filter(Boolean).join(" · ");
    // an operator who sees the view is right (a new angle, a refocused lens) makes it the detector's baseline
    const reference = tile.querySelector("button.reference");
    reference.hidden = !(["operator", "admin"].includes(wall.role) && (suspect || ["blurred", "covered", "moved"].includes(c.state)));
    reference.textContent = t("mark_reference");
    const stamp = c.last_frame_at || "";
    if (tile.dataset.stamp !== stamp) {
      tile.dataset.stamp = stamp;
      if (stamp) tile.querySelector("img").src = `${c.snapshot}?token=${encodeURIComponent(wall.token)}&t=${encodeURIComponent(stamp)}`;
    }
  }
}

function renderIncidents() {
  const list = $("incidents");
  const all = [...wall.data.incidents.values()];
  const top = all.filter((i) => !i.parent_id && i.status !== "resolved")
    .sort((a, b) => (SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]) || b.opened_at.localeCompare(a.opened_at));
  const canAct = ["operator", "oncall", "admin"].includes(wall.role);
  list.innerHTML = top.map((i) => {
    const children = (i.children || []).map((id) => wall.data.incidents.get(id)).filter(Boolean);
    return `<li class="incident sev-${esc(i.severity)}" data-id="${esc(i.id)}" data-status="${esc(i.status)}">
      <div class="title">${badge(i.status)} ${esc(i.name)}</div>
      <div class="meta">${esc(i.severity)} · ${esc(i.area || "-")} · ${t("since")} ${time(i.opened_at)} · ${i.count}× </div>
      ${children.length ? `<ul class="children">${children.map((c) => `<li>${badge(c.status)} ${esc(c.name)}</li>`).join("")}</ul>` : ""}
      ${canAct ? `<div class="actions">
        ${i.acknowledged ? "" : `<button data-action="ack">${t("ack")}</button>`}
        <button data-action="resolve">${t("resolve")}</button></div>` : ""}
    </li>`;
  }).join("") || `<p class="empty">${t("no_incidents")}</p>`;
}

function renderApps() {
  const apps = [...wall.data.health.values()];
  $("apps").innerHTML = apps.map((a) => `
    <tr data-id="${esc(a.id)}" data-state="${esc(a.state)}">
      <td>${esc(a.name)}</td><td>${badge(a.state)}</td>
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
    return `<div class="sensor" data-id="${esc(s.id)}" data-state="${esc(s.state)}">
      <div>${esc(s.name)} ${badge(s.state)}</div>
      <div class="value">${s.value != null ? esc(s.value) : "–"} <small>${esc(s.unit)}</small></div>
      <div class="gauge"><div class="fill" style="width:${fill}%"></div>${limit != null ? `<div class="mark" style="left:${(limit / top) * 100}%"></div>` : ""}</div>
      <div>${spark(values)}</div></div>`;
  }).join("") || `<p class="empty">${t("no_data")}</p>`;
}

function renderComplaints() {
  const items = [...wall.data.complaints.values()];
  if (!items.length) { $("complaints").innerHTML = `<p class="empty">${t("no_complaints")}</p>`; return; }
  const now = Date.now();
  const open = items.filter((c) => c.status === "open" && !c.duplicate_of);
  const dueSoon = (c) => !c.responded_at && c.response_due && Date.parse(c.response_due) > now && Date.parse(c.response_due) - now < 3600e3;
  const due = open.filter(dueSoon);
  const breached = open.filter((c) => c.breached);
  const byAgency = {};
  open.forEach((c) => { byAgency[c.agency || "-"] = (byAgency[c.agency || "-"] || 0) + 1; });
  const latest = open.slice().sort((a, b) => (b.breached - a.breached) || b.since.localeCompare(a.since)).slice(0, 8);
  $("complaints").innerHTML = `<table class="summary">
    <tr><td>${t("open")}</td><td class="num" data-count="open">${open.length}</td>
        <td>${t("due_soon")}</td><td class="num" data-count="due">${due.length}</td>
        <td>${t("breached")}</td><td class="num" data-count="breached">${breached.length}</td></tr></table>
    <table class="agencies">${Object.entries(byAgency).sort((a, b) => b[1] - a[1]).map(([a, n]) => `<tr><td>${esc(a)}</td><td class="num">${n}</td></tr>`).join("")}</table>
    <ul class="complaint-list">${latest.map((c) => `<li class="complaint${c.breached ? " breached" : dueSoon(c) ? " due" : ""}" data-id="${esc(c.id)}">
      <div>${c.breached ? badge("breached") : ""} <b>${esc(c.name)}</b> · ${esc(c.area || "-")} · ${esc(c.agency || "-")} · ${time(c.since)}</div>
      <div class="text">${esc(c.description).slice(0, 140)}</div></li>`).join("")}</ul>`;
}

function renderMap() {
  const placed = [];
  for (const c of wall.data.cctv.values()) if (c.location) placed.push({ kind: "cam", ...c });
  for (const s of wall.data.sensors.values()) if (s.location) placed.push({ kind: "sensor", ...s });
  for (const c of wall.data.complaints.values()) if (c.location && c.status === "open" && !c.duplicate_of) placed.push({ kind: "complaint", ...c, state: c.breached ? "breached" : "open" });
  const svg = $("map");
  if (!placed.length) { svg.innerHTML = ""; return; }
  const lats = placed.map((p) => p.location.lat), longs = placed.map((p) => p.location.long);
  const [minLat, maxLat, minLong, maxLong] = [Math.min(...lats), Math.max(...lats), Math.min(...longs), Math.max(...longs)];
  const x = (long) => 60 + ((long - minLong) / ((maxLong - minLong) || 1)) * 880;
  const y = (lat) => 640 - ((lat - minLat) / ((maxLat - minLat) || 1)) * 580;
  const color = (state) => ({ ok: "#2ea043", up: "#2ea043", unknown: "#6e7681" })[state] || (["blurred", "stale", "flatline"].includes(state) ? "#d29922" : "#f85149");
  const active = [...wall.data.incidents.values()].filter((i) => i.status !== "resolved" && i.location);
  svg.innerHTML = [
    ...active.map((i) => `<circle class="ring" cx="${x(i.location.long)}" cy="${y(i.location.lat)}" r="26"/>`),
    ...placed.map((p) => p.kind === "cam"
      ? `<rect class="dot" data-id="${esc(p.id)}" x="${x(p.location.long) - 9}" y="${y(p.location.lat) - 9}" width="18" height="18" fill="${color(p.state)}"/>`
      : p.kind === "complaint"
        ? `<path class="dot complaint" data-id="${esc(p.id)}" d="M${x(p.location.long)},${y(p.location.lat) - 8}l7,8l-7,8l-7,-8z" fill="${p.state === "breached" ? "#f85149" : "#58a6ff"}"/>`
        : `<circle class="dot" data-id="${esc(p.id)}" cx="${x(p.location.long)}" cy="${y(p.location.lat)}" r="10" fill="${color(p.state)}"/>`),
    ...placed.filter((p) => p.kind !== "complaint").map((p) => `<text class="label" x="${x(p.location.long) + 14}" y="${y(p.location.lat) + 6}">${esc(p.name).slice(0, 22)}</text>`),
  ].join("");
}

$("incidents").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const id = button.closest(".incident").dataset.id;
  button.disabled = true;
  try { await api(`/api/incidents/${encodeURIComponent(id)}/${button.dataset.action}`, { method: "POST", body: "{}" }); }
  catch (err) { button.title = err.message; button.disabled = false; }
});
$("cameras").addEventListener("click", async (event) => {
  const button = event.target.closest("button.reference");
  if (!button) return;
  button.disabled = true;
  try { await api(`/api/cameras/${encodeURIComponent(button.closest(".cam").dataset.id)}/reference`, { method: "POST" }); }
  catch (err) { button.title = err.message; }
  finally { button.disabled = false; }
});
$("login").addEventListener("submit", (event) => { event.preventDefault(); login($("token").value.trim()); });
$("logout").addEventListener("click", () => { localStorage.removeItem("cc.token"); if (wall.ws) wall.ws.close(); location.reload(); });
$("lang").addEventListener("click", () => { wall.lang = wall.lang === "id" ? "en" : "id"; localStorage.setItem("cc.lang", wall.lang); translate(); });
setInterval(() => { $("clock").textContent = new Date().toLocaleString(wall.lang === "id" ? "id-ID" : "en-GB"); }, 1000);

translate();
if (wall.token) login(wall.token); else showLogin();

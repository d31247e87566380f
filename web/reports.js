"use strict";
// The reports page: the archive's reports drawn with Chart.js and Leaflet, every table downloadable as CSV and
// XLSX. Signs in as the wall does (the session cookie; the same session serves both); data comes from /api/reports/*.

const $ = (id) => document.getElementById(id);
const state = { csrf: "", charts: {}, map: null, layer: null, config: null };
const number = new Intl.NumberFormat("id-ID", { maximumFractionDigits: 1 });

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function monthOf(date, back = 0) {
  const d = new Date(date.getFullYear(), date.getMonth() - back, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

function period() {
  return `from=${encodeURIComponent($("from").value)}&to=${encodeURIComponent($("to").value)}`;
}

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) throw Object.assign(new Error("sign in"), { auth: true });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error((body.error && body.error.message) || `${response.status}`);
  }
  return response;
}

async function report(name, query) {
  return (await api(`/api/reports/${name}?${period()}${query ? `&${query}` : ""}`)).json();
}

function cell(value, column) {
  if (value === null || value === undefined) return "<td>-</td>";
  if (column.type === "string") return `<td class="text">${escapeHtml(value)}</td>`;
  if (column.type === "boolean") return `<td class="${value ? "met" : "miss"}">${value ? "ya" : "tidak"}</td>`;
  return `<td>${number.format(value)}${column.unit === "%" ? " %" : ""}</td>`;
}

function table(id, body, columns) {
  const shown = columns ? body.columns.filter((c) => columns.includes(c.name)) : body.columns;
  const head = shown.map((c) => `<th title="${escapeHtml(c.name)}">${escapeHtml(c.title)}${c.unit && c.unit !== "%" ? ` <small>(${escapeHtml(c.unit)})</small>` : ""}</th>`).join("");
  const rows = body.rows.map((r) => `<tr>${shown.map((c) => cell(r[c.name], c)).join("")}</tr>`).join("");
  $(id).innerHTML = `<thead><tr>${head}</tr></thead><tbody>${rows || `<tr><td colspan="${shown.length}">Belum ada data (no data yet)</td></tr>`}</tbody>`;
}

function chart(id, config) {
  if (state.charts[id]) state.charts[id].destroy();
  state.charts[id] = new Chart($(id), { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false, ...config.options } });
}

async function agencies() {
  const body = await report("complaints", "by=agency");
  table("table-agencies", body, ["agency_name", "received", "duplicates", "responded_in_sla_pct", "feedback_in_sla_pct", "response_median_min", "response_p90_min", "open", "rating_mean"]);
  chart("chart-agencies", { type: "bar", data: { labels: body.rows.map((r) => r.agency_name), datasets: [
    { label: "Diterima (received)", data: body.rows.map((r) => r.received - r.duplicates), backgroundColor: "#0969da" },
    { label: "Ditanggapi tepat waktu (in time)", data: body.rows.map((r) => r.responded_in_sla), backgroundColor: "#1a7f37" },
    { label: "Masih terbuka (open)", data: body.rows.map((r) => r.open), backgroundColor: "#cf222e" }] } });
}

async function months() {
  const body = await report("complaints", "by=month");
  chart("chart-months", { data: { labels: body.rows.map((r) => r.month), datasets: [
    { type: "bar", label: "Diterima (received)", data: body.rows.map((r) => r.received), backgroundColor: "#0969da", yAxisID: "y" },
    { type: "line", label: "Tepat waktu % (within the deadline)", data: body.rows.map((r) => r.responded_in_sla_pct), borderColor: "#1a7f37", yAxisID: "pct" }] },
    options: { scales: { y: { beginAtZero: true }, pct: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false } } } } });
}

const SHADES = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"];

function shade(value, top) {
  if (value === null || value === undefined || !top) return "#d0d7de";
  return SHADES[Math.min(SHADES.length - 1, Math.floor((value / top) * SHADES.length))];
}

async function districts() {
  const body = await report("complaints/districts", "");
  table("table-districts", body, ["area_name", "area_code", "population", "received", "per_10k"]);
  if (!state.map) {
    state.map = L.map("map", { attributionControl: Boolean(state.config.tile_url), zoomSnap: 0.25 });
    if (state.config.tile_url) L.tileLayer(state.config.tile_url, { attribution: state.config.tile_attribution }).addTo(state.map);
    const centre = state.config.areas.find((a) => a.center);
    if (state.config.bounds) state.map.fitBounds(state.config.bounds);
    else state.map.setView(centre ? centre.center : [-2.5, 118], centre ? 11 : 5);  // Indonesia when nothing is known
  }
  state.map.invalidateSize();
  if (state.layer) state.layer.remove();
  state.layer = L.featureGroup().addTo(state.map);
  const top = Math.max(0, ...body.rows.map((r) => r.per_10k || 0));
  const areas = Object.fromEntries(state.config.areas.map((a) => [a.id, a]));
  for (const row of body.rows) {
    const area = areas[row.area];
    if (!area) continue;
    const style = { color: "#57606a", weight: 1, fillColor: shade(row.per_10k, top), fillOpacity: 0.85 };
    const shape = area.polygon.length >= 3 ? L.polygon(area.polygon, style)
      : area.center ? L.circle(area.center, { ...style, radius: Math.min(area.radius_km, 3) * 1000 }) : null;
    if (!shape) continue;
    shape.bindTooltip(`${escapeHtml(row.area_name)}: ${row.per_10k === null ? "-" : number.format(row.per_10k)} / 10.000`);
    shape.addTo(state.layer);
  }
  if (state.layer.getLayers().length) state.map.fitBounds(state.layer.getBounds().pad(0.1));
  if (!state.legend) {
    state.legend = L.control({ position: "bottomright" });
    state.legend.onAdd = () => Object.assign(L.DomUtil.create("div", "legend"), { id: "legend" });
    state.legend.addTo(state.map);
  }
  $("legend").innerHTML = SHADES.map((c, i) => `<i style="background:${c}"></i>${number.format((top * i) / SHADES.length)}+`).join("<br>");
}

async function topCategories() {
  table("table-top", await report("complaints/top", "n=3"), ["area_name", "rank", "service_name", "received"]);
}

async function incidents() {
  const body = await report("incidents", "");
  table("table-incidents", body, ["source", "month", "opened", "acknowledged", "ack_median_min", "ack_p90_min", "resolve_median_min", "resolve_p90_min"]);
  const sources = [...new Set(body.rows.map((r) => r.source))];
  const labels = [...new Set(body.rows.map((r) => r.month))];
  const colours = ["#0969da", "#8250df", "#bf3989", "#1a7f37", "#9a6700"];
  chart("chart-incidents", { type: "line", data: { labels, datasets: sources.map((s, i) => ({
    label: `${s}: median menit sampai diakui`, borderColor: colours[i % colours.length],
    data: labels.map((m) => { const r = body.rows.find((x) => x.source === s && x.month === m); return r ? r.ack_median_min : null; }) })) },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: "menit (minutes)" } } } } });
}

async function uptime() {
  table("table-uptime", await report("uptime", ""), ["app_name", "month", "checks", "uptime_pct", "target_pct", "met", "latency_mean_ms"]);
}

async function sensors() {
  const [days, months] = await Promise.all([report("sensors", "by=day"), report("sensors", "by=month")]);
  table("table-sensors", months, ["sensor_name", "quantity", "unit", "period", "readings", "min", "max", "mean", "alarms"]);
  const series = [...new Set(days.rows.map((r) => `${r.sensor}|${r.quantity}`))].slice(0, 6);
  const labels = [...new Set(days.rows.map((r) => r.period))].sort();
  const colours = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#9a6700", "#bf3989"];
  chart("chart-sensors", { type: "line", data: { labels, datasets: series.map((key, i) => {
    const [sensor, quantity] = key.split("|");
    const rows = days.rows.filter((r) => r.sensor === sensor && r.quantity === quantity);
    const byDay = Object.fromEntries(rows.map((r) => [r.period, r.max]));
    return { label: `${rows[0].sensor_name} (${quantity}, ${rows[0].unit})`, borderColor: colours[i], pointRadius: 0,
      data: labels.map((d) => (d in byDay ? byDay[d] : null)), spanGaps: true };
  }) } });
}

async function download(name, query, format) {
  const response = await api(`/api/reports/${name}?${period()}${query ? `&${query}` : ""}&format=${format}`);
  const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(await response.blob()),
    download: `${name.replace("/", "-")}-${$("from").value}-${$("to").value}.${format}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

function downloads() {
  for (const box of document.querySelectorAll(".downloads")) {
    box.innerHTML = "";
    for (const format of ["csv", "xlsx"]) {
      const button = Object.assign(document.createElement("button"), { type: "button", textContent: `Unduh ${format.toUpperCase()}` });
      button.dataset.format = format;
      button.addEventListener("click", () => download(box.dataset.report, box.dataset.query, format).catch(problem));
      box.append(button);
    }
  }
}

function problem(err) {
  if (err.auth) { signIn(); return; }
  $("problem").textContent = `Laporan tidak dapat dimuat (could not load): ${err.message}`;
  $("problem").hidden = false;
}

async function load() {
  $("problem").hidden = true;
  const results = await Promise.allSettled([agencies(), months(), districts(), topCategories(), incidents(), uptime(), sensors()]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) problem(failed.reason);
  document.body.dataset.loaded = "true";
}

function signIn() {
  $("reports").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("username").focus();
}

async function start() {
  state.config = await (await fetch("/api/wall-config")).json();
  $("site").textContent = state.config.site;
  const now = new Date();
  $("to").value = monthOf(now);
  $("from").value = monthOf(now, 11);
  downloads();
  try {
    state.csrf = (await (await api("/api/session")).json()).csrf_token;
  } catch (err) { signIn(); return; }
  $("reports").hidden = false;
  $("logout").hidden = false;
  await load();
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const who = await (await api("/api/session", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ login: $("username").value.trim(), password: $("password").value }) })).json();
    state.csrf = who.csrf_token;
  } catch (err) {
    $("login-error").textContent = err.auth ? "Nama pengguna atau kata sandi salah (wrong username or password)" : err.message;
    $("password").value = "";
    return;
  }
  $("login").hidden = true;
  $("reports").hidden = false;
  $("logout").hidden = false;
  await load();
});
$("period").addEventListener("submit", (event) => { event.preventDefault(); load(); });
$("logout").addEventListener("click", async () => {
  await fetch("/api/session", { method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": state.csrf } }).catch(() => {});
  location.reload();
});
start();

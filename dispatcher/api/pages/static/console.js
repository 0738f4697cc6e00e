// The operator's console: a day's map (routes, stops, the vehicles' last positions), bookings
// with their state, refusals with their reasons, alerts, a booking form and a manual move.
// Polls the live day every few seconds; the bookings (personal data, logged on each read) only
// when the day's version changes.
"use strict";

const { t, h, api } = DP;
const POLL_MS = 5000;
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22"];

const state = {
  day: "",
  version: null,
  bookings: [],
  live: null,
  liveMissing: false,
  geojson: null,
  notifications: [],
  events: [],
  afterSeq: 0,
  colours: {},
  fitted: "",
  polling: null,
};

let map = null;
let routeLayer = null;
let vehicleLayer = null;

function colour(vid) {
  if (!(vid in state.colours)) {
    state.colours[vid] = COLOURS[Object.keys(state.colours).length % COLOURS.length];
  }
  return state.colours[vid];
}

// ---- loading --------------------------------------------------------------------------------

async function loadDays() {
  const r = await api("GET", "/v1/days");
  if (r.status !== 200) return say("problem", DP.errorText(r.data));
  const days = r.data.map((d) => d.day).sort();
  const select = document.getElementById("day");
  const wanted = new URLSearchParams(location.hash.slice(1)).get("day");
  const today = new Date().toISOString().slice(0, 10);
  const pick =
    (wanted && days.includes(wanted) && wanted) ||
    days.find((d) => d >= today) ||
    days[days.length - 1] ||
    "";
  select.replaceChildren(...days.map((d) => h("option", { value: d, selected: d === pick }, d)));
  if (!days.length) say("problem", t("console.no_days"));
  if (pick) selectDay(pick);
}

function selectDay(day) {
  state.day = day;
  state.version = null;
  state.bookings = [];
  state.live = null;
  state.geojson = null;
  state.events = [];
  state.afterSeq = 0;
  location.hash = `day=${day}`;
  render();
  poll();
}

async function poll() {
  const day = state.day;
  if (!day) return;
  try {
    const d = await api("GET", `/v1/days/${day}`);
    if (day !== state.day) return;
    if (d.status !== 200) return say("problem", DP.errorText(d.data));
    const version = `${d.data.version}/${d.data.plan_updated_at || ""}`;
    const live = await api("GET", `/v1/days/${day}/live`);
    if (day !== state.day) return;
    state.liveMissing = live.status !== 200;
    if (!state.liveMissing) await readEvents(day);
    state.live = live.status === 200 ? live.data : null;
    if (version !== state.version || liveChanged()) {
      state.version = version;
      const [b, g, n] = await Promise.all([
        api("GET", `/v1/days/${day}/bookings`),
        d.data.has_plan ? api("GET", `/v1/days/${day}/plan/geojson`) : null,
        api("GET", `/v1/days/${day}/notifications`),
      ]);
      if (day !== state.day) return;
      state.bookings = b.status === 200 ? b.data : [];
      state.notifications = n.status === 200 ? listOf(n.data, "notifications") : [];
      state.geojson = g && g.status === 200 ? g.data : null;
      drawRoutes();
    }
    say("problem", "");
    document.getElementById("refreshed").textContent = t("console.refreshed", {
      time: new Date().toTimeString().slice(0, 8),
    });
  } catch (e) {
    if (!(e instanceof DP.Offline)) throw e;
    say("problem", t("console.offline"));
  }
  render();
}

// The events of the day, read on from the last one seen.
async function readEvents(day) {
  const r = await api("GET", `/v1/days/${day}/events?after_seq=${state.afterSeq}`);
  if (r.status !== 200 || day !== state.day) return;
  const got = listOf(r.data, "events");
  for (const e of got) state.afterSeq = Math.max(state.afterSeq, e.seq || 0);
  state.events = state.events.concat(got.filter((e) => e.type !== "position")).slice(-50);
}

// The live day moved a booking to another vehicle, or changed its state: read the bookings again.
let lastLiveBookings = "";
function liveChanged() {
  const key = JSON.stringify(
    ((state.live && state.live.bookings) || []).map((b) => [b.request_id, b.vehicle_id, b.state]),
  );
  const changed = key !== lastLiveBookings;
  lastLiveBookings = key;
  return changed;
}

// A list answer, bare or wrapped in an object under `field`.
function listOf(data, field) {
  if (Array.isArray(data)) return data;
  return (data && Array.isArray(data[field]) && data[field]) || [];
}

function say(id, text, cls) {
  const el = document.getElementById(id);
  el.textContent = text;
  if (cls) el.className = cls;
}

// ---- the map --------------------------------------------------------------------------------

function setupMap() {
  map = L.map("map", { zoomControl: true, attributionControl: true }).setView([50.0, 2.65], 11);
  map.attributionControl.setPrefix(false);
  routeLayer = L.layerGroup().addTo(map);
  vehicleLayer = L.layerGroup().addTo(map);
}

function drawRoutes() {
  routeLayer.clearLayers();
  const g = state.geojson;
  if (!g) return;
  if (g.attribution) map.attributionControl.addAttribution(g.attribution);
  const layer = L.geoJSON(g, {
    style: (f) => ({ color: colour(f.properties.vehicle_id), weight: 4, opacity: 0.8 }),
    filter: (f) => ["route", "pickup", "dropoff"].includes(f.properties.kind),
    pointToLayer: (f, latlng) =>
      L.circleMarker(latlng, {
        radius: 6,
        color: colour(f.properties.vehicle_id),
        weight: 2,
        fillColor: f.properties.kind === "pickup" ? colour(f.properties.vehicle_id) : "#fff",
        fillOpacity: 1,
      }),
    onEachFeature: (f, l) => {
      const p = f.properties;
      if (p.kind === "route") l.bindTooltip(`${p.vehicle_id} ${DP.hhmm(p.start)}–${DP.hhmm(p.end)}`);
      else l.bindTooltip(`${DP.hhmm(p.start)} ${p.place} — ${t(`kind.${p.kind}`)} ${p.request_id}`);
    },
  }).addTo(routeLayer);
  const named = new Set();
  for (const f of g.features) {
    const p = f.properties;
    if (!["pickup", "dropoff"].includes(p.kind) || named.has(p.place)) continue;
    named.add(p.place);
    const [lon, lat] = f.geometry.coordinates;
    L.marker([lat, lon], { icon: L.divIcon({ className: "place-dot", iconSize: [0, 0] }), interactive: false })
      .bindTooltip(p.place, { permanent: true, direction: "top", offset: [0, -8], className: "place-label" })
      .addTo(routeLayer);
  }
  const bounds = layer.getBounds();
  if (bounds.isValid() && state.fitted !== state.day) {
    map.fitBounds(bounds, { padding: [20, 20] });
    state.fitted = state.day;
  }
}

function drawVehicles() {
  vehicleLayer.clearLayers();
  for (const v of (state.live && state.live.vehicles) || []) {
    if (!v.position) continue;
    const icon = L.divIcon({
      className: "vehicle-icon",
      html: "",
      iconSize: [18, 18],
    });
    const m = L.marker([v.position.lat, v.position.lon], { icon, title: v.name || v.vehicle_id });
    m.on("add", () => {
      const el = m.getElement();
      if (el) el.style.background = colour(v.vehicle_id);
    });
    m.bindTooltip(`${v.name || v.vehicle_id} ${DP.hhmm(v.position.time)}`, {
      permanent: true,
      direction: "right",
      className: "vehicle-label",
    });
    m.addTo(vehicleLayer);
  }
}

// ---- the panels -----------------------------------------------------------------------------

function liveOf(rid) {
  return ((state.live && state.live.bookings) || []).find((b) => b.request_id === rid);
}

function stateOf(b) {
  const l = liveOf(b.id);
  if (l) return l.state;
  return { accepted: "promised", refused: "refused", cancelled: "cancelled" }[b.status] || b.status;
}

function windowText(w) {
  return w ? `${DP.hhmm(w.start)}–${DP.hhmm(w.end)}` : "";
}

function renderBookings() {
  const rows = state.bookings
    .filter((b) => b.status !== "refused")
    .map((b) => {
      const l = liveOf(b.id);
      const p = b.promise || {};
      const st = stateOf(b);
      return h(
        "tr",
        { class: `state-${st}`, dataset: { request: b.id } },
        h("td", {}, b.id),
        h("td", {}, b.request.name || ""),
        h("td", {}, `${(p.pickup && p.pickup.place) || b.request.pickup} → ${
          (p.dropoff && p.dropoff.place) || b.request.dropoff}`),
        h("td", {}, windowText((l && l.promised_window) || (p.pickup && p.pickup.window))),
        h("td", {}, l && l.eta ? DP.hhmm(l.eta) : p.pickup ? DP.hhmm(p.pickup.planned) : ""),
        h("td", {}, (l && l.vehicle_id) || p.vehicle_id || ""),
        h("td", {}, h("span", { class: `badge state-${st}` }, t(`state.${st}`))),
      );
    });
  document.getElementById("bookings-body").replaceChildren(...rows);
  document.getElementById("bookings-empty").hidden = rows.length > 0;
  const refused = state.bookings.filter((b) => b.status === "refused");
  document.getElementById("refusals").replaceChildren(
    ...refused.map((b) =>
      h("li", {}, h("strong", {}, `${b.id} ${b.request.name || ""}`), " ", DP.errorText(b.refusal)),
    ),
  );
  document.getElementById("refusals-empty").hidden = refused.length > 0;
}

function renderAlerts() {
  const alerts = (state.live && state.live.alerts) || [];
  document.getElementById("alerts").replaceChildren(
    ...alerts.map((a) =>
      h(
        "li",
        { class: `alert alert-${a.kind}` },
        h("strong", {}, t(`alert.${a.kind}`)),
        " ",
        [a.vehicle_id, a.request_id].filter(Boolean).join(" · "),
        a.minutes ? ` (${t("console.minutes", { n: a.minutes })})` : "",
        a.message ? h("div", { class: "muted" }, a.message) : null,
      ),
    ),
  );
  let empty = t("console.no_alerts");
  if (state.liveMissing) empty = t("console.no_live");
  const el = document.getElementById("alerts-empty");
  el.textContent = empty;
  el.hidden = alerts.length > 0;
}

function nextStop(v) {
  const s = v && (v.next_stops || []).find((x) => !x.done);
  if (!s) return "";
  const late = s.eta && s.planned && s.eta > s.planned;
  return h(
    "div",
    { class: "next-stop" },
    `→ ${s.place_name || ""} `,
    h("span", { class: late ? "delay" : "" }, DP.hhmm(s.eta || s.planned)),
    ` (${t(`kind.${s.kind}`)}${s.request_id ? " " + s.request_id : ""})`,
  );
}

// The move form offers another vehicle than the one the chosen request is on.
function offerOther() {
  const rid = document.getElementById("move-request").value;
  const b = state.bookings.find((x) => x.id === rid);
  const on = (liveOf(rid) || {}).vehicle_id || (b && b.promise && b.promise.vehicle_id);
  const select = document.getElementById("move-vehicle");
  if (select.value !== on) return;
  const other = [...select.options].find((o) => o.value !== on);
  if (other) select.value = other.value;
}

function renderVehicles() {
  const vehicles = (state.live && state.live.vehicles) || [];
  const ids = vehicles.length
    ? vehicles.map((v) => ({ id: v.vehicle_id, v }))
    : ((state.geojson && state.geojson.features) || [])
        .filter((f) => f.properties.kind === "route")
        .map((f) => ({ id: f.properties.vehicle_id, v: null }));
  document.getElementById("vehicles").replaceChildren(
    ...ids.map(({ id, v }) =>
      h(
        "li",
        {},
        h("span", { class: "swatch", style: `background:${colour(id)}` }),
        h("strong", {}, (v && v.name) || id),
        v ? ` ${t(`status.${v.status}`)}` : "",
        v && v.delay_s > 60 ? h("span", { class: "delay" }, t("driver.late_by", { n: Math.round(v.delay_s / 60) })) : "",
        v && v.position ? h("span", { class: "muted" }, ` ${t("console.seen", { time: DP.hhmm(v.position.time) })}`) : "",
        nextStop(v),
      ),
    ),
  );
  const select = document.getElementById("move-vehicle");
  const current = select.value;
  select.replaceChildren(...ids.map(({ id, v }) => h("option", { value: id, selected: id === current }, (v && v.name) || id)));
  const req = document.getElementById("move-request");
  const was = req.value;
  const movable = state.bookings.filter((b) => stateOf(b) === "promised");
  req.replaceChildren(
    ...movable.map((b) => h("option", { value: b.id, selected: b.id === was }, `${b.id} ${b.request.name || ""}`)),
  );
  offerOther();
}

function renderNotifications() {
  const items = state.notifications.slice(-8).reverse();
  document.getElementById("notifications").replaceChildren(
    ...items.map((n) =>
      h(
        "li",
        {},
        h("span", { class: "muted" }, DP.hhmm(n.created_at || n.at || n.time || "")),
        " ",
        h("strong", {}, n.request_id || ""),
        " ",
        n.message || n.text || n.what || "",
      ),
    ),
  );
  document.getElementById("notifications-empty").hidden = items.length > 0;
}

function renderEvents() {
  const items = state.events.slice(-10).reverse();
  document.getElementById("events").replaceChildren(
    ...items.map((e) =>
      h(
        "li",
        {},
        h("span", { class: "muted" }, DP.hhmm(e.time)),
        " ",
        h("strong", {}, e.vehicle_id || ""),
        ` ${t(`ev.${e.type}`)}`,
        e.request_id ? ` ${e.request_id}` : "",
        e.passengers ? ` (${t("driver.passengers", { n: e.passengers })})` : "",
        e.delay_min ? ` +${e.delay_min} min` : "",
      ),
    ),
  );
  document.getElementById("events-empty").hidden = items.length > 0;
}

function render() {
  document.getElementById("day-title").textContent = state.day;
  renderEvents();
  renderNotifications();
  renderBookings();
  renderAlerts();
  renderVehicles();
  if (map) drawVehicles();
}

// ---- the forms ------------------------------------------------------------------------------

async function book(ev) {
  ev.preventDefault();
  const f = ev.target;
  const body = {
    pickup: f.pickup.value.trim(),
    dropoff: f.dropoff.value.trim(),
    seats: Number(f.seats.value || 1),
    wheelchairs: Number(f.wheelchairs.value || 0),
    name: f.name.value.trim(),
    phone: f.phone.value.trim(),
  };
  if (f.from.value && f.to.value) body.pickup_window = { start: f.from.value, end: f.to.value };
  if (f.arrive_by.value) body.arrive_by = f.arrive_by.value;
  say("book-result", t("console.sending"), "muted");
  let r;
  try {
    r = await api("POST", `/v1/days/${state.day}/bookings`, body);
  } catch (e) {
    return say("book-result", t("console.offline"), "error");
  }
  if (r.status === 201 || r.status === 200) {
    const p = r.data;
    say("book-result", t("console.promised", {
      id: p.request_id,
      vehicle: p.vehicle_id,
      window: windowText(p.pickup.window),
      place: p.pickup.place,
    }), "ok");
    f.reset();
    state.version = null;
    poll();
  } else say("book-result", t("console.refused", { why: DP.errorText(r.data) }), "error");
}

async function move(ev) {
  ev.preventDefault();
  const rid = document.getElementById("move-request").value;
  const vid = document.getElementById("move-vehicle").value;
  if (!rid || !vid) return;
  say("move-result", t("console.sending"), "muted");
  let r;
  try {
    r = await api("POST", `/v1/days/${state.day}/requests/${encodeURIComponent(rid)}/move`, { vehicle_id: vid });
  } catch (e) {
    return say("move-result", t("console.offline"), "error");
  }
  if (r.status === 200 || r.status === 201) {
    say("move-result", t("console.moved", { id: rid, vehicle: vid }), "ok");
    state.version = null;
    poll();
  } else say("move-result", t("console.move_refused", { why: DP.errorText(r.data) }), "error");
}

// ---- start ----------------------------------------------------------------------------------

function start(me) {
  if (me.role !== "operator") {
    say("problem", t("console.not_operator", { role: me.role }));
    return;
  }
  document.getElementById("key-name").textContent = me.name || me.prefix || "";
  if (!map) setupMap();
  document.getElementById("day").onchange = (e) => selectDay(e.target.value);
  document.getElementById("book-form").onsubmit = book;
  document.getElementById("move-form").onsubmit = move;
  document.getElementById("move-request").onchange = offerOther;
  DP.onLang(() => {
    render();
    drawRoutes();
  });
  loadDays();
  if (state.polling) clearInterval(state.polling);
  // a tab in the background reads nothing (each live read of names is in the access log)
  state.polling = setInterval(() => document.hidden || poll(), POLL_MS);
  document.addEventListener("visibilitychange", () => document.hidden || poll());
}

DP.login(start);

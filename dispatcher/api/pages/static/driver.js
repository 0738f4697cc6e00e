// The driver's page: the next stops of the key's vehicle and one button per event. Events go to
// an outbox in localStorage with their event_id and are sent again until the server acknowledges
// them (a replay of the same event_id is answered 200), so a dead zone loses nothing.
"use strict";

const { t, h, api } = DP;
const OUTBOX = "dispatcher.outbox.v1";
const POSITION_EVERY_MS = 30000;
const REFRESH_MS = 10000;

const state = {
  day: "",
  vehicle: "",
  live: null, // this vehicle in GET /live
  names: {}, // request_id -> name, when the API gives them to this key
  rejected: [], // events the server refused (409, 403...), with its sentence
  boardCount: {}, // request_id -> passengers chosen on the stepper
  arrived: new Set(), // stops this page said it arrived at
  departed: new Set(), // and left
  delayMin: 10,
  confirmBreakdown: false,
  lastPositionAt: 0,
  online: true,
};

// ---- the outbox -----------------------------------------------------------------------------

function outbox() {
  try {
    return JSON.parse(localStorage.getItem(OUTBOX) || "[]");
  } catch (e) {
    return [];
  }
}

function saveOutbox(items) {
  localStorage.setItem(OUTBOX, JSON.stringify(items));
  renderPending();
}

function enqueue(type, fields, stop) {
  const body = { event_id: DP.newId("ev-"), type, time: DP.isoNow(), ...fields };
  let items = outbox();
  if (type === "position") items = items.filter((e) => e.body.type !== "position");
  items.push({ day: state.day, vehicle: state.vehicle, body, stop: stop ? stopKey(stop) : null });
  saveOutbox(items);
  render();
  flush();
}

let flushing = false;

async function flush() {
  if (flushing) return;
  flushing = true;
  try {
    for (;;) {
      const items = outbox();
      if (!items.length) break;
      const item = items[0];
      const path = `/v1/days/${item.day}/vehicles/${encodeURIComponent(item.vehicle)}/events`;
      let r;
      try {
        r = await api("POST", path, item.body);
      } catch (e) {
        setOnline(false);
        break;
      }
      setOnline(true);
      if (r.status >= 500 || r.status === 408 || r.status === 429 || r.status === 401) break;
      saveOutbox(outbox().filter((e) => e.body.event_id !== item.body.event_id));
      if (r.status >= 400) {
        // refused: the stop is shown as the server has it, with the reason
        state.arrived.delete(item.stop);
        state.departed.delete(item.stop);
        state.rejected.unshift({ body: item.body, message: DP.errorText(r.data) });
        state.rejected = state.rejected.slice(0, 5);
      }
      if (r.data && r.data.live) takeLive(r.data.live);
    }
  } finally {
    flushing = false;
    render();
  }
}

function setOnline(ok) {
  state.online = ok;
}

function renderPending() {
  const n = outbox().length;
  const el = document.getElementById("pending");
  el.textContent = n ? t("driver.pending", { n }) : t("driver.all_sent");
  el.classList.toggle("waiting", n > 0);
  const net = document.getElementById("net");
  net.textContent = state.online ? "" : t("driver.offline");
  net.hidden = state.online;
}

// ---- what the server says -------------------------------------------------------------------

function takeLive(live) {
  if (live && live.vehicle_id === state.vehicle) {
    state.live = { ...live, as_of: live.as_of || (state.live && state.live.as_of) };
    return;
  }
  if (!live || !Array.isArray(live.vehicles)) return;
  const mine = live.vehicles.find((v) => v.vehicle_id === state.vehicle);
  if (mine) state.live = { ...mine, as_of: live.as_of };
}

async function refresh() {
  let r;
  try {
    r = await api("GET", `/v1/days/${state.day}/live?vehicle_id=${encodeURIComponent(state.vehicle)}`);
  } catch (e) {
    setOnline(false);
    render();
    return;
  }
  setOnline(true);
  if (r.status === 200) {
    takeLive(r.data);
    document.getElementById("problem").textContent = state.live
      ? ""
      : t("driver.no_vehicle", { vehicle: state.vehicle });
  } else if (r.status !== 401) {
    document.getElementById("problem").textContent = DP.errorText(r.data);
  }
  render();
}

async function loadNames() {
  // The drivers' manifest names who boards and alights, as far as this key may read it.
  let r;
  try {
    r = await api(
      "GET",
      `/v1/days/${state.day}/plan/manifest?vehicle_id=${encodeURIComponent(state.vehicle)}`,
    );
  } catch (e) {
    return;
  }
  if (r.status !== 200 || typeof r.data !== "string") return;
  const [head, ...rows] = r.data.trim().split(/\r?\n/);
  const cols = head.split(",");
  const rid = cols.indexOf("request_id");
  const name = cols.indexOf("name");
  if (rid < 0 || name < 0) return;
  for (const line of rows) {
    const cells = parseCsvLine(line);
    if (cells[rid] && cells[name]) state.names[cells[rid]] = cells[name];
  }
  render();
}

function parseCsvLine(line) {
  const out = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

// ---- the stops, as done by the server or by events still in the outbox ----------------------

const FINISHES = { boarded: "pickup", no_show: "pickup", dropped_off: "dropoff" };

function locallyDone(stop) {
  if (state.departed.has(stopKey(stop))) return true;
  return outbox().some((e) => {
    const b = e.body;
    if (b.request_id && b.request_id === stop.request_id) return FINISHES[b.type] === stop.kind;
    return false;
  });
}

function stopsToCome() {
  const stops = (state.live && state.live.next_stops) || [];
  return stops.filter((s) => !s.done && !locallyDone(s));
}

function stopKey(stop) {
  return `${stop.kind}:${stop.request_id || stop.planned}`;
}

function arrivedAt(stop) {
  return state.arrived.has(stopKey(stop));
}

function who(stop) {
  return stop.name || (stop.names && stop.names.join(", ")) || state.names[stop.request_id] || "";
}

// ---- rendering ------------------------------------------------------------------------------

function kindLabel(kind) {
  return t(`kind.${kind}`);
}

function stopLine(stop, big) {
  const eta = stop.eta || stop.planned;
  const late = stop.eta && stop.planned && stop.eta > stop.planned;
  const name = who(stop);
  const seats = stop.passengers ? t("driver.passengers", { n: stop.passengers }) : "";
  return h(
    "div",
    { class: `stop kind-${stop.kind}${big ? " current" : ""}` },
    h(
      "div",
      { class: "stop-time" },
      h("span", { class: late ? "eta late" : "eta" }, DP.hhmm(eta)),
      late ? h("span", { class: "planned" }, t("driver.planned", { time: DP.hhmm(stop.planned) })) : null,
    ),
    h(
      "div",
      { class: "stop-body" },
      h("div", { class: "stop-kind" }, kindLabel(stop.kind)),
      h("div", { class: "stop-place" }, stop.place_name || ""),
      name || seats
        ? h("div", { class: "stop-who" }, [name, seats].filter(Boolean).join(" · "))
        : null,
      stop.wheelchair ? h("div", { class: "wheelchair" }, t("driver.wheelchair")) : null,
      big && stop.phone
        ? h("a", { class: "call", href: `tel:${stop.phone}` }, t("driver.call"))
        : null,
      stop.promised_window
        ? h(
            "div",
            { class: "window" },
            t("driver.promised", {
              start: DP.hhmm(stop.promised_window.start),
              end: DP.hhmm(stop.promised_window.end),
            }),
          )
        : null,
    ),
  );
}

function stepper(label, onChange) {
  return h(
    "div",
    { class: "stepper" },
    h("button", { type: "button", class: "step", onclick: () => onChange(-1), "aria-label": "−" }, "−"),
    h("span", { class: "step-value" }, label),
    h("button", { type: "button", class: "step", onclick: () => onChange(1), "aria-label": "+" }, "+"),
  );
}

function bigButton(label, cls, onclick, id) {
  return h("button", { type: "button", class: `big ${cls}`, onclick, id }, label);
}

function currentActions(stop) {
  const rid = stop.request_id || undefined;
  const base = { request_id: rid };
  const acts = [];
  if (!arrivedAt(stop))
    acts.push(
      bigButton(t("ev.arrived"), "go", () => {
        state.arrived.add(stopKey(stop));
        enqueue("arrived", base, stop);
      }, "ev-arrived"),
    );
  else acts.push(h("div", { class: "arrived-note" }, t("driver.arrived_note")));
  if (stop.kind === "pickup") {
    const n = state.boardCount[rid] ?? (stop.passengers || 1);
    acts.push(
      h(
        "div",
        { class: "row" },
        stepper(t("driver.passengers", { n }), (d) => {
          state.boardCount[rid] = Math.max(0, Math.min(20, n + d));
          render();
        }),
        bigButton(t("ev.boarded"), "go", () => enqueue("boarded", { ...base, passengers: n }), "ev-boarded"),
      ),
    );
    acts.push(bigButton(t("ev.no_show"), "warn", () => enqueue("no_show", base), "ev-no_show"));
  } else if (stop.kind === "dropoff") {
    acts.push(bigButton(t("ev.dropped_off"), "go", () => enqueue("dropped_off", base), "ev-dropped_off"));
  }
  acts.push(
    bigButton(t("ev.departed"), "plain", () => {
      state.departed.add(stopKey(stop));
      enqueue("departed", base, stop);
    }, "ev-departed"),
  );
  return h("div", { class: "actions" }, acts);
}

function vehicleActions() {
  const delay = h(
    "div",
    { class: "row" },
    stepper(t("console.minutes", { n: state.delayMin }), (d) => {
      state.delayMin = Math.max(5, Math.min(180, state.delayMin + 5 * d));
      render();
    }),
    bigButton(t("ev.delayed"), "warn", () => enqueue("delayed", { delay_min: state.delayMin }), "ev-delayed"),
  );
  const breakdown = state.confirmBreakdown
    ? h(
        "div",
        { class: "row" },
        bigButton(t("ev.unavailable_confirm"), "danger", () => {
          state.confirmBreakdown = false;
          enqueue("unavailable", {});
        }, "ev-unavailable-confirm"),
        bigButton(t("common.cancel"), "plain", () => {
          state.confirmBreakdown = false;
          render();
        }),
      )
    : bigButton(t("ev.unavailable"), "danger", () => {
        state.confirmBreakdown = true;
        render();
      }, "ev-unavailable");
  return [delay, breakdown];
}

function dayLabel(day) {
  const d = new Date(`${day}T12:00:00`);
  if (Number.isNaN(d.getTime())) return day;
  const opts = { weekday: "long", day: "numeric", month: "long" };
  return d.toLocaleDateString(DP.lang() === "en" ? "en-GB" : "fr-FR", opts);
}

function render() {
  renderPending();
  const v = state.live;
  const name = (v && v.name) || state.vehicle;
  document.getElementById("title").textContent = name;
  document.title = `${name} — ${t("driver.title")}`;
  document.getElementById("who").replaceChildren(
    ...[
      h("span", { class: "day" }, dayLabel(state.day)),
      v ? h("span", { class: `status status-${v.status}` }, t(`status.${v.status}`)) : null,
      v && v.delay_s > 60
        ? h("span", { class: "delay" }, t("driver.late_by", { n: Math.round(v.delay_s / 60) }))
        : null,
    ].filter(Boolean),
  );
  const broken = v && v.status === "unavailable";
  const stops = broken ? [] : stopsToCome();
  const current = document.getElementById("current");
  if (!v) current.replaceChildren(h("p", { class: "muted" }, t("driver.loading")));
  else if (broken)
    current.replaceChildren(h("p", { class: "done-all" }, t("driver.unavailable")));
  else if (!stops.length) current.replaceChildren(h("p", { class: "done-all" }, t("driver.no_more")));
  else current.replaceChildren(stopLine(stops[0], true), currentActions(stops[0]));
  document.getElementById("vehicle-actions").replaceChildren(...(v && !broken ? vehicleActions() : []));
  document.getElementById("vehicle-title").hidden = !v || broken;
  document
    .getElementById("stops")
    .replaceChildren(...stops.slice(1).map((s) => h("li", {}, stopLine(s, false))));
  document.getElementById("next-title").hidden = stops.length < 2;
  document.getElementById("rejected").replaceChildren(
    ...state.rejected.map((r) =>
      h("li", {}, `${t(`ev.${r.body.type}`)} ${DP.hhmm(r.body.time)} — ${t("driver.refused")} ${r.message}`),
    ),
  );
  const asOf = v && v.as_of ? t("driver.as_of", { time: DP.hhmm(v.as_of) }) : "";
  document.getElementById("as-of").textContent = asOf;
}

// ---- position pings -------------------------------------------------------------------------

function watchPosition() {
  if (!("geolocation" in navigator)) return;
  navigator.geolocation.watchPosition(
    (p) => {
      const now = Date.now();
      if (now - state.lastPositionAt < POSITION_EVERY_MS) return;
      state.lastPositionAt = now;
      enqueue("position", {
        lon: Math.round(p.coords.longitude * 1e6) / 1e6,
        lat: Math.round(p.coords.latitude * 1e6) / 1e6,
      });
    },
    () => {},
    { enableHighAccuracy: true, maximumAge: 15000, timeout: 20000 },
  );
}

// ---- start ----------------------------------------------------------------------------------

function start(me) {
  const params = new URLSearchParams(location.search);
  state.day = me.day || params.get("day") || "";
  state.vehicle = me.vehicle_id || params.get("vehicle") || "";
  if (!state.day || !state.vehicle) {
    document.getElementById("problem").textContent = t("driver.no_binding");
    return;
  }
  DP.onLang(render);
  render();
  refresh();
  loadNames();
  flush();
  watchPosition();
  setInterval(() => document.hidden || refresh(), REFRESH_MS);
  document.addEventListener("visibilitychange", () => document.hidden || refresh());
  setInterval(flush, 3000);
  window.addEventListener("online", flush);
}

DP.login(start);

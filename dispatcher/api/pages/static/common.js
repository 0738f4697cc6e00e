// Shared by the driver's page and the console: strings, the key, the JSON API, small helpers.
// The key lives in the tab's sessionStorage and goes out as X-API-Key; the pages hold no data.
"use strict";

const DP = (() => {
  const LANG_KEY = "dispatcher.lang";
  const KEY_KEY = "dispatcher.key";
  let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "fr";

  function t(id, vars) {
    const table = window.STRINGS[lang] || {};
    let s = id in table ? table[id] : window.STRINGS.fr[id];
    if (s === undefined) s = id;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
    return s;
  }

  function applyStrings(root = document) {
    document.documentElement.lang = lang;
    for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of root.querySelectorAll("[data-i18n-placeholder]"))
      el.placeholder = t(el.dataset.i18nPlaceholder);
    for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
    const toggle = document.getElementById("lang");
    if (toggle) {
      const short = toggle.dataset.short !== undefined;
      toggle.textContent = lang === "fr" ? (short ? "EN" : "English") : short ? "FR" : "Français";
      toggle.title = lang === "fr" ? "English" : "Français";
    }
  }

  const langListeners = [];
  function setLang(l) {
    lang = l;
    localStorage.setItem(LANG_KEY, l);
    applyStrings();
    for (const f of langListeners) f();
  }

  // An element: h("td", {class: "x", onclick: f}, "text", child, ...).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else if (k === "dataset") Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function key() {
    return sessionStorage.getItem(KEY_KEY) || "";
  }

  class Offline extends Error {}

  // {status, data}; throws Offline when the server cannot be reached.
  async function api(method, path, body) {
    const headers = { "X-API-Key": key() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (e) {
      throw new Offline(String(e));
    }
    const type = res.headers.get("content-type") || "";
    const data = type.includes("json") ? await res.json().catch(() => null) : await res.text();
    if (res.status === 401 && path !== "/v1/me") logout(t("login.expired"));
    return { status: res.status, data };
  }

  // The sentence of an error body, in the page's language when the API gives both.
  function errorText(data) {
    if (!data || typeof data !== "object") return String(data || "");
    if (lang === "en" && data.message_en) return data.message_en;
    return data.message || data.reason || data.error || JSON.stringify(data);
  }

  let onLogin = null;

  // Shows the login form until a key that /v1/me knows is given; then onReady(me).
  function login(onReady) {
    onLogin = onReady;
    const form = document.getElementById("login-form");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = document.getElementById("login-key");
      sessionStorage.setItem(KEY_KEY, input.value.trim());
      input.value = "";
      await tryKey();
    });
    document.getElementById("lang").addEventListener("click", () =>
      setLang(lang === "fr" ? "en" : "fr"),
    );
    const out = document.getElementById("logout");
    if (out) out.addEventListener("click", () => logout(""));
    applyStrings();
    // A link may carry the key in its fragment (never sent to the server): taken, then erased.
    const fromLink = new URLSearchParams(location.hash.slice(1)).get("key");
    if (fromLink) {
      sessionStorage.setItem(KEY_KEY, fromLink);
      history.replaceState(null, "", location.pathname + location.search);
    }
    if (key()) tryKey();
    else showLogin("");
  }

  async function tryKey() {
    const err = document.getElementById("login-error");
    let r;
    try {
      r = await api("GET", "/v1/me");
    } catch (e) {
      showLogin(t("login.offline"));
      return;
    }
    if (r.status !== 200) {
      sessionStorage.removeItem(KEY_KEY);
      showLogin(t("login.unknown"));
      return;
    }
    err.textContent = "";
    document.getElementById("login").hidden = true;
    document.getElementById("app").hidden = false;
    onLogin(r.data);
  }

  function showLogin(message) {
    document.getElementById("app").hidden = true;
    document.getElementById("login").hidden = false;
    document.getElementById("login-error").textContent = message;
    document.getElementById("login-key").focus();
  }

  function logout(message) {
    sessionStorage.removeItem(KEY_KEY);
    showLogin(message);
  }

  // "HH:MM" of an ISO time in the service's time zone (Europe/Paris), whatever its offset.
  const CLOCK = new Intl.DateTimeFormat("fr-FR", {
    timeZone: "Europe/Paris",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  function hhmm(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (!Number.isNaN(d.getTime()) && /[T ]\d\d:\d\d/.test(iso)) return CLOCK.format(d);
    const m = /(\d\d:\d\d)/.exec(String(iso));
    return m ? m[1] : String(iso);
  }

  // Now, ISO 8601 with the browser's offset (2026-12-03T08:12:05+01:00).
  function isoNow() {
    const d = new Date();
    const pad = (n) => String(Math.abs(n)).padStart(2, "0");
    const off = -d.getTimezoneOffset();
    const sign = off >= 0 ? "+" : "-";
    return (
      `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
      `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
      `${sign}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`
    );
  }

  // A random id that works outside secure contexts too (crypto.randomUUID does not).
  function newId(prefix) {
    const b = new Uint8Array(12);
    crypto.getRandomValues(b);
    return prefix + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  return {
    t,
    h,
    api,
    errorText,
    login,
    logout,
    hhmm,
    isoNow,
    newId,
    Offline,
    applyStrings,
    onLang: (f) => langListeners.push(f),
    lang: () => lang,
  };
})();

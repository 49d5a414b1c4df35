// What every page shares: the session (login, tokens in sessionStorage, refresh), the REST
// wrapper, error display, a tiny DOM builder, and the websocket client of docs/websocket.md
// (auth as the first message, resume with the last sequence number, reconnect with backoff,
// snapshots).
//
// Tokens live in sessionStorage: one session per tab (the server rotates refresh tokens, and two
// tabs sharing one would end each other's session), gone when the tab closes. They are never put
// in a URL.

import { t, applyI18n, setDefaultLanguage, setUserLocale, languageSwitcher,
         onLanguageChange } from "/static/i18n.js";

// ---------------------------------------------------------------- DOM

/** h("div", {class: "x", onclick: fn}, "text", child...) -> Element. Text is always text. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// ---------------------------------------------------------------- errors and notices

export class ApiError extends Error {
  constructor(status, body = {}) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.errorId = body.error_id || body.code || "error";
    this.details = body.details || {};
  }
}

function toastArea() {
  let area = document.getElementById("toasts");
  if (!area) {
    area = h("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(area);
  }
  return area;
}

/** A short notice at the bottom of the page (errors stay until dismissed unless given a
 * timeout). */
export function toast(message, kind = "info", { timeoutMs = kind === "error" ? 0 : 5000 } = {}) {
  const item = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : null },
    h("span", {}, message),
    h("button", { type: "button", class: "toast-close", "aria-label": t("common.close"),
                  onclick: () => item.remove() }, "×"));
  toastArea().append(item);
  if (timeoutMs) setTimeout(() => item.remove(), timeoutMs);
  // A burst of notices must not cover the page: the oldest go first.
  const area = toastArea();
  while (area.children.length > 4) area.firstElementChild.remove();
  return item;
}

export function showError(err) {
  let text;
  if (err instanceof ApiError) {
    text = err.status === 0 ? t("err.network")
      : t("err.http", { status: err.status, message: err.message });
  } else {
    text = String(err?.message || err);
  }
  console.error(err);
  return toast(text, "error");
}

// ---------------------------------------------------------------- session

const KEYS = { access: "cc.access", refresh: "cc.refresh", expires: "cc.expires" };
const sessionListeners = new Set();
let refreshTimer = null;
let refreshing = null;

export const session = {
  get access() { return sessionStorage.getItem(KEYS.access); },
  get refresh() { return sessionStorage.getItem(KEYS.refresh); },
  save(pair) {
    sessionStorage.setItem(KEYS.access, pair.access_token);
    sessionStorage.setItem(KEYS.refresh, pair.refresh_token);
    sessionStorage.setItem(KEYS.expires, String(Date.now() + pair.expires_in * 1000));
    scheduleRefresh();
    for (const fn of sessionListeners) fn(pair.access_token);
  },
  clear() {
    for (const k of Object.values(KEYS)) sessionStorage.removeItem(k);
    clearTimeout(refreshTimer);
  },
  /** fn(accessToken) after every login and refresh (the socket re-authenticates with it). */
  onToken(fn) { sessionListeners.add(fn); },
};

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const expires = Number(sessionStorage.getItem(KEYS.expires) || 0);
  if (!expires || !session.refresh) return;
  // At 80% of the lifetime, so a slow network still refreshes before the token expires.
  const lifetime = Math.max(expires - Date.now(), 0);
  refreshTimer = setTimeout(() => refreshTokens().catch(() => {}), Math.max(lifetime * 0.8, 1000));
}

/** One refresh at a time: concurrent 401s share it (a refresh token can be spent only once). */
export function refreshTokens() {
  if (!refreshing) {
    refreshing = (async () => {
      const token = session.refresh;
      if (!token) throw new ApiError(401, { message: t("err.session") });
      const resp = await rawFetch("/api/auth/refresh", "POST", { refresh_token: token });
      if (!resp.ok) {
        session.clear();
        throw new ApiError(resp.status, await readBody(resp));
      }
      session.save(await resp.json());
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

async function rawFetch(path, method, body, headers = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, { error_id: "network", message: String(err?.message || err) });
  }
}

async function readBody(resp) {
  const text = await resp.text();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}

/**
 * The REST API: JSON in and out, the bearer token added, one silent refresh on 401.
 * Resolves with the parsed body (null for 204); rejects with ApiError.
 */
export async function api(path, { method = "GET", body, retry = true } = {}) {
  const headers = {};
  if (session.access) headers.Authorization = `Bearer ${session.access}`;
  const resp = await rawFetch(path, method, body, headers);
  if (resp.status === 401 && retry && session.refresh) {
    await refreshTokens();
    return api(path, { method, body, retry: false });
  }
  if (resp.status === 204) return null;
  const data = await readBody(resp);
  if (!resp.ok) {
    if (resp.status === 401) session.clear();
    throw new ApiError(resp.status, data);
  }
  return data;
}

export async function login(username, password) {
  const resp = await rawFetch("/api/auth/login", "POST", { username, password });
  const body = await readBody(resp);
  if (!resp.ok) throw new ApiError(resp.status, body);
  session.save(body);
  return body;
}

export async function logout() {
  try {
    if (session.access) await api("/api/auth/logout", { method: "POST", retry: false });
  } catch {
    // Ending the local session matters more than telling a server that cannot be reached.
  }
  session.clear();
  location.assign("/");
}

/** The signed-in user (GET /api/me); shows the login form first when there is no session. */
export async function requireLogin() {
  if (session.access) {
    try {
      scheduleRefresh();
      return await api("/api/me");
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
    }
  }
  await loginForm();
  return api("/api/me");
}

function loginForm() {
  return new Promise((resolve) => {
    const user = h("input", { id: "login-username", name: "username", autocomplete: "username",
                              required: true, autofocus: true });
    const pass = h("input", { id: "login-password", name: "password", type: "password",
                              autocomplete: "current-password", required: true });
    const message = h("p", { class: "login-error", role: "alert" });
    const form = h("form", { class: "login-form", id: "login-form" },
      h("h1", { "data-i18n": "login.title" }),
      h("label", { for: "login-username", "data-i18n": "login.username" }), user,
      h("label", { for: "login-password", "data-i18n": "login.password" }), pass,
      h("button", { type: "submit", class: "primary", "data-i18n": "login.submit" }),
      message,
      languageSwitcher());
    const overlay = h("div", { class: "login-overlay" }, form);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      message.textContent = "";
      try {
        await login(user.value, pass.value);
        overlay.remove();
        resolve();
      } catch (err) {
        message.textContent = t("login.failed", { message: err.message });
        pass.select();
      }
    });
    document.body.append(overlay);
    applyI18n(overlay);
    user.focus();
  });
}

/** Apply the user's language, time zone and country (from the socket's welcome). */
export function applyUserLocale(user) {
  if (!user) return;
  setDefaultLanguage(user.language);
  setUserLocale({ timezone: user.timezone, country: user.country });
}

// ---------------------------------------------------------------- websocket hub client

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const PING_EVERY_MS = 20000;
const PONG_WAIT_MS = 10000;
const COMMAND_TIMEOUT_MS = 15000;

/**
 * The /ws client. Callbacks:
 *   onWelcome(msg)                 after every (re)connection's welcome
 *   onSnapshot(data, reason, msg)  a full state ("initial", or "gap": events were missed)
 *   onEvent(topic, data, msg)      one event, in sequence order, never twice
 *   onStatus(status, detail)       "connecting" | "online" | "offline" | "denied"
 * `kiosk`: a read-only wallboard token used instead of the session.
 */
export class Hub {
  constructor({ kiosk = null, onWelcome, onSnapshot, onEvent, onValue, onStatus } = {}) {
    this.kiosk = kiosk;
    this.handlers = { onWelcome, onSnapshot, onEvent, onValue, onStatus };
    this.stream = null;
    this.seq = null;
    this.ws = null;
    this.pending = new Map();
    this.nextId = 1;
    this.backoff = BACKOFF_MIN_MS;
    this.stopped = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastHeard = 0;
    this.stats = { connects: 0, resumed: 0, snapshots: 0, gaps: 0 };
    session.onToken((token) => this.reauth(token));
  }

  url() {
    return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  }

  connect() {
    this.stopped = false;
    clearTimeout(this.retryTimer);
    this.status("connecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.addEventListener("open", () => {
      const auth = this.kiosk ? { op: "auth", kiosk: this.kiosk }
        : { op: "auth", token: session.access };
      if (this.stream && this.seq != null) auth.resume = { stream: this.stream, seq: this.seq };
      ws.send(JSON.stringify(auth));
      this.lastHeard = Date.now();
      this.startPing(ws);
    });
    ws.addEventListener("message", (ev) => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.dispatch(msg);
    });
    ws.addEventListener("close", (ev) => {
      if (ws !== this.ws) return;
      this.onClose(ev.code, ev.reason);
    });
  }

  dispatch(msg) {
    switch (msg.op) {
      case "welcome": {
        this.stats.connects += 1;
        if (msg.resumed) this.stats.resumed += 1;
        this.stream = msg.stream;
        this.seq = msg.seq;
        this.backoff = BACKOFF_MIN_MS;
        this.status("online", { resumed: !!msg.resumed, reconnect: this.stats.connects > 1 });
        this.handlers.onWelcome?.(msg);
        break;
      }
      case "snapshot": {
        this.stats.snapshots += 1;
        if (msg.reason === "gap") this.stats.gaps += 1;
        this.stream = msg.stream;
        this.seq = msg.seq;
        this.handlers.onSnapshot?.(msg.data, msg.reason, msg);
        break;
      }
      case "event": {
        if (msg.stream === this.stream && this.seq != null) {
          if (msg.seq <= this.seq) return;            // already seen (replayed twice)
          if (msg.seq > this.seq + 1) {
            // A hole the server did not fill: reconnect and resume from what we have.
            this.ws?.close(4000, "sequence gap");
            return;
          }
        }
        this.stream = msg.stream;
        this.seq = msg.seq;
        this.handlers.onEvent?.(msg.topic, msg.data, msg);
        break;
      }
      case "result": {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.body);
        else p.reject(new ApiError(msg.status || 400, msg.error || {}));
        break;
      }
      case "value":
        // A latest-value frame (docs/websocket.md): no seq, never replayed, position unchanged.
        this.handlers.onValue?.(msg.topic, msg.data, msg);
        break;
      case "error":
        console.warn("hub error", msg.code, msg.message);
        break;
      default:
        break; // pong and future additions
    }
  }

  async onClose(code, reason) {
    clearInterval(this.pingTimer);
    this.ws = null;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ApiError(0, { error_id: "network", message: "connection lost" }));
    }
    this.pending.clear();
    if (this.stopped) return;
    if (code === 4401 && !this.kiosk) {
      // Expired or revoked: a refreshed token reconnects at once; a dead session logs in again.
      try {
        await refreshTokens();
      } catch {
        this.status("denied", { code, reason: t("err.session") });
        session.clear();
        location.assign("/");
        return;
      }
      this.backoff = BACKOFF_MIN_MS;
    } else if (code === 4403 || (code === 4401 && this.kiosk)) {
      this.stopped = true;
      this.status("denied", { code, reason: reason || String(code) });
      return;
    }
    const delay = Math.round(this.backoff * (0.5 + Math.random() * 0.5));
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.status("offline", { code, reason, delayMs: delay });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  startPing(ws) {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
      // Anything heard counts; silence after a ping means a half-open connection.
      if (Date.now() - this.lastHeard > PING_EVERY_MS + PONG_WAIT_MS) {
        ws.close(4000, "no pong");
        this.onClose(1006, "no pong");
        return;
      }
      ws.send(JSON.stringify({ op: "ping" }));
    }, PING_EVERY_MS);
  }

  reauth(token) {
    if (this.kiosk || !this.ws || this.ws.readyState !== WebSocket.OPEN || !this.stream) return;
    this.ws.send(JSON.stringify({ op: "auth", token }));
  }

  /** A command over the socket; resolves with the result body, rejects with ApiError. */
  command(name, args = {}) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new ApiError(0, { error_id: "network", message: "not connected" }));
        return;
      }
      const id = `c${this.nextId++}`;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ApiError(0, { error_id: "timeout", message: "no answer from the server" }));
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ op: "command", id, name, args }));
    });
  }

  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.ws?.close(1000, "bye");
  }

  status(status, detail = {}) {
    this.handlers.onStatus?.(status, detail);
  }
}

/** A live badge for a Hub's state (put it in the page header); returns [element, onStatus]. */
export function connectionBadge() {
  const badge = h("span", { class: "conn conn-connecting", id: "conn", role: "status",
                            "aria-live": "polite" }, t("conn.connecting"));
  let countdown = null;
  let last = ["connecting", {}];
  const onStatus = (status, detail = {}) => {
    last = [status, detail];
    clearInterval(countdown);
    badge.className = `conn conn-${status}`;
    badge.dataset.status = status;
    if (status === "offline") {
      let left = Math.ceil((detail.delayMs || 0) / 1000);
      badge.textContent = t("conn.offline", { s: left });
      countdown = setInterval(() => {
        left = Math.max(left - 1, 0);
        badge.textContent = t("conn.offline", { s: left });
      }, 1000);
    } else if (status === "denied") {
      badge.textContent = t("conn.denied", { reason: detail.reason || "" });
    } else {
      badge.textContent = t(status === "online" ? "conn.online" : "conn.connecting");
    }
  };
  onLanguageChange(() => onStatus(...last));
  return [badge, onStatus];
}

export { t, applyI18n, languageSwitcher };

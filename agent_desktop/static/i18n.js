// Interface text in Simplified Chinese and English, and the locale-aware formatting the pages
// share: names sorted with a Chinese collator, times in the user's time zone, phone numbers
// grouped for the user's country. No library: Intl does the heavy lifting.
//
// Language: the user's (welcome message / chosen in the page, kept in localStorage), else the
// browser's. Elements with data-i18n="key" get their text from here (data-i18n-attr="title,
// placeholder,aria-label" translates attributes too), so applyI18n(document) re-labels a page
// after a switch.

const STRINGS = {
  en: {
    "app.title": "Call center",
    "login.title": "Sign in",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.failed": "Sign-in failed: {message}",
    "common.logout": "Sign out",
    "common.language": "Language",
    "common.error": "Error",
    "common.close": "Close",
    "common.save": "Save",
    "common.cancel": "Cancel",
    "common.none": "none",
    "common.loading": "Loading…",
    "conn.connecting": "Connecting…",
    "conn.online": "Live",
    "conn.offline": "Offline, reconnecting in {s} s",
    "conn.resumed": "Reconnected: missed events replayed",
    "conn.gap": "Reconnected: events were missed, the view was refreshed from a snapshot ({time})",
    "conn.denied": "Connection refused: {reason}",
    "err.network": "The server cannot be reached",
    "err.session": "Your session has ended; sign in again",
    "err.http": "{status}: {message}",
  },
  "zh-CN": {
    "app.title": "呼叫中心",
    "login.title": "登录",
    "login.username": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.failed": "登录失败：{message}",
    "common.logout": "退出登录",
    "common.language": "语言",
    "common.error": "错误",
    "common.close": "关闭",
    "common.save": "保存",
    "common.cancel": "取消",
    "common.none": "无",
    "common.loading": "加载中…",
    "conn.connecting": "正在连接…",
    "conn.online": "在线",
    "conn.offline": "连接中断，{s} 秒后重连",
    "conn.resumed": "已重新连接：错过的事件已补发",
    "conn.gap": "已重新连接：部分事件已错过，界面已按快照刷新（{time}）",
    "conn.denied": "连接被拒绝：{reason}",
    "err.network": "无法连接服务器",
    "err.session": "会话已结束，请重新登录",
    "err.http": "{status}：{message}",
  },
};

export const LANGUAGES = [["zh-CN", "中文"], ["en", "English"]];
const LANG_KEY = "cc.lang";

let current = normalise(localStorage.getItem(LANG_KEY) || navigator.language || "en");
const listeners = new Set();

export function normalise(lang) {
  const l = String(lang || "").toLowerCase();
  return l.startsWith("zh") ? "zh-CN" : "en";
}

/** Pages add their own strings (both languages) at import time. */
export function addStrings(table) {
  for (const [lang, entries] of Object.entries(table)) {
    Object.assign(STRINGS[lang] || (STRINGS[lang] = {}), entries);
  }
}

export function language() {
  return current;
}

/** Switch language; `remember` keeps the choice over the user's default (the page's switcher). */
export function setLanguage(lang, { remember = false } = {}) {
  current = normalise(lang);
  if (remember) localStorage.setItem(LANG_KEY, current);
  document.documentElement.lang = current;
  for (const fn of listeners) fn(current);
}

/** The user's language from the server, unless they picked one in this browser. */
export function setDefaultLanguage(lang) {
  if (!localStorage.getItem(LANG_KEY) && lang) setLanguage(lang);
}

export function onLanguageChange(fn) {
  listeners.add(fn);
}

export function t(key, params = {}) {
  const text = STRINGS[current]?.[key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(",")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

/** A <select> that switches the language (and remembers it). */
export function languageSwitcher() {
  const select = document.createElement("select");
  select.className = "lang-switch";
  select.setAttribute("aria-label", "Language / 语言");
  for (const [code, label] of LANGUAGES) {
    const opt = new Option(label, code, false, code === current);
    select.append(opt);
  }
  select.addEventListener("change", () => setLanguage(select.value, { remember: true }));
  onLanguageChange((lang) => { select.value = lang; });
  return select;
}

// ---------------------------------------------------------------- formatting

let timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
let country = "";

/** The user's time zone (IANA name) and country (ISO 3166 alpha-2), from the server. */
export function setUserLocale({ timezone, country: cc } = {}) {
  if (timezone) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: timezone });
      timeZone = timezone;
    } catch {
      // An unknown zone name keeps the browser's: a wrong clock is worse than a local one.
    }
  }
  country = (cc || countryOfZone(timeZone) || "").toUpperCase();
}

export function userTimeZone() {
  return timeZone;
}

export function userCountry() {
  return country || countryOfZone(timeZone) || (navigator.language.split("-")[1] || "").toUpperCase();
}

function countryOfZone(zone) {
  if (/^Asia\/(Shanghai|Chongqing|Harbin|Urumqi)$/.test(zone)) return "CN";
  if (zone === "Asia/Hong_Kong") return "HK";
  if (zone === "Asia/Taipei") return "TW";
  if (zone === "Europe/London") return "GB";
  if (/^America\/(New_York|Chicago|Denver|Los_Angeles|Phoenix|Anchorage|Detroit)/.test(zone)) {
    return "US";
  }
  return "";
}

/** Seconds the user's zone is ahead of UTC at `epochS`. */
function zoneOffsetS(epochS) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(epochS * 1000))) {
    parts[p.type] = p.value;
  }
  const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute,
                        +parts.second) / 1000;
  return wall - Math.floor(epochS);
}

/**
 * A datetime-local input's value ("2026-12-01T10:00") read as a wall time in the user's zone
 * (not the browser's, which `new Date(value)` would use): epoch seconds, NaN if not a time.
 */
export function fromLocalInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(String(value ?? ""));
  if (!m) return NaN;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]) / 1000;
  const first = wall - zoneOffsetS(wall);
  return wall - zoneOffsetS(first);  // (the second pass settles a guess across a DST change)
}

/** Epoch seconds -> a datetime-local input's value, in the user's zone. */
export function toLocalInput(epochS) {
  return new Date((Math.floor(epochS) + zoneOffsetS(epochS)) * 1000).toISOString().slice(0, 16);
}

/** Epoch seconds -> the time of day (and the date when not today) in the user's zone. */
export function fmtTime(epochS, { date = "auto" } = {}) {
  if (epochS == null || !Number.isFinite(Number(epochS))) return "–";
  const d = new Date(Number(epochS) * 1000);
  const dayOf = (x) => new Intl.DateTimeFormat("en-CA", { timeZone, dateStyle: "short" }).format(x);
  const withDate = date === true || (date === "auto" && dayOf(d) !== dayOf(new Date()));
  const opts = { timeZone, hour: "2-digit", minute: "2-digit", hour12: false };
  if (withDate) Object.assign(opts, { year: "numeric", month: "2-digit", day: "2-digit" });
  return new Intl.DateTimeFormat(current, opts).format(d);
}

/** Seconds -> "m:ss" or "h:mm:ss". */
export function fmtDuration(seconds) {
  if (seconds == null || !Number.isFinite(Number(seconds))) return "–";
  const s = Math.max(0, Math.round(Number(seconds)));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export function fmtPercent(ratio) {
  if (ratio == null || !Number.isFinite(Number(ratio))) return "–";
  return new Intl.NumberFormat(current, { style: "percent", maximumFractionDigits: 0 })
    .format(Number(ratio));
}

export function fmtNumber(n, digits = 0) {
  if (n == null || !Number.isFinite(Number(n))) return "–";
  return new Intl.NumberFormat(current, { maximumFractionDigits: digits }).format(Number(n));
}

export function fmtMoney(amount, currency = "CNY") {
  if (amount == null || !Number.isFinite(Number(amount))) return "–";
  try {
    return new Intl.NumberFormat(current, { style: "currency", currency }).format(Number(amount));
  } catch {
    return fmtNumber(amount, 2);
  }
}

// Country calling codes this formatter knows how to group; others are shown as dialled.
const CALLING_CODES = { 1: "US", 86: "CN", 852: "HK", 886: "TW", 44: "GB" };

/**
 * An E.164 number as people in the user's country write it: national form for numbers of the
 * same country, grouped international form otherwise. Anything that is not E.164 comes back
 * unchanged (an extension, a number the CRM stored as typed).
 */
export function fmtPhone(number, forCountry = userCountry()) {
  const raw = String(number ?? "");
  const m = /^\+(\d{6,15})$/.exec(raw.replace(/[\s().-]/g, ""));
  if (!m) return raw;
  const digits = m[1];
  let cc = "";
  for (const len of [1, 2, 3]) {
    if (CALLING_CODES[digits.slice(0, len)]) { cc = digits.slice(0, len); break; }
  }
  if (!cc) return `+${digits}`;
  const national = digits.slice(cc.length);
  const region = CALLING_CODES[cc];
  const grouped = groupNational(region, national);
  if (region === forCountry || (cc === "1" && forCountry === "CA")) {
    if (region === "US" && national.length === 10) {
      return `(${national.slice(0, 3)}) ${national.slice(3, 6)}-${national.slice(6)}`;
    }
    if (region === "GB" || (region === "CN" && !national.startsWith("1"))) return `0${grouped}`;
    return grouped;
  }
  return `+${cc} ${grouped}`;
}

function groupNational(region, n) {
  if (region === "US" && n.length === 10) return `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;
  if (region === "CN" && n.length === 11 && n.startsWith("1")) {
    return `${n.slice(0, 3)} ${n.slice(3, 7)} ${n.slice(7)}`;      // mobile: 138 0013 8000
  }
  if (region === "CN" && /^(10|2\d)/.test(n)) return `${n.slice(0, 2)} ${n.slice(2)}`; // 10 / 2x
  if (region === "CN") return `${n.slice(0, 3)} ${n.slice(3)}`;
  if ((region === "HK" || region === "TW") && n.length >= 8) {
    return `${n.slice(0, n.length - 4)} ${n.slice(-4)}`;
  }
  if (region === "GB" && n.length === 10) return `${n.slice(0, 4)} ${n.slice(4)}`;
  return n;
}

// One collator for names: pinyin order for Chinese (Intl's zh-CN collation), and Latin names
// in their usual order beside them.
export const nameCollator = new Intl.Collator("zh-CN", { sensitivity: "base", numeric: true });

export function sortByName(items, key = (x) => x.name) {
  return [...items].sort((a, b) => nameCollator.compare(String(key(a) ?? ""), String(key(b) ?? "")));
}

// The supervisor wallboard: a tile per queue (coloured by the thresholds in [pages]), a row per
// agent, live calls, a trend chart of waiting calls and service level (uPlot), alerts when a
// figure crosses a threshold, and actions on agents (listen / whisper / barge, force pause or
// log-out, skills).
//
// Kiosk mode, for a TV: /wallboard#kiosk=TOKEN. The fragment never reaches the server (nor its
// access log); the page sends the token as the websocket's auth message and gets the read-only
// wallboard stream (no customer data, no actions).

import { requireLogin, Hub, connectionBadge, h, clear, api, showError, toast, logout,
         applyUserLocale, languageSwitcher } from "/static/app.js";
import { t, addStrings, onLanguageChange, setDefaultLanguage, setUserLocale,
         fmtDuration, fmtPercent, fmtPhone, fmtTime, sortByName } from "/static/i18n.js";

addStrings({
  en: {
    "wb.title": "Wallboard", "wb.kiosk": "Kiosk (read-only)",
    "wb.queues": "Queues", "wb.agents": "Agents", "wb.calls": "Live calls", "wb.trend": "Today",
    "wb.alerts": "Alerts", "wb.no_alerts": "No alerts.", "wb.all": "All queues",
    "m.waiting": "Waiting", "m.longest": "Longest wait", "m.sl": "Service level", "m.asa": "ASA",
    "m.aht": "AHT", "m.abandon": "Abandoned", "m.needed": "Agents needed", "m.staffed": "Staffed",
    "m.today": "Today: {offered} offered, {answered} answered, {abandoned} abandoned",
    "a.name": "Agent", "a.state": "State", "a.time": "Time in state", "a.call": "Current call",
    "a.handled": "Calls handled", "a.actions": "Actions",
    "act.listen": "Listen", "act.whisper": "Whisper", "act.barge": "Barge",
    "act.pause": "Pause", "act.logout": "Log out", "act.skills": "Skills",
    "act.monitor_started": "{mode}: your phone rings, then joins {agent}'s call",
    "act.skills_prompt": "Skills of {agent} (e.g. support:3, sales:1)",
    "act.skills_saved": "Skills of {agent} saved",
    "act.pause_reason": "Pause reason",
    "c.queue": "Queue", "c.number": "Number", "c.state": "State", "c.agent": "Agent",
    "c.since": "Since", "c.queued": "waiting", "c.ringing": "ringing", "c.talking": "talking",
    "trend.waiting": "Waiting calls", "trend.sl": "Service level %",
    "alert.sl": "{queue}: service level {value} (target {target})",
    "alert.wait": "{queue}: longest wait {value}",
    "alert.abandon": "{queue}: abandon rate {value}",
    "state.logged_out": "Logged out", "state.available": "Ready", "state.reserved": "Ringing",
    "state.on_call": "On a call", "state.wrap_up": "Wrap-up", "state.paused": "Paused",
  },
  "zh-CN": {
    "wb.title": "监控大屏", "wb.kiosk": "大屏模式（只读）",
    "wb.queues": "队列", "wb.agents": "坐席", "wb.calls": "实时通话", "wb.trend": "今日趋势",
    "wb.alerts": "告警", "wb.no_alerts": "暂无告警。", "wb.all": "全部队列",
    "m.waiting": "排队", "m.longest": "最长等待", "m.sl": "服务水平", "m.asa": "平均应答",
    "m.aht": "平均处理", "m.abandon": "放弃率", "m.needed": "所需坐席", "m.staffed": "在岗",
    "m.today": "今日：进线 {offered}，接通 {answered}，放弃 {abandoned}",
    "a.name": "坐席", "a.state": "状态", "a.time": "状态时长", "a.call": "当前通话",
    "a.handled": "已处理", "a.actions": "操作",
    "act.listen": "监听", "act.whisper": "耳语", "act.barge": "强插",
    "act.pause": "暂停", "act.logout": "签出", "act.skills": "技能",
    "act.monitor_started": "{mode}：您的话机将振铃，然后加入 {agent} 的通话",
    "act.skills_prompt": "{agent} 的技能（如 support:3, sales:1）",
    "act.skills_saved": "已保存 {agent} 的技能",
    "act.pause_reason": "暂停原因",
    "c.queue": "队列", "c.number": "号码", "c.state": "状态", "c.agent": "坐席",
    "c.since": "开始", "c.queued": "排队中", "c.ringing": "振铃中", "c.talking": "通话中",
    "trend.waiting": "排队来电", "trend.sl": "服务水平 %",
    "alert.sl": "{queue}：服务水平 {value}（目标 {target}）",
    "alert.wait": "{queue}：最长等待 {value}",
    "alert.abandon": "{queue}：放弃率 {value}",
    "state.logged_out": "已签出", "state.available": "就绪", "state.reserved": "振铃中",
    "state.on_call": "通话中", "state.wrap_up": "话后处理", "state.paused": "暂停",
  },
});

// When the page cannot read /api/desktop/config (a kiosk has no user token): the [pages]
// defaults and each queue's default target.
const DEFAULT_THRESHOLDS = { sl_bad_margin: 0.15, wait_warn_factor: 1.0, wait_bad_factor: 3.0,
                             abandon_warn: 0.05, abandon_bad: 0.1 };
const DEFAULT_QUEUE = { service_level_s: 20, service_level_target: 0.8 };
const STATES = ["available", "reserved", "on_call", "wrap_up", "paused", "logged_out"];
const TREND_KEY = "cc.trend";
const ALERT_QUIET_S = 300;
const TREND_MAX = 2880;  // a point per 30 s for a day

// The token stays in the fragment: a TV that reloads the page must find it again.
const kiosk = new URLSearchParams(location.hash.slice(1)).get("kiosk");

const S = {
  me: null,
  config: null,
  queues: new Map(),   // name -> QueueStats row
  agents: new Map(),   // agent_id -> AgentRow
  calls: new Map(),    // call_id -> {call_id, queue, number, state, agent_id, since}
  levels: new Map(),   // "queue:metric" -> "ok" | "warn" | "bad" (for alerts on a change)
  alerted: new Map(),  // "queue:metric" -> {level, at} of its last alert
  alerts: [],
  trend: loadTrend(),
};
const ui = {};
let hub;
let chart = null;

async function main() {
  if (kiosk) {
    document.body.classList.add("kiosk");
  } else {
    S.me = await requireLogin();
    try {
      S.config = await api("/api/desktop/config");
      setDefaultLanguage(S.config.language);
      setUserLocale({ timezone: S.config.timezone, country: S.config.country });
    } catch (err) {
      showError(err);
    }
  }
  const [badge, onStatus] = connectionBadge();
  ui.badge = badge;
  buildLayout();
  hub = new Hub({
    kiosk,
    onStatus,
    onWelcome: (msg) => applyUserLocale(msg.user),
    onSnapshot: applySnapshot,
    onEvent: applyEvent,
  });
  hub.connect();
  window.wallboard = { hub, state: S };
  setInterval(tick, 1000);
  setInterval(sampleTrend, 30_000);
  onLanguageChange(() => buildLayout());
}

function thresholds() {
  return S.config?.wallboard || DEFAULT_THRESHOLDS;
}

function queueConfig(name) {
  return S.config?.queues.find((q) => q.name === name) || DEFAULT_QUEUE;
}

// ---------------------------------------------------------------- layout

function buildLayout() {
  document.title = t("wb.title");
  ui.topbar = document.getElementById("topbar");
  ui.who = h("span", { class: "who" }, kiosk ? t("wb.kiosk") : (S.config?.user.display_name || S.me?.username || ""));
  clear(ui.topbar, h("span", { class: "brand" }, t("wb.title")), ui.badge, ui.who, languageSwitcher(),
    kiosk ? null : h("button", { type: "button", onclick: logout }, t("common.logout")));
  ui.tiles = h("div", { class: "tiles", id: "tiles" });
  ui.agents = h("div", { id: "agents" });
  ui.calls = h("div", { id: "calls" });
  ui.alerts = h("ul", { class: "alerts", id: "alerts", "aria-live": "assertive" });
  ui.chart = h("div", { id: "trend-chart", class: "chart" });
  clear(document.getElementById("main"),
    h("section", { "aria-labelledby": "q-h" }, h("h2", { id: "q-h" }, t("wb.queues")), ui.tiles),
    h("div", { class: "wb-grid" },
      h("section", { class: "panel", "aria-labelledby": "a-h" }, h("h2", { id: "a-h" }, t("wb.agents")), ui.agents),
      h("div", { class: "stack" },
        h("section", { class: "panel" }, h("h2", {}, t("wb.trend")), ui.chart),
        h("section", { class: "panel" }, h("h2", {}, t("wb.alerts")), ui.alerts),
        kiosk ? null : h("section", { class: "panel" }, h("h2", {}, t("wb.calls")), ui.calls))));
  chart = null;
  renderAll();
}

function renderAll() {
  renderTiles();
  renderAgents();
  renderCalls();
  renderAlerts();
  renderChart();
}

// ---------------------------------------------------------------- tiles

function level(value, warnIf, badIf) {
  if (value == null) return "ok";
  if (badIf(value)) return "bad";
  if (warnIf(value)) return "warn";
  return "ok";
}

function queueLevels(q) {
  const th = thresholds();
  const qc = queueConfig(q.queue);
  const target = qc.service_level_target;
  return {
    sl: level(q.service_level, (v) => v < target, (v) => v < target - th.sl_bad_margin),
    wait: level(q.longest_wait_s, (v) => v > qc.service_level_s * th.wait_warn_factor,
                (v) => v > qc.service_level_s * th.wait_bad_factor),
    abandon: level(q.abandon_rate, (v) => v > th.abandon_warn, (v) => v > th.abandon_bad),
  };
}

const RANK = { ok: 0, warn: 1, bad: 2 };

function renderTiles() {
  const rows = [...S.queues.values()].sort((a, b) =>
    (a.overall ? 1 : 0) - (b.overall ? 1 : 0) || a.queue.localeCompare(b.queue));
  clear(ui.tiles, rows.map((q) => {
    const lv = queueLevels(q);
    const worst = Object.values(lv).reduce((a, b) => (RANK[b] > RANK[a] ? b : a), "ok");
    const states = STATES.filter((s) => q.agents_by_state?.[s])
      .map((s) => h("span", { class: `badge state-${s}` }, `${t(`state.${s}`)} ${q.agents_by_state[s]}`));
    const needed = q.erlang_agents_needed;
    return h("article", { class: `tile level-${worst}`, id: `tile-${q.queue}`, dataset: { queue: q.queue, level: worst } },
      h("h2", {}, q.overall ? t("wb.all") : q.queue),
      h("div", { class: "metrics" },
        metric(t("m.waiting"), String(q.waiting), "waiting"),
        metric(t("m.longest"), fmtDuration(q.longest_wait_s), "longest", lv.wait),
        metric(t("m.sl"), fmtPercent(q.service_level), "sl", lv.sl),
        metric(t("m.asa"), fmtDuration(q.asa_s), "asa"),
        metric(t("m.aht"), fmtDuration(q.aht_s), "aht"),
        metric(t("m.abandon"), fmtPercent(q.abandon_rate), "abandon", lv.abandon),
        metric(t("m.needed"), needed == null ? "–" : String(needed), "needed",
               needed != null && needed > q.staffed ? "warn" : "ok"),
        metric(t("m.staffed"), String(q.staffed ?? "–"), "staffed")),
      h("div", { class: "row states" }, states),
      h("p", { class: "muted today" }, t("m.today", { offered: q.offered_today ?? 0,
        answered: q.answered_today ?? 0, abandoned: q.abandoned_today ?? 0 })));
  }));
}

function metric(label, value, key, lv = "ok") {
  return h("div", { class: `metric ${lv}`, dataset: { metric: key } },
    h("div", { class: "v" }, value), h("div", { class: "k" }, label));
}

/** Alerts for figures that got worse since the last row; `baseline` only records the levels. */
function checkAlerts(q, { baseline = false } = {}) {
  const lv = queueLevels(q);
  const qc = queueConfig(q.queue);
  for (const [key, now] of Object.entries(lv)) {
    const id = `${q.queue}:${key}`;
    const before = S.levels.get(id) || "ok";
    S.levels.set(id, now);
    if (baseline || RANK[now] <= RANK[before]) continue;
    // A figure that hovers around a threshold alerts once per ALERT_QUIET_S at a given level.
    const last = S.alerted.get(id);
    const at = Date.now() / 1000;
    if (last && RANK[last.level] >= RANK[now] && at - last.at < ALERT_QUIET_S) continue;
    S.alerted.set(id, { level: now, at });
    const value = key === "sl" ? fmtPercent(q.service_level)
      : key === "wait" ? fmtDuration(q.longest_wait_s) : fmtPercent(q.abandon_rate);
    const text = t(`alert.${key}`, { queue: q.queue, value, target: fmtPercent(qc.service_level_target) });
    S.alerts.unshift({ at: Date.now() / 1000, level: now, text });
    S.alerts.length = Math.min(S.alerts.length, 50);
    if (!kiosk && now === "bad") toast(text, "error", { timeoutMs: 8000 });
  }
}

function renderAlerts() {
  if (!S.alerts.length) {
    clear(ui.alerts, h("li", { class: "muted" }, t("wb.no_alerts")));
    return;
  }
  clear(ui.alerts, S.alerts.map((a) => h("li", { class: `alert ${a.level}` },
    h("span", { class: "num muted" }, fmtTime(a.at)), " ", a.text)));
}

// ---------------------------------------------------------------- agents

function renderAgents() {
  const rows = sortByName([...S.agents.values()], (a) => a.name || a.agent_id);
  if (!ui.pauseReason || !ui.agents.contains(ui.pauseReason)) {
    ui.pauseReason = h("select", { id: "force-reason", "aria-label": t("act.pause_reason") },
      (S.config?.pause_codes || ["break"]).map((r) => new Option(r, r)));
  }
  const actions = !kiosk;
  clear(ui.agents,
    actions ? h("div", { class: "row" }, h("label", { for: "force-reason" }, t("act.pause_reason")), ui.pauseReason) : null,
    h("table", { id: "agent-table" },
      h("thead", {}, h("tr", {}, h("th", {}, t("a.name")), h("th", {}, t("a.state")),
        h("th", { class: "num" }, t("a.time")), h("th", {}, t("a.call")),
        h("th", { class: "num" }, t("a.handled")), actions ? h("th", {}, t("a.actions")) : null)),
      h("tbody", {}, rows.map((a) => agentRow(a, actions)))));
}

function agentRow(a, actions) {
  const call = a.call_id ? S.calls.get(a.call_id) : null;
  const busy = !!a.call_id;
  return h("tr", { dataset: { agent: a.agent_id, state: a.state } },
    h("td", {}, a.name || a.agent_id),
    h("td", {}, h("span", { class: `badge state-${a.state}` }, t(`state.${a.state}`),
      a.pause_reason ? ` · ${a.pause_reason}` : "")),
    h("td", { class: "num since", dataset: { since: a.state_since } },
      fmtDuration(Date.now() / 1000 - a.state_since)),
    h("td", { class: "call" }, a.call_id ? (call?.number ? fmtPhone(call.number) : "●") : "–",
      call?.queue ? h("span", { class: "muted" }, ` ${call.queue}`) : null),
    h("td", { class: "num" }, String(a.calls_handled ?? 0)),
    actions ? h("td", {}, h("div", { class: "actions" },
      ["listen", "whisper", "barge"].map((mode) => h("button", { type: "button", class: "small",
        disabled: !busy, dataset: { action: mode }, onclick: () => monitor(a, mode) }, t(`act.${mode}`))),
      h("button", { type: "button", class: "small", dataset: { action: "pause" },
        disabled: a.state === "paused" || a.state === "logged_out", onclick: () => forcePause(a) }, t("act.pause")),
      h("button", { type: "button", class: "small", dataset: { action: "logout" },
        disabled: a.state === "logged_out", onclick: () => forceLogout(a) }, t("act.logout")),
      h("button", { type: "button", class: "small", dataset: { action: "skills" },
        onclick: () => editSkills(a) }, t("act.skills")))) : null);
}

async function monitor(a, mode) {
  try {
    await api(`/api/agents/${encodeURIComponent(a.agent_id)}/monitor`, { method: "POST", body: { mode } });
    toast(t("act.monitor_started", { mode: t(`act.${mode}`), agent: a.name || a.agent_id }), "ok");
  } catch (err) {
    showError(err);
  }
}

async function forcePause(a) {
  try {
    await api(`/api/agents/${encodeURIComponent(a.agent_id)}/pause`, { method: "POST",
                                                                      body: { reason: ui.pauseReason.value } });
  } catch (err) {
    showError(err);
  }
}

async function forceLogout(a) {
  try {
    await api(`/api/agents/${encodeURIComponent(a.agent_id)}/logout`, { method: "POST" });
  } catch (err) {
    showError(err);
  }
}

async function editSkills(a) {
  try {
    const users = await api(`/api/users?q=${encodeURIComponent(a.agent_id)}&limit=20`);
    const user = users.items.find((u) => u.username === a.agent_id);
    const current = user ? await api(`/api/users/${user.id}/skills`) : [];
    const text = current.map((s) => `${s.skill}:${s.level}`).join(", ");
    const answer = await skillsDialog(t("act.skills_prompt", { agent: a.name || a.agent_id }), text);
    if (answer == null) return;
    const skills = {};
    for (const part of answer.split(/[,，\s]+/).filter(Boolean)) {
      const [name, lvl] = part.split(/[:：]/);
      skills[name] = Number(lvl || 1);
    }
    await api(`/api/agents/${encodeURIComponent(a.agent_id)}/skills`, { method: "PUT", body: { skills } });
    toast(t("act.skills_saved", { agent: a.name || a.agent_id }), "ok");
  } catch (err) {
    showError(err);
  }
}

/** A small modal form (window.prompt is blocked in kiosk browsers and cannot be styled). */
function skillsDialog(label, value) {
  return new Promise((resolve) => {
    const input = h("input", { id: "skills-input", value, size: 40 });
    const dialog = h("dialog", { id: "skills-dialog" },
      h("form", { method: "dialog", class: "stack" },
        h("label", { for: "skills-input" }, label), input,
        h("div", { class: "row" },
          h("button", { type: "submit", class: "primary", value: "ok" }, t("common.save")),
          h("button", { type: "submit", value: "cancel" }, t("common.cancel")))));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok" ? input.value : null);
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

// ---------------------------------------------------------------- live calls

function renderCalls() {
  if (kiosk) return;
  const rows = [...S.calls.values()].sort((a, b) => a.since - b.since);
  clear(ui.calls, rows.length ? h("table", { id: "call-table" },
    h("thead", {}, h("tr", {}, h("th", {}, t("c.queue")), h("th", {}, t("c.number")),
      h("th", {}, t("c.state")), h("th", {}, t("c.agent")), h("th", { class: "num" }, t("c.since")))),
    h("tbody", {}, rows.map((c) => h("tr", { dataset: { call: c.call_id } },
      h("td", {}, c.queue || "–"), h("td", {}, fmtPhone(c.number || "")),
      h("td", {}, t(`c.${c.state}`)),
      h("td", {}, S.agents.get(c.agent_id)?.name || c.agent_id || "–"),
      h("td", { class: "num since", dataset: { since: c.since } }, fmtDuration(Date.now() / 1000 - c.since))))))
    : h("p", { class: "muted" }, "–"));
}

function trackCall(topic, d, ts) {
  const known = S.calls.get(d.call_id);
  switch (topic) {
    case "call.queued":
      S.calls.set(d.call_id, { call_id: d.call_id, queue: d.queue, number: d.number,
                               state: "queued", agent_id: null, since: ts });
      break;
    case "call.offered":
      S.calls.set(d.call_id, { ...(known || { since: ts }), call_id: d.call_id, queue: d.queue,
                               number: d.number, state: "ringing", agent_id: d.agent_id });
      break;
    case "call.answered":
      if (known) Object.assign(known, { state: "talking", agent_id: d.agent_id || known.agent_id });
      break;
    case "call.ended": case "call.removed": case "call.abandoned": case "call.handed_back":
      if (topic === "call.removed" && d.reason === "answered") break;
      S.calls.delete(d.call_id);
      break;
    default:
      return false;
  }
  return true;
}

// ---------------------------------------------------------------- trend (uPlot)

function loadTrend() {
  try {
    const saved = JSON.parse(localStorage.getItem(TREND_KEY) || "null");
    const today = new Date().toDateString();
    if (saved && saved.day === today) return saved;
    return { day: today, t: [], waiting: [], sl: [] };
  } catch {
    return { day: new Date().toDateString(), t: [], waiting: [], sl: [] };
  }
}

function sampleTrend() {
  const all = S.queues.get("ALL");
  if (!all) return;
  const day = new Date().toDateString();
  if (S.trend.day !== day) S.trend = { day, t: [], waiting: [], sl: [] };
  const tr = S.trend;
  tr.t.push(Math.round(Date.now() / 1000));
  tr.waiting.push(all.waiting);
  tr.sl.push(all.service_level == null ? null : Math.round(all.service_level * 1000) / 10);
  if (tr.t.length > TREND_MAX) for (const k of ["t", "waiting", "sl"]) tr[k].splice(0, tr[k].length - TREND_MAX);
  try {
    localStorage.setItem(TREND_KEY, JSON.stringify(tr));
  } catch { /* storage full or disabled: the chart still shows this session */ }
  renderChart();
}

function renderChart() {
  if (typeof window.uPlot === "undefined") return;  // the deferred script is still loading
  const data = [S.trend.t, S.trend.waiting, S.trend.sl];
  if (chart) {
    chart.setData(data, false);
    showWindow();
    return;
  }
  const width = Math.max(ui.chart.clientWidth || 400, 300);
  chart = new window.uPlot({
    width, height: 220,
    tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1e3), Intl.DateTimeFormat().resolvedOptions().timeZone),
    series: [
      {},
      { label: t("trend.waiting"), stroke: "#1f6feb", width: 2, scale: "calls" },
      { label: t("trend.sl"), stroke: "#1a7f37", width: 2, scale: "%" },
    ],
    scales: { x: { time: true, auto: false }, "%": { range: [0, 100] } },
    axes: [{}, { scale: "calls" }, { scale: "%", side: 1, grid: { show: false } }],
  }, data, ui.chart);
  showWindow();
}

/** The x axis spans the day so far, at least the last hour (a fresh board has few points). */
function showWindow() {
  const now = Date.now() / 1000;
  const first = S.trend.t.length ? S.trend.t[0] : now;
  chart.setScale("x", { min: Math.min(first, now - 3600), max: now });
}

// ---------------------------------------------------------------- websocket

function applySnapshot(data) {
  S.queues = new Map((data.queues || []).map((q) => [q.queue, q]));
  S.agents = new Map((data.agents || []).map((a) => [a.agent_id, a]));
  // The first snapshot is the baseline; after a reconnect, what got worse meanwhile alerts.
  const first = !S.levels.size;
  for (const q of S.queues.values()) checkAlerts(q, { baseline: first });
  for (const [id, c] of S.calls) {
    // Calls whose end we may have missed: keep only those an agent still holds, or waiting ones.
    if (c.agent_id && S.agents.get(c.agent_id)?.call_id !== id) S.calls.delete(id);
  }
  if (!S.trend.t.length) sampleTrend();
  renderAll();
}

function applyEvent(rawTopic, data, msg) {
  const topic = rawTopic.replace(/^acd\./, "");
  const ts = msg.ts || Date.now() / 1000;
  if (topic === "queue.stats") {
    const before = S.queues.get(data.queue);
    S.queues.set(data.queue, data);
    checkAlerts(data);
    renderTiles();
    renderAlerts();
    if (data.queue === "ALL" && (!before || before.waiting !== data.waiting)) sampleTrend();
  } else if (topic === "desktop.agent_row") {
    S.agents.set(data.agent_id, data);
    renderAgents();
  } else if (trackCall(topic, data, ts)) {
    renderCalls();
    renderAgents();
  }
}

function tick() {
  const now = Date.now() / 1000;
  for (const el of document.querySelectorAll("td.since")) {
    el.textContent = fmtDuration(now - Number(el.dataset.since));
  }
}

main().catch(showError);

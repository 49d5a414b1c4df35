// The supervisor wallboard: a tile per queue (coloured by the server's [wallboard] thresholds,
// which a supervisor may override for their own view), a tile per outbound campaign, a row per
// agent, live calls, the day's trend of waiting calls and service level (uPlot; the series is
// kept on the server, so a reload or a TV switched on at noon shows the morning), alerts when a
// figure crosses a threshold, and actions on agents (listen / whisper / barge, force pause or
// log-out, skills).
//
// Kiosk mode, for a TV: /wallboard#kiosk=TOKEN. The fragment never reaches the server (nor its
// access log); the page sends the token as the websocket's auth message and gets the read-only
// wallboard stream (no customer data, no actions).

import { requireLogin, Hub, connectionBadge, h, clear, api, showError, toast, logout,
         applyUserLocale, languageSwitcher } from "/static/app.js";
import { t, addStrings, onLanguageChange, setDefaultLanguage, setUserLocale, userTimeZone,
         fmtDuration, fmtNumber, fmtPercent, fmtPhone, fmtTime, nameCollator,
         sortByName } from "/static/i18n.js";

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
    "alert.waiting": "{queue}: calls waiting {value}",
    "wb.campaigns": "Campaigns", "wb.trend_queue": "Queue shown in the chart",
    "cp.active": "Running", "cp.paused": "Paused", "cp.draft": "Draft", "cp.finished": "Finished",
    "cp.mode": "Dial mode", "cp.level": "Dial level", "cp.lines": "Lines", "cp.agents": "Agents",
    "cp.agents_detail": "{ready} ready, {on_call} on a call",
    "cp.ab24": "Abandoned 24 h", "cp.ab30": "Abandoned 30 days", "cp.target": "target {target}",
    "cp.today": "Today: {attempts} attempts, {contacts} contacts",
    "mode.preview": "Preview", "mode.progressive": "Progressive", "mode.predictive": "Predictive",
    "th.button": "Thresholds", "th.title": "Thresholds of my view (this browser only)",
    "th.queue": "Queue", "th.warn": "Amber", "th.alarm": "Red", "th.reset": "Server values",
    "th.waiting": "Calls waiting (at or above)", "th.longest_wait_s": "Longest wait, s (at or above)",
    "th.service_level": "Service level, % (below)", "th.abandon_rate": "Abandon rate, % (at or above)",
    "th.saved": "Your thresholds for {queue} are saved in this browser",
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
    "alert.waiting": "{queue}：{value} 个来电排队",
    "wb.campaigns": "外呼活动", "wb.trend_queue": "图表显示的队列",
    "cp.active": "运行中", "cp.paused": "已暂停", "cp.draft": "草稿", "cp.finished": "已结束",
    "cp.mode": "拨号模式", "cp.level": "拨号比", "cp.lines": "线路", "cp.agents": "坐席",
    "cp.agents_detail": "{ready} 就绪，{on_call} 通话中",
    "cp.ab24": "24 小时放弃率", "cp.ab30": "30 天放弃率", "cp.target": "目标 {target}",
    "cp.today": "今日：拨打 {attempts}，接通 {contacts}",
    "mode.preview": "预览式", "mode.progressive": "渐进式", "mode.predictive": "预测式",
    "th.button": "阈值", "th.title": "我的视图阈值（仅本浏览器）",
    "th.queue": "队列", "th.warn": "黄色", "th.alarm": "红色", "th.reset": "服务器设置",
    "th.waiting": "排队来电（达到）", "th.longest_wait_s": "最长等待，秒（达到）",
    "th.service_level": "服务水平，%（低于）", "th.abandon_rate": "放弃率，%（达到）",
    "th.saved": "已在本浏览器保存 {queue} 的阈值",
    "state.logged_out": "已签出", "state.available": "就绪", "state.reserved": "振铃中",
    "state.on_call": "通话中", "state.wrap_up": "话后处理", "state.paused": "暂停",
  },
});

// Until the first snapshot brings the server's [wallboard] thresholds: its defaults.
const DEFAULT_THRESHOLDS = { waiting_warn: 5, waiting_alarm: 10, longest_wait_s_warn: 20,
                             longest_wait_s_alarm: 60, service_level_warn: 0.8,
                             service_level_alarm: 0.65, abandon_rate_warn: 0.05,
                             abandon_rate_alarm: 0.1 };
const FIGURES = ["waiting", "longest_wait_s", "service_level", "abandon_rate"];
const PERCENT = new Set(["service_level", "abandon_rate"]);
const LOCAL_THRESHOLDS_KEY = "cc.wb.thresholds";
const STATES = ["available", "reserved", "on_call", "wrap_up", "paused", "logged_out"];
const ALERT_QUIET_S = 300;
const MINUTE_S = 60;
const LEVEL_CLASS = { ok: "ok", warn: "warn", alarm: "bad" };  // a campaign's level -> colour

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
  thresholds: {},      // queue -> the server's thresholds (from the snapshot)
  localThresholds: loadLocalThresholds(),  // queue -> this supervisor's own overrides
  campaigns: new Map(),  // campaign_id -> tile
  trend: { day: "", queues: {} },  // the server's series: queue -> {t, waiting, service_level}
  trendQueue: "ALL",
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
  window.wallboard = { hub, state: S, get chart() { return chart; } };
  setInterval(tick, 1000);
  if (kiosk) setInterval(kioskPage, KIOSK_PAGE_MS);
  onLanguageChange(() => buildLayout());
}

/**
 * A TV shows what does not fit on its screen a screenful at a time, the next one every
 * KIOSK_PAGE_MS, then from the top again: nobody there can scroll. (A board that fits stays.)
 */
const KIOSK_PAGE_MS = 15_000;

function kioskPage() {
  const page = document.scrollingElement;
  const view = window.innerHeight;
  if (page.scrollHeight <= view + 4 || page.scrollTop + view >= page.scrollHeight - 4) {
    page.scrollTo({ top: 0 });
    return;
  }
  // A heading's height of overlap keeps the reader's place.
  page.scrollTo({ top: page.scrollTop + Math.max(view - 80, view / 2) });
}

/** A queue's thresholds: the server's; a supervisor's own overrides on top (never a kiosk's). */
function thresholdsFor(queue) {
  const base = S.thresholds[queue] || S.thresholds.ALL || DEFAULT_THRESHOLDS;
  return kiosk ? base : { ...base, ...(S.localThresholds[queue] || {}) };
}

function loadLocalThresholds() {
  if (kiosk) return {};
  try {
    return JSON.parse(localStorage.getItem(LOCAL_THRESHOLDS_KEY) || "{}") || {};
  } catch {
    return {};
  }
}

function saveLocalThresholds() {
  try {
    localStorage.setItem(LOCAL_THRESHOLDS_KEY, JSON.stringify(S.localThresholds));
  } catch { /* storage disabled: the change holds until the page reloads */ }
}

// ---------------------------------------------------------------- layout

function buildLayout() {
  document.title = t("wb.title");
  ui.topbar = document.getElementById("topbar");
  ui.who = h("span", { class: "who" }, kiosk ? t("wb.kiosk") : (S.config?.user.display_name || S.me?.username || ""));
  clear(ui.topbar, h("span", { class: "brand" }, t("wb.title")), ui.badge, ui.who, languageSwitcher(),
    kiosk ? null : h("button", { type: "button", onclick: logout }, t("common.logout")));
  ui.tiles = h("div", { class: "tiles", id: "tiles" });
  ui.campaigns = h("div", { class: "tiles", id: "campaign-tiles" });
  ui.campaignSection = h("section", { id: "campaigns", "aria-labelledby": "cp-h", hidden: true },
    h("h2", { id: "cp-h" }, t("wb.campaigns")), ui.campaigns);
  ui.trendQueue = h("select", { id: "trend-queue", "aria-label": t("wb.trend_queue"),
                                onchange: () => { S.trendQueue = ui.trendQueue.value; chart = null;
                                                  clear(ui.chart); renderChart(); } });
  ui.agents = h("div", { id: "agents" });
  ui.calls = h("div", { id: "calls" });
  ui.alerts = h("ul", { class: "alerts", id: "alerts", "aria-live": "assertive" });
  ui.chart = h("div", { id: "trend-chart", class: "chart" });
  clear(document.getElementById("main"),
    h("section", { "aria-labelledby": "q-h" },
      h("div", { class: "row section-head" }, h("h2", { id: "q-h" }, t("wb.queues")),
        kiosk ? null : h("button", { type: "button", class: "small", id: "th-edit",
                                     onclick: () => editThresholds() }, t("th.button"))),
      ui.tiles),
    ui.campaignSection,
    h("div", { class: "wb-grid" },
      h("section", { class: "panel", "aria-labelledby": "a-h" }, h("h2", { id: "a-h" }, t("wb.agents")), ui.agents),
      h("div", { class: "stack" },
        h("section", { class: "panel" },
          h("div", { class: "row section-head" }, h("h2", {}, t("wb.trend")), ui.trendQueue),
          ui.chart),
        h("section", { class: "panel" }, h("h2", {}, t("wb.alerts")), ui.alerts),
        kiosk ? null : h("section", { class: "panel" }, h("h2", {}, t("wb.calls")), ui.calls))));
  chart = null;
  renderAll();
}

function renderAll() {
  renderTiles();
  renderCampaigns();
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

/** Amber / red per figure: counts, waits and abandons when they reach the value, service
 * level when it falls below it (config/wallboard.py). */
function queueLevels(q) {
  const th = thresholdsFor(q.queue);
  return {
    waiting: level(q.waiting, (v) => v >= th.waiting_warn, (v) => v >= th.waiting_alarm),
    sl: level(q.service_level, (v) => v < th.service_level_warn,
              (v) => v < th.service_level_alarm),
    wait: level(q.longest_wait_s, (v) => v >= th.longest_wait_s_warn,
                (v) => v >= th.longest_wait_s_alarm),
    abandon: level(q.abandon_rate, (v) => v >= th.abandon_rate_warn,
                   (v) => v >= th.abandon_rate_alarm),
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
        metric(t("m.waiting"), String(q.waiting), "waiting", lv.waiting),
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

function metric(label, value, key, lv = "ok", extra = "") {
  return h("div", { class: `metric ${lv}${extra ? ` ${extra}` : ""}`, dataset: { metric: key } },
    h("div", { class: "v" }, value), h("div", { class: "k" }, label));
}

/** Alerts for figures that got worse since the last row; `baseline` only records the levels. */
function checkAlerts(q, { baseline = false } = {}) {
  const lv = queueLevels(q);
  const th = thresholdsFor(q.queue);
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
      : key === "wait" ? fmtDuration(q.longest_wait_s)
      : key === "waiting" ? String(q.waiting) : fmtPercent(q.abandon_rate);
    const text = t(`alert.${key}`, { queue: q.overall ? t("wb.all") : q.queue, value,
                                     target: fmtPercent(th.service_level_warn) });
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

// ---------------------------------------------------------------- campaigns

function renderCampaigns() {
  const rows = [...S.campaigns.values()].sort((a, b) =>
    (b.running ? 1 : 0) - (a.running ? 1 : 0) || nameCollator.compare(a.name, b.name));
  ui.campaignSection.hidden = !rows.length;
  clear(ui.campaigns, rows.map((c) => {
    const worst = RANK[LEVEL_CLASS[c.level_24h]] >= RANK[LEVEL_CLASS[c.level_30d]]
      ? LEVEL_CLASS[c.level_24h] : LEVEL_CLASS[c.level_30d];
    const target = t("cp.target", { target: fmtPercent(c.abandon_target) });
    return h("article", { class: `tile campaign level-${worst}`, id: `campaign-${c.campaign_id}`,
                          dataset: { campaign: c.campaign_id, status: c.status, level: worst } },
      h("h2", {}, c.name, " ",
        h("span", { class: `badge ${c.running ? "ok" : "warn"} run-state` },
          t(`cp.${c.status}`) === `cp.${c.status}` ? c.status : t(`cp.${c.status}`))),
      h("div", { class: "metrics" },
        metric(t("cp.mode"), t(`mode.${c.dial_mode}`), "mode", "ok", "text"),
        metric(t("cp.level"), fmtNumber(c.dial_level, 2), "level"),
        metric(t("cp.lines"), String(c.lines_in_progress), "lines"),
        metric(t("cp.agents"), String(c.agents), "agents"),
        metric(t("cp.ab24"), fmtPercent(c.live_24h ? c.rate_24h : null), "ab24",
               LEVEL_CLASS[c.level_24h]),
        metric(t("cp.ab30"), fmtPercent(c.live_30d ? c.rate_30d : null), "ab30",
               LEVEL_CLASS[c.level_30d])),
      h("p", { class: "muted today" },
        t("cp.agents_detail", { ready: c.agents_ready, on_call: c.agents_on_call }), " · ",
        target),
      h("p", { class: "muted today cp-today" },
        t("cp.today", { attempts: c.attempts_today, contacts: c.contacts_today })));
  }));
}

// ---------------------------------------------------------------- thresholds (own view)

function editThresholds() {
  const queues = Object.keys(S.thresholds).length ? Object.keys(S.thresholds) : ["ALL"];
  const pick = h("select", { id: "th-queue" },
    queues.map((q) => new Option(q === "ALL" ? t("wb.all") : q, q)));
  const inputs = {};
  const grid = h("div", { class: "th-grid" }, h("span", {}), h("b", {}, t("th.warn")),
                 h("b", {}, t("th.alarm")));
  for (const f of FIGURES) {
    grid.append(h("label", { for: `th-${f}-warn` }, t(`th.${f}`)));
    for (const kind of ["warn", "alarm"]) {
      inputs[`${f}_${kind}`] = h("input", { id: `th-${f}-${kind}`, type: "number", min: 0,
                                            step: "any", size: 6 });
      grid.append(inputs[`${f}_${kind}`]);
    }
  }
  const fill = () => {
    const th = thresholdsFor(pick.value);
    for (const [key, input] of Object.entries(inputs)) {
      const v = th[key];
      input.value = PERCENT.has(key.replace(/_(warn|alarm)$/, "")) ? Math.round(v * 1000) / 10 : v;
    }
  };
  pick.addEventListener("change", fill);
  fill();
  const dialog = h("dialog", { id: "th-dialog" },
    h("form", { method: "dialog", class: "stack" },
      h("h2", {}, t("th.title")),
      h("label", { for: "th-queue" }, t("th.queue")), pick, grid,
      h("div", { class: "row" },
        h("button", { type: "submit", class: "primary", value: "ok", id: "th-save" }, t("common.save")),
        h("button", { type: "submit", value: "reset", id: "th-reset" }, t("th.reset")),
        h("button", { type: "submit", value: "cancel" }, t("common.cancel")))));
  dialog.addEventListener("close", () => {
    const queue = pick.value;
    if (dialog.returnValue === "reset") {
      delete S.localThresholds[queue];
    } else if (dialog.returnValue === "ok") {
      const own = {};
      for (const [key, input] of Object.entries(inputs)) {
        const v = Number(input.value);
        if (input.value === "" || !Number.isFinite(v)) continue;
        own[key] = PERCENT.has(key.replace(/_(warn|alarm)$/, "")) ? v / 100 : v;
      }
      S.localThresholds[queue] = own;
      toast(t("th.saved", { queue: queue === "ALL" ? t("wb.all") : queue }), "ok");
    }
    dialog.remove();
    if (dialog.returnValue !== "cancel") {
      saveLocalThresholds();
      S.levels.clear();  // new thresholds: the current levels are the new baseline
      for (const q of S.queues.values()) checkAlerts(q, { baseline: true });
      renderTiles();
    }
  });
  document.body.append(dialog);
  dialog.showModal();
}

// ---------------------------------------------------------------- trend (uPlot)

/** A point of the server's series (`wallboard.trend`), or the open minute from a queue row. */
function upsertTrend(queue, t0, waiting, sl, { day = null, live = false } = {}) {
  if (day && day !== S.trend.day) {
    if (day < S.trend.day) return;
    S.trend = { day, queues: {} };  // the centre's midnight: a new day
  }
  const s = S.trend.queues[queue] || (S.trend.queues[queue] = { t: [], waiting: [], service_level: [] });
  const last = s.t.length - 1;
  if (last >= 0 && s.t[last] === t0) {
    s.waiting[last] = live ? Math.max(s.waiting[last], waiting) : waiting;
    s.service_level[last] = sl;
  } else if (last < 0 || t0 > s.t[last]) {
    s.t.push(t0);
    s.waiting.push(waiting);
    s.service_level.push(sl);
  }
}

function trendQueues() {
  const names = Object.keys(S.trend.queues).filter((q) => q !== "ALL").sort();
  return ["ALL", ...names];
}

function renderTrendPicker() {
  const names = trendQueues();
  const have = [...ui.trendQueue.options].map((o) => o.value);
  if (have.join() === names.join()) return;
  clear(ui.trendQueue, names.map((q) => new Option(q === "ALL" ? t("wb.all") : q, q)));
  ui.trendQueue.value = names.includes(S.trendQueue) ? S.trendQueue : "ALL";
}

function renderChart() {
  renderTrendPicker();
  if (typeof window.uPlot === "undefined") return;  // the deferred script is still loading
  const s = S.trend.queues[S.trendQueue] || { t: [], waiting: [], service_level: [] };
  const data = [s.t, s.waiting, s.service_level.map((v) => (v == null ? null : Math.round(v * 1000) / 10))];
  if (chart) {
    chart.setData(data, false);
    showWindow(s.t);
    return;
  }
  const width = Math.max(ui.chart.clientWidth || 400, 300);
  chart = new window.uPlot({
    width, height: 220,
    tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1e3),
                                        userTimeZone() || Intl.DateTimeFormat().resolvedOptions().timeZone),
    series: [
      {},
      { label: t("trend.waiting"), stroke: "#1f6feb", width: 2, scale: "calls" },
      { label: t("trend.sl"), stroke: "#1a7f37", width: 2, scale: "%" },
    ],
    scales: { x: { time: true, auto: false }, "%": { range: [0, 100] } },
    axes: [{}, { scale: "calls" }, { scale: "%", side: 1, grid: { show: false } }],
  }, data, ui.chart);
  showWindow(s.t);
}

/** The x axis spans the day so far, at least the last hour (a fresh day has few points). */
function showWindow(ts) {
  const now = Date.now() / 1000;
  const first = ts.length ? ts[0] : now;
  chart.setScale("x", { min: Math.min(first, now - 3600), max: Math.max(now, ts[ts.length - 1] || now) + MINUTE_S });
}

// ---------------------------------------------------------------- websocket

function applySnapshot(data) {
  S.queues = new Map((data.queues || []).map((q) => [q.queue, q]));
  S.agents = new Map((data.agents || []).map((a) => [a.agent_id, a]));
  if (data.thresholds) S.thresholds = data.thresholds;
  if (data.campaigns) S.campaigns = new Map(data.campaigns.map((c) => [c.campaign_id, c]));
  if (data.trend) S.trend = { day: data.trend.day, queues: structuredClone(data.trend.queues) };
  // The first snapshot is the baseline; after a reconnect, what got worse meanwhile alerts.
  const first = !S.levels.size;
  for (const q of S.queues.values()) checkAlerts(q, { baseline: first });
  for (const [id, c] of S.calls) {
    // Calls whose end we may have missed: keep only those an agent still holds, or waiting ones.
    if (c.agent_id && S.agents.get(c.agent_id)?.call_id !== id) S.calls.delete(id);
  }
  renderAll();
  loadCalls();
}

/** The calls already going when the page (re)connected: the snapshot has queue and agent rows
 * only, and a supervisor's row would show "●" for a call whose offer came before the page. */
async function loadCalls() {
  if (kiosk) return;  // no customer data on a TV
  let calls;
  try {
    calls = await api("/api/calls");
  } catch {
    return;  // the live events still fill the table
  }
  for (const c of calls) {
    const agentId = c.agent?.user || null;
    if (S.calls.has(c.call_id) || (!c.queue && !agentId)) continue;  // known, or in the IVR
    S.calls.set(c.call_id, {
      call_id: c.call_id, queue: c.queue || null, agent_id: agentId,
      number: (c.direction === "outbound" ? c.dialled || c.caller_num : c.caller_num || c.dialled),
      state: c.answered_at ? "talking" : agentId ? "ringing" : "queued",
      since: c.answered_at || c.queued_at || c.offered_at,
    });
  }
  renderCalls();
  renderAgents();
}

function applyEvent(rawTopic, data, msg) {
  const topic = rawTopic.replace(/^acd\./, "");
  const ts = msg.ts || Date.now() / 1000;
  if (topic === "queue.stats") {
    S.queues.set(data.queue, data);
    checkAlerts(data);
    renderTiles();
    renderAlerts();
    // The open minute moves with the tiles; the server's point replaces it when it closes.
    upsertTrend(data.queue, Math.floor(ts / MINUTE_S) * MINUTE_S, data.waiting,
                data.service_level, { live: true });
    if (data.queue === S.trendQueue) renderChart();
  } else if (topic === "wallboard.trend") {
    upsertTrend(data.queue, data.t, data.waiting, data.service_level, { day: data.day });
    if (data.queue === S.trendQueue) renderChart();
  } else if (topic === "wallboard.campaign") {
    S.campaigns.set(data.campaign_id, data);
    renderCampaigns();
  } else if (topic === "desktop.agent_row") {
    S.agents.set(data.agent_id, data);
    for (const [id, c] of S.calls) {
      // A call the agent no longer holds ended without an event this stream carries.
      if (c.agent_id === data.agent_id && data.call_id !== id && c.state !== "queued") {
        S.calls.delete(id);
      }
    }
    renderCalls();
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

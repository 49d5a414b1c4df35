// The agent desktop: state controls, the offered/current call, the screen-pop, wrap-up with a
// disposition, today's numbers, and the softphone panel when the server has one for this agent.
//
// Everything live arrives over the websocket (docs/websocket.md): the agent's state, offers,
// screen-pops, answers and hang-ups, and a snapshot after every (re)connection that missed
// events. Actions go over the socket when it is up (the same checks as REST), else over REST.
//
// Calls the ACD did not route (a click-to-dial, a preview dial, a call transferred to me) have
// no acd.call.* events: the hub's pbx.call.* frames drive them. A call placed from my phone
// arrives as pbx.call.dialling the moment Asterisk accepts the Originate, then answered and
// ended (or originate_failed); nothing is polled. Only a (re)connection that lost track of such
// a call reads it once over REST (adoptMyCall, refreshCall).
// Keyboard: Alt+A answer, Alt+H hang up, Alt+R ready, Alt+P pause, Alt+W end wrap-up,
// Alt+D dial, Alt+N notes; everything else is reachable with Tab.

import { requireLogin, Hub, connectionBadge, h, clear, api, showError, toast, logout,
         applyUserLocale, languageSwitcher, ApiError } from "/static/app.js";
import { t, addStrings, onLanguageChange, setDefaultLanguage, setUserLocale,
         fmtDuration, fmtTime, fmtPercent, fmtPhone, language } from "/static/i18n.js";
import { renderScreenPop, renderCustomer, dialLink } from "/static/screenpop.js";
import { campaignOfCall, mountCampaignPanel } from "/static/campaign.js";

addStrings({
  en: {
    "desk.title": "Agent desktop",
    "desk.skip": "Skip to the caller's record",
    "state.title": "My status",
    "state.logged_out": "Logged out", "state.available": "Ready", "state.reserved": "Ringing",
    "state.on_call": "On a call", "state.wrap_up": "Wrap-up", "state.paused": "Paused",
    "state.unknown": "Not in the ACD",
    "state.since": "for {d}",
    "act.login": "Log in to the ACD", "act.ready": "Ready", "act.pause": "Pause",
    "act.reason": "Pause reason", "act.end_wrap": "End wrap-up", "act.logout": "Log out of the ACD",
    "act.pending_pause": "Pause after this call requested",
    "act.pending_logout": "Log-out after this call requested",
    "call.title": "Call", "call.none": "No call.",
    "call.ringing": "Ringing", "call.talking": "Talking", "call.ended": "Ended", "call.held": "On hold",
    "call.dialing": "Dialling", "call.hold_for": "on hold {d}", "call.held_total": "held {d} in all",
    "call.transferred_away": "Call from {number} transferred to {target}",
    "call.transferred_in": "Transferred to you by {from}",
    "call.not_answered": "The call to {number} was not answered",
    "call.answer": "Answer", "call.answer_desk": "Answer on your desk phone",
    "call.hangup": "Hang up", "call.hold": "Hold", "call.unhold": "Resume",
    "call.transfer": "Transfer", "call.transfer_to": "Transfer to (number or extension)",
    "call.notes": "Call notes", "call.queue": "Queue", "call.duration": "Duration",
    "call.offer": "Incoming call from {number}",
    "call.missed": "The call was taken back (not answered in time, or the caller hung up)",
    "dial.title": "Dial", "dial.number": "Number", "dial.go": "Call",
    "dial.started": "Your phone rings first, then {number} is dialled",
    "wrap.title": "Wrap-up", "wrap.disposition": "Disposition", "wrap.notes": "Notes",
    "wrap.save": "Save and finish", "wrap.saved": "Wrap-up saved: {code}",
    "wrap.for": "Call {id} from {number}",
    "wrap.no_record": "The call's CRM record was not found yet; try again in a moment",
    "stats.title": "Today", "stats.calls": "Calls handled", "stats.talk": "On calls",
    "stats.paused": "Paused", "stats.available": "Ready",
    "stats.queue": "Queue", "stats.waiting": "Waiting", "stats.longest": "Longest wait",
    "stats.sl": "Service level",
    "keys.title": "Keyboard",
    "keys.answer": "answer", "keys.hangup": "hang up", "keys.ready": "ready", "keys.pause": "pause",
    "keys.wrap": "end wrap-up", "keys.dial": "dial", "keys.notes": "notes",
    "notify.enable": "Enable notifications",
    "softphone.title": "Softphone",
  },
  "zh-CN": {
    "desk.title": "坐席工作台",
    "desk.skip": "跳到来电客户资料",
    "state.title": "我的状态",
    "state.logged_out": "已签出", "state.available": "就绪", "state.reserved": "振铃中",
    "state.on_call": "通话中", "state.wrap_up": "话后处理", "state.paused": "暂停",
    "state.unknown": "未签入 ACD",
    "state.since": "已 {d}",
    "act.login": "签入 ACD", "act.ready": "就绪", "act.pause": "暂停",
    "act.reason": "暂停原因", "act.end_wrap": "结束话后处理", "act.logout": "签出 ACD",
    "act.pending_pause": "已申请本次通话后暂停",
    "act.pending_logout": "已申请本次通话后签出",
    "call.title": "通话", "call.none": "当前无通话。",
    "call.ringing": "振铃中", "call.talking": "通话中", "call.ended": "已结束", "call.held": "保持中",
    "call.dialing": "拨号中", "call.hold_for": "已保持 {d}", "call.held_total": "共保持 {d}",
    "call.transferred_away": "来自 {number} 的通话已转接到 {target}",
    "call.transferred_in": "由 {from} 转接给您",
    "call.not_answered": "呼叫 {number} 未接通",
    "call.answer": "接听", "call.answer_desk": "请在话机上接听",
    "call.hangup": "挂断", "call.hold": "保持", "call.unhold": "恢复",
    "call.transfer": "转接", "call.transfer_to": "转接到（号码或分机）",
    "call.notes": "通话备注", "call.queue": "队列", "call.duration": "时长",
    "call.offer": "来电：{number}",
    "call.missed": "来电已收回（未及时接听或客户已挂机）",
    "dial.title": "外呼", "dial.number": "号码", "dial.go": "呼叫",
    "dial.started": "您的话机会先振铃，随后拨打 {number}",
    "wrap.title": "话后处理", "wrap.disposition": "处理结果", "wrap.notes": "备注",
    "wrap.save": "保存并结束", "wrap.saved": "已保存处理结果：{code}",
    "wrap.for": "通话 {id}，来电 {number}",
    "wrap.no_record": "尚未找到该通话的 CRM 记录，请稍后再试",
    "stats.title": "今日", "stats.calls": "已处理来电", "stats.talk": "通话时间",
    "stats.paused": "暂停时间", "stats.available": "就绪时间",
    "stats.queue": "队列", "stats.waiting": "排队", "stats.longest": "最长等待",
    "stats.sl": "服务水平",
    "keys.title": "快捷键",
    "keys.answer": "接听", "keys.hangup": "挂断", "keys.ready": "就绪", "keys.pause": "暂停",
    "keys.wrap": "结束话后处理", "keys.dial": "外呼", "keys.notes": "备注",
    "notify.enable": "开启桌面通知",
    "softphone.title": "软电话",
  },
});

// ---------------------------------------------------------------- state

const S = {
  me: null,            // GET /api/me
  config: null,        // GET /api/desktop/config
  agent: null,         // the ACD's view of me: state, pause_reason, state_since, calls_today...
  pending: null,       // "pause" | "logout" requested for after the call
  call: null,          // {call_id, queue, number, status, offered_at, answered_at, ended_at,
                       //  held, held_since, held_total_s, acd, from_agent, pushed}
  callNote: null,      // what happened to the last call that left the desktop (transferred away)
  pop: null,           // the desktop.screen_pop data of the current/last call
  popRestored: false,  // the pop came from a snapshot after a gap
  customer: null,      // the customer view on screen (for refreshes after quick actions)
  wrap: null,          // the call awaiting its disposition
  stats: {},           // the snapshot's stats (calls_today, time_in_state_s, queues)
  queues: new Map(),   // queue name -> latest acd.queue.stats row
  hubOnline: false,
  softphone: null,     // the mounted softphone (answer(), hangup(), state)
  recent: [],          // the last events (topic, seq, call id), for support and the tests
  over: new Set(),     // ids of calls pushed as over (a late REST read must not revive one)
};

const ui = {};
let hub;

// ---------------------------------------------------------------- start

async function main() {
  S.me = await requireLogin();
  S.config = await api("/api/desktop/config");
  setDefaultLanguage(S.config.language);
  setUserLocale({ timezone: S.config.timezone, country: S.config.country });
  const [badge, onStatus] = connectionBadge();
  ui.badge = badge;
  buildLayout();
  try {
    setAgent(await api("/api/acd/me"));
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) showError(err);
    setAgent(null);
  }
  hub = new Hub({
    onStatus: (status, detail) => {
      S.hubOnline = status === "online";
      onStatus(status, detail);
      if (status === "online" && detail.resumed) toast(t("conn.resumed"), "info");
    },
    onWelcome: (msg) => {
      applyUserLocale(msg.user);
    },
    onSnapshot: (data, reason) => applySnapshot(data, reason),
    onEvent: (topic, data, msg) => applyEvent(topic, data, msg),
    onValue: (topic, data) => {
      if (topic !== "desktop.queue_stats") return;
      // Only the queues whose figures changed: merged by queue.
      for (const q of data.queues || []) S.queues.set(q.queue, q);
      renderStats();
    },
  });
  hub.connect();
  window.desktop = { hub, state: S };  // for the page tests and for support staff
  setInterval(tick, 1000);
  document.addEventListener("keydown", onKey);
  document.addEventListener("pointerdown", unlockAudio, { once: true });
  document.addEventListener("keydown", unlockAudio, { once: true });
  onLanguageChange(() => buildLayout());
  loadSoftphone();
  mountCampaignPanel(ui.campaign, { state: S, finishWrap, placedCall });  // outbound: campaign.js
}

// ---------------------------------------------------------------- layout

function buildLayout() {
  document.title = t("desk.title");
  ui.topbar = document.getElementById("topbar");
  ui.who = h("span", { class: "who" }, S.config.user.display_name || S.me.username,
    S.config.user.extension ? ` · ${S.config.user.extension}` : "");
  ui.stateBadge = h("span", { class: "badge", id: "state-badge" });
  clear(ui.topbar,
    h("a", { href: "#screen-pop", class: "skip", "data-i18n": "desk.skip" }, t("desk.skip")),
    h("span", { class: "brand", "data-i18n": "desk.title" }, t("desk.title")),
    ui.stateBadge, ui.badge, ui.who, languageSwitcher(),
    "Notification" in window && Notification.permission === "default"
      ? h("button", { type: "button", id: "notify-enable", onclick: (ev) => {
          Notification.requestPermission().finally(() => ev.target.remove());
        } }, t("notify.enable")) : null,
    h("button", { type: "button", onclick: logout }, t("common.logout")));

  ui.gap = h("div", { class: "notice warn", id: "gap-notice", hidden: true });
  ui.agentPanel = h("section", { class: "panel", id: "agent-panel", "aria-labelledby": "agent-h" });
  ui.callPanel = h("section", { class: "panel", id: "call-panel", "aria-live": "polite" });
  ui.wrapPanel = h("section", { class: "panel", id: "wrap-panel", hidden: true });
  ui.dialPanel = h("section", { class: "panel", id: "dial-panel" });
  ui.statsPanel = h("section", { class: "panel", id: "stats-panel" });
  // Kept across rebuilds (a language switch): the softphone lives in it.
  ui.softphone = ui.softphone || h("section", { class: "panel", id: "softphone", hidden: true });
  // Kept across rebuilds too: campaign.js renders it (and follows the language itself).
  ui.campaign = ui.campaign || h("section", { class: "panel", id: "campaign-panel", hidden: true });
  ui.keys = h("section", { class: "panel", id: "keys-panel" });
  // The skip link's and an offer notification's target: named by its heading (not by all of
  // its text), with the focus ring showing where the focus went.
  ui.pop = h("section", { class: "panel", id: "screen-pop", tabindex: "-1",
                          "aria-labelledby": "pop-h" });
  const main = document.getElementById("main");
  clear(main, ui.gap, h("div", { class: "grid-2" },
    h("div", { class: "col stack" }, ui.agentPanel, ui.callPanel, ui.wrapPanel, ui.campaign,
      ui.softphone,
      ui.dialPanel, ui.statsPanel, ui.keys),
    h("div", { class: "col" }, ui.pop)));
  renderAll();
}

function renderAll() {
  renderAgent();
  renderCall();
  renderWrap();
  renderDial();
  renderStats();
  renderKeys();
  renderPop();
}

// ---------------------------------------------------------------- agent state

function setAgent(agent) {
  S.agent = agent ? { ...agent } : null;
  if (agent && agent.state !== "on_call" && agent.state !== "reserved" && agent.state !== "wrap_up") {
    S.pending = null;
  }
  renderAgent();
}

function stateName(state) {
  return state ? t(`state.${state}`) : t("state.unknown");
}

function renderAgent() {
  const a = S.agent;
  const state = a?.state || null;
  ui.stateBadge.className = `badge state-${state || "logged_out"}`;
  ui.stateBadge.textContent = stateName(state);
  ui.stateBadge.dataset.state = state || "none";
  const reasons = S.config.pause_codes;
  ui.reason = h("select", { id: "pause-reason", "aria-label": t("act.reason") },
    reasons.map((r) => new Option(r, r)));
  if (a?.pause_reason && reasons.includes(a.pause_reason)) ui.reason.value = a.pause_reason;
  const inAcd = state && state !== "logged_out";
  const busy = state === "on_call" || state === "reserved";
  clear(ui.agentPanel,
    h("h2", { id: "agent-h" }, t("state.title")),
    h("p", { class: "state-line" },
      h("span", { class: `badge state-${state || "logged_out"}`, id: "agent-state",
                  dataset: { state: state || "none" } },
        stateName(state), a?.pause_reason ? ` · ${a.pause_reason}` : ""),
      " ", h("span", { class: "muted num", id: "state-timer" }, sinceText())),
    S.pending ? h("p", { class: "notice" }, t(`act.pending_${S.pending}`)) : null,
    h("div", { class: "row" },
      inAcd ? null : h("button", { type: "button", id: "btn-login", class: "primary",
                                   onclick: acdLogin }, t("act.login")),
      h("button", { type: "button", id: "btn-ready", class: "primary",
                    disabled: !inAcd || state === "available" || busy,
                    onclick: () => changeState({ state: "available" }) },
        t("act.ready"), h("kbd", {}, "Alt+R")),
      ui.reason,
      h("button", { type: "button", id: "btn-pause", disabled: !inAcd || state === "paused",
                    onclick: pause }, t("act.pause"), h("kbd", {}, "Alt+P")),
      h("button", { type: "button", id: "btn-end-wrap", disabled: state !== "wrap_up",
                    onclick: () => changeState({ state: "wrap_up_end" }) },
        t("act.end_wrap"), h("kbd", {}, "Alt+W")),
      h("button", { type: "button", id: "btn-acd-logout", disabled: !inAcd,
                    onclick: () => changeState({ state: "logged_out" }) }, t("act.logout"))));
}

function sinceText() {
  if (!S.agent?.state_since) return "";
  return t("state.since", { d: fmtDuration(Date.now() / 1000 - S.agent.state_since) });
}

async function acdLogin() {
  try {
    setAgent(await api("/api/acd/me/login", { method: "POST", body: {} }));
  } catch (err) {
    showError(err);
  }
}

function pause() {
  const busy = ["on_call", "reserved", "wrap_up"].includes(S.agent?.state);
  changeState({ state: "paused", reason: ui.reason.value, after_call: busy && S.agent?.state !== "wrap_up" });
}

const REST_OF_STATE = {
  available: ["/api/acd/me/available"],
  wrap_up_end: ["/api/acd/me/end-wrapup"],
  logged_out: ["/api/acd/me/logout-after-call"],
};

/** One state change: over the socket when it is up, else REST (same checks either way). */
async function changeState(args) {
  let body;
  try {
    if (S.hubOnline) {
      body = await hub.command("agent.state", args);
    } else if (args.state === "paused") {
      const path = args.after_call ? "/api/acd/me/pause-after-call" : "/api/acd/me/pause";
      body = await api(path, { method: "POST", body: { reason: args.reason } });
    } else {
      body = await api(REST_OF_STATE[args.state][0], { method: "POST" });
    }
  } catch (err) {
    showError(err);
    return;
  }
  if (body?.status === "pause_pending") S.pending = "pause";
  else if (body?.status === "logout_pending") S.pending = "logout";
  if (body && typeof body.state === "string") setAgent(body);
  else if (body?.status === "logged_out") setAgent({ ...S.agent, state: "logged_out", state_since: Date.now() / 1000 });
  else renderAgent();
}

// ---------------------------------------------------------------- call

function renderCall() {
  const c = S.call;
  const panel = ui.callPanel;
  const note = S.callNote
    ? h("p", { class: "notice", id: "call-note", dataset: { kind: S.callNote.kind } }, S.callNote.text)
    : null;
  if (!c) {
    clear(panel, h("h2", {}, t("call.title")), note,
      h("p", { class: "muted", id: "call-none" }, t("call.none")));
    return;
  }
  const status = c.held ? "held" : c.status;
  const live = LIVE.has(c.status);
  ui.transfer = h("input", { id: "transfer-to", "aria-label": t("call.transfer_to"),
                             placeholder: t("call.transfer_to"), maxlength: 40 });
  ui.notes = h("textarea", { id: "call-notes", "aria-label": t("call.notes"), maxlength: 5000 });
  ui.notes.value = c.notes || "";
  ui.notes.addEventListener("input", () => { c.notes = ui.notes.value; });
  const answerable = c.status === "ringing";
  const hangable = live && !offerOnDeskPhone(c);
  // ACD-routed calls too: the ACD holds its own callers (acd/hold.py).
  const holdable = c.status === "talking";
  clear(panel,
    h("h2", {}, t("call.title"),
      h("span", { class: `badge call-${status}`, id: "call-status", dataset: { status } },
        t(`call.${status}`))),
    note,
    c.from_agent ? h("p", { class: "notice", id: "call-transferred-in" },
      t("call.transferred_in", { from: c.from_agent_name || c.from_agent })) : null,
    h("dl", { class: "facts" },
      h("dt", {}, t("dial.number")), h("dd", { id: "call-number" }, dialLink(c.number, { dial })),
      h("dt", {}, t("call.queue")), h("dd", {}, c.queue || "–"),
      h("dt", {}, t("call.duration")), h("dd", { class: "num", id: "call-timer" }, callTimer())),
    c.held || c.held_total_s
      ? h("p", { class: "muted num", id: "call-hold-timer" }, holdText()) : null,
    h("div", { class: "row" },
      h("button", { type: "button", id: "btn-answer", class: "primary", disabled: !answerable,
                    title: S.softphone ? null : t("call.answer_desk"), onclick: answer },
        t("call.answer"), h("kbd", {}, "Alt+A")),
      h("button", { type: "button", id: "btn-hangup", class: "danger", disabled: !hangable,
                    onclick: hangup }, t("call.hangup"), h("kbd", {}, "Alt+H")),
      h("button", { type: "button", id: "btn-hold", disabled: !holdable,
                    "aria-pressed": c.held ? "true" : "false",
                    onclick: toggleHold }, c.held ? t("call.unhold") : t("call.hold"))),
    h("form", { class: "row", id: "transfer-form", onsubmit: (ev) => { ev.preventDefault(); transfer(); } },
      ui.transfer,
      h("button", { type: "submit", id: "btn-transfer", disabled: c.status !== "talking" }, t("call.transfer"))),
    h("label", { for: "call-notes" }, t("call.notes"), h("kbd", {}, "Alt+N")), ui.notes);
}

const LIVE = new Set(["dialing", "ringing", "talking"]);

function callTimer() {
  const c = S.call;
  if (!c) return "";
  const from = c.answered_at || c.offered_at;
  const to = c.ended_at || Date.now() / 1000;
  return from ? fmtDuration(to - from) : "";
}

/** "on hold 0:12" while held; "held 0:40 in all" after. */
function holdText() {
  const c = S.call;
  if (!c) return "";
  const now = c.ended_at || Date.now() / 1000;
  if (c.held) return t("call.hold_for", { d: fmtDuration(now - c.held_since) });
  return c.held_total_s ? t("call.held_total", { d: fmtDuration(c.held_total_s) }) : "";
}

function setHeld(c, held, at) {
  if (!!c.held === held) return;
  if (held) {
    c.held_since = at;
  } else {
    c.held_total_s = (c.held_total_s || 0) + Math.max(0, at - (c.held_since || at));
    c.held_since = null;
  }
  c.held = held;
}

function answer() {
  if (S.call?.status !== "ringing") return;
  if (S.softphone) {
    try {
      S.softphone.answer();
    } catch (err) {
      showError(err);
    }
  } else {
    toast(t("call.answer_desk"), "info");
  }
}

async function callAction(path, body) {
  try {
    return await api(path, { method: "POST", body });
  } catch (err) {
    showError(err);
    return null;
  }
}

/**
 * An ACD offer ringing a desk phone: it is answered (or let ring) on the phone. The server has
 * nothing to hang up for the agent until they answer (the call is not theirs yet: 403), so
 * Hang up and Alt+H are off; the softphone rejects the offer instead.
 */
function offerOnDeskPhone(c) {
  return c.acd && c.status === "ringing" && !(S.softphone && S.softphone.state
                                              && S.softphone.state !== "idle");
}

async function hangup() {
  const c = S.call;
  if (!c || !LIVE.has(c.status) || offerOnDeskPhone(c)) return;
  if (S.softphone && S.softphone.state && S.softphone.state !== "idle") {
    try {
      S.softphone.hangup();
      return;
    } catch { /* fall back to the server */ }
  }
  await callAction(`/api/calls/${encodeURIComponent(c.call_id)}/hangup`);
}

async function toggleHold() {
  const c = S.call;
  if (!c) return;
  const on = !c.held;
  const res = await callAction(`/api/calls/${encodeURIComponent(c.call_id)}/${on ? "hold" : "unhold"}`);
  // The server accepted it: shown at once; the hub's pbx.call.held/unheld confirm it.
  if (res && S.call === c) {
    setHeld(c, on, Date.now() / 1000);
    renderCall();
  }
}

async function transfer() {
  const c = S.call;
  const number = ui.transfer.value.trim();
  if (!c || !number) return;
  const res = await callAction(`/api/calls/${encodeURIComponent(c.call_id)}/transfer`, { number });
  if (res && S.call === c) transferredAway(c, number);
}

/** My part of the call is over: it leaves the desktop with a note; its wrap-up stays. */
function transferredAway(c, target) {
  c.ended_at = c.ended_at || Date.now() / 1000;
  if (c.held) setHeld(c, false, c.ended_at);
  S.callNote = { kind: "transferred", call_id: c.call_id,
                 text: t("call.transferred_away", { number: fmtPhone(c.number || ""),
                                                    target: fmtPhone(target || "") }) };
  if (c.answered_at || c.status === "talking") startWrap(c);
  S.call = null;
  stopRing();
  renderCall();
}

async function dial(number) {
  const res = await callAction("/api/calls/dial", { number });
  if (res) {
    toast(t("dial.started", { number: fmtPhone(number) }), "ok");
    placedCall(res.call_id, number);
  }
}

/**
 * A call this desktop placed (click-to-dial, a campaign's preview dial): on screen at once. Its
 * pbx.call.dialling push may have come first (then it is already here, maybe further along).
 */
function placedCall(callId, number) {
  if (S.call?.call_id === callId || S.over.has(callId)) return;
  S.callNote = null;
  S.call = { call_id: callId, number, status: "dialing", offered_at: Date.now() / 1000,
             notes: "", acd: false };
  renderCall();
  popForPlacedCall(callId, number);
  checkStillDialling(S.call);
}

/**
 * A placed call still "dialling" [pages].placed_call_check_s (a minute) on, with nothing pushed
 * about it since: its phone may never have rung (no channel, so no pbx.call.ended), so it is
 * read once: gone -> over; answered -> talking.
 */
function checkStillDialling(c) {
  setTimeout(() => {
    if (S.call === c && c.status === "dialing" && !c.heard) refreshCall(c);
  }, (S.config.placed_call_check_s ?? 60) * 1000);
}

/** pbx.call.dialling: Asterisk accepted an Originate that rings my phone first. */
function dialling(data, ts) {
  if (data.user !== S.me.username || S.over.has(data.call_id)) return;
  if (S.call?.call_id === data.call_id) {
    S.call.pushed = true;  // placed here, or offered by the ACD (a callback): already shown
    return;
  }
  if (S.call && LIVE.has(S.call.status)) return;  // busy with another call: not mine to show
  S.callNote = null;
  S.call = { call_id: data.call_id, number: data.dialled, status: "dialing",
             offered_at: data.at || ts, notes: "", acd: false, pushed: true };
  renderCall();
  popForPlacedCall(data.call_id, data.dialled);
  checkStillDialling(S.call);
}

/** pbx.call.originate_failed: the call I placed could not be made (my phone did not answer). */
function originateFailed(data, ts) {
  const id = data.call_id || data.cti_call_id;
  const c = S.call;
  if (!c || (c.call_id !== id && c.call_id !== data.cti_call_id) || c.status === "ended") return;
  c.status = "ended";
  c.ended_at = ts;
  S.over.add(c.call_id);
  endedHere(c);
}

/**
 * The record of the person this desktop calls. Calling back the customer on screen keeps their
 * pop; anyone else (a campaign's lead, a number typed in) gets their own, as the hub builds one
 * for an offer (GET /api/lookup: known, several customers to choose from, or a new-customer
 * form), so the previous caller's record is never left beside a call to someone else.
 */
async function popForPlacedCall(callId, number) {
  const phones = (S.pop?.customer?.phones || []).map((p) => p.e164);
  if (S.pop?.status === "known" && phones.includes(number)) return;
  let found = null;
  let error = null;
  try {
    found = await api(`/api/lookup?phone=${encodeURIComponent(number)}`);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) error = String(err.message || err);
  }
  if (S.call?.call_id !== callId) return;
  const status = !found ? "unknown" : found.ambiguous ? "ambiguous" : "known";
  S.pop = { call_id: callId, agent_id: S.me.username, queue: "", caller_number: number,
            waited_s: null, offered_at: S.call.offered_at, ivr: null, status,
            customer: status === "known" ? found : null, matches: found?.matches || [],
            error };
  S.popRestored = false;
  S.customer = null;
  renderPop();
}

/**
 * One read of a call of mine the hub's snapshot does not carry, after a reconnection that may
 * have missed its pushes (those that come after the snapshot keep it current from then on).
 */
async function refreshCall(c) {
  let view;
  try {
    view = await api(`/api/calls/${encodeURIComponent(c.call_id)}`);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) showError(err);
    else callGone(c);  // the tracker has forgotten it: over
    return;
  }
  if (S.call === c && !S.over.has(c.call_id)) applyCallView(c, view, Date.now() / 1000);
}

/**
 * A live call of mine the snapshot does not carry (the hub keeps the ACD's calls and transferred
 * ones): a click-to-dial or preview dial when the page was reloaded or reconnected.
 */
async function adoptMyCall() {
  let calls;
  try {
    calls = await api("/api/calls/mine");
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) showError(err);
    return;
  }
  const view = calls.find((c) => c.ended_at == null && !S.over.has(c.call_id));
  if (!view || (S.call && LIVE.has(S.call.status))) return;
  const now = Date.now() / 1000;
  const c = { call_id: view.call_id, queue: view.queue || "", status: "dialing", notes: "",
              number: view.direction === "outbound" ? view.dialled : view.caller_num,
              offered_at: view.offered_at || now, acd: false };
  S.call = c;
  applyCallView(c, view, now);
  if (c.status === "talking" && view.answered_at) c.answered_at = view.answered_at;
  renderCall();
  popForPlacedCall(c.call_id, c.number);
}

function callGone(c) {
  if (S.call !== c) return;
  c.status = "ended";
  c.ended_at = Date.now() / 1000;
  endedHere(c);
}

/** Brings a call on the desktop up to date with the tracker's view of it (CallView). */
function applyCallView(c, view, at) {
  const before = `${c.status}/${c.held}`;
  if (view.ended_at != null) {
    c.status = "ended";
    c.ended_at = c.ended_at || at;
  } else if (view.answered_at != null) {
    if (c.status !== "talking") c.answered_at = c.answered_at || at;
    c.status = "talking";
  } else if (c.status !== "dialing") {
    c.status = "ringing";
  }
  const held = (view.legs || []).some((leg) => leg.ended_at == null && leg.on_hold);
  setHeld(c, held, at);
  if (!c.number) c.number = view.direction === "outbound" ? view.dialled : view.caller_num;
  if (`${c.status}/${c.held}` === before) return;
  if (c.status === "ended") endedHere(c);
  else renderCall();
}

/** A call not routed by the ACD ended: wrap it up if it was talked on, else it just goes. */
function endedHere(c) {
  if (c.held) setHeld(c, false, c.ended_at);
  stopRing();
  if (c.answered_at) {
    startWrap(c);
  } else {
    toast(t("call.not_answered", { number: fmtPhone(c.number || "") }), "info");
    S.call = null;
  }
  renderCall();
}

function renderDial() {
  ui.dialInput = h("input", { id: "dial-number", "aria-label": t("dial.number"), maxlength: 40,
                              placeholder: t("dial.number"), inputmode: "tel" });
  const form = h("form", { class: "row", id: "dial-form" }, ui.dialInput,
    h("button", { type: "submit" }, t("dial.go"), h("kbd", {}, "Alt+D")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const number = ui.dialInput.value.trim();
    if (number) dial(number);
  });
  clear(ui.dialPanel, h("h2", {}, t("dial.title")), form);
}

// ---------------------------------------------------------------- wrap-up

function dispositionsFor(queue) {
  const q = S.config.queues.find((x) => x.name === queue);
  return q ? q.dispositions : S.config.dispositions;
}

function renderWrap() {
  const w = S.wrap;
  // A dialer call is wrapped up in the campaign panel (its disposition also updates the lead);
  // a second, generic form beside it would save an interaction the lead never hears of.
  ui.wrapPanel.hidden = !w || campaignOfCall(w.call_id) !== null;
  if (ui.wrapPanel.hidden) return;
  const codes = dispositionsFor(w.queue);
  const select = h("select", { id: "wrap-disposition", required: true },
    new Option("—", ""), codes.map((c) => new Option(c, c)));
  const notes = h("textarea", { id: "wrap-notes", maxlength: 5000 });
  notes.value = w.notes || "";
  const form = h("form", { class: "stack", id: "wrap-form" },
    h("p", { class: "muted" }, t("wrap.for", { id: w.call_id, number: fmtPhone(w.number || "") })),
    h("label", { for: "wrap-disposition" }, t("wrap.disposition")), select,
    h("label", { for: "wrap-notes" }, t("wrap.notes")), notes,
    h("button", { type: "submit", class: "primary", id: "wrap-save" }, t("wrap.save"),
      h("kbd", {}, "Alt+W")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    saveWrap(select.value, notes.value, form.querySelector("button"));
  });
  clear(ui.wrapPanel, h("h2", {}, t("wrap.title")), form);
}

/** The interaction the server wrote for the call (it may take a moment after the hang-up). */
async function interactionOf(callId) {
  for (let attempt = 0; attempt < 8; attempt += 1) {
    const page = await api(`/api/interactions?call_id=${encodeURIComponent(callId)}&limit=1`);
    if (page.items.length) return page.items[0];
    await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
  }
  return null;
}

/** A call's disposition was saved elsewhere (the campaign panel): the wrap-up is over. */
async function finishWrap(callId) {
  if (S.wrap?.call_id === callId) {
    S.wrap = null;
    renderWrap();
    if (S.agent?.state === "wrap_up") await changeState({ state: "wrap_up_end" });
  }
  if (S.call && S.call.call_id === callId && S.call.status === "ended") {
    S.call = null;
    renderCall();
  }
}

/**
 * A call transferred to me is on the record of the agent it was offered to: the server lets me
 * write it once my part of the call (its segment) is stored, which happens as the call ends.
 */
async function patchInteraction(id, body, transferredToMe) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await api(`/api/interactions/${id}`, { method: "PATCH", body });
    } catch (err) {
      if (!transferredToMe || attempt >= 6 || !(err instanceof ApiError) || err.status !== 403) {
        throw err;
      }
      await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
    }
  }
}

async function saveWrap(code, notes, button) {
  const w = S.wrap;
  if (!w || !code) return;
  button.disabled = true;
  try {
    const row = await interactionOf(w.call_id);
    if (!row) throw new Error(t("wrap.no_record"));
    await patchInteraction(row.id, { disposition: code, notes }, !!w.from_agent);
    toast(t("wrap.saved", { code }), "ok");
    S.wrap = null;
    renderWrap();
    if (S.agent?.state === "wrap_up") await changeState({ state: "wrap_up_end" });
    if (S.call && S.call.call_id === w.call_id && S.call.status === "ended") {
      S.call = null;
      renderCall();
    }
  } catch (err) {
    button.disabled = false;
    showError(err);
  }
}

// ---------------------------------------------------------------- stats

function renderStats() {
  const st = S.stats || {};
  const tis = st.time_in_state_s || {};
  const queues = [...S.queues.values()].filter((q) => !q.overall);
  const calls = S.agent?.calls_today ?? st.calls_today;
  clear(ui.statsPanel, h("h2", {}, t("stats.title")),
    h("div", { class: "metrics" },
      metric(t("stats.calls"), calls ?? "–", "stat-calls"),
      metric(t("stats.talk"), fmtDuration(tis.on_call), "stat-talk"),
      metric(t("stats.paused"), fmtDuration(tis.paused), "stat-paused")),
    queues.length ? h("table", { id: "my-queues" },
      h("thead", {}, h("tr", {}, h("th", {}, t("stats.queue")), h("th", { class: "num" }, t("stats.waiting")),
        h("th", { class: "num" }, t("stats.longest")), h("th", { class: "num" }, t("stats.sl")))),
      h("tbody", {}, queues.map((q) => h("tr", {}, h("td", {}, q.queue),
        h("td", { class: "num" }, String(q.waiting)), h("td", { class: "num" }, fmtDuration(q.longest_wait_s)),
        h("td", { class: "num" }, fmtPercent(q.service_level)))))) : null);
}

function metric(label, value, id) {
  return h("div", { class: "metric", id }, h("div", { class: "v" }, String(value)), h("div", { class: "k" }, label));
}

function renderKeys() {
  const keys = [["Alt+A", "keys.answer"], ["Alt+H", "keys.hangup"], ["Alt+R", "keys.ready"],
                ["Alt+P", "keys.pause"], ["Alt+W", "keys.wrap"], ["Alt+D", "keys.dial"],
                ["Alt+N", "keys.notes"]];
  clear(ui.keys, h("h2", {}, t("keys.title")),
    h("ul", { class: "keys" }, keys.map(([k, label]) => h("li", {}, h("kbd", {}, k), " ", t(label)))));
}

// ---------------------------------------------------------------- screen-pop

const popCtx = {
  dial,
  now: () => Date.now() / 1000,
  get userId() { return S.config?.user.id; },
  callerNumber: () => S.call?.number || S.pop?.caller_number || "",
  onCustomer: (view) => { S.customer = view; },
  refreshCustomer: async () => {
    if (!S.customer) return;
    const body = ui.pop.querySelector("#pop-body");
    renderCustomer(body || ui.pop, await api(`/api/customers/${S.customer.customer.id}/view`), popCtx);
  },
};

function renderPop() {
  renderScreenPop(ui.pop, S.pop, popCtx, { restored: S.popRestored });
}

// ---------------------------------------------------------------- live events

function isMine(data) {
  return !data.agent_id || data.agent_id === S.me.username;
}

function applyEvent(rawTopic, data, msg) {
  const topic = rawTopic.replace(/^acd\./, "");
  const ts = msg.ts || Date.now() / 1000;
  S.recent.push([rawTopic, msg.seq, data.call_id || data.new || ""]);
  if (S.recent.length > 50) S.recent.shift();
  if ((topic === "pbx.call.ended" || topic === "call.ended") && data.call_id) {
    S.over.add(data.call_id);
    if (S.over.size > 200) S.over.delete(S.over.values().next().value);
  }
  if (topic === "pbx.call.dialling") {
    dialling(data, ts);
    return;
  }
  if (topic === "pbx.call.originate_failed") {
    originateFailed(data, ts);
    return;
  }
  if (topic.startsWith("pbx.call.")) {
    applyPbxCall(topic.slice("pbx.call.".length), data, ts);
    return;
  }
  switch (topic) {
    case "agent.state": {
      if (!isMine(data)) return;
      const was = S.agent?.state;
      S.agent = { ...(S.agent || {}), state: data.new, pause_reason: data.reason ?? null,
                  state_since: ts };
      if (was === "reserved" && data.new !== "on_call" && data.new !== "reserved"
          && S.call?.acd && S.call.status === "ringing") {
        // The offer is over unanswered (the caller hung up while it rang, or it rang out): the
        // offered agent gets no call event of it, only this change of state.
        stopRing();
        toast(t("call.missed"), "info");
        S.call = null;
        renderCall();
      }
      if (data.new === "wrap_up" && !S.wrap && S.call) startWrap(S.call);
      if (!["on_call", "reserved", "wrap_up"].includes(data.new)) S.pending = null;
      renderAgent();
      break;
    }
    case "call.offered":
      if (!isMine(data)) return;
      S.callNote = null;
      S.call = { call_id: data.call_id, queue: data.queue, number: data.number, status: "ringing",
                 offered_at: ts, notes: "", acd: true };
      if (!S.pop || S.pop.call_id !== data.call_id) {
        S.pop = null;
        S.popRestored = false;
      }
      renderCall();
      renderPop();
      announceOffer(data.number);
      break;
    case "desktop.screen_pop":
      if (!isMine(data)) return;
      S.pop = data;
      S.popRestored = false;
      S.customer = null;
      if (!S.call || S.call.call_id !== data.call_id) {
        S.call = { call_id: data.call_id, queue: data.queue, number: data.caller_number,
                   status: "ringing", offered_at: data.offered_at || ts, notes: "", acd: true };
        renderCall();
      } else if (!S.call.queue && data.queue) {
        S.call.queue = data.queue;  // a call transferred to me: the pop knows its queue
        renderCall();
      }
      renderPop();
      break;
    case "call.answered":
      if (S.call?.call_id !== data.call_id || !isMine(data)) return;
      S.call.status = "talking";
      S.call.answered_at = ts;
      stopRing();
      renderCall();
      break;
    case "call.ended":
      if (S.call?.call_id !== data.call_id) return;
      if (S.call.held) setHeld(S.call, false, ts);
      S.call.status = "ended";
      S.call.ended_at = ts;
      stopRing();
      if (S.agent) S.agent.calls_today = (S.agent.calls_today || 0) + 1;
      startWrap(S.call);
      renderCall();
      renderStats();
      break;
    case "call.removed":
    case "call.abandoned":
    case "call.handed_back":
      if (S.call?.call_id !== data.call_id || S.call.status !== "ringing") return;
      if (topic === "call.removed" && data.reason === "answered") return;
      stopRing();
      toast(t("call.missed"), "info");
      S.call = null;
      renderCall();
      break;
    case "queue.stats":
      S.queues.set(data.queue, data);
      renderStats();
      break;
    default:
      break;
  }
}

/**
 * The call tracker's frames (pbx.call.*: data.call is its CallView). They follow the calls the
 * ACD does not report (placed from this desktop, transferred to me) and the hold state of any.
 */
function applyPbxCall(kind, data, ts) {
  const view = data.call;
  if (!view) return;
  const me = S.me.username;
  const owner = view.agent?.user || "";
  let c = S.call && S.call.call_id === data.call_id ? S.call : null;
  if (kind === "transferred" || kind === "agent_changed") {
    const from = kind === "transferred" ? data.transfer?.from_agent : data.previous_user;
    if (c && from === me && owner !== me) {
      transferredAway(c, kind === "transferred" ? data.transfer.target
        : (view.agent?.name || owner || view.agent?.device || ""));
      return;
    }
  }
  // Adopt only a call that came to me: not one I just transferred away (its transferred frame
  // may still name me), nor one that is over.
  const goneFromHere = S.callNote?.call_id === data.call_id && kind !== "agent_changed";
  if (!c && owner === me && view.ended_at == null && kind !== "transferred" && kind !== "ended"
      && !goneFromHere && (!S.call || !LIVE.has(S.call.status))) {
    // A call I did not get from the ACD: transferred to me, or placed from my phone.
    S.callNote = null;
    c = S.call = { call_id: data.call_id, queue: view.queue || "", status: "ringing",
                   number: view.direction === "outbound" ? view.dialled : view.caller_num,
                   offered_at: ts, notes: "", acd: false };
    if (kind === "agent_changed" && data.previous_user) {
      c.from_agent = data.previous_user;  // (a transferred-in call's wrap-up may wait for it)
      c.from_agent_name = data.previous_name || data.previous_user;
    }
  }
  if (!c) return;
  c.heard = true;  // the tracker knows the call: its pushes follow it
  if (kind === "answered" || kind === "ended" || kind === "agent_changed") c.pushed = true;
  if (kind === "held" || kind === "unheld") {
    setHeld(c, kind === "held", ts);
    renderCall();
    return;
  }
  if (c.acd) {
    // The ACD's own events drive its calls' status and wrap-up. An ACD callback that ends
    // before its customer answered has no acd.call.* end under the call's own id: it goes.
    if (kind === "ended" && c.status === "ringing") {
      stopRing();
      toast(t("call.missed"), "info");
      S.call = null;
      renderCall();
    }
    return;
  }
  applyCallView(c, view, ts);
  if (S.call === c) renderCall();
}

function startWrap(call) {
  if (S.wrap?.call_id === call.call_id) return;
  S.wrap = { call_id: call.call_id, queue: call.queue, number: call.number, notes: call.notes || "",
             from_agent: call.from_agent || null };
  renderWrap();
}

function applySnapshot(data, reason) {
  const gap = reason === "gap";
  if (data.agent) setAgent(data.agent);
  S.stats = data.stats || {};
  for (const q of S.stats.queues || []) S.queues.set(q.queue, q);
  const before = S.call;
  if (data.call && !(before && !before.acd && LIVE.has(before.status))) {
    const same = before && before.call_id === data.call.call_id;
    S.call = {
      ...(same ? before : { notes: "" }),
      call_id: data.call.call_id, queue: data.call.queue,
      number: data.screen_pop?.caller_number || (same ? before.number : ""),
      status: data.call.answered ? "talking" : "ringing",
      offered_at: data.call.offered_at, acd: same ? before.acd !== false : true,
    };
    if (data.call.held !== undefined) setHeld(S.call, !!data.call.held, Date.now() / 1000);
    if (data.screen_pop) {
      S.pop = data.screen_pop;
      S.popRestored = reason !== "initial" || !!before;
    }
  } else if (before && !before.acd && LIVE.has(before.status)) {
    // Not the ACD's call: the snapshot does not carry it; read it once (pushes follow).
    refreshCall(before);
  } else if (before && (before.status === "ringing" || before.status === "talking")) {
    // The call ended while we were away: still wrap it up if it was answered.
    if (before.status === "talking") {
      before.status = "ended";
      before.ended_at = Date.now() / 1000;
      startWrap(before);
    } else {
      S.call = null;
    }
  }
  if (!data.call && (!S.call || !LIVE.has(S.call.status))) adoptMyCall();
  if (gap || (reason !== "initial" && hub.stats.connects > 1)) {
    ui.gap.hidden = false;
    ui.gap.textContent = t("conn.gap", { time: fmtTime(Date.now() / 1000, { date: false }) });
    ui.gap.dataset.snapshots = String(hub.stats.snapshots);
  }
  renderAll();
}

// ---------------------------------------------------------------- background tab: notify, ring

let audio = null;
let ringTimer = null;

function unlockAudio() {
  if (!audio && (window.AudioContext || window.webkitAudioContext)) {
    audio = new (window.AudioContext || window.webkitAudioContext)();
  }
}

function announceOffer(number) {
  if (!document.hidden) return;
  if ("Notification" in window && Notification.permission === "granted") {
    const n = new Notification(t("call.offer", { number: fmtPhone(number) }), {
      tag: "cc-offer", requireInteraction: true, lang: language() });
    n.onclick = () => { window.focus(); n.close(); ui.pop.focus(); };
  }
  // The softphone rings by itself; a desk-phone agent gets the ring from the page.
  if (!S.softphone) startRing();
}

function startRing() {
  if (!audio || ringTimer) return;
  const burst = () => {
    const now = audio.currentTime;
    for (const [start, freq] of [[0, 440], [0, 480], [0.6, 440], [0.6, 480]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(audio.destination);
      osc.start(now + start);
      osc.stop(now + start + 0.4);
    }
  };
  burst();
  ringTimer = setInterval(burst, 3000);
}

function stopRing() {
  clearInterval(ringTimer);
  ringTimer = null;
}

document.addEventListener("visibilitychange", () => { if (!document.hidden) stopRing(); });

// ---------------------------------------------------------------- keyboard

/** The form a wrap-up is saved with: a dialer call's is the campaign panel's (campaign.js). */
function wrapFormIds() {
  return campaignOfCall(S.wrap?.call_id) !== null
    ? { form: "camp-dispo", notes: "camp-notes" } : { form: "wrap-form", notes: "wrap-notes" };
}

function onKey(ev) {
  if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
  const actions = {
    a: answer,
    h: hangup,
    r: () => changeState({ state: "available" }),
    p: pause,
    w: () => {
      if (S.wrap) document.getElementById(wrapFormIds().form)?.requestSubmit();
      else if (S.agent?.state === "wrap_up") changeState({ state: "wrap_up_end" });
    },
    d: () => ui.dialInput?.focus(),
    n: () => (S.wrap ? document.getElementById(wrapFormIds().notes) : ui.notes)?.focus(),
  };
  const fn = actions[ev.key.toLowerCase()] || actions[ev.code?.replace(/^Key/, "").toLowerCase()];
  if (fn) {
    ev.preventDefault();
    fn();
  }
}

// ---------------------------------------------------------------- softphone

async function loadSoftphone() {
  try {
    const module = await import("/static/softphone.js");
    S.softphone = await module.mountIfEnabled(ui.softphone);
  } catch (err) {
    // No softphone on this server (or it failed to start): the desk phone is used.
    if (!(err instanceof ApiError) || err.status !== 404) showError(err);
    return;
  }
  if (!S.softphone) return;
  ui.softphone.addEventListener("softphone", (ev) => {
    if (ev.detail?.type === "incoming" && document.hidden) announceOffer(ev.detail.number || "");
  });
  renderCall();
}

// ---------------------------------------------------------------- clock

function tick() {
  const timer = document.getElementById("state-timer");
  if (timer) timer.textContent = sinceText();
  const ct = document.getElementById("call-timer");
  if (ct) ct.textContent = callTimer();
  const hold = document.getElementById("call-hold-timer");
  if (hold) hold.textContent = holdText();
}

main().catch(showError);

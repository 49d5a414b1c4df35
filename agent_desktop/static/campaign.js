// The agent desktop's campaign panel (outbound, docs/dialer.md): the preview card of a preview
// campaign (next lead, its script, dial or skip) and the campaign disposition of a dialer call.
//
// An ES module without a build step, on the pages' shared app.js and i18n.js. The desktop page
// calls
//
//     mountCampaignPanel(element, { state, finishWrap, placedCall });
//
// `state` is the desktop's state object (it reads `state.wrap`, the call awaiting its
// disposition, and `state.config`, GET /api/desktop/config); `finishWrap(callId)` is what the
// desktop does once a call's disposition is saved; `placedCall(callId, number)` puts a preview
// dial on the desktop's call panel (the ACD does not route it, so no acd.call.* event shows it).
// The preview card shows the lead's local time (from the card's `timezones`) beside the script. A dialer call (call id dl…, pv… or cb…) gets
// the campaign's form here: disposition code, what happens to the lead (done, retry, callback
// at a time, mine or anyone's, do-not-call for the campaign or everyone) and notes, sent to
// POST /api/campaigns/{id}/dispositions. The panel hides itself when no campaign is active.
//
// Supervisors and admins also get the campaigns' calling rules here (every campaign not
// finished, drafts too): the window, calling days, holidays, default time zone, retry delay
// per outcome and maximum attempts, each shown as the campaign's own value or the [dialer]
// default it inherits ("default" tag), and edited in a form that PUTs
// /api/campaigns/{id}/rules (an empty field, or "Use the default", inherits).

import { api, h, clear, showError, toast } from "/static/app.js";
import { addStrings, fmtPhone, fromLocalInput, language, onLanguageChange, t }
  from "/static/i18n.js";

addStrings({
  en: {
    "camp.title": "Campaigns", "camp.choose": "Campaign", "camp.next": "Next lead",
    "camp.none": "No lead to call now.", "camp.dial": "Dial", "camp.skip": "Skip",
    "camp.attempts": "Attempts: {n}", "camp.last": "Last result: {r}", "camp.script": "Script",
    "camp.dialing": "Dialling {number}…", "camp.skipped": "Lead skipped",
    "camp.dispo": "Campaign disposition for {id}", "camp.code": "Disposition",
    "camp.outcome": "Then", "camp.out.done": "Done", "camp.out.retry": "Call again later",
    "camp.out.callback": "Call back at…", "camp.out.dnc": "Do not call",
    "camp.when": "Call back at", "camp.owner": "Who calls back",
    "camp.owner.me": "Me", "camp.owner.anyone": "Anyone",
    "camp.scope": "Do-not-call list", "camp.scope.campaign": "This campaign",
    "camp.scope.global": "All campaigns", "camp.notes": "Notes", "camp.save": "Save",
    "camp.saved": "Disposition {code} saved",
    "camp.local": "Their local time: {time}", "camp.local_unknown": "Their local time is not known",
    "rules.title": "Calling rules", "rules.choose": "Campaign",
    "rules.window": "Calling window (the called person's local time)",
    "rules.start": "From", "rules.end": "Until", "rules.days": "Calling days",
    "rules.holidays": "Holidays (one date per line, YYYY-MM-DD)",
    "rules.zone": "Time zone for numbers without one", "rules.retry": "Next attempt after (minutes)",
    "rules.max_attempts": "Maximum attempts", "rules.inherit": "Use the default",
    "rules.default": "default", "rules.own": "campaign", "rules.save": "Save the rules",
    "rules.saved": "Calling rules of {name} saved", "rules.effective": "Applied now",
    "rules.rule": "Rule", "rules.value": "Value", "rules.source": "From",
    "rules.none": "none", "rules.default_is": "default: {value}",
    "rules.out.busy": "Busy", "rules.out.no_answer": "No answer", "rules.out.machine": "Answering machine",
    "rules.out.abandoned": "Abandoned", "rules.out.failed": "Failed",
    "day.mon": "Mon", "day.tue": "Tue", "day.wed": "Wed", "day.thu": "Thu", "day.fri": "Fri",
    "day.sat": "Sat", "day.sun": "Sun",
  },
  "zh-CN": {
    "camp.title": "外呼活动", "camp.choose": "活动", "camp.next": "下一个客户",
    "camp.none": "现在没有要拨打的客户。", "camp.dial": "拨打", "camp.skip": "跳过",
    "camp.attempts": "已拨打：{n} 次", "camp.last": "上次结果：{r}", "camp.script": "话术",
    "camp.dialing": "正在拨打 {number}…", "camp.skipped": "已跳过",
    "camp.dispo": "{id} 的外呼处理结果", "camp.code": "处理结果",
    "camp.outcome": "之后", "camp.out.done": "完成", "camp.out.retry": "稍后再拨",
    "camp.out.callback": "预约回拨…", "camp.out.dnc": "勿再拨打",
    "camp.when": "回拨时间", "camp.owner": "由谁回拨",
    "camp.owner.me": "我", "camp.owner.anyone": "任何人",
    "camp.scope": "勿拨名单", "camp.scope.campaign": "本活动",
    "camp.scope.global": "所有活动", "camp.notes": "备注", "camp.save": "保存",
    "camp.saved": "已保存处理结果 {code}",
    "camp.local": "对方当地时间：{time}", "camp.local_unknown": "对方当地时间未知",
    "rules.title": "呼叫规则", "rules.choose": "活动",
    "rules.window": "呼叫时段（按被叫方当地时间）",
    "rules.start": "从", "rules.end": "到", "rules.days": "呼叫日",
    "rules.holidays": "节假日（每行一个日期，YYYY-MM-DD）",
    "rules.zone": "无法确定时区的号码所用时区", "rules.retry": "再次拨打间隔（分钟）",
    "rules.max_attempts": "最多拨打次数", "rules.inherit": "使用默认值",
    "rules.default": "默认", "rules.own": "本活动", "rules.save": "保存规则",
    "rules.saved": "已保存 {name} 的呼叫规则", "rules.effective": "当前生效",
    "rules.rule": "规则", "rules.value": "值", "rules.source": "来源",
    "rules.none": "无", "rules.default_is": "默认：{value}",
    "rules.out.busy": "占线", "rules.out.no_answer": "无人接听", "rules.out.machine": "答录机",
    "rules.out.abandoned": "放弃", "rules.out.failed": "失败",
    "day.mon": "周一", "day.tue": "周二", "day.wed": "周三", "day.thu": "周四", "day.fri": "周五",
    "day.sat": "周六", "day.sun": "周日",
  },
});

const DIALER_CALL = /^(dl|pv|cb)([0-9]+)-/;
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const OUTCOMES = ["busy", "no_answer", "machine", "abandoned", "failed"];
const SUPERVISORS = new Set(["supervisor", "admin"]);

/** The campaign id of a dialer call id, or null for any other call. */
export function campaignOfCall(callId) {
  const m = DIALER_CALL.exec(callId || "");
  return m ? Number(m[2]) : null;
}

/** "14:05 (America/New_York)"; several zones (a number spanning them): each one's time. */
export function localTimes(zones, nowS, lang) {
  const at = new Date(nowS * 1000);
  return (zones || []).map((zone) => {
    try {
      const time = new Intl.DateTimeFormat(lang, { timeZone: zone, hour: "2-digit",
                                                   minute: "2-digit", hour12: false }).format(at);
      return `${time} (${zone})`;
    } catch {
      return null;  // a zone this browser does not know
    }
  }).filter(Boolean).join(" · ");
}

export function mountCampaignPanel(el, { state, finishWrap, placedCall }) {
  const P = { campaigns: [], chosen: null, card: null, wrapId: null, draft: null,
              all: [], ruled: null, rules: null, rulesForm: null };
  const supervisor = () => SUPERVISORS.has(state.me?.role);

  async function load() {
    try {
      const page = await api("/api/campaigns?status=active&limit=100");
      P.campaigns = page.items;
      if (!P.campaigns.some((c) => c.id === P.chosen)) P.chosen = P.campaigns[0]?.id ?? null;
      if (supervisor()) {
        const all = await api("/api/campaigns?limit=200");
        P.all = all.items.filter((c) => c.status !== "finished");
        if (!P.all.some((c) => c.id === P.ruled)) {
          P.ruled = P.all[0]?.id ?? null;
          await loadRules();
        }
      }
    } catch (err) {
      showError(err);
    }
    render();
  }

  async function loadRules() {
    P.rules = null;
    P.rulesForm = null;
    if (P.ruled !== null) P.rules = await api(`/api/campaigns/${P.ruled}/rules`);
  }

  const campaign = (id) => P.campaigns.find((c) => c.id === id) || null;

  function codesFor(queue) {
    const q = (state.config?.queues || []).find((x) => x.name === queue);
    return q ? q.dispositions : (state.config?.dispositions || []);
  }

  function render() {
    const dispo = dispositionForm();
    const rules = supervisor() && P.all.length ? rulesBlock() : null;
    el.hidden = !P.campaigns.length && !dispo && !rules;
    if (el.hidden) return;
    const select = h("select", { id: "camp-choose" },
      P.campaigns.map((c) => new Option(`${c.name} (${c.dial_mode})`, String(c.id))));
    if (P.chosen !== null) select.value = String(P.chosen);
    select.addEventListener("change", () => {
      P.chosen = Number(select.value);
      P.card = null;
      render();
    });
    const c = campaign(P.chosen);
    clear(el, h("h2", {}, t("camp.title")),
      P.campaigns.length ? h("label", { for: "camp-choose" }, t("camp.choose")) : null,
      P.campaigns.length ? select : null,
      c && c.dial_mode === "preview" ? previewBlock(c) : null,
      dispo, rules);
  }

  // ------------------------------------------------------------ calling rules (supervisors)

  function rulesBlock() {
    const select = h("select", { id: "rules-choose" },
      P.all.map((c) => new Option(`${c.name} (${c.status})`, String(c.id))));
    if (P.ruled !== null) select.value = String(P.ruled);
    select.addEventListener("change", async () => {
      P.ruled = Number(select.value);
      try {
        await loadRules();
      } catch (err) {
        showError(err);
      }
      render();
    });
    // The form survives the panel's periodic redraws (what is typed stays); rebuilt when the
    // rules are (re)loaded or saved, or the language changes.
    if (P.rules && !P.rulesForm) P.rulesForm = rulesForm(P.rules);
    return h("details", { id: "camp-rules", open: true },
      h("summary", {}, t("rules.title")),
      h("label", { for: "rules-choose" }, t("rules.choose")), select,
      P.rules ? effectiveTable(P.rules.effective) : null,
      P.rulesForm);
  }

  function effectiveTable(e) {
    const inherited = new Set(e.from_defaults);
    const days = (list) => list.map((d) => t(`day.${d}`)).join(" ");
    const rows = [
      ["window", t("rules.window"), `${e.window_start}–${e.window_end}`,
       ["window_start", "window_end"]],
      ["days", t("rules.days"), days(e.days), ["days"]],
      ["holidays", t("rules.holidays"), e.holidays.join(", ") || t("rules.none"), ["holidays"]],
      ["default_timezone", t("rules.zone"), e.default_timezone || t("rules.none"),
       ["default_timezone"]],
      ...OUTCOMES.map((o) => [`retry.${o}`, `${t("rules.retry")}: ${t(`rules.out.${o}`)}`,
                              minutes(e.retry_delay_s[o]), [`retry_delay_s.${o}`]]),
      ["max_attempts", t("rules.max_attempts"), String(e.max_attempts), []],
    ];
    return h("table", { id: "rules-effective", class: "rules" },
      h("caption", {}, t("rules.effective")),
      h("thead", {}, h("tr", {}, h("th", {}, t("rules.rule")), h("th", {}, t("rules.value")),
                                h("th", {}, t("rules.source")))),
      h("tbody", {}, rows.map(([key, label, value, fields]) => {
        const fromDefault = fields.length > 0 && fields.every((f) => inherited.has(f));
        return h("tr", { dataset: { rule: key, source: fromDefault ? "default" : "campaign" } },
          h("td", {}, label), h("td", { class: "value" }, value),
          h("td", {}, h("span", { class: fromDefault ? "badge" : "badge info" },
                        t(fromDefault ? "rules.default" : "rules.own"))));
      })));
  }

  function minutes(seconds) {
    return String(Math.round((seconds / 60) * 100) / 100);
  }

  function rulesForm(view) {
    const own = view.own;
    const eff = view.effective;
    const inherited = new Set(eff.from_defaults);
    const start = h("input", { type: "time", id: "rules-start", value: own.window_start || "" });
    const end = h("input", { type: "time", id: "rules-end", value: own.window_end || "" });
    const dayBoxes = WEEKDAYS.map((d) => h("input", {
      type: "checkbox", id: `rules-day-${d}`, value: d,
      checked: (own.days || eff.days).includes(d) }));
    const daysInherit = h("input", { type: "checkbox", id: "rules-days-default",
                                     checked: own.days === null });
    const holidays = h("textarea", { id: "rules-holidays", rows: 3 },
      (own.holidays || []).join("\n"));
    const holidaysInherit = h("input", { type: "checkbox", id: "rules-holidays-default",
                                         checked: own.holidays === null });
    const zone = h("input", { type: "text", id: "rules-zone", maxlength: 64,
      value: own.default_timezone || "", placeholder: inherited.has("default_timezone")
        ? eff.default_timezone : "" });
    const delays = Object.fromEntries(OUTCOMES.map((o) => [o, h("input", {
      type: "number", id: `rules-retry-${o}`, min: "0", step: "any",
      value: own.retry_delay_s[o] !== undefined ? minutes(own.retry_delay_s[o]) : "",
      placeholder: inherited.has(`retry_delay_s.${o}`) ? minutes(eff.retry_delay_s[o]) : "" })]));
    const attempts = h("input", { type: "number", id: "rules-max-attempts", min: "1",
                                  max: "100", step: "1", value: String(view.max_attempts) });
    const sync = () => {
      for (const b of dayBoxes) b.disabled = daysInherit.checked;
      holidays.disabled = holidaysInherit.checked;
    };
    daysInherit.addEventListener("change", sync);
    holidaysInherit.addEventListener("change", sync);
    sync();
    const hint = (field, text) => (inherited.has(field)
      ? h("span", { class: "muted" }, ` (${t("rules.default_is", { value: text })})`) : null);
    const form = h("form", { class: "stack", id: "rules-form" },
      h("fieldset", {}, h("legend", {}, t("rules.window"),
                          hint("window_start", `${eff.window_start}–${eff.window_end}`)),
        h("div", { class: "row" },
          h("label", { for: "rules-start" }, t("rules.start")), start,
          h("label", { for: "rules-end" }, t("rules.end")), end)),
      h("fieldset", {}, h("legend", {}, t("rules.days")),
        h("div", { class: "row" }, WEEKDAYS.map((d, i) => h("label", { class: "check" },
          dayBoxes[i], ` ${t(`day.${d}`)}`))),
        h("label", { class: "check" }, daysInherit, ` ${t("rules.inherit")}`)),
      h("fieldset", {}, h("legend", {}, t("rules.holidays"),
                          hint("holidays", eff.holidays.join(", ") || t("rules.none"))),
        holidays, h("label", { class: "check" }, holidaysInherit, ` ${t("rules.inherit")}`)),
      h("label", { for: "rules-zone" }, t("rules.zone")), zone,
      h("fieldset", {}, h("legend", {}, t("rules.retry")),
        h("div", { class: "row" }, OUTCOMES.map((o) => h("label", { class: "field" },
          t(`rules.out.${o}`), delays[o])))),
      h("label", { for: "rules-max-attempts" }, t("rules.max_attempts")), attempts,
      h("button", { type: "submit", class: "primary" }, t("rules.save")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {
        window_start: start.value || null, window_end: end.value || null,
        days: daysInherit.checked ? null : dayBoxes.filter((b) => b.checked).map((b) => b.value),
        holidays: holidaysInherit.checked ? null
          : holidays.value.split(/[\s,]+/).filter(Boolean),
        default_timezone: zone.value.trim() || null,
        retry_delay_s: Object.fromEntries(OUTCOMES.filter((o) => delays[o].value !== "")
          .map((o) => [o, Number(delays[o].value) * 60])),
      };
      if (attempts.value !== "") body.max_attempts = Number(attempts.value);
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        P.rules = await api(`/api/campaigns/${view.campaign_id}/rules`,
                            { method: "PUT", body });
        P.rulesForm = null;
        const c = P.all.find((x) => x.id === view.campaign_id);
        toast(t("rules.saved", { name: c ? c.name : view.campaign_id }), "ok");
        render();
      } catch (err) {
        button.disabled = false;
        showError(err);
      }
    });
    return form;
  }

  function previewBlock(c) {
    const box = h("div", { class: "stack", id: "camp-preview" },
      h("button", { type: "button", id: "camp-next", onclick: () => next(c.id) },
        t("camp.next")));
    if (P.card === "none") box.append(h("p", { class: "muted" }, t("camp.none")));
    else if (P.card) {
      const k = P.card;
      box.append(
        h("div", { class: "card", id: "camp-card",
                   dataset: { lead: String(k.lead_id), phone: k.phone } },
          h("strong", {}, k.name || fmtPhone(k.phone)),
          h("p", {}, fmtPhone(k.phone)),
          h("p", { class: "muted" }, t("camp.attempts", { n: k.attempts }),
            k.last_result ? ` · ${t("camp.last", { r: k.last_result })}` : ""),
          localLine(k),
          k.script ? h("details", { open: true }, h("summary", {}, t("camp.script")),
            h("p", { class: "script" }, k.script)) : null),
        h("div", { class: "row" },
          h("button", { type: "button", class: "primary", id: "camp-dial",
                        onclick: () => dial(c.id, k) }, t("camp.dial")),
          h("button", { type: "button", id: "camp-skip", onclick: () => skip(c.id, k) },
            t("camp.skip"))));
    }
    return box;
  }

  function localLine(card) {
    const times = localTimes(card.timezones, Date.now() / 1000, language());
    return h("p", { id: "camp-local", dataset: { zones: (card.timezones || []).join(" ") } },
      times ? t("camp.local", { time: times }) : t("camp.local_unknown"));
  }

  async function next(cid) {
    try {
      P.card = (await api(`/api/campaigns/${cid}/preview/next`, { method: "POST" })) || "none";
    } catch (err) {
      showError(err);
    }
    render();
  }

  async function dial(cid, card) {
    try {
      const placed = await api(`/api/campaigns/${cid}/preview/${card.lead_id}/dial`,
                               { method: "POST" });
      toast(t("camp.dialing", { number: fmtPhone(card.phone) }), "info");
      P.card = null;
      if (placedCall && placed?.call_id) placedCall(placed.call_id, card.phone);
    } catch (err) {
      showError(err);
    }
    render();
  }

  async function skip(cid, card) {
    try {
      await api(`/api/campaigns/${cid}/preview/${card.lead_id}/skip`, { method: "POST" });
      toast(t("camp.skipped"), "info");
      P.card = null;
    } catch (err) {
      showError(err);
    }
    render();
  }

  function dispositionForm() {
    const w = state.wrap;
    const cid = campaignOfCall(w?.call_id);
    if (!w || cid === null) return null;
    const c = campaign(cid);
    const codes = codesFor(c ? c.queue : w.queue);
    const code = h("select", { id: "camp-code", required: true },
      new Option("—", ""), codes.map((x) => new Option(x, x)));
    const outcome = h("select", { id: "camp-outcome" },
      ["done", "retry", "callback", "dnc"].map((o) => new Option(t(`camp.out.${o}`), o)));
    const when = h("input", { type: "datetime-local", id: "camp-when" });
    const owner = h("select", { id: "camp-owner" },
      ["me", "anyone"].map((o) => new Option(t(`camp.owner.${o}`), o)));
    const scope = h("select", { id: "camp-scope" },
      ["campaign", "global"].map((o) => new Option(t(`camp.scope.${o}`), o)));
    const notes = h("textarea", { id: "camp-notes", maxlength: 2000 });
    // What the agent entered survives the panel's re-renders (the campaign list refreshes every
    // minute, a language switch redraws): kept per call, the call's own notes to start with.
    if (P.draft?.call_id !== w.call_id) P.draft = { call_id: w.call_id, notes: w.notes || "" };
    const fields = { code, outcome, when, owner, scope, notes };
    for (const [name, input] of Object.entries(fields)) {
      if (P.draft[name] !== undefined) input.value = P.draft[name];
      input.addEventListener(input.tagName === "SELECT" ? "change" : "input", () => {
        P.draft[name] = input.value;
      });
    }
    const cbBox = h("div", { class: "stack", hidden: true },
      h("label", { for: "camp-when" }, t("camp.when")), when,
      h("label", { for: "camp-owner" }, t("camp.owner")), owner);
    const dncBox = h("div", { class: "stack", hidden: true },
      h("label", { for: "camp-scope" }, t("camp.scope")), scope);
    const showOutcome = () => {
      cbBox.hidden = outcome.value !== "callback";
      dncBox.hidden = outcome.value !== "dnc";
      when.required = outcome.value === "callback";
    };
    outcome.addEventListener("change", showOutcome);
    showOutcome();
    const form = h("form", { class: "stack", id: "camp-dispo" },
      h("h3", {}, t("camp.dispo", { id: w.call_id })),
      h("label", { for: "camp-code" }, t("camp.code")), code,
      h("label", { for: "camp-outcome" }, t("camp.outcome")), outcome, cbBox, dncBox,
      h("label", { for: "camp-notes" }, t("camp.notes")), notes,
      h("button", { type: "submit", class: "primary" }, t("camp.save")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!code.value) return;
      const body = { call_id: w.call_id, disposition: code.value, outcome: outcome.value,
                     notes: notes.value };
      if (outcome.value === "callback") {
        body.callback_at = fromLocalInput(when.value);  // the user's zone, not the browser's
        body.callback_owner = owner.value;
      }
      if (outcome.value === "dnc") body.dnc_scope = scope.value;
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        await api(`/api/campaigns/${cid}/dispositions`, { method: "POST", body });
        toast(t("camp.saved", { code: code.value }), "ok");
        await finishWrap(w.call_id);
        render();
      } catch (err) {
        button.disabled = false;
        showError(err);
      }
    });
    return form;
  }

  // The desktop's wrap-up changes as calls end: show the campaign form for a dialer call.
  setInterval(() => {
    const id = state.wrap?.call_id ?? null;
    if (id !== P.wrapId) {
      P.wrapId = id;
      render();
    }
  }, 500);
  onLanguageChange(() => {
    P.rulesForm = null;  // its labels are built in the language of the moment
    render();
  });
  load();
  setInterval(load, 60_000);
  return { refresh: load };
}

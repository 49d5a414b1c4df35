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

import { api, h, clear, showError, toast } from "/static/app.js";
import { addStrings, fmtPhone, language, onLanguageChange, t } from "/static/i18n.js";

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
  },
});

const DIALER_CALL = /^(dl|pv|cb)([0-9]+)-/;

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
  const P = { campaigns: [], chosen: null, card: null, wrapId: null, draft: null };

  async function load() {
    try {
      const page = await api("/api/campaigns?status=active&limit=100");
      P.campaigns = page.items;
      if (!P.campaigns.some((c) => c.id === P.chosen)) P.chosen = P.campaigns[0]?.id ?? null;
    } catch (err) {
      showError(err);
    }
    render();
  }

  const campaign = (id) => P.campaigns.find((c) => c.id === id) || null;

  function codesFor(queue) {
    const q = (state.config?.queues || []).find((x) => x.name === queue);
    return q ? q.dispositions : (state.config?.dispositions || []);
  }

  function render() {
    const dispo = dispositionForm();
    el.hidden = !P.campaigns.length && !dispo;
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
      dispo);
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
        body.callback_at = new Date(when.value).getTime() / 1000;
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
  onLanguageChange(() => render());
  load();
  setInterval(load, 60_000);
  return { refresh: load };
}

// The screen-pop: the CRM's unified customer view of the caller, shown when a call is offered
// (before it is answered), and what an agent does with it: pick the right customer when the
// number is shared, create a customer for an unknown number, and the quick actions (ticket,
// opportunity, order, callback) through the REST API. Every number shown dials on click.

import { h, clear, api, showError, toast } from "/static/app.js";
import { t, addStrings, fmtTime, fmtDuration, fmtPhone, fmtNumber, fmtPercent,
         fromLocalInput, sortByName, toLocalInput } from "/static/i18n.js";

addStrings({
  en: {
    "pop.title": "Caller",
    "pop.none": "No call offered yet. The caller's record appears here when a call rings.",
    "pop.queue": "Queue", "pop.waited": "Waited", "pop.number": "Number", "pop.ivr": "IVR path",
    "pop.ivr_digits": "Entered", "pop.ivr_lang": "IVR language",
    "pop.gap": "Restored from a snapshot after a reconnect",
    "pop.unknown": "Unknown caller: no customer has this number.",
    "pop.ambiguous": "{n} customers share this number: choose the caller.",
    "pop.choose": "This is the caller",
    "pop.crm_error": "The CRM could not be read: {error}",
    "pop.callback": "Scheduled callback", "pop.cb_note": "Note", "pop.cb_due": "Due",
    "pop.cb_campaign": "Campaign", "pop.cb_owner": "For",
    "cust.tier": "Tier", "cust.value": "Value", "cust.stage": "Stage", "cust.company": "Company",
    "cust.contacts": "Contacts", "cust.phones": "Phones", "cust.emails": "Emails",
    "cust.notes": "Notes", "cust.timezone": "Local time",
    "cust.purchases": "Purchases by department", "cust.department": "Department",
    "cust.orders": "Orders", "cust.total": "Total",
    "cust.tickets": "Open tickets", "cust.subject": "Subject", "cust.priority": "Priority",
    "cust.status": "Status", "cust.due": "SLA due", "cust.overdue": "overdue",
    "cust.escalated": "escalated",
    "cust.opportunities": "Open opportunities", "cust.amount": "Amount",
    "cust.probability": "Prob.", "cust.close": "Close",
    "cust.interactions": "Recent interactions", "cust.when": "When", "cust.kind": "Kind",
    "cust.disposition": "Disposition",
    "cust.callbacks": "Pending callbacks",
    "cust.empty": "none",
    "new.title": "New customer", "new.name": "Name", "new.kind": "Kind", "new.person": "Person",
    "new.company": "Company", "new.phone": "Phone", "new.notes": "Notes",
    "new.create": "Create customer", "new.created": "Customer {name} created",
    "qa.title": "Quick actions", "qa.ticket": "New ticket", "qa.opportunity": "New opportunity",
    "qa.order": "Log order", "qa.callback": "Schedule callback",
    "qa.subject": "Subject", "qa.category": "Category", "qa.priority": "Priority",
    "qa.name": "Name", "qa.amount": "Amount", "qa.stage": "Stage", "qa.department": "Department",
    "qa.product": "Product", "qa.quantity": "Quantity", "qa.due": "When", "qa.notes": "Notes",
    "qa.save": "Save", "qa.saved": "Saved", "qa.resolve": "Resolve",
    "qa.no_products": "No products in this department",
    "dial.title": "Call this number",
  },
  "zh-CN": {
    "pop.title": "来电客户",
    "pop.none": "暂无来电。来电振铃时此处显示客户资料。",
    "pop.queue": "队列", "pop.waited": "等待", "pop.number": "号码", "pop.ivr": "IVR 路径",
    "pop.ivr_digits": "按键输入", "pop.ivr_lang": "IVR 语言",
    "pop.gap": "重新连接后已按快照恢复",
    "pop.unknown": "未知来电：没有客户使用此号码。",
    "pop.ambiguous": "{n} 位客户共用此号码，请选择来电者。",
    "pop.choose": "就是此人",
    "pop.crm_error": "无法读取 CRM：{error}",
    "pop.callback": "预约回电", "pop.cb_note": "备注", "pop.cb_due": "预约时间",
    "pop.cb_campaign": "营销活动", "pop.cb_owner": "负责人",
    "cust.tier": "等级", "cust.value": "价值", "cust.stage": "阶段", "cust.company": "公司",
    "cust.contacts": "联系人", "cust.phones": "电话", "cust.emails": "邮箱",
    "cust.notes": "备注", "cust.timezone": "当地时间",
    "cust.purchases": "各部门购买", "cust.department": "部门",
    "cust.orders": "订单数", "cust.total": "金额",
    "cust.tickets": "未结工单", "cust.subject": "主题", "cust.priority": "优先级",
    "cust.status": "状态", "cust.due": "SLA 截止", "cust.overdue": "已超时",
    "cust.escalated": "已升级",
    "cust.opportunities": "进行中的商机", "cust.amount": "金额",
    "cust.probability": "概率", "cust.close": "预计成交",
    "cust.interactions": "最近联络", "cust.when": "时间", "cust.kind": "类型",
    "cust.disposition": "处理结果",
    "cust.callbacks": "待回电",
    "cust.empty": "无",
    "new.title": "新建客户", "new.name": "姓名", "new.kind": "类型", "new.person": "个人",
    "new.company": "公司", "new.phone": "电话", "new.notes": "备注",
    "new.create": "创建客户", "new.created": "已创建客户 {name}",
    "qa.title": "快捷操作", "qa.ticket": "新建工单", "qa.opportunity": "新建商机",
    "qa.order": "登记订单", "qa.callback": "预约回电",
    "qa.subject": "主题", "qa.category": "类别", "qa.priority": "优先级",
    "qa.name": "名称", "qa.amount": "金额", "qa.stage": "阶段", "qa.department": "部门",
    "qa.product": "产品", "qa.quantity": "数量", "qa.due": "时间", "qa.notes": "备注",
    "qa.save": "保存", "qa.saved": "已保存", "qa.resolve": "解决",
    "qa.no_products": "该部门没有产品",
    "dial.title": "拨打此号码",
  },
});

const TIER_CLASS = { platinum: "info", gold: "warn", silver: "", bronze: "" };

/**
 * Renders into `root`. `ctx`: { dial(number), now(): epoch s, onCustomer(customerView) }.
 * `pop` is the desktop.screen_pop message data (or null); `restored` marks a pop that came
 * from a snapshot after a reconnect.
 */
export function renderScreenPop(root, pop, ctx, { restored = false } = {}) {
  clear(root);
  root.append(h("h2", { id: "pop-h" }, t("pop.title")));
  if (!pop) {
    root.append(h("p", { class: "muted" }, t("pop.none")));
    return;
  }
  if (restored) root.append(h("p", { class: "notice", id: "pop-restored" }, t("pop.gap")));
  root.append(callFacts(pop, ctx));
  if (pop.callback) root.append(callbackFacts(pop.callback));
  if (pop.error) root.append(h("p", { class: "notice bad" }, t("pop.crm_error", { error: pop.error })));
  const body = h("div", { id: "pop-body" });
  root.append(body);
  if (pop.status === "known" && pop.customer) {
    renderCustomer(body, pop.customer, ctx);
  } else if (pop.status === "ambiguous") {
    renderChooser(body, pop, ctx);
  } else {
    renderNewCustomer(body, pop.caller_number, ctx);
  }
}

function callFacts(pop, ctx) {
  const dl = h("dl", { class: "facts" },
    h("dt", {}, t("pop.number")), h("dd", {}, dialLink(pop.caller_number, ctx)),
    h("dt", {}, t("pop.queue")), h("dd", {}, pop.queue || "–"),
    h("dt", {}, t("pop.waited")), h("dd", { class: "num" }, fmtDuration(pop.waited_s)));
  if (pop.ivr) {
    const digits = Object.entries(pop.ivr.digits || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
    dl.append(h("dt", {}, t("pop.ivr")),
      h("dd", { id: "pop-ivr" }, (pop.ivr.path || []).join(" → ") || "–"));
    if (digits) dl.append(h("dt", {}, t("pop.ivr_digits")), h("dd", { class: "mono" }, digits));
    if (pop.ivr.language) dl.append(h("dt", {}, t("pop.ivr_lang")), h("dd", {}, pop.ivr.language));
  }
  return dl;
}

/** A callback the ACD placed for this agent: why it is called (the scheduled row's note). */
function callbackFacts(cb) {
  const dl = h("dl", { class: "facts" });
  if (cb.campaign_name || cb.campaign_id != null) {
    dl.append(h("dt", {}, t("pop.cb_campaign")),
      h("dd", { id: "pop-cb-campaign" }, cb.campaign_name || `#${cb.campaign_id}`));
  }
  if (cb.due_at) dl.append(h("dt", {}, t("pop.cb_due")), h("dd", { class: "num" }, fmtTime(cb.due_at)));
  if (cb.owner) {
    dl.append(h("dt", {}, t("pop.cb_owner")),
      h("dd", { id: "pop-cb-owner" }, cb.owner_name || cb.owner));
  }
  dl.append(h("dt", {}, t("pop.cb_note")),
    h("dd", { id: "pop-cb-note", class: "pre" }, cb.note || "–"));
  return h("section", { class: "pop-section notice", id: "pop-callback",
                        dataset: { callbackId: cb.callback_id ?? "" } },
    h("h3", {}, t("pop.callback")), dl);
}

/** A number as a button that dials it (click-to-dial), formatted for the user's country. */
export function dialLink(number, ctx) {
  if (!number) return "–";
  return h("button", { type: "button", class: "link dial", title: t("dial.title"),
                       dataset: { number }, onclick: () => ctx.dial(number) }, fmtPhone(number));
}

function section(title, id, content, count = null) {
  return h("section", { class: "pop-section", id },
    h("h3", {}, title, count != null ? h("span", { class: "badge" }, String(count)) : null),
    content);
}

function table(headers, rows) {
  if (!rows.length) return h("p", { class: "muted" }, t("cust.empty"));
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map(([label, cls]) => h("th", { class: cls || null }, label)))),
    h("tbody", {}, rows));
}

export function renderCustomer(root, view, ctx) {
  const c = view.customer;
  clear(root);
  ctx.onCustomer?.(view);
  const head = h("div", { class: "cust-head" },
    h("div", { class: "cust-name", id: "pop-customer-name" }, c.name),
    h("span", { class: `badge ${TIER_CLASS[c.tier] || ""}`, id: "pop-tier" },
      `${t("cust.tier")}: ${c.tier}`),
    h("span", { class: "badge" }, `${t("cust.value")}: ${fmtNumber(c.value_score, 1)}`),
    h("span", { class: "badge" }, `${t("cust.stage")}: ${c.stage}`));
  root.append(head);
  if (view.company) {
    root.append(h("p", {}, h("strong", {}, `${t("cust.company")}: `), view.company.name));
  }
  if (c.timezone) {
    let local = "";
    try {
      local = new Intl.DateTimeFormat(undefined, { timeZone: c.timezone, hour: "2-digit",
                                                   minute: "2-digit", hour12: false }).format(new Date());
    } catch { /* unknown zone: nothing to show */ }
    if (local) root.append(h("p", { class: "muted" }, `${t("cust.timezone")}: ${local} (${c.timezone})`));
  }
  if (c.notes) root.append(h("p", { class: "cust-notes" }, c.notes));

  const phones = (view.phones || []).map((p) => h("li", {}, dialLink(p.e164, ctx),
    p.extension ? ` x${p.extension}` : "", p.label ? h("span", { class: "muted" }, ` ${p.label}`) : ""));
  const emails = (view.emails || []).map((e) => h("li", {}, e.address));
  root.append(h("div", { class: "cols" },
    section(t("cust.phones"), "pop-phones", h("ul", { class: "plain" }, phones)),
    emails.length ? section(t("cust.emails"), "pop-emails", h("ul", { class: "plain" }, emails)) : null,
    view.contacts?.length ? section(t("cust.contacts"), "pop-contacts", h("ul", { class: "plain" },
      sortByName(view.contacts).map((k) => h("li", {}, k.name, k.role ? h("span", { class: "muted" }, ` · ${k.role}`) : ""))))
      : null));

  const now = ctx.now();
  root.append(section(t("cust.tickets"), "pop-tickets", table(
    [[t("cust.subject")], [t("cust.priority")], [t("cust.status")], [t("cust.due")], [""]],
    (view.open_tickets || []).map((tk) => h("tr", { dataset: { ticket: tk.id } },
      h("td", {}, `#${tk.id} ${tk.subject}`),
      h("td", {}, h("span", { class: `badge ${tk.priority === "urgent" || tk.priority === "high" ? "bad" : ""}` }, tk.priority)),
      h("td", {}, tk.status, tk.escalated ? h("span", { class: "badge bad" }, t("cust.escalated")) : null),
      h("td", { class: tk.due_at && tk.due_at < now ? "overdue" : "" },
        fmtTime(tk.due_at), tk.due_at && tk.due_at < now ? ` (${t("cust.overdue")})` : ""),
      h("td", {}, h("button", { type: "button", class: "small",
        onclick: (ev) => resolveTicket(tk, ev.target, ctx) }, t("qa.resolve")))))),
    (view.open_tickets || []).length));

  root.append(section(t("cust.purchases"), "pop-purchases", table(
    [[t("cust.department")], [t("cust.orders"), "num"], [t("cust.total"), "num"]],
    (view.purchases_by_department || []).map((d) => h("tr", {},
      h("td", {}, d.department), h("td", { class: "num" }, fmtNumber(d.orders)),
      h("td", { class: "num" }, fmtNumber(d.total_cents / 100, 2)))))));

  root.append(section(t("cust.opportunities"), "pop-opportunities", table(
    [[t("qa.name")], [t("qa.stage")], [t("cust.amount"), "num"], [t("cust.probability"), "num"],
     [t("cust.close")]],
    (view.open_opportunities || []).map((o) => h("tr", {},
      h("td", {}, o.name), h("td", {}, o.stage),
      h("td", { class: "num" }, fmtNumber(o.amount_cents / 100, 2)),
      h("td", { class: "num" }, fmtPercent(o.probability)),
      h("td", {}, fmtTime(o.expected_close, { date: true })))))));

  root.append(section(t("cust.interactions"), "pop-interactions", table(
    [[t("cust.when")], [t("cust.kind")], [t("pop.queue")], [t("cust.disposition")], [t("cust.notes")]],
    (view.last_interactions || []).map((i) => h("tr", {},
      h("td", {}, fmtTime(i.offered_at || i.created_at)),
      h("td", {}, `${i.kind}${i.direction ? ` · ${i.direction}` : ""}`),
      h("td", {}, i.queue || "–"), h("td", {}, i.disposition || "–"),
      h("td", { class: "notes" }, i.notes || ""))))));

  root.append(section(t("cust.callbacks"), "pop-callbacks", table(
    [[t("qa.due")], [t("pop.number")], [t("cust.notes")]],
    (view.pending_callbacks || []).map((cb) => h("tr", {},
      h("td", {}, fmtTime(cb.due_at)), h("td", {}, dialLink(cb.phone, ctx)),
      h("td", {}, cb.notes || ""))))));

  root.append(quickActions(view, ctx));
}

async function resolveTicket(ticket, button, ctx) {
  button.disabled = true;
  try {
    await api(`/api/tickets/${ticket.id}`, { method: "PATCH", body: { status: "resolved" } });
    toast(t("qa.saved"), "ok");
    await ctx.refreshCustomer?.();
  } catch (err) {
    button.disabled = false;
    showError(err);
  }
}

function renderChooser(root, pop, ctx) {
  const matches = sortByName(pop.matches || []);
  root.append(h("p", { class: "notice warn" }, t("pop.ambiguous", { n: matches.length })));
  const list = h("ul", { class: "chooser", id: "pop-chooser" });
  for (const m of matches) {
    list.append(h("li", {},
      h("button", { type: "button", dataset: { customer: m.customer_id },
        onclick: async () => {
          try {
            renderCustomer(root, await api(`/api/customers/${m.customer_id}/view`), ctx);
          } catch (err) {
            showError(err);
          }
        } },
        h("strong", {}, m.name), " ", h("span", { class: "badge" }, m.tier), " ",
        h("span", { class: "muted" }, [m.kind, m.phone?.label, m.phone?.extension && `x${m.phone.extension}`]
          .filter(Boolean).join(" · ")))));
  }
  root.append(list);
}

export function renderNewCustomer(root, number, ctx) {
  root.append(h("p", { class: "notice" }, t("pop.unknown")));
  const name = h("input", { id: "new-name", required: true, maxlength: 200 });
  const kind = h("select", { id: "new-kind" },
    new Option(t("new.person"), "person"), new Option(t("new.company"), "company"));
  const phone = h("input", { id: "new-phone", value: number || "", maxlength: 40 });
  const notes = h("textarea", { id: "new-notes", maxlength: 2000 });
  const form = h("form", { class: "stack", id: "new-customer" },
    h("h3", {}, t("new.title")),
    h("label", { for: "new-name" }, t("new.name")), name,
    h("label", { for: "new-kind" }, t("new.kind")), kind,
    h("label", { for: "new-phone" }, t("new.phone")), phone,
    h("label", { for: "new-notes" }, t("new.notes")), notes,
    h("button", { type: "submit", class: "primary" }, t("new.create")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const customer = await api("/api/customers", { method: "POST", body: {
        kind: kind.value, name: name.value.trim(), stage: "prospect", notes: notes.value } });
      if (phone.value.trim()) {
        await api("/api/phones", { method: "POST",
                                   body: { customer_id: customer.id, e164: phone.value.trim() } });
      }
      toast(t("new.created", { name: customer.name }), "ok");
      renderCustomer(root, await api(`/api/customers/${customer.id}/view`), ctx);
    } catch (err) {
      button.disabled = false;
      showError(err);
    }
  });
  root.append(form);
}

// ---------------------------------------------------------------- quick actions

function quickActions(view, ctx) {
  const c = view.customer;
  const box = h("section", { class: "quick-actions", id: "quick-actions" }, h("h3", {}, t("qa.title")));
  const forms = h("div", { class: "qa-form" });
  const open = (builder) => { clear(forms, builder()); forms.querySelector("input,select,textarea")?.focus(); };
  box.append(h("div", { class: "row" },
    h("button", { type: "button", id: "qa-ticket", onclick: () => open(() => ticketForm(c, ctx)) }, t("qa.ticket")),
    h("button", { type: "button", id: "qa-opportunity", onclick: () => open(() => opportunityForm(c, ctx)) }, t("qa.opportunity")),
    h("button", { type: "button", id: "qa-order", onclick: () => open(() => orderForm(c, view, ctx)) }, t("qa.order")),
    h("button", { type: "button", id: "qa-callback", onclick: () => open(() => callbackForm(c, ctx)) }, t("qa.callback"))),
  forms);
  return box;
}

function field(id, label, input) {
  input.id = id;
  return [h("label", { for: id }, label), input];
}

function actionForm(id, fields, submit, ctx) {
  const form = h("form", { class: "stack", id }, fields,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("qa.save"))));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await submit();
      toast(t("qa.saved"), "ok");
      form.remove();
      await ctx.refreshCustomer?.();
    } catch (err) {
      button.disabled = false;
      showError(err);
    }
  });
  return form;
}

function select(values, current) {
  const s = h("select");
  for (const v of values) s.append(new Option(v, v, false, v === current));
  return s;
}

function ticketForm(c, ctx) {
  const subject = h("input", { required: true, maxlength: 200 });
  const category = select(["general", "billing", "technical", "complaint"], "general");
  const priority = select(["low", "normal", "high", "urgent"], "normal");
  return actionForm("qa-ticket-form", [
    field("qa-ticket-subject", t("qa.subject"), subject),
    field("qa-ticket-category", t("qa.category"), category),
    field("qa-ticket-priority", t("qa.priority"), priority)],
  () => api("/api/tickets", { method: "POST", body: {
    customer_id: c.id, subject: subject.value.trim(), category: category.value,
    priority: priority.value, owner_user_id: ctx.userId } }), ctx);
}

function opportunityForm(c, ctx) {
  const name = h("input", { required: true, maxlength: 200 });
  const amount = h("input", { type: "number", min: "0", step: "0.01", required: true });
  const stage = select(["qualification", "proposal", "negotiation"], "qualification");
  const close = h("input", { type: "date", required: true });
  return actionForm("qa-opportunity-form", [
    field("qa-opp-name", t("qa.name"), name), field("qa-opp-amount", t("qa.amount"), amount),
    field("qa-opp-stage", t("qa.stage"), stage), field("qa-opp-close", t("cust.close"), close)],
  () => api("/api/opportunities", { method: "POST", body: {
    customer_id: c.id, name: name.value.trim(), stage: stage.value,
    amount_cents: Math.round(Number(amount.value) * 100),
    expected_close: close.valueAsNumber / 1000, owner_user_id: ctx.userId } }), ctx);
}

function orderForm(c, view, ctx) {
  const departments = [...new Set([...(view.purchases_by_department || []).map((d) => d.department),
                                    ...(ctx.departments || [])])];
  const department = select(departments.length ? departments : ["general"]);
  const product = h("select", { required: true });
  const quantity = h("input", { type: "number", min: "1", value: "1", required: true });
  const loadProducts = async () => {
    clear(product);
    try {
      const page = await api(`/api/products?department=${encodeURIComponent(department.value)}&active=true&limit=100`);
      for (const p of sortByName(page.items)) {
        product.append(new Option(`${p.name} (${fmtNumber(p.price_cents / 100, 2)})`, p.id));
      }
      if (!page.items.length) product.append(new Option(t("qa.no_products"), ""));
    } catch (err) {
      showError(err);
    }
  };
  department.addEventListener("change", loadProducts);
  loadProducts();
  return actionForm("qa-order-form", [
    field("qa-order-department", t("qa.department"), department),
    field("qa-order-product", t("qa.product"), product),
    field("qa-order-quantity", t("qa.quantity"), quantity)],
  () => api("/api/orders", { method: "POST", body: {
    customer_id: c.id, department: department.value, status: "open",
    lines: [{ product_id: Number(product.value), quantity: Number(quantity.value) }] } }), ctx);
}

function callbackForm(c, ctx) {
  const due = h("input", { type: "datetime-local", required: true });
  // Typed and shown in the user's zone ([pages].timezone), like every time on the page.
  due.value = toLocalInput(Date.now() / 1000 + 3600);
  const phone = h("input", { value: ctx.callerNumber?.() || "", maxlength: 40 });
  const notes = h("textarea", { maxlength: 2000 });
  return actionForm("qa-callback-form", [
    field("qa-cb-due", t("qa.due"), due), field("qa-cb-phone", t("new.phone"), phone),
    field("qa-cb-notes", t("qa.notes"), notes)],
  () => api("/api/callbacks", { method: "POST", body: {
    customer_id: c.id, phone: phone.value.trim() || null, due_at: fromLocalInput(due.value),
    assigned_user_id: ctx.userId, kind: "callback", notes: notes.value } }), ctx);
}

// The reports page: pick a report, a date range, an interval and filters; see a chart (uPlot,
// served under /vendor/) and the table, and download the same rows as CSV.
//
// Times: the report's periods are cut in the report's zone ([reports].timezone, which the API
// names in `timezone`); the chart labels its time axis in that zone too, whatever the
// browser's own zone, so a day that starts at 00:00 there reads 00:00 here.
//
// Everything comes from GET /api/reports/{name} (the JSON and CSV the cron command writes too),
// with the session of app.js: supervisors and admins only (the API answers 403 to others).
// The CSV is fetched with the bearer token and handed to the browser as a blob: tokens never
// go into a URL.

import { api, ApiError, clear, h, logout, requireLogin, session, showError } from "/static/app.js";
import { addStrings, applyI18n, fmtNumber, fmtPercent, language, languageSwitcher,
         onLanguageChange, t, userTimeZone } from "/static/i18n.js";

addStrings({
  en: {
    "rep.title": "Reports",
    "rep.report": "Report",
    "rep.from": "From",
    "rep.to": "To (included)",
    "rep.interval": "Interval",
    "rep.queue": "Queue",
    "rep.agent": "Agent",
    "rep.team": "Team",
    "rep.campaign": "Campaign",
    "rep.menu": "IVR menu",
    "rep.by": "One row per",
    "rep.by_team": "Per team",
    "rep.show": "Show",
    "rep.csv": "Download CSV",
    "rep.rows": "{n} rows",
    "rep.empty": "No data in this range.",
    "rep.forbidden": "Reports are for supervisors and administrators.",
    "rep.any": "(all)",
    "iv.15min": "15 minutes", "iv.hour": "Hour", "iv.day": "Day", "iv.total": "Whole range",
    "by.campaign": "Campaign", "by.agent": "Agent", "by.team": "Team",
    "group.call_center": "Inbound", "group.ivr": "IVR", "group.outbound": "Outbound",
    "group.crm": "CRM",
    "r.inbound_summary": "Inbound summary",
    "r.distributions": "Wait and duration distributions",
    "r.agent_performance": "Agent performance",
    "r.leaderboard": "Leaderboard",
    "r.ivr_summary": "IVR outcomes",
    "r.ivr_exits": "Where callers leave the IVR",
    "r.outbound_summary": "Outbound campaigns",
    "r.outbound_hours": "Best hours to call",
    "r.pipeline": "Sales pipeline",
    "r.forecast": "Forecast",
    "r.value_curve": "Customer value (80/20)",
    "r.not_contacted": "Customers not contacted",
    "r.vip_open_tickets": "VIPs with open tickets",
    "r.ticket_sla": "Ticket SLA",
    "r.lead_conversion": "Lead conversion",
    // Codes in the cells (metric, IVR outcome, no team / no agent, the whole range).
    "val.wait_answered": "Wait to answer", "val.wait_abandoned": "Time to abandon",
    "val.talk": "Talk time", "val.handle": "Handle time", "val.self_service": "Self-service",
    "val.abandoned": "Abandoned", "val.queued": "Queued", "val.transferred": "Transferred",
    "val.callback": "Callback", "val.message": "Message", "val.failed": "Failed",
    "val.(none)": "(none)", "val.total": "Whole range",
    // Table headers: one per field the reports' rows have (an unknown field shows its name).
    "col.period": "Period", "col.period_start": "Period start", "col.queue": "Queue",
    "col.team": "Team", "col.agent": "Agent", "col.group": "Group", "col.campaign": "Campaign",
    "col.menu": "Menu", "col.node": "Left at", "col.outcome": "Outcome", "col.metric": "Measure",
    "col.from_s": "From (s)", "col.to_s": "To (s)", "col.calls": "Calls", "col.share": "Share",
    "col.offered": "Offered", "col.answered": "Answered",
    "col.answered_within_sl": "Answered in SL", "col.abandoned": "Abandoned",
    "col.abandoned_short": "Short abandons", "col.overflowed_out": "Overflowed out",
    "col.handled": "Handled", "col.callbacks": "Callbacks", "col.rona": "Ring no answer",
    "col.transferred": "Transferred", "col.service_level": "Service level",
    "col.service_level_excl_short": "SL excl. short abandons", "col.asa_s": "ASA (s)",
    "col.aht_s": "AHT (s)", "col.abandon_rate": "Abandon rate",
    "col.avg_time_to_abandon_s": "Avg time to abandon (s)", "col.transfer_rate": "Transfer rate",
    "col.first_call_resolution": "First-call resolution", "col.missed": "Missed offers",
    "col.avg_talk_s": "Avg talk (s)", "col.login_s": "Logged in (s)",
    "col.available_s": "Available (s)", "col.busy_s": "Busy (s)", "col.paused_s": "Paused (s)",
    "col.occupancy": "Occupancy", "col.pause_by_reason": "Pause by reason",
    "col.dispositions": "Dispositions", "col.rank": "Rank", "col.attempts": "Attempts",
    "col.live": "Live answers", "col.connected": "Connected", "col.machine": "Machines",
    "col.busy": "Busy", "col.no_answer": "No answer", "col.other": "Other",
    "col.refused": "Refused", "col.conversions": "Conversions", "col.contact_rate": "Contact rate",
    "col.conversion_rate": "Conversion rate", "col.abandon_rate_24h": "Abandon rate 24 h",
    "col.abandon_rate_30d": "Abandon rate 30 days", "col.rule_live": "Live answers (rule)",
    "col.rule_abandoned": "Abandons (rule)", "col.avg_wait_s": "Avg wait (s)", "col.hour": "Hour",
    "col.self_service": "Self-service", "col.self_service_rate": "Self-service rate",
    "col.queued": "Queued", "col.callback": "Callback", "col.message": "Message",
    "col.failed": "Failed", "col.avg_seconds": "Avg time (s)", "col.stage": "Stage",
    "col.opportunities": "Opportunities", "col.amount_cents": "Amount (cents)",
    "col.weighted_cents": "Weighted (cents)", "col.month": "Month",
    "col.top_customers_pct": "Top customers (%)", "col.customers": "Customers",
    "col.revenue_cents": "Revenue (cents)", "col.revenue_share": "Revenue share",
    "col.customer_id": "Customer", "col.name": "Name", "col.tier": "Tier",
    "col.value_score": "Value score", "col.last_contact": "Last contact",
    "col.open_tickets": "Open tickets", "col.escalated": "Escalated",
    "col.earliest_due": "Earliest due", "col.priority": "Priority", "col.created": "Created",
    "col.resolved": "Resolved", "col.met": "Met", "col.breached": "Breached",
    "col.compliance": "Compliance", "col.escalation_rate": "Escalation rate",
    "col.avg_resolution_h": "Avg resolution (h)", "col.source": "Source", "col.leads": "Leads",
    "col.contacted": "Contacted", "col.converted": "Converted",
  },
  "zh-CN": {
    "rep.title": "报表",
    "rep.report": "报表",
    "rep.from": "开始日期",
    "rep.to": "结束日期（含）",
    "rep.interval": "时间粒度",
    "rep.queue": "队列",
    "rep.agent": "坐席",
    "rep.team": "班组",
    "rep.campaign": "外呼活动",
    "rep.menu": "IVR 菜单",
    "rep.by": "分组",
    "rep.by_team": "按班组",
    "rep.show": "查询",
    "rep.csv": "下载 CSV",
    "rep.rows": "共 {n} 行",
    "rep.empty": "该时间段没有数据。",
    "rep.forbidden": "报表仅对班长和管理员开放。",
    "rep.any": "（全部）",
    "iv.15min": "15 分钟", "iv.hour": "小时", "iv.day": "天", "iv.total": "整个时段",
    "by.campaign": "外呼活动", "by.agent": "坐席", "by.team": "班组",
    "group.call_center": "呼入", "group.ivr": "IVR", "group.outbound": "外呼",
    "group.crm": "客户关系",
    "r.inbound_summary": "呼入汇总",
    "r.distributions": "等待与通话时长分布",
    "r.agent_performance": "坐席绩效",
    "r.leaderboard": "排行榜",
    "r.ivr_summary": "IVR 结果",
    "r.ivr_exits": "来电者在 IVR 中的离开位置",
    "r.outbound_summary": "外呼活动",
    "r.outbound_hours": "最佳外呼时段",
    "r.pipeline": "销售漏斗",
    "r.forecast": "销售预测",
    "r.value_curve": "客户价值（80/20）",
    "r.not_contacted": "久未联系的客户",
    "r.vip_open_tickets": "有未结工单的重要客户",
    "r.ticket_sla": "工单 SLA",
    "r.lead_conversion": "线索转化",
    "val.wait_answered": "应答前等待", "val.wait_abandoned": "放弃前等待",
    "val.talk": "通话时长", "val.handle": "处理时长", "val.self_service": "自助完成",
    "val.abandoned": "放弃", "val.queued": "进入队列", "val.transferred": "转接",
    "val.callback": "回呼", "val.message": "留言", "val.failed": "失败",
    "val.(none)": "（无）", "val.total": "整个时段",
    "col.period": "时段", "col.period_start": "时段开始", "col.queue": "队列", "col.team": "班组",
    "col.agent": "坐席", "col.group": "分组", "col.campaign": "外呼活动", "col.menu": "菜单",
    "col.node": "离开节点", "col.outcome": "结果", "col.metric": "指标", "col.from_s": "起（秒）",
    "col.to_s": "止（秒）", "col.calls": "呼叫数", "col.share": "占比", "col.offered": "呼入量",
    "col.answered": "接通量", "col.answered_within_sl": "服务水平内接通", "col.abandoned": "放弃量",
    "col.abandoned_short": "短时放弃", "col.overflowed_out": "溢出量", "col.handled": "处理量",
    "col.callbacks": "回呼请求", "col.rona": "振铃未接", "col.transferred": "转接量",
    "col.service_level": "服务水平", "col.service_level_excl_short": "服务水平（不含短时放弃）",
    "col.asa_s": "平均应答时间（秒）", "col.aht_s": "平均处理时长（秒）", "col.abandon_rate": "放弃率",
    "col.avg_time_to_abandon_s": "平均放弃前等待（秒）", "col.transfer_rate": "转接率",
    "col.first_call_resolution": "首次解决率", "col.missed": "未接分配", "col.avg_talk_s": "平均通话（秒）",
    "col.login_s": "登录时长（秒）", "col.available_s": "空闲时长（秒）", "col.busy_s": "忙碌时长（秒）",
    "col.paused_s": "暂停时长（秒）", "col.occupancy": "占用率", "col.pause_by_reason": "按原因暂停",
    "col.dispositions": "处理结果", "col.rank": "排名", "col.attempts": "拨打次数", "col.live": "真人接听",
    "col.connected": "接通坐席", "col.machine": "答录机", "col.busy": "占线", "col.no_answer": "无人接听",
    "col.other": "其他", "col.refused": "被拒绝", "col.conversions": "成交", "col.contact_rate": "接触率",
    "col.conversion_rate": "转化率", "col.abandon_rate_24h": "24 小时放弃率",
    "col.abandon_rate_30d": "30 天放弃率", "col.rule_live": "真人接听（规则）", "col.rule_abandoned": "放弃（规则）",
    "col.avg_wait_s": "平均等待（秒）", "col.hour": "小时", "col.self_service": "自助完成",
    "col.self_service_rate": "自助完成率", "col.queued": "进入队列", "col.callback": "回呼",
    "col.message": "留言", "col.failed": "失败", "col.avg_seconds": "平均时长（秒）", "col.stage": "阶段",
    "col.opportunities": "商机数", "col.amount_cents": "金额（分）", "col.weighted_cents": "加权金额（分）",
    "col.month": "月份", "col.top_customers_pct": "头部客户（%）", "col.customers": "客户数",
    "col.revenue_cents": "收入（分）", "col.revenue_share": "收入占比", "col.customer_id": "客户",
    "col.name": "名称", "col.tier": "等级", "col.value_score": "价值分", "col.last_contact": "最近联系",
    "col.open_tickets": "未结工单", "col.escalated": "已升级", "col.earliest_due": "最早到期",
    "col.priority": "优先级", "col.created": "新建", "col.resolved": "已解决", "col.met": "达标",
    "col.breached": "超时", "col.compliance": "达标率", "col.escalation_rate": "升级率",
    "col.avg_resolution_h": "平均解决时长（小时）", "col.source": "来源", "col.leads": "线索数",
    "col.contacted": "已联系", "col.converted": "已转化",
  },
});

// Which filters each report uses, and what its chart draws. `x`: "time" (period_start on a
// time axis) or a function giving a category label; `rows`: which rows the chart shows (the
// all-queues / all-campaigns line for summaries); `series`: [field, label key, kind].
const LINE = "line";
const BARS = "bars";
const REPORTS = [
  { name: "inbound_summary", group: "call_center",
    filters: ["interval", "queue", "team", "by_team"],
    chart: { x: "time", rows: (r) => r.queue === "" && !r.team, series: [
      ["offered", "offered"], ["answered", "answered"], ["abandoned", "abandoned"]] } },
  { name: "distributions", group: "call_center", filters: ["queue", "team", "by_team"],
    chart: { x: (r) => `${r.from_s}s`,
             rows: (r) => r.queue === "" && !r.team && r.metric === "wait_answered",
             series: [["calls", "calls", BARS]] } },
  { name: "agent_performance", group: "call_center",
    filters: ["interval", "agent", "team", "by_team"],
    chart: { x: (r) => r.agent || r.team, rows: () => true, series: [["handled", "handled", BARS]] } },
  { name: "leaderboard", group: "call_center", filters: ["agent", "team", "by_team"],
    chart: { x: (r) => r.agent || r.team, rows: () => true, series: [["handled", "handled", BARS]] } },
  { name: "ivr_summary", group: "ivr", filters: ["interval", "queue", "menu"],
    chart: { x: "time", rows: (r) => r.queue === "", series: [
      ["calls", "calls"], ["self_service", "self_service"], ["abandoned", "abandoned"]] } },
  { name: "ivr_exits", group: "ivr", filters: ["queue", "menu"],
    chart: { x: (r) => `${r.node} (${r.outcome})`, rows: () => true,
             series: [["calls", "calls", BARS]] } },
  { name: "outbound_summary", group: "outbound", filters: ["interval", "campaign", "by", "agent"],
    chart: { x: "time", rows: (r) => r.group === "", series: [
      ["attempts", "attempts"], ["live", "live"], ["conversions", "conversions"]] } },
  { name: "outbound_hours", group: "outbound", filters: ["campaign"],
    chart: { x: (r) => `${r.hour}:00`, rows: (r) => r.campaign === "",
             series: [["attempts", "attempts", BARS], ["live", "live", BARS]] } },
  { name: "pipeline", group: "crm", filters: ["by_team"],
    chart: { x: (r) => (r.team ? `${r.team} ` : "") + r.stage, rows: () => true,
             series: [["weighted_cents", "weighted_cents", BARS]] } },
  { name: "forecast", group: "crm", filters: [] },
  { name: "value_curve", group: "crm", filters: [],
    chart: { x: (r) => `${r.top_customers_pct}%`, rows: () => true,
             series: [["revenue_share", "revenue_share"]] } },
  { name: "not_contacted", group: "crm", filters: [] },
  { name: "vip_open_tickets", group: "crm", filters: [] },
  { name: "ticket_sla", group: "crm", filters: ["by_team"],
    chart: { x: (r) => r.team ?? r.priority, rows: (r) => (r.team ?? r.priority) !== "",
             series: [["met", "met", BARS], ["breached", "breached", BARS]] } },
  { name: "lead_conversion", group: "crm", filters: [] },
];
const BY_NAME = Object.fromEntries(REPORTS.map((r) => [r.name, r]));
const COLOURS = ["#1f6feb", "#1a7f37", "#cf222e", "#8250df", "#9a6700"];

// ---------------------------------------------------------------- the form

function isoDay(d) {
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

function field(id, labelKey, control) {
  control.id = id;
  return h("div", { class: "rep-field", "data-field": id.replace("rep-", "") },
    h("label", { for: id, "data-i18n": labelKey }), control);
}

function buildForm() {
  const select = h("select", {});
  for (const group of ["call_center", "ivr", "outbound", "crm"]) {
    const og = h("optgroup", { "data-group": group, "data-i18n-attr": `label:group.${group}` });
    for (const r of REPORTS.filter((x) => x.group === group)) {
      og.append(h("option", { value: r.name, "data-i18n": `r.${r.name}` }));
    }
    select.append(og);
  }
  const today = new Date();
  const weekAgo = new Date(today.getTime() - 6 * 86400000);
  const interval = h("select", {}, ...["15min", "hour", "day", "total"].map(
    (v) => h("option", { value: v, "data-i18n": `iv.${v}`, selected: v === "day" })));
  const by = h("select", {}, ...["campaign", "agent", "team"].map(
    (v) => h("option", { value: v, "data-i18n": `by.${v}` })));
  const text = () => h("input", { type: "text", "data-i18n-attr": `placeholder:rep.any`,
                                     autocomplete: "off", spellcheck: "false" });
  const form = h("form", { id: "rep-form", class: "panel rep-form" },
    field("rep-name", "rep.report", select),
    field("rep-from", "rep.from", h("input", { type: "date", value: isoDay(weekAgo), required: true })),
    field("rep-to", "rep.to", h("input", { type: "date", value: isoDay(today), required: true })),
    field("rep-interval", "rep.interval", interval),
    field("rep-queue", "rep.queue", text()),
    field("rep-agent", "rep.agent", text()),
    field("rep-team", "rep.team", text()),
    field("rep-campaign", "rep.campaign", text()),
    field("rep-menu", "rep.menu", text()),
    field("rep-by", "rep.by", by),
    field("rep-by_team", "rep.by_team", h("input", { type: "checkbox" })),
    h("div", { class: "rep-actions" },
      h("button", { type: "submit", class: "primary", id: "rep-show", "data-i18n": "rep.show" }),
      h("button", { type: "button", id: "rep-csv", "data-i18n": "rep.csv", onclick: downloadCsv })));
  select.addEventListener("change", showFilters);
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load().catch(showError); });
  return form;
}

function showFilters() {
  const spec = BY_NAME[document.getElementById("rep-name").value];
  for (const el of document.querySelectorAll(".rep-field")) {
    const f = el.dataset.field;
    if (["name", "from", "to"].includes(f)) continue;
    el.hidden = !spec.filters.includes(f);
  }
}

/** The query string of the current form (only the filters the report uses). */
function query(format) {
  const value = (id) => document.getElementById(id).value.trim();
  const name = value("rep-name");
  const spec = BY_NAME[name];
  const q = new URLSearchParams({ from: value("rep-from"), to: value("rep-to") });
  for (const f of spec.filters) {
    if (f === "by_team") {
      if (document.getElementById("rep-by_team").checked) q.set("by_team", "1");
      continue;
    }
    const v = value(`rep-${f}`);
    if (!v) continue;
    if (["queue", "agent", "team", "campaign", "menu"].includes(f)) {
      for (const one of v.split(",").map((s) => s.trim()).filter(Boolean)) q.append(f, one);
    } else {
      q.set(f, v);
    }
  }
  if (format) q.set("format", format);
  return [name, q];
}

// ---------------------------------------------------------------- loading

let lastRows = [];
let lastSpec = null;
// The zone the report's periods were cut in (the API says); "" until a report names one.
let reportZone = "";

async function load() {
  const [name, q] = query();
  const status = document.getElementById("rep-status");
  status.textContent = t("common.loading");
  const body = await api(`/api/reports/${encodeURIComponent(name)}?${q}`);
  lastRows = body.rows;
  lastSpec = BY_NAME[name];
  reportZone = body.timezone || "";
  status.textContent = body.rows.length ? t("rep.rows", { n: body.rows.length }) : t("rep.empty");
  status.dataset.rows = String(body.rows.length);
  drawChart(BY_NAME[name], body.rows);
  drawTable(body.rows);
}

async function downloadCsv() {
  try {
    const [name, q] = query("csv");
    const resp = await fetch(`/api/reports/${encodeURIComponent(name)}?${q}`, {
      headers: { Authorization: `Bearer ${session.access}` } });
    if (!resp.ok) {
      let err = {};
      try { err = await resp.json(); } catch { /* not JSON */ }
      throw new ApiError(resp.status, err);
    }
    const blob = await resp.blob();
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: `${name}-${q.get("from")}-${q.get("to")}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    showError(err);
  }
}

// ---------------------------------------------------------------- chart and table

let plot = null;

function drawChart(spec, rows) {
  const box = document.getElementById("rep-chart");
  plot?.destroy();
  plot = null;
  clear(box);
  const chart = spec.chart;
  const shown = chart ? rows.filter(chart.rows) : [];
  box.hidden = !shown.length;
  box.dataset.points = "0";
  if (!shown.length) return;
  const time = chart.x === "time";
  const xs = time ? shown.map((r) => r.period_start) : shown.map((_, i) => i);
  const labels = time ? [] : shown.map(chart.x);
  const data = [xs, ...chart.series.map(([f]) => shown.map((r) => r[f] ?? null))];
  const bars = (kind) => kind === BARS && window.uPlot?.paths?.bars
    ? window.uPlot.paths.bars({ size: [0.7 / chart.series.length, 60] }) : undefined;
  const width = Math.max(320, box.clientWidth - 8);
  const zone = chartZone();
  box.dataset.zone = zone;
  const timeLabel = (ts, withDate) => (ts == null ? "–" : fmtInZone(ts, zone, withDate));
  const opts = {
    width, height: 280,
    // Ticks fall on the zone's own hours and midnights, and read in it (24-hour clock).
    tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1e3), zone),
    scales: {
      // Categories sit on whole numbers with half a slot of room each side; counts from 0.
      x: time ? { time } : { time, range: () => [-0.5, xs.length - 0.5] },
      y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: [time
      ? { values: (u, splits, ai, space) => splits.map((v) => timeLabel(v, space >= 80)),
          space: 60 }
      : { splits: () => xs, values: (u, splits) => splits.map((i) => labels[i] ?? "") },
           {}],
    series: [time ? { value: (u, v) => timeLabel(v, true) } : {}, ...chart.series.map(([field, label, kind], i) => ({
      label: t(`col.${label}`), stroke: COLOURS[i % COLOURS.length], width: 2,
      fill: kind === BARS ? `${COLOURS[i % COLOURS.length]}99` : undefined,
      paths: bars(kind), points: { show: kind !== BARS } }))],
  };
  box.dataset.points = String(data.slice(1).flat().filter((v) => v).length);
  if (window.uPlot) {
    plot = new window.uPlot(opts, data, box);
  } else {
    box.append(svgChart(data, chart.series));  // uPlot not installed: a plain fallback
  }
}

function svgChart(data, series) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 600 200");
  svg.setAttribute("class", "rep-svg");
  const max = Math.max(1, ...data.slice(1).flat().filter(Number.isFinite));
  const n = data[0].length;
  series.forEach((_, s) => {
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", COLOURS[s % COLOURS.length]);
    line.setAttribute("points", data[s + 1].map((v, i) =>
      `${(i / Math.max(1, n - 1)) * 590 + 5},${195 - ((v || 0) / max) * 185}`).join(" "));
    svg.append(line);
  });
  return svg;
}

/** The report's zone, else the user's (pages' setting or the browser's). */
function chartZone() {
  for (const zone of [reportZone, userTimeZone()]) {
    try {
      if (zone) {
        new Intl.DateTimeFormat("en", { timeZone: zone });
        return zone;
      }
    } catch { /* an unknown name: try the next */ }
  }
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Epoch seconds as "YYYY-MM-DD HH:mm" (or "HH:mm", or the date at midnight) in `zone`. */
function fmtInZone(ts, zone, withDate) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(ts * 1000))
    .map((p) => [p.type, p.value]));
  const day = `${parts.year}-${parts.month}-${parts.day}`;
  const clock = `${parts.hour}:${parts.minute}`;
  return withDate ? `${day} ${clock}` : clock;
}

const GROUP_KEYS = new Set(["queue", "group", "campaign", "agent", "team"]);

function cell(key, v) {
  if (v == null) return h("td", { class: "num" }, "–");
  if (v === "" && GROUP_KEYS.has(key)) return h("td", { class: "muted" }, t("rep.any"));
  if (typeof v === "number") {
    const ratio = /(rate|level|share|resolution|occupancy|probability)$/.test(key) && v <= 1;
    return h("td", { class: "num" }, ratio ? fmtPercent(v) : fmtNumber(v, 2));
  }
  if (typeof v === "object") return h("td", {}, JSON.stringify(v));
  if (VALUE_KEYS.has(key) || v === "(none)" || (key === "period" && v === "total")) {
    const k = `val.${v}`;
    const text = t(k);
    return h("td", { "data-value": v }, text === k ? String(v) : text);
  }
  return h("td", {}, String(v));
}

// Columns whose values are codes the page translates (an unknown code shows as it is).
const VALUE_KEYS = new Set(["metric", "outcome"]);

function drawTable(rows) {
  const table = document.getElementById("rep-table");
  clear(table);
  if (!rows.length) return;
  const keys = Object.keys(rows[0]).filter((k) => k !== "period_start");
  table.append(
    h("thead", {}, h("tr", {}, ...keys.map((k) => h("th", { "data-col": k, title: k },
                                                      t(`col.${k}`))))),
    h("tbody", {}, ...rows.slice(0, 2000).map((r) => h("tr", {}, ...keys.map((k) => cell(k, r[k]))))));
}

// ---------------------------------------------------------------- the page

async function main() {
  const me = await requireLogin();
  const top = document.getElementById("topbar");
  clear(top,
    h("span", { class: "brand", "data-i18n": "rep.title" }),
    h("span", { class: "who" }, me.username),
    languageSwitcher(),
    h("button", { type: "button", onclick: logout, "data-i18n": "common.logout" }));
  const root = document.getElementById("main");
  if (!["supervisor", "admin"].includes(me.role)) {
    clear(root, h("p", { class: "notice warn", "data-i18n": "rep.forbidden" }));
    applyI18n(document);
    return;
  }
  clear(root, buildForm(),
    h("section", { class: "panel" },
      h("p", { id: "rep-status", class: "muted", role: "status" }),
      h("div", { id: "rep-chart", class: "rep-chart", hidden: true })),
    h("section", { class: "panel rep-table-wrap" }, h("table", { id: "rep-table" })));
  showFilters();
  applyI18n(document);
  document.title = t("rep.title");
  onLanguageChange(() => {
    applyI18n(document);
    document.title = t("rep.title");
    drawTable(lastRows);
    if (lastSpec) drawChart(lastSpec, lastRows);  // the legend's labels
  });
  document.documentElement.lang = language();
}

main().catch(showError);

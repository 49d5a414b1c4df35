// The agent desktop (work in progress: connection only).
import { requireLogin, Hub, connectionBadge, h, showError, logout, applyUserLocale,
         languageSwitcher, t } from "/static/app.js";

const me = await requireLogin().catch(showError);
const [badge, onStatus] = connectionBadge();
document.getElementById("topbar").append(
  h("span", { class: "brand" }, t("app.title")), badge,
  h("span", { class: "who" }, me?.username || ""), languageSwitcher(),
  h("button", { type: "button", onclick: logout }, t("common.logout")));
const hub = new Hub({ onStatus, onWelcome: (m) => applyUserLocale(m.user) });
hub.connect();

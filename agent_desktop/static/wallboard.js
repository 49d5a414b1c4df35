// The supervisor wallboard (work in progress: connection only).
import { requireLogin, Hub, connectionBadge, h, showError, logout, languageSwitcher,
         t } from "/static/app.js";

const kiosk = new URLSearchParams(location.hash.slice(1)).get("kiosk");
const me = kiosk ? null : await requireLogin().catch(showError);
const [badge, onStatus] = connectionBadge();
document.getElementById("topbar").append(
  h("span", { class: "brand" }, t("app.title")), badge,
  h("span", { class: "who" }, me?.username || ""), languageSwitcher(),
  kiosk ? null : h("button", { type: "button", onclick: logout }, t("common.logout")));
const hub = new Hub({ kiosk, onStatus });
hub.connect();

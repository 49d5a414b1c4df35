// The start page: sign in, then go to the page for the user's role.
import { requireLogin, showError } from "/static/app.js";

const PAGE_OF_ROLE = { agent: "/desktop", supervisor: "/wallboard", admin: "/wallboard" };

try {
  const me = await requireLogin();
  location.replace(PAGE_OF_ROLE[me.role] || "/desktop");
} catch (err) {
  showError(err);
}

// Sign in, then go to the console of the user's role.

import { $, api, show } from "./common.js";

const form = $("login-form");
const button = $("sign-in");
const errorBox = $("login-error");
const infoBox = $("login-info");

function consoleFor(user) {
  const roles = user.roles || [];
  if (roles.includes("technologist")) return "/tech";
  if (roles.includes("radiologist")) return "/rad";
  if (roles.includes("supervisor") || roles.includes("admin")) return "/super";
  return null;
}

function showError(text) {
  errorBox.textContent = text;
  show(errorBox, Boolean(text));
}

function noConsole(user) {
  const roles = (user.roles || []).join(", ") || "no role";
  infoBox.textContent = `Signed in as ${user.full_name} (${roles}). This account has no role with a console: Standby has consoles for technologists, radiologists, supervisors and admins.`;
  show(infoBox);
  show(form, false);
  show($("no-console"));
}

function go(user) {
  const target = consoleFor(user);
  if (target) location.replace(target);
  else noConsole(user);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    showError("Enter your username and password.");
    return;
  }
  button.disabled = true;
  button.textContent = "Signing in…";
  try {
    const { user } = await api("POST", "/api/login", { username, password });
    go(user);
  } catch (error) {
    if (error.status === 429) showError(`Too many attempts: ${error.detail}`);
    else if (error.status === 401) showError(`Not signed in: ${error.detail}`);
    else showError(error.detail || String(error));
    $("password").value = "";
    $("password").focus();
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await api("POST", "/api/logout");
  } catch {
    // signed out anyway, or the server is away: the form is the way forward either way
  }
  show($("no-console"), false);
  show(infoBox, false);
  show(form);
});

// Already signed in (a bookmark to /login): straight on, or say why not.
(async () => {
  try {
    const { user } = await api("GET", "/api/me");
    go(user);
  } catch {
    if (new URLSearchParams(location.search).has("no_console")) {
      infoBox.textContent = "Your account has no role with a console. Sign in as a technologist, radiologist, supervisor or admin.";
      show(infoBox);
    }
    $("username").focus();
  }
})();

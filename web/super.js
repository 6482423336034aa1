// Supervisor's console: the alerts inbox (live, with a tone, acknowledged by name), the live board
// of open sessions against 30 s and 90 s, the session list with filters and each record, and the
// reports section.
//
// Alerts come over the socket: the page shows one, then answers ``alert_shown``, and only that
// answer counts the alert as delivered in-app. The board is polled every BOARD_POLL_MS (a state
// change shows within a few seconds; the clock ticks here each second): no new fan-out for the
// pager's every event, it works whichever worker answers, and it needs no catching up after a
// dropped socket.

import {
  $,
  AlarmTone,
  api,
  cancelReasonText,
  currentUser,
  el,
  fillHeader,
  formatDuration,
  lastExchange,
  Notices,
  parseTime,
  serverClock,
  setPill,
  show,
  SignalingSocket,
  SKIP_REASONS,
  socketPill,
  timerReading,
  VIA,
} from "./common.js";
import { renderReport } from "./report_view.js";
import { openReports } from "./reports_tab.js";

export { renderReport };

const BOARD_POLL_MS = 3000;
const ALERTS_POLL_MS = 15000;
const SECTIONS = ["alerts", "board", "sessions", "reports"];
const PAGE_SIZE = 25;
const KIND_WORDS = {
  exhausted: "Paging ran out: no radiologist joined",
  reaction: "Contrast reaction: every tier paged STAT",
};
const CHANNEL_WORDS = { in_app: "in-app", sms: "SMS", voice: "voice" };
const TITLE = document.title;

const notices = new Notices($("notices"));
let me = null;
let alerts = []; // as GET /api/super/alerts gave them, newest first, plus ones just arrived
let olderFrom = null; // the ``before`` of the next older page, if any
const live = new Map(); // key -> alert message, for alerts that arrived here and are not acknowledged
let board = null;
let sessionsCursors = [null]; // the ``after`` of each page seen; the last is the one shown
let sessionsNext = null;
let choices = null;
let choicesLoading = null;

const alertKey = (a) => `${a.session_id}|${a.kind || a.alert}|${a.round}`;

// --- time in words --------------------------------------------------------------------------

function localTime(iso, timeZone, withDay = true) {
  const t = parseTime(iso);
  if (!Number.isFinite(t)) return "";
  const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short" };
  if (withDay) Object.assign(options, { month: "short", day: "numeric" });
  try {
    return new Intl.DateTimeFormat("en-US", { ...options, timeZone }).format(new Date(t));
  } catch {
    return new Date(t).toISOString();
  }
}

/** "Mar 2, 2026" on this device's calendar. */
function dayOf(iso) {
  const t = parseTime(iso);
  return Number.isFinite(t)
    ? new Intl.DateTimeFormat("en-US", { year: "numeric", month: "short", day: "numeric" }).format(new Date(t))
    : "";
}

function ago(iso) {
  const seconds = Math.max(0, (serverClock.now() - parseTime(iso)) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

// --- sound ----------------------------------------------------------------------------------

const AudioContextClass = window.AudioContext || window.webkitAudioContext;
const audio = AudioContextClass ? new AudioContextClass() : null;
const alarm = new AlarmTone(audio);

function renderSoundButton() {
  const locked = Boolean(audio) && audio.state !== "running";
  show($("enable-sound"), locked);
  if (!locked || !alarm.ringing) notices.clear("sound");
}

function syncAlarm() {
  if (live.size) alarm.start();
  else alarm.stop();
  document.body.dataset.alarm = alarm.ringing ? "ringing" : "off";
  if (alarm.muted) {
    renderSoundButton();
    notices.show(
      "error",
      "An alert is sounding but this page may not play sound yet: tap anywhere, or press “Enable sound”.",
      "sound",
    );
  }
  renderBanner();
}

if (audio) {
  audio.addEventListener("statechange", renderSoundButton);
  renderSoundButton();
}
$("enable-sound").addEventListener("click", () => {
  if (audio) audio.resume().then(renderSoundButton, () => {});
});
const unlock = () => {
  if (audio && audio.state !== "running") audio.resume().then(renderSoundButton, () => {});
};
document.addEventListener("pointerdown", unlock, { passive: true });
document.addEventListener("keydown", unlock);

// --- sections -------------------------------------------------------------------------------

function showSection() {
  const wanted = location.hash.replace("#", "");
  const section = SECTIONS.includes(wanted) ? wanted : "alerts";
  for (const name of SECTIONS) {
    show($(name), name === section);
    const tab = $(`tab-${name}`);
    tab.setAttribute("aria-selected", String(name === section));
  }
  document.body.dataset.section = section;
  if (section === "sessions" && !$("sessions-rows").childElementCount) ensureChoices().then(() => loadSessions());
  if (section === "reports") ensureChoices().then(() => openReports(choices));
}

window.addEventListener("hashchange", showSection);

// --- alerts ---------------------------------------------------------------------------------

function deliveryWords(d) {
  const channel = CHANNEL_WORDS[d.channel] || d.channel;
  if (d.status === "sent") return d.channel === "in_app" ? "shown on a Standby page" : `${channel} sent`;
  if (d.status === "pending" || d.status === "sending") return `${channel}: sending…`;
  if (d.status === "skipped" && /^no (sms|in_app) for this supervisor$/.test(d.detail || "")) {
    return `${channel}: not sent (${d.channel === "sms" ? "no mobile number, or SMS not set up" : "in-app not set up"})`;
  }
  if (d.status === "skipped") return `${channel}: ${d.detail || "skipped"}`;
  if (d.status === "cancelled") return `${channel}: cancelled`;
  return `${channel}: ${d.detail || "not delivered"}`;
}

function sessionNowWords(a) {
  const s = a.session;
  if (!s) return "Reading the session…";
  if (s.state === "ended") {
    if (s.outcome === "completed") return `Session ended: completed${s.radiologist ? ` with ${s.radiologist}` : ""}.`;
    return `Session ended: cancelled, ${cancelReasonText(s.cancel_reason)}.`;
  }
  if (s.state === "joined") return `Session now: ${s.radiologist || "a radiologist"} joined.`;
  return "Session now: still waiting for a radiologist.";
}

function alertItem(a) {
  const acknowledged = a.acknowledged;
  const byPerson = new Map();
  for (const d of a.deliveries || []) {
    if (!byPerson.has(d.person)) byPerson.set(d.person, []);
    byPerson.get(d.person).push(d);
  }
  const deliveries = [...byPerson.entries()].map(([person, list]) =>
    el(
      "li",
      { dataset: { reached: String(list.some((d) => d.status === "sent")) } },
      el("b", {}, person),
      ": ",
      list.map(deliveryWords).join(" · "),
    ),
  );
  const ack = acknowledged
    ? el("span", { class: "sup-acked", dataset: { testid: "alert-acked" } },
        `Acknowledged by ${acknowledged.by}, ${localTime(acknowledged.at, a.facility_timezone)}`)
    : el(
        "button",
        {
          type: "button",
          class: "primary",
          disabled: a.id === null,
          dataset: { testid: "alert-ack" },
          onclick: (event) => acknowledge(a, event.currentTarget),
        },
        "Acknowledge",
      );
  return el(
    "li",
    {
      class: "sup-alert",
      dataset: {
        kind: a.kind,
        sessionId: a.session_id,
        alertId: a.id ?? "",
        acknowledged: acknowledged ? "true" : "false",
        delivered: a.delivered ? "true" : "false",
        live: live.has(alertKey(a)) ? "true" : "false",
      },
    },
    el(
      "div",
      { class: "sup-alert-head" },
      el("span", { class: "sup-kind" }, KIND_WORDS[a.kind] || a.kind),
      el("span", { class: "where" }, `${a.facility}, ${a.room}${a.modality ? ` (${a.modality})` : ""}`),
    ),
    el("p", { class: "sup-alert-when" }, `${localTime(a.raised_at, a.facility_timezone)} · ${ago(a.raised_at)}`),
    el("p", { class: "sup-alert-state" }, sessionNowWords(a)),
    deliveries.length ? el("ul", { class: "sup-deliveries" }, deliveries) : null,
    el(
      "div",
      { class: "sup-alert-actions" },
      ack,
      el("a", { href: `/api/sessions/${a.session_id}/record.html`, target: "_blank", rel: "noopener", class: "sup-record" }, "Record"),
    ),
  );
}

function renderAlerts() {
  const list = $("alerts-list");
  list.replaceChildren(...alerts.map(alertItem));
  show($("alerts-empty"), alerts.length === 0);
  show($("alerts-more"), olderFrom !== null);
  const open = alerts.filter((a) => !a.acknowledged).length;
  const count = $("alerts-count");
  count.textContent = String(open);
  count.dataset.nonzero = String(open > 0);
}

/** Re-read the newest alerts (keeping older pages already shown); alerts acknowledged elsewhere
 * stop ringing here. */
async function loadAlerts() {
  let data;
  try {
    data = await api("GET", "/api/super/alerts?limit=50");
  } catch (error) {
    notices.error(`Alerts could not be read: ${error.detail}`, "alerts");
    return;
  }
  notices.clear("alerts");
  const fresh = data.alerts;
  const ids = new Set(fresh.map((a) => a.id));
  const oldest = fresh.length ? fresh[fresh.length - 1].id : Infinity;
  const kept = alerts.filter((a) => a.id !== null && !ids.has(a.id) && a.id < oldest);
  const pending = alerts.filter((a) => a.id === null && !fresh.some((f) => alertKey(f) === alertKey(a)));
  alerts = [...pending, ...fresh, ...kept];
  if (olderFrom === null || kept.length === 0) olderFrom = data.before;
  for (const a of fresh) if (a.acknowledged) live.delete(alertKey(a));
  renderAlerts();
  syncAlarm();
}

async function loadOlderAlerts() {
  if (olderFrom === null) return;
  try {
    const data = await api("GET", `/api/super/alerts?limit=50&before=${olderFrom}`);
    alerts = [...alerts, ...data.alerts.filter((a) => !alerts.some((b) => b.id === a.id))];
    olderFrom = data.before;
    renderAlerts();
  } catch (error) {
    notices.error(`Older alerts could not be read: ${error.detail}`, "alerts");
  }
}

/** An alert pushed over the socket: shown at once (then confirmed shown), ringing until
 * acknowledged, and the list read again for its deliveries. */
function onAlert(message) {
  const key = alertKey(message);
  live.set(key, message);
  if (!alerts.some((a) => alertKey(a) === key)) {
    alerts.unshift({
      id: null,
      kind: message.alert,
      round: message.round,
      session_id: message.session_id,
      facility: message.facility || "a facility",
      room: message.room || "a room",
      modality: "",
      facility_timezone: undefined,
      raised_at: new Date(serverClock.now()).toISOString(),
      session: null,
      deliveries: [],
      acknowledged: null,
    });
  }
  renderAlerts();
  syncAlarm();
  if (message.ack) socket.send({ type: "alert_shown", ack: message.ack });
  loadAlerts();
  loadBoard();
}

async function acknowledge(a, button) {
  if (a.id === null) return;
  if (button) {
    button.disabled = true;
    button.textContent = "Acknowledging…";
  }
  try {
    const data = await api("POST", `/api/super/alerts/${a.id}/acknowledge`);
    const updated = data.alert;
    alerts = alerts.map((x) => (x.id === updated.id ? updated : x));
    live.delete(alertKey(updated));
    notices.clear(`ack-${a.id}`);
  } catch (error) {
    notices.error(`The acknowledgement was not recorded: ${error.detail}`, `ack-${a.id}`);
  }
  renderAlerts();
  syncAlarm();
}

function renderBanner() {
  const banner = $("alert-banner");
  const newest = [...live.values()].at(-1);
  show(banner, Boolean(newest));
  document.body.classList.toggle("sup-alerting", Boolean(newest));
  document.title = newest ? `ALERT · ${TITLE}` : TITLE;
  if (!newest) return;
  const others = live.size - 1;
  $("alert-banner-title").textContent = `${KIND_WORDS[newest.alert] || "Alert"}`;
  $("alert-banner-detail").textContent =
    `${newest.facility || "a facility"}, ${newest.room || "a room"}` +
    (others ? ` · ${others} more not acknowledged` : "");
  const listed = alerts.find((a) => alertKey(a) === alertKey(newest));
  const button = $("alert-banner-ack");
  button.disabled = !listed || listed.id === null;
  button.dataset.key = alertKey(newest);
  document.body.style.setProperty("--banner-height", `${banner.offsetHeight}px`);
}

$("alert-banner-ack").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const listed = alerts.find((a) => alertKey(a) === button.dataset.key);
  if (!listed) return;
  await acknowledge(listed, button);
  button.textContent = "Acknowledge";
});
$("alerts-more").addEventListener("click", loadOlderAlerts);

// --- live board -----------------------------------------------------------------------------

const MARK = { sent: " ✓", failed: " ✗", skipped: " (not sent)", pending: " …", sending: " …" };

/** Who the pager reached in its latest round: one line a person, each channel with its outcome. */
function pagedList(paging) {
  if (!paging) return el("p", { class: "sup-live-line" }, "Not paged yet.");
  const round = paging.round;
  const latest = (paging.pages || []).filter((p) => p.round === round);
  const byName = new Map();
  for (const p of latest.filter((x) => x.channel !== "-")) {
    if (!byName.has(p.name)) byName.set(p.name, []);
    byName.get(p.name).push(p);
  }
  const stat = latest.some((p) => p.purpose === "stat") ? "STAT: " : "";
  const head = byName.size
    ? `${stat}paged, tier ${(paging.tier ?? 0) + 1} of ${paging.tiers}`
    : `${stat}nobody could be paged`;
  const people = [...byName.entries()].map(([name, list]) =>
    el(
      "li",
      { dataset: { reached: String(list.some((p) => p.status === "sent")) } },
      el("b", {}, name),
      ": ",
      list.map((p) => `${CHANNEL_WORDS[p.channel] || p.channel}${MARK[p.status] || ""}`).join(" · "),
    ),
  );
  const skipped = latest
    .filter((p) => p.channel === "-")
    .map((p) => el("li", { dataset: { reached: "false" } }, el("b", {}, p.name), `: skipped, ${SKIP_REASONS[p.detail] || p.detail}`));
  return el(
    "div",
    { class: "sup-live-paging", dataset: { testid: "board-paging" } },
    el("p", { class: "sup-live-line" }, head.charAt(0).toUpperCase() + head.slice(1)),
    people.length || skipped.length ? el("ul", { class: "sup-deliveries" }, people, skipped) : null,
  );
}

function acceptedWords(session, paging) {
  if (session.radiologist) return `Taken by ${session.radiologist.full_name}.`;
  const standing = ((paging && paging.accepts) || []).filter((a) => a.status === "standing");
  if (!standing.length) return "Nobody has accepted yet.";
  return `Accepted by ${standing.map((a) => `${a.name} (${VIA[a.via] || a.via})`).join(", ")}: on the way.`;
}

function boardItem(session) {
  const paging = session.paging;
  const exhausted = Boolean(paging && paging.exhausted);
  return el(
    "li",
    { class: "sup-live", dataset: { sessionId: session.id, state: session.state, exhausted: String(exhausted) } },
    el(
      "div",
      { class: "sup-live-head" },
      el("span", { class: "state-badge", dataset: { state: session.state } }, session.state),
      el("span", { class: "where" }, `${session.facility.name}, ${session.room.name} (${session.room.modality})`),
    ),
    el(
      "div",
      { class: "timer sup-live-timer", dataset: { band: "ok" } },
      el(
        "div",
        { class: "timer-row" },
        el("span", { class: "elapsed", dataset: { testid: "board-elapsed" } }, "0:00"),
        el("span", { class: "timer-caption", dataset: { testid: "board-caption" } }, ""),
      ),
    ),
    el("p", { class: "sup-live-line" }, `Technologist: ${session.technologist.full_name} · requested ${localTime(session.requested_at, session.facility.timezone, false)}`),
    pagedList(paging),
    el("p", { class: "sup-live-line", dataset: { testid: "board-accepts" } }, acceptedWords(session, paging)),
    exhausted ? el("p", { class: "sup-live-alarm" }, "Paging ran out: supervisors alerted. Do not inject without a supervising radiologist.") : null,
  );
}

function tickBoard() {
  if (!board) return;
  for (const session of board.sessions) {
    const node = document.querySelector(`.sup-live[data-session-id="${session.id}"]`);
    if (!node) continue;
    const [seconds, caption, band] = timerReading(session, session.paging);
    const timer = node.querySelector(".timer");
    if (timer.dataset.band !== band) timer.dataset.band = band;
    node.dataset.band = band;
    node.querySelector(".elapsed").textContent = formatDuration(seconds);
    node.querySelector(".timer-caption").textContent = caption;
  }
}

async function loadBoard() {
  try {
    board = await api("GET", "/api/super/board");
  } catch (error) {
    setPill($("board-status"), "bad", `not updated: ${error.detail}`);
    return;
  }
  serverClock.sample(parseTime(board.at), lastExchange.sent, lastExchange.received);
  setPill($("board-status"), "ok", `updated every ${BOARD_POLL_MS / 1000} s`);
  $("board-list").replaceChildren(...board.sessions.map(boardItem));
  show($("board-empty"), board.sessions.length === 0);
  const more = board.open - board.sessions.length;
  $("board-more").textContent = more > 0 ? `${more} more open sessions are not shown.` : "";
  show($("board-more"), more > 0);
  const count = $("board-count");
  count.textContent = String(board.open);
  count.dataset.nonzero = String(board.open > 0);
  tickBoard();
}

// --- session list ---------------------------------------------------------------------------

function option(value, label) {
  return el("option", { value }, label);
}

function fillRooms() {
  const facility = $("f-facility").value;
  const select = $("f-room");
  const chosen = select.value;
  select.replaceChildren(option("", "All rooms"));
  for (const f of choices.facilities) {
    if (facility && String(f.id) !== facility) continue;
    const group = el("optgroup", { label: f.name });
    group.append(...f.rooms.map((r) => option(r.id, `${r.name} (${r.modality})`)));
    select.append(group);
  }
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

function ensureChoices() {
  choicesLoading = choicesLoading || loadChoices();
  return choicesLoading;
}

async function loadChoices() {
  try {
    choices = await api("GET", "/api/super/choices");
  } catch (error) {
    notices.error(`The filters could not load: ${error.detail}`, "choices");
    choices = { facilities: [], modalities: [], radiologists: [], bands: [] };
    return;
  }
  $("f-facility").append(...choices.facilities.map((f) => option(f.id, f.name)));
  $("f-modality").append(...choices.modalities.map((m) => option(m, m)));
  $("f-radiologist").append(...choices.radiologists.map((r) => option(r.id, r.name)));
  $("f-band").append(...choices.bands.map((b) => option(b.key, b.label)));
  fillRooms();
  $("covers").textContent = choices.facilities.length
    ? `Your facilities: ${choices.facilities.map((f) => f.name).join(", ")}`
    : "You oversee no facility yet.";
}

/** The date inputs as the instants they mean on this device: "to" includes its whole day. */
function periodQuery() {
  const start = $("f-start").value;
  const end = $("f-end").value;
  const query = {};
  if (start) query.start = new Date(`${start}T00:00:00`).toISOString();
  if (end) {
    const next = new Date(`${end}T00:00:00`);
    next.setDate(next.getDate() + 1);
    query.end = next.toISOString();
  }
  if (query.start && !query.end && Date.parse(query.start) > serverClock.now()) {
    throw new Error("“From” is in the future.");
  }
  if (query.start && query.end && Date.parse(query.start) >= Date.parse(query.end)) {
    throw new Error("“From” must be on or before “To”.");
  }
  if (!query.end && query.start) query.end = new Date(serverClock.now() + 1000).toISOString();
  return query;
}

function sessionsQuery(after) {
  const params = new URLSearchParams();
  for (const [name, id] of [["facility", "f-facility"], ["room", "f-room"], ["modality", "f-modality"], ["radiologist", "f-radiologist"], ["outcome", "f-outcome"], ["band", "f-band"]]) {
    const value = $(id).value;
    if (value) params.set(name, value);
  }
  for (const [name, value] of Object.entries(periodQuery())) params.set(name, value);
  params.set("limit", String(PAGE_SIZE));
  if (after) params.set("after", after);
  return params;
}

function outcomeWords(row) {
  if (row.outcome === "completed") return "completed";
  if (row.outcome === "cancelled") return `cancelled: ${cancelReasonText(row.cancel_reason)}`;
  return `open (${row.state})`;
}

function sessionRow(row) {
  const cells = [
    ["Requested", localTime(row.requested_at, row.facility_timezone)],
    ["Where", `${row.facility}, ${row.room} (${row.modality})`],
    ["Technologist", row.technologist],
    ["Radiologist", row.radiologist || "—"],
    ["Outcome", outcomeWords(row)],
  ];
  return el(
    "tr",
    { dataset: { sessionId: row.id, band: row.band || "none" } },
    cells.map(([label, text]) => el("td", { dataset: { label } }, text)),
    el("td", { class: "sup-latency", dataset: { label: "Join latency", band: row.band || "none" } }, row.latency_words),
    el("td", { dataset: { label: "Record" } },
      el("a", { href: row.record, target: "_blank", rel: "noopener", dataset: { testid: "record-link" } }, "Open record")),
  );
}

async function loadSessions() {
  const after = sessionsCursors[sessionsCursors.length - 1];
  let params;
  try {
    params = sessionsQuery(after);
  } catch (error) {
    notices.error(error.message, "filters");
    return;
  }
  $("sessions-summary").textContent = "Loading…";
  let data;
  try {
    data = await api("GET", `/api/super/sessions?${params}`);
  } catch (error) {
    $("sessions-summary").textContent = "";
    notices.error(`The sessions could not be read: ${error.detail}`, "filters");
    return;
  }
  notices.clear("filters");
  sessionsNext = data.next;
  const rows = data.sessions;
  const first = (sessionsCursors.length - 1) * PAGE_SIZE + 1;
  const noun = data.total === 1 ? "session" : "sessions";
  $("sessions-summary").textContent = rows.length
    ? `${data.total.toLocaleString("en-US")} ${noun} from ${dayOf(data.start)} to ${dayOf(data.end)} · showing ${first}–${first + rows.length - 1}`
    : "No sessions match these filters.";
  $("sessions-rows").replaceChildren(...rows.map(sessionRow));
  $("sessions-older").disabled = !sessionsNext;
  $("sessions-newer").disabled = sessionsCursors.length <= 1;
  $("sessions-page").textContent = `page ${sessionsCursors.length}`;
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionsCursors = [null];
  loadSessions();
});
$("f-reset").addEventListener("click", () => {
  $("filters").reset();
  fillRooms();
  sessionsCursors = [null];
  loadSessions();
});
$("f-facility").addEventListener("change", fillRooms);
$("sessions-older").addEventListener("click", () => {
  if (!sessionsNext) return;
  sessionsCursors.push(sessionsNext);
  loadSessions();
});
$("sessions-newer").addEventListener("click", () => {
  if (sessionsCursors.length <= 1) return;
  sessionsCursors.pop();
  loadSessions();
});

// --- socket ---------------------------------------------------------------------------------

const showSocket = socketPill($("ws-status"), notices, () => socket);
const socket = new SignalingSocket({
  onMessage: (message) => {
    if (message.type === "supervisor_alert") onAlert(message);
    else if (message.type === "error") notices.error(`Server: ${message.message} (${message.code})`, `ws-${message.code}`);
  },
  onStatus: (state, info) => {
    showSocket(state, info);
    if (state === "connected") setPill($("ws-status"), "ok", "live: alerts ring here");
  },
  onOpen: () => loadAlerts(), // alerts raised while the socket was away are in the list
});

// --- start ----------------------------------------------------------------------------------

async function main() {
  me = await currentUser();
  fillHeader(me);
  if (!me.roles.includes("supervisor") && !me.roles.includes("admin")) {
    notices.error("This console is for supervisors and admins.", "role");
    return;
  }
  showSection();
  socket.start();
  await loadBoard();
  setInterval(loadBoard, BOARD_POLL_MS);
  setInterval(tickBoard, 1000);
  setInterval(loadAlerts, ALERTS_POLL_MS);
  ensureChoices();
}

main();

// The technologist's "On call now" box: who is on call at the chosen room's facility, until when,
// who is next, and whether each can be paged now.

import { $, api, el, goToLogin, parseTime, SKIP_REASONS, show } from "./common.js";

// Read from GET /api/facilities/{id}/on-call (names and eligibility as the pager decides them, never
// phone numbers). Advice only: whatever happens here, the request form works as before.

const ON_CALL_EVERY_MS = 60_000;
const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

let onCallFacility = null; // the facility the box shows (or is loading)
let onCallLoads = 0; // a slower answer for an earlier choice must not overwrite a newer one

function chosenFacility() {
  const select = $("room");
  const option = select.selectedOptions[0];
  if (option && option.dataset.facilityId) return Number(option.dataset.facilityId);
  const groups = select.querySelectorAll("optgroup");
  return groups.length === 1 ? Number(groups[0].dataset.facilityId) : null; // only one it can be
}

/** Show the box for the room chosen now (and again every minute while the request form is up). */
export async function loadOnCall() {
  const box = $("on-call");
  if ($("request-panel").hidden) return;
  if (!$("room").querySelector("optgroup")) {
    show(box, false); // no rooms: the page already says so
    return;
  }
  const facilityId = chosenFacility();
  const load = ++onCallLoads;
  if (facilityId === null) {
    onCallFacility = null;
    renderOnCallLine("choose", "Choose a room to see who is on call there.");
    return;
  }
  const where = $("room").querySelector(`option[data-facility-id="${facilityId}"]`).dataset.facilityName;
  if (facilityId !== onCallFacility) {
    onCallFacility = facilityId;
    renderOnCallLine("loading", "Loading…", where);
  }
  show(box);
  try {
    const { on_call: view } = await api("GET", `/api/facilities/${facilityId}/on-call`);
    if (load !== onCallLoads) return;
    renderOnCall(view);
  } catch (error) {
    if (load !== onCallLoads) return;
    if (error.status === 401) return goToLogin();
    renderOnCallLine("error", "Who is on call could not be loaded just now.", where);
  }
}

/** The box reduced to one quiet line (choosing, loading, or the view unavailable). */
function renderOnCallLine(state, text, where = "") {
  const box = $("on-call");
  box.dataset.state = state;
  $("on-call-where").textContent = where;
  $("on-call-list").replaceChildren();
  show($("on-call-warning"), false);
  $("on-call-note").textContent = text;
  show(box);
}

function renderOnCall(view) {
  const zone = view.facility.timezone;
  const now = parseTime(view.at);
  const tiers = view.escalation.tiers;
  const byCode = new Map(view.schedules.map((s) => [s.code, s]));
  const tierOf = new Map(); // schedule code -> the first tier that pages it
  tiers.forEach((tier, index) => {
    for (const t of tier.targets) {
      if (t.kind === "schedule" && !tierOf.has(t.schedule)) tierOf.set(t.schedule, index);
    }
  });
  const role = (code) => {
    const index = tierOf.get(code);
    return index === 0 ? "primary" : index === 1 ? "backup" : code;
  };
  const schedules = [...view.schedules].sort(
    (a, b) => (tierOf.get(a.code) ?? tiers.length) - (tierOf.get(b.code) ?? tiers.length),
  );

  $("on-call-where").textContent = view.facility.name;
  $("on-call-list").replaceChildren(
    ...schedules.map((s) => onCallItem(s, role(s.code), zone, now)),
  );

  // Who a tier pages, in words: "backup", "Dr Mae Bay, Dr Cal Cove", "whole eligible pool".
  const who = (tier, article = "") =>
    [
      ...new Set(
        tier.targets.map((t) =>
          t.kind === "schedule"
            ? `${article}${role(t.schedule)}`
            : t.kind === "users"
              ? t.names.join(", ")
              : `${article}whole eligible pool`,
        ),
      ),
    ].join(" + ");
  const when = (tier) => (tier.delay_s > 0 ? `after ${formatDelay(tier.delay_s)}` : "at once");
  let note;
  if (tiers.length === 1 && !view.schedules.length) {
    const paged = who(tiers[0], "the ");
    const verb = /, | \+ /.test(paged) ? "are" : "is";
    note = `No on-call schedule here: ${paged} ${verb} paged ${when(tiers[0])}.`;
  } else {
    const order = `Paging order: ${tiers.map((t) => `${who(t)} ${when(t)}`).join(" · ")}.`;
    note = view.schedules.length ? order : `No on-call schedule here. ${order}`;
  }
  $("on-call-note").textContent = note;

  // The first tier that reaches somebody now: later than the first, and the technologist waits.
  const pageable = (code) => (byCode.get(code)?.on_call || []).some((p) => p.eligible);
  const reaches = (tier) =>
    tier.targets.some(
      (t) =>
        t.kind === "pool" ||
        (t.kind === "users" && t.names.length > 0) ||
        (t.kind === "schedule" && pageable(t.schedule)),
    );
  const first = tiers.findIndex(reaches);
  let warning = "";
  if (first !== 0) {
    const skipped = (first === -1 ? tiers : tiers.slice(0, first))
      .flatMap((t) => t.targets)
      .filter((t) => t.kind === "schedule");
    const anyPageable = [...tierOf.keys()].some(pageable);
    const nobody = anyPageable
      ? `Nobody on call for the ${[...new Set(skipped.map((t) => role(t.schedule)))].join(" or ")} can be paged now`
      : "Nobody on call can be paged now";
    if (first === -1) {
      warning = `${nobody}, and nobody else is in the paging order: call your lead.`;
    } else {
      const next = tiers[first];
      const names = next.targets
        .filter((t) => t.kind === "schedule")
        .flatMap((t) => (byCode.get(t.schedule)?.on_call || []).filter((p) => p.eligible))
        .map((p) => p.name);
      const whoNext = names.length ? `${who(next, "the ")}, ${names.join(", ")},` : who(next, "the ");
      warning = `${nobody}: ${whoNext} will be paged ${when(next)}.`;
    }
  }
  $("on-call-warning").textContent = warning;
  show($("on-call-warning"), Boolean(warning));
  $("on-call").dataset.state = warning ? "warn" : "ok";
}

/** "primary  Dr Anya Patel until 18:00, then Dr Ray Diaz", with who cannot be paged and why. */
function onCallItem(schedule, role, zone, now) {
  const people = schedule.on_call.length
    ? schedule.on_call.flatMap((person, i) => [
        i ? ", " : "",
        el("span", { class: "on-call-name" }, person.name),
        person.eligible
          ? ""
          : el(
              "span",
              { class: "on-call-why" },
              ` (cannot be paged now: ${SKIP_REASONS[person.reason] || person.reason || "not eligible"})`,
            ),
      ])
    : [el("span", { class: "on-call-name on-call-nobody" }, "Nobody on call")];
  let until = "";
  if (schedule.until) {
    until = ` until ${wallClock(schedule.until, zone, now)}`;
    if (schedule.next) until += `, then ${schedule.next.length ? schedule.next.join(", ") : "nobody"}`;
  }
  const eligible = schedule.on_call.some((p) => p.eligible);
  return el(
    "li",
    { class: "on-call-item", dataset: { schedule: schedule.code, pageable: String(eligible) } },
    el("span", { class: "on-call-role" }, role),
    " ",
    el(
      "span",
      { class: "on-call-who" },
      ...people,
      until ? el("span", { class: "on-call-until" }, until) : "",
    ),
  );
}

/** 24 h wall-clock time at the facility: "18:00" today, "Tue 08:00" this week, else "24 Nov 08:00";
 * with the zone's short name when this browser keeps another zone's time. */
function wallClock(iso, zone, now) {
  const at = new Date(iso);
  const parts = (date, options) =>
    new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23", ...options }).format(date);
  let text = parts(at, { hour: "2-digit", minute: "2-digit" });
  const day = { year: "numeric", month: "2-digit", day: "2-digit" };
  if (parts(at, day) !== parts(new Date(now), day)) {
    const soon = at - now < 6 * 24 * 3600 * 1000;
    text = `${parts(at, soon ? { weekday: "short" } : { day: "numeric", month: "short" })} ${text}`;
  }
  if (zone !== BROWSER_ZONE) {
    const name = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "short" })
      .formatToParts(at)
      .find((p) => p.type === "timeZoneName");
    if (name) text += ` ${name.value}`;
  }
  return text;
}

/** 2 -> "2 s"; 90 -> "1 min 30 s" (no line break between a number and its unit). */
function formatDelay(seconds) {
  const s = Math.round(seconds);
  const text = s < 60 ? `${s} s` : s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  return text.replaceAll(" ", "\u00a0");
}

$("room").addEventListener("change", () => {
  if (chosenFacility() !== onCallFacility) loadOnCall();
});
setInterval(() => loadOnCall(), ON_CALL_EVERY_MS);

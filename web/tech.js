// Technologist console: request supervision for a room and an exam, watch the clock, and make the
// call (the technologist always offers) once the accepting radiologist is in the room.

import { PeerCall, remoteCover, renderCallPills, showCover, showLink } from "./call.js";
import { MediaCopy } from "./monitor.js";
import {
  $,
  api,
  CANCEL_REASONS,
  confirmAction,
  currentUser,
  el,
  fillHeader,
  formatDuration,
  getCameraAndMic,
  goToLogin,
  keepScreenOn,
  lastExchange,
  endedBy,
  Notices,
  parseTime,
  serverClock,
  show,
  SignalingSocket,
  SKIP_REASONS,
  socketPill,
  timerReading,
  VIA,
} from "./common.js";
import { loadOnCall } from "./on_call.js";
import { RecordPanel } from "./record.js";
import { deviceId, Preflight } from "./preflight.js";

const ACCESSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ROOM_KEY = "standby.tech.room";
const MAX_ICE_RETRIES = 5;
const CHANNELS = { in_app: "in-app", sms: "SMS", voice: "voice call" };
const ALERT_CHANNELS = { in_app: "on their Standby page", sms: "SMS sent", voice: "phone call" };
const NO_RADIOLOGIST = "No supervising radiologist — do not inject";

const notices = new Notices($("notices"));
$("cancel-reason").append(
  ...Object.entries(CANCEL_REASONS).map(([value, label]) => el("option", { value }, label)),
);
const remoteVideo = $("remote-video");
const localVideo = $("local-video");

let me = null;
let iceServers = [];
let current = null; // the session being worked on, as the server last described it
let peerPresent = false;
let iceRetries = 0;
let resuming = false; // our last join said we still hold a live call
let ticker = null;
let localStream = null;
let cameraReady = null;
let paging = null; // the pager's run for the current session, as the server last described it
let pagingUpdates = 0; // paging pushes seen: a slower GET must not overwrite a newer push
let reasonPreselected = false;
let socketOpened = false;

const showSocket = socketPill($("ws-status"), notices, () => socket);
const socket = new SignalingSocket({
  onMessage: (message) => onMessage(message),
  onStatus: (state, info) => {
    showSocket(state, info);
    if (state === "replaced") call.close(); // the other window has the call now
  },
  onOpen: () => {
    sendJoin();
    if (socketOpened) loadPaging(); // pushes may have been missed while the socket was away
    socketOpened = true;
  },
});

const preflight = new Preflight({
  root: $("preflight"),
  iceServers: () => iceServers,
  iceTransportPolicy: () => call.iceTransportPolicy,
  getStream: () => localStream,
  onPassed: () => {
    if (!notices.byKey.has("preflight-required")) return;
    notices.clear("preflight-required");
    notices.show("info", "Test passed. Press Request supervision again.", "preflight-required");
  },
});

const call = new PeerCall({
  iceServers,
  send: (message) => socket.send(message),
  remoteVideo,
  onChange: () => renderCall(),
  onSoundBlocked: () => show($("unmute")),
  onIceFailed: () => retryAfterIceFailure(),
});

// The small copy of our camera and microphone the server checks (when the facility monitors).
const copy = new MediaCopy({
  iceServers,
  onChange: (state) => {
    $("media-status").dataset.monitor = state;
  },
});
let link = null; // the server's latest ``link`` verdict for the current session
const record = new RecordPanel({
  root: $("record-panel"),
  cardRoot: $("reaction-card-panel"),
  role: "technologist",
  notices,
});

/** Send the server its copy while in a session whose facility monitors media, with a camera. */
function syncCopy(renew = false) {
  copy.sync(current, localStream, renew);
}

// --- camera -----------------------------------------------------------------------------------

function startCamera() {
  notices.clear("camera");
  cameraReady = (async () => {
    try {
      const stream = await getCameraAndMic();
      localStream = stream;
      localVideo.srcObject = stream;
      for (const track of stream.getTracks()) {
        track.addEventListener("ended", () => {
          cameraProblem(`The ${track.kind === "video" ? "camera" : "microphone"} stopped.`);
        });
      }
      if (current && peerPresent) offer(); // the radiologist waited for our picture
      renderCall();
      return stream;
    } catch (error) {
      cameraProblem(error.message);
      renderCall();
      return null;
    }
  })();
  return cameraReady;
}

function cameraProblem(text) {
  notices.show("error", text, "camera", { label: "Try camera again", onClick: () => startCamera() });
}

// --- rooms and the request form ---------------------------------------------------------------

function fillRooms(rooms) {
  const select = $("room");
  select.replaceChildren();
  if (!rooms.length) {
    select.append(el("option", { value: "" }, "No rooms: you are not assigned to a facility"));
    notices.error(
      "You are not assigned to any facility with rooms. Ask an administrator to add you.",
      "rooms",
    );
    return;
  }
  const byFacility = new Map();
  for (const room of rooms) {
    const key = room.facility.id;
    if (!byFacility.has(key)) byFacility.set(key, { facility: room.facility, rooms: [] });
    byFacility.get(key).rooms.push(room);
  }
  const saved = localStorage.getItem(ROOM_KEY);
  const known = rooms.some((room) => String(room.id) === saved);
  if (!known) select.append(el("option", { value: "" }, "Choose a room…"));
  for (const { facility, rooms: list } of byFacility.values()) {
    const group = el("optgroup", {
      label: `${facility.name} (${facility.state})`,
      dataset: { facilityId: facility.id },
    });
    for (const room of list) {
      group.append(
        el(
          "option",
          {
            value: room.id,
            dataset: {
              roomCode: room.code,
              facilityId: facility.id,
              facilityName: facility.name,
              facilityState: facility.state,
            },
          },
          `${room.name} · ${room.modality} — ${facility.name}`,
        ),
      );
    }
    select.append(group);
  }
  if (known) select.value = saved;
  showRoomWhere();
  $("request").disabled = false;
}

/** The chosen room's facility in full under the list (a technologist works at several sites, and
 * a narrow list cuts the option's text). */
function showRoomWhere() {
  const option = $("room").selectedOptions[0];
  const name = option && option.dataset.facilityName;
  $("room-where").textContent = name ? `At ${name} (${option.dataset.facilityState})` : "";
}

$("room").addEventListener("change", () => showRoomWhere());

function invalid(input, yes) {
  input.setAttribute("aria-invalid", yes ? "true" : "false");
}

$("request-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const roomSelect = $("room");
  const accessionInput = $("accession");
  const roomId = Number(roomSelect.value);
  const accession = accessionInput.value.trim();
  invalid(roomSelect, !roomId);
  invalid(accessionInput, !ACCESSION.test(accession));
  if (!roomId) {
    notices.error("Choose the room the patient is in.", "form");
    roomSelect.focus();
    return;
  }
  if (!ACCESSION.test(accession)) {
    notices.error(
      accession
        ? "The accession number starts with a letter or digit and has only letters, digits, . _ - (up to 64)."
        : "Enter the exam's accession number.",
      "form",
    );
    accessionInput.focus();
    return;
  }
  notices.clear("form");
  const button = $("request");
  button.disabled = true;
  button.textContent = "Requesting…";
  try {
    const { session } = await api("POST", "/api/sessions", {
      room_id: roomId,
      accession_number: accession,
      device_id: deviceId(),
    });
    serverClock.sample(parseTime(session.requested_at), lastExchange.sent, lastExchange.received, 1);
    localStorage.setItem(ROOM_KEY, String(roomId));
    accessionInput.value = "";
    enterSession(session);
  } catch (error) {
    if (error.status === 401) return goToLogin();
    if (error.code === "preflight_required") {
      // Never a dead end: the test is one tap away, right here.
      notices.show("error", `The request was not sent. ${error.detail}`, "preflight-required", {
        label: "Test camera, microphone and network",
        onClick: () => preflight.run(),
      });
    } else notices.error(`The request was not sent: ${error.detail}`, "form");
  } finally {
    button.disabled = false;
    button.textContent = "Request supervision";
  }
});

// --- the session ------------------------------------------------------------------------------

function sendJoin() {
  if (!current || current.state === "ended") return;
  resuming = call.active && call.verified; // back on the socket with the call still up
  socket.send({ type: "join", session_id: current.id, resume: resuming });
}

function enterSession(session, resumed = false) {
  current = session;
  link = null;
  peerPresent = false;
  iceRetries = 0;
  document.body.classList.add("in-call");
  show($("request-panel"), false);
  show($("ended-panel"), false);
  show($("call-panel"));
  $("call-panel").dataset.sessionId = session.id;
  $("cancel-reason").value = "";
  paging = null;
  reasonPreselected = false;
  if (resumed) notices.show("info", "Your open request was restored.", "resumed");
  renderSession();
  clearInterval(ticker);
  ticker = setInterval(tick, 250);
  tick();
  sendJoin();
  loadPaging();
  keepScreenOn(true);
  record.enter(session.id);
}

function updateSession(session) {
  if (!current || session.id !== current.id) return;
  const before = current;
  current = session;
  if (session.state === "ended") {
    finishSession(session);
    return;
  }
  if (before.radiologist && !session.radiologist) {
    const name = before.radiologist.full_name;
    notices.show(
      "warn",
      before.state === "joined"
        ? `${name}'s video and audio did not come back in time. Standby is paging radiologists again: do not inject until one has joined.`
        : `${name} handed the request back; paging radiologists again.`,
      "released",
    );
    peerPresent = false;
    notices.clear("peer");
    notices.clear("link"); // about a call that is over: the notice above says what happens now
    call.close();
  }
  if (session.radiologist && !before.radiologist) notices.clear("released");
  renderSession();
}

async function refreshSession() {
  if (!current) return;
  try {
    const { session } = await api("GET", `/api/sessions/${current.id}`);
    updateSession(session);
  } catch (error) {
    if (error.status === 401) goToLogin();
  }
}

function finishSession(session) {
  current = null;
  link = null;
  paging = null;
  renderPaging();
  peerPresent = false;
  socket.send({ type: "leave" });
  call.close();
  clearInterval(ticker);
  keepScreenOn(false);
  notices.clear("peer");
  notices.clear("released");
  document.body.classList.remove("in-call");
  show($("call-panel"), false);
  show($("unmute"), false);
  delete $("call-panel").dataset.sessionId;
  $("state").dataset.state = "ended";
  $("state").textContent = "ended";
  const where = `${session.room.name}, ${session.facility.name} · accession ${session.accession_number || ""}`;
  $("ended-outcome").textContent = where;
  let summary = `${endedBy(session, me)}.`;
  if (session.outcome === "completed") {
    const latency = session.join_latency_ms;
    summary += ` Completed with ${session.radiologist ? session.radiologist.full_name : "the radiologist"}.`;
    if (typeof latency === "number") summary += ` Joined ${(latency / 1000).toFixed(1)} s after the request.`;
    summary += ` ${coverageText(session.coverage)}`;
  }
  $("ended-summary").textContent = `${summary} You can request supervision for the next exam below.`;
  $("ended-panel").dataset.outcome = session.outcome || "";
  show($("ended-panel"));
  show($("request-panel"));
  loadOnCall();
  renderCall();
  record.refresh(); // stays in view: a reaction can still be completed after the session ended
}

/** The stored coverage in one sentence: verified live time and the gaps. */
function coverageText(coverage) {
  if (!coverage) return "";
  if (!coverage.measured) return "The live link was never verified: supervision is unmeasured.";
  const clock = (seconds) => {
    const s = Math.round(seconds);
    return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
  };
  const gaps = coverage.gap_count
    ? `${coverage.gap_count} gap${coverage.gap_count === 1 ? "" : "s"} (${clock(coverage.gap_s)})`
    : "no gaps";
  const source = coverage.evidence === "client only" ? " (browsers' reports only)" : "";
  return `Verified two-way live ${clock(coverage.verified_live_s)}, ${gaps}${source}.`;
}

function renderSession() {
  if (!current) return;
  const s = current;
  const state = $("state");
  state.dataset.state = s.state;
  state.textContent = s.state;
  $("session-where").textContent =
    `${s.room.name} · ${s.facility.name} · accession ${s.accession_number || ""}`;
  const rad = s.radiologist;
  const name = rad ? `${rad.full_name}${rad.credentials ? `, ${rad.credentials}` : ""}` : "";
  let who;
  if (!rad && paging && paging.exhausted) who = "Nobody has joined. Keep this page open.";
  else if (!rad && standingAccepts(paging).length)
    who = `${acceptedNames(paging)} accepted. Waiting for them to join…`;
  else if (!rad) who = "Paging radiologists… keep this page open.";
  else if (s.state === "joined") who = `With ${name}`;
  else who = `${name} joined. Connecting video…`;
  $("radiologist").textContent = who;
  // Cancel (with its reason, at the foot) and End (in the head, once joined) are two controls
  // in two places: neither changes meaning under a finger as the call comes up.
  const joined = s.state === "joined";
  show($("cancel-controls"), !joined);
  show($("end"), !joined);
  show($("complete"), joined);
  renderPaging();
  renderCall();
  tick();
}

function tick() {
  if (!current) return;
  const [seconds, caption, band] = timerReading(current, paging);
  $("elapsed").textContent = formatDuration(seconds);
  $("elapsed").dataset.seconds = String(Math.floor(seconds));
  $("elapsed-caption").textContent = caption;
  $("timer").dataset.band = band;
  $("timer").dataset.phase = current.joined_at && current.radiologist ? "joined" : "waiting";
  $("timeline-fill").style.width = `${Math.min(100, (seconds / 120) * 100)}%`;
}

$("end").addEventListener("click", async () => {
  if (!current || current.state === "joined") return;
  const reason = $("cancel-reason").value;
  if (!reason) {
    invalid($("cancel-reason"), true);
    notices.error("Choose why you cancel the request, then press Cancel request.", "end");
    $("cancel-reason").focus();
    return;
  }
  invalid($("cancel-reason"), false);
  notices.clear("end");
  const id = current.id;
  const sure = await confirmAction({
    title: "Cancel this request?",
    detail: `Reason: ${CANCEL_REASONS[reason]}. Paging stops and the radiologists paged are told.`,
    confirm: "Cancel the request",
    keep: "Keep the request",
  });
  if (sure && current && current.id === id) await endSession({ outcome: "cancelled", reason }, $("end"));
});

$("complete").addEventListener("click", async () => {
  if (!current || current.state !== "joined") return;
  const id = current.id;
  const name = current.radiologist ? current.radiologist.full_name : "the radiologist";
  const sure = await confirmAction({
    title: "End the session?",
    detail: `The call with ${name} ends for both of you and the session is recorded as completed.`,
    confirm: "End the session",
    keep: "Stay in the session",
  });
  if (sure && current && current.id === id) await endSession({ outcome: "completed" }, $("complete"));
});

async function endSession(body, button) {
  button.disabled = true;
  try {
    const { session } = await api("POST", `/api/sessions/${current.id}/end`, body);
    if (current && current.id === session.id) finishSession(session); // unless the push came first
  } catch (error) {
    if (error.status === 401) return goToLogin();
    notices.error(`The session was not ended: ${error.detail}`, "end");
    if (error.status === 409 || error.status === 404) await refreshSession();
  } finally {
    button.disabled = false;
  }
}

$("cancel-reason").addEventListener("change", () => {
  invalid($("cancel-reason"), false);
  notices.clear("end");
});

// --- the pager --------------------------------------------------------------------------------

async function loadPaging() {
  if (!current) return;
  const id = current.id;
  const seen = pagingUpdates;
  try {
    const { paging: summary } = await api("GET", `/api/sessions/${id}/paging`);
    if (!current || current.id !== id || seen !== pagingUpdates) return;
    paging = summary;
    renderSession();
  } catch (error) {
    if (error.status === 401) goToLogin();
  }
}

function onPaging(message) {
  if (!current || message.session_id !== current.id) return;
  pagingUpdates += 1;
  paging = message.paging;
  renderSession();
}

function channelOutcome(page) {
  const label = CHANNELS[page.channel] || page.channel;
  const why = page.detail ? ` (${page.detail})` : "";
  switch (page.status) {
    case "sent":
      return `${label} ✓`;
    case "pending":
    case "sending":
      return `${label} sending…`;
    case "failed":
      return `${label} failed${why}`;
    case "skipped":
      return `${label} skipped${why}`;
    default:
      return `${label} ${page.status}`;
  }
}

/** One line per person: their channels' latest outcomes, or why they were skipped. */

function standingAccepts(p) {
  return ((p && p.accepts) || []).filter((a) => a.status === "standing");
}

function acceptedNames(p) {
  return standingAccepts(p)
    .map((a) => `${a.name} (${VIA[a.via] || a.via})`)
    .join(", ");
}

function pagedPeople(pages, accepts) {
  const accepted = new Map((accepts || []).filter((a) => a.status === "standing").map((a) => [a.user_id, a]));
  const people = new Map();
  for (const page of pages) {
    if (!people.has(page.user_id)) people.set(page.user_id, { name: page.name, channels: new Map() });
    people.get(page.user_id).channels.set(page.channel, page); // later pages (rounds) replace earlier
  }
  return [...people.entries()].map(([userId, { name, channels }]) => {
    const outcomes = [];
    const statuses = new Set();
    for (const [channel, page] of channels) {
      statuses.add(page.status);
      if (channel === "-") {
        outcomes.push(`skipped: ${SKIP_REASONS[page.detail] || page.detail || "not eligible"}`);
      } else {
        outcomes.push(channelOutcome(page));
      }
    }
    const status = statuses.has("sent")
      ? "sent"
      : statuses.has("pending") || statuses.has("sending")
        ? "pending"
        : statuses.has("failed")
          ? "failed"
          : [...statuses][0] || "";
    const promise = accepted.get(userId);
    if (promise) outcomes.unshift(`accepted by ${VIA[promise.via] || promise.via}, not joined yet`);
    return el(
      "li",
      { class: "paging-person", dataset: { userId: userId, status: promise ? "accepted" : status } },
      el("span", { class: "paging-name" }, name),
      " — ",
      el("span", { class: "paging-outcome" }, outcomes.join(" · ")),
    );
  });
}

function renderPaging() {
  const panel = $("paging");
  const alert = $("paging-alert");
  const open = Boolean(current) && current.state !== "joined" && current.state !== "ended";
  const p = open ? paging : null;
  const exhausted = Boolean(p && p.exhausted);
  show(panel, Boolean(p));
  show(alert, exhausted);
  document.body.classList.toggle("no-radiologist", exhausted);
  if (exhausted && alert.dataset.sessionId !== current.id) {
    alert.dataset.sessionId = current.id;
    alert.replaceChildren(
      el("strong", { class: "paging-alert-title" }, NO_RADIOLOGIST),
      el(
        "span",
        { class: "paging-alert-detail" },
        "Every tier was paged and nobody joined. Cancel the request below, or keep waiting for a radiologist.",
      ),
      el("span", { class: "paging-alert-detail paging-alert-supervisors", dataset: { testid: "supervisors-alerted" } }),
    );
  } else if (!exhausted) {
    delete alert.dataset.sessionId;
    alert.replaceChildren();
  }
  if (exhausted) alert.querySelector(".paging-alert-supervisors").textContent = supervisorsText(p);
  if (exhausted && !reasonPreselected) {
    reasonPreselected = true;
    const reason = $("cancel-reason");
    if (reason && !reason.value) reason.value = "no_coverage";
  }
  if (!p) return;
  panel.dataset.state = p.state || "";
  panel.dataset.exhausted = exhausted ? "true" : "false";
  const tiers = p.tiers || 0;
  const tier = typeof p.tier === "number" ? p.tier + 1 : 0;
  let head;
  let status = "";
  if (p.state === "held") {
    head = `${acceptedNames(p) || "A radiologist"} accepted — waiting for them to join…`;
  } else if (exhausted) {
    head = `Tier ${tier || tiers} of ${tiers}`;
    status = "nobody joined";
  } else if (p.state === "stopped") {
    head = "Paging stopped";
  } else {
    head = tier ? `Tier ${tier} of ${tiers}` : "Paging";
    status = p.round ? `repeat ${p.round} · paging…` : "paging…";
  }
  $("paging-tier").textContent = head;
  $("paging-status").textContent = status;
  $("paging-pages").replaceChildren(...pagedPeople(p.pages || [], p.accepts));
}

/**
 * Who of the facility's supervisors was reached, by what, in words. Only an alert that reached a
 * person counts (an SMS the carrier took, an in-app alert an open page showed); when none did, it
 * says so plainly.
 */
function supervisorsText(p) {
  const alerts = p.supervisors_alerted || [];
  if (!alerts.length) return "No supervisor is set up for this facility: call your lead now.";
  const reached = alerts.filter((a) => a.status === "sent");
  const waiting = alerts.some((a) => a.status === "pending" || a.status === "sending");
  if (reached.length) {
    const lines = reached.map((a) => `${a.name} (${ALERT_CHANNELS[a.channel] || a.channel})`);
    return `Supervisors alerted: ${lines.join(", ")}.${waiting ? " Alerting others…" : ""}`;
  }
  if (waiting) return "Alerting supervisors…";
  const names = [...new Set(alerts.map((a) => a.name))].join(", ");
  return `No supervisor could be reached (${names}: not delivered). Call your lead now.`;
}

// --- the call ---------------------------------------------------------------------------------

async function offer() {
  if (!current || current.state === "ended") return;
  const stream = await cameraReady;
  if (!current || !peerPresent) return;
  try {
    await call.offer(stream);
  } catch (error) {
    notices.error(`The call could not start: ${error.message || error}`, "call");
  }
}

function retryAfterIceFailure() {
  if (!current || !peerPresent) return;
  iceRetries += 1;
  if (iceRetries > MAX_ICE_RETRIES) {
    notices.error(
      "The video connection keeps failing. Check this computer's network; the site may need a TURN relay.",
      "ice",
    );
    return;
  }
  notices.show("warn", "The video connection was interrupted; reconnecting…", "ice");
  // First an ICE restart of the same call (a new network path; tracks and picture stay), at once;
  // if that does not mend it, a new call, with a growing pause.
  if (iceRetries <= 2) setTimeout(() => restartIce(), iceRetries === 1 ? 0 : 1000);
  else setTimeout(() => offer(), 1000 * iceRetries);
}

async function restartIce() {
  if (!current || !peerPresent) return;
  const stream = await cameraReady;
  if (!current || !peerPresent) return;
  try {
    await call.restartIce(stream);
  } catch {
    offer();
  }
}

function renderCall() {
  renderCallPills(call, current ? current.state : null, $("ice-status"), $("media-status"), link, "technologist");
  syncCopy();
  const stage = $("stage");
  const inCall = Boolean(current && current.radiologist) || call.active;
  stage.classList.toggle("solo", !inCall);
  document.body.classList.toggle("with-peer", inCall);
  show($("ice-status"), Boolean(current) || call.active);
  show($("media-status"), Boolean(current) || call.active);
  const gone = remoteCover(call, link, "technologist", current ? current.state : null);
  showCover($("remote-cover"), $("state"), gone, current ? current.state : null);
  const placeholder = $("remote-placeholder");
  if (inCall && call.slow) {
    placeholder.textContent =
      "No picture or sound from the radiologist yet. Their camera or microphone may be off; you can wait or cancel.";
    show(placeholder);
  } else if (inCall && !call.verified) {
    placeholder.textContent = peerPresent
      ? "Connecting video…"
      : `Waiting for ${current && current.radiologist ? current.radiologist.full_name : "the radiologist"} to connect…`;
    show(placeholder);
  } else if (!inCall && !localStream) {
    // (the empty local <video> would cover this)
    placeholder.textContent = "Your camera is off: the radiologist would not see you.";
    show(placeholder);
  } else {
    show(placeholder, false);
  }
  show(localVideo, Boolean(localStream));
  $("stage-label").textContent = inCall
    ? current && current.radiologist
      ? current.radiologist.full_name
      : "Radiologist"
    : localStream
      ? "Your camera"
      : "Camera off";
  if (call.verified && (call.ice === "connected" || call.ice === "completed")) {
    notices.clear("ice");
    iceRetries = 0;
  }
}

$("unmute").addEventListener("click", () => {
  remoteVideo.muted = false;
  remoteVideo.play().catch(() => {});
  show($("unmute"), false);
});

// --- socket messages --------------------------------------------------------------------------

function onMessage(message) {
  switch (message.type) {
    case "joined":
      if (message.ice_servers && message.ice_servers.length) {
        call.iceServers = message.ice_servers;
        copy.iceServers = message.ice_servers;
      }
      if (current && message.session && message.session.id === current.id) updateSession(message.session);
      syncCopy(true); // a new socket: the server may have closed our copy's monitor when the old one left
      break;
    case "peer_joined":
      if (!current) break;
      peerPresent = true;
      notices.clear("peer");
      if ((message.resume || resuming) && call.active && call.verified) {
        // One page only lost its socket: the call itself may be fine. Keep it; mend its path if
        // it is not.
        if (!["connected", "completed"].includes(call.ice)) restartIce();
      } else {
        iceRetries = 0;
        offer();
      }
      resuming = false;
      break;
    case "peer_left":
      if (!current) break;
      peerPresent = false;
      if (!current.radiologist) break; // handed back: nobody to wait for
      notices.show(
        "warn",
        "The radiologist's connection dropped. Waiting for them to come back…",
        "peer",
      );
      renderCall();
      break;
    case "answer":
      call.acceptAnswer(message.sdp).catch(() => {
        // e.g. an ICE restart answered by a page that had reloaded (a new connection there):
        // start a new call
        offer();
      });
      break;
    case "candidate":
      call.addCandidate(message);
      break;
    case "session":
      updateSession(message.session);
      break;
    case "link":
      showLink(message, "technologist", Boolean(current && current.state === "joined"), notices);
      link = current && message.session_id === current.id ? message : null;
      renderCall();
      break;
    case "paging":
      onPaging(message);
      break;
    case "record_changed":
      if (current && message.session_id === current.id) record.refresh();
      break;
    case "error":
      if (message.code === "not_joined" && !current) break; // a late message after leaving
      notices.error(`Server: ${message.message} (${message.code})`, `ws-${message.code}`);
      if (message.code === "session_ended" || message.code === "forbidden") refreshSession();
      break;
    default:
      break;
  }
}

// --- start ------------------------------------------------------------------------------------

async function main() {
  startCamera(); // as early as possible: the preview shows while the rest loads
  me = await currentUser();
  fillHeader(me);
  if (!me.roles.includes("technologist")) {
    notices.error("This console is for technologists. Sign in with a technologist account.", "role", {
      label: "Go to sign in",
      onClick: () => location.replace("/login"),
    });
    return;
  }
  try {
    const [config, rooms] = await Promise.all([api("GET", "/api/config"), api("GET", "/api/rooms")]);
    iceServers = config.ice_servers || [];
    call.iceServers = iceServers;
    call.iceTransportPolicy = config.ice_transport_policy || "all";
    copy.iceServers = iceServers;
    copy.iceTransportPolicy = call.iceTransportPolicy;
    fillRooms(rooms.rooms);
    preflight.load();
  } catch (error) {
    if (error.status === 401) return goToLogin();
    notices.error(`The console could not load: ${error.detail}`, "load", {
      label: "Reload",
      onClick: () => location.reload(),
    });
    return;
  }
  socket.start();
  let open = null;
  try {
    const { sessions } = await api("GET", "/api/sessions?mine=true&open=true&limit=5");
    open = sessions.find((s) => s.technologist.id === me.id) || null;
  } catch {
    open = null; // nothing to restore; a new request still works
  }
  if (open) enterSession(open, true);
  else {
    show($("request-panel"));
    loadOnCall();
    ($("room").value ? $("accession") : $("room")).focus();
  }
}

main();

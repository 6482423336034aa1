// Radiologist console: the open requests pushed live (with a sound), Accept, and the call (the
// radiologist answers the technologist's offers).

import { PeerCall, remoteCover, renderCallPills, showCover, showLink } from "./call.js";
import { MediaCopy } from "./monitor.js";
import {
  $,
  AlarmTone,
  api,
  confirmAction,
  currentUser,
  el,
  endedBy,
  fillHeader,
  formatDuration,
  getCameraAndMic,
  goToLogin,
  keepScreenOn,
  lastExchange,
  Notices,
  parseTime,
  serverClock,
  show,
  SignalingSocket,
  socketPill,
  stopStream,
  timerReading,
  VIA,
  waitClass,
} from "./common.js";
import { deviceId, Preflight } from "./preflight.js";
import { RecordPanel } from "./record.js";

const notices = new Notices($("notices"));
const remoteVideo = $("remote-video");
const localVideo = $("local-video");

let me = null;
const requests = new Map(); // session id -> request, as the lobby last described it
const items = new Map(); // session id -> <li>
let snapshotSeen = false;
const pagedFor = new Set(); // requests the pager is paging us for
// STAT pages (a contrast reaction, nobody supervising live): session id -> {facility, room, seen}.
// Each stays, red, until we accept or join, or the request closes; "Seen" only silences it.
const stats = new Map();
// Reactions reported in our current session: seq -> the server's reaction_alert, plus what we did.
const reactions = new Map();
const RELEASED_TEXT = "You handed the request back; it is open for other radiologists again.";
let handedBack = null; // the request we just released: it reopens, but needs no ring for us
let current = null; // the accepted session
let peerPresent = false;
let localStream = null;
let cameraReady = null;

const showSocket = socketPill($("ws-status"), notices, () => socket);
const socket = new SignalingSocket({
  onMessage: (message) => onMessage(message),
  onStatus: (state, info) => {
    showSocket(state, info);
    if (state === "replaced") call.close(); // the other window has the call now
  },
  onOpen: () => sendJoin(),
});

const preflight = new Preflight({
  root: $("preflight"),
  iceServers: () => call.iceServers,
  iceTransportPolicy: () => call.iceTransportPolicy,
  getStream: () => localStream,
  onPassed: () => {
    if (!notices.byKey.has("preflight-required")) return;
    notices.clear("preflight-required");
    notices.show("info", "Test passed. Press Accept again to join.", "preflight-required");
  },
});

const call = new PeerCall({
  iceServers: [],
  send: (message) => socket.send(message),
  remoteVideo,
  onChange: () => renderCall(),
  onSoundBlocked: () => show($("unmute")),
  onIceFailed: () =>
    notices.show("warn", "The video connection was interrupted; reconnecting…", "ice"),
});

// The small copy of our camera and microphone the server checks (when the facility monitors).
const copy = new MediaCopy({
  iceServers: [],
  onChange: (state) => {
    $("media-status").dataset.monitor = state;
  },
});
let link = null; // the server's latest ``link`` verdict for the current session
const record = new RecordPanel({ root: $("record-panel"), role: "radiologist", notices });

/** Send the server its copy while in a session whose facility monitors media, with a camera. */
function syncCopy(renew = false) {
  copy.sync(current, localStream, renew);
}

// --- sound ------------------------------------------------------------------------------------

const AudioContextClass = window.AudioContext || window.webkitAudioContext;
const audio = AudioContextClass ? new AudioContextClass() : null;

function renderSoundButton() {
  const locked = Boolean(audio) && audio.state !== "running";
  show($("enable-sound"), locked);
  if (!locked) notices.clear("sound");
}

function unlockSound() {
  if (audio && audio.state !== "running") audio.resume().then(renderSoundButton, () => {});
}

/** Two short tones; false if the browser keeps sound off until a tap. */
function beep() {
  if (!audio || audio.state !== "running") {
    renderSoundButton();
    return false;
  }
  const start = audio.currentTime + 0.02;
  [880, 1175].forEach((frequency, i) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    const t = start + i * 0.2;
    osc.type = "sine";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.4, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.18);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.2);
  });
  document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  return true;
}

// One alarm for everything that must not be missed: STAT pages not yet seen, reactions in our
// session not yet acknowledged.
const alarm = new AlarmTone(audio);

function syncAlarm() {
  const statUnseen = [...stats.values()].some((stat) => !stat.seen);
  const reactionUnheard = [...reactions.values()].some((r) => !r.silenced);
  if (statUnseen || reactionUnheard) alarm.start();
  else alarm.stop();
  document.body.dataset.alarm = alarm.ringing ? "ringing" : "off";
  if (alarm.muted) {
    renderSoundButton();
    notices.show(
      "error",
      "An alarm is sounding but this page may not play sound yet: tap anywhere, or press “Enable sound”.",
      "sound",
    );
  }
}

if (audio) {
  audio.addEventListener("statechange", () => {
    renderSoundButton();
    if (!alarm.muted) notices.clear("sound");
  });
  renderSoundButton();
}
$("enable-sound").addEventListener("click", () => {
  if (!audio) return;
  audio.resume().then(() => {
    renderSoundButton();
    beep();
  });
});
document.addEventListener("pointerdown", unlockSound, { passive: true });
document.addEventListener("keydown", unlockSound);

// --- the lobby --------------------------------------------------------------------------------

function requestItem(request) {
  const accept = el(
    "button",
    {
      type: "button",
      class: "primary accept",
      dataset: { testid: "accept" },
      onclick: (event) => acceptRequest(request.id, event.currentTarget),
    },
    "Accept",
  );
  return el(
    "li",
    { class: "request request-new", dataset: { sessionId: request.id, testid: "request" } },
    el("div", { class: "request-title" }, `${request.facility.name} (${request.facility.state})`),
    el(
      "div",
      { class: "request-detail" },
      `${request.room.name} · ${request.room.modality} · ${request.state}`,
    ),
    el("div", { class: "request-detail" }, `Technologist ${request.technologist.full_name}`),
    el("div", { class: "request-wait" }, "waiting 0:00"),
    el("div", { class: "request-accepts", dataset: { testid: "accepts" }, hidden: true }),
    el("span", { class: "paged-badge", hidden: true }, "🔔 Paging you"),
    accept,
  );
}


/** The red banner at the top of a lobby item paged STAT; its "Seen" only silences the alarm. */
function statBanner(sessionId, stat) {
  const seen = el(
    "button",
    {
      type: "button",
      class: "stat-seen",
      dataset: { testid: "stat-seen" },
      onclick: () => seeStat(sessionId),
    },
    "Seen",
  );
  return el(
    "div",
    { class: "stat-banner", role: "alert", dataset: { testid: "stat-banner" } },
    el("span", { class: "stat-text" }, `STAT: contrast reaction, ${stat.facility} ${stat.room}`),
    seen,
  );
}

/** A STAT page for a request this console does not list (yet): the banner and Accept alone. */
function statItem(sessionId, stat) {
  return el(
    "li",
    {
      class: "request request-new",
      dataset: { sessionId, testid: "request", standIn: "true" },
    },
    el("div", { class: "request-title" }, stat.facility),
    el("div", { class: "request-detail" }, stat.room),
    el(
      "button",
      {
        type: "button",
        class: "primary accept",
        dataset: { testid: "accept" },
        onclick: (event) => acceptRequest(sessionId, event.currentTarget),
      },
      "Accept",
    ),
  );
}

function markStat(node, sessionId) {
  const stat = stats.get(sessionId);
  let banner = node.querySelector(".stat-banner");
  if (!stat) {
    if (banner) banner.remove();
    delete node.dataset.stat;
    return;
  }
  if (!banner) {
    banner = statBanner(sessionId, stat);
    node.prepend(banner);
  }
  node.dataset.stat = stat.seen ? "seen" : "true";
  const seen = banner.querySelector(".stat-seen");
  seen.disabled = stat.seen;
  seen.textContent = stat.seen ? "Silenced" : "Seen";
}

// Accepting is a promise; the first to press Join (Accept here) takes the request.
function markAccepts(node, request) {
  const accepts = request.accepts || [];
  const mine = accepts.find((a) => a.radiologist.id === (me && me.id));
  const others = accepts.filter((a) => a !== mine);
  const line = node.querySelector(".request-accepts");
  const parts = [];
  if (mine) parts.push(`You accepted by ${VIA[mine.via] || mine.via}: join now`);
  if (others.length) {
    const names = others.map((a) => `${a.radiologist.full_name} (${VIA[a.via] || a.via})`);
    parts.push(`Accepted by ${names.join(", ")}, not joined yet`);
  }
  line.textContent = parts.join(" · ");
  show(line, parts.length > 0);
  const button = node.querySelector("button.accept");
  if (!button.disabled) button.textContent = mine ? "Join now" : "Accept";
}

function markPaged(node, paged) {
  if (paged) node.dataset.paged = "true";
  else delete node.dataset.paged;
  show(node.querySelector(".paged-badge"), paged);
}

function renderLobby() {
  const list = $("requests");
  const ordered = [...requests.values()]
    .sort((a, b) => parseTime(a.requested_at) - parseTime(b.requested_at))
    .map((request) => request.id);
  // STAT pages first, in the order they came; then the open requests, oldest first.
  const ids = [...stats.keys(), ...ordered.filter((id) => !stats.has(id))];
  for (const [id, node] of items) {
    const standInReplaced = node.dataset.standIn && requests.has(id);
    if (!ids.includes(id) || standInReplaced) {
      node.remove();
      items.delete(id);
    }
  }
  for (const id of ids) {
    const request = requests.get(id);
    let node = items.get(id);
    if (!node) {
      node = request ? requestItem(request) : statItem(id, stats.get(id));
      items.set(id, node);
    }
    if (request) {
      markPaged(node, pagedFor.has(id));
      markAccepts(node, request);
    }
    markStat(node, id);
    list.append(node); // (re)ordered, never rebuilt: a button under a finger stays put
  }
  const count = ids.length;
  $("request-count").textContent = String(count);
  $("request-count").dataset.nonzero = count ? "true" : "false";
  show($("lobby-empty"), count === 0);
  document.title = stats.size
    ? `STAT · Radiologist · Standby`
    : count
      ? `(${count}) Radiologist · Standby`
      : "Radiologist · Standby";
  tickLobby();
}

function tickLobby() {
  const now = serverClock.now();
  for (const [id, node] of items) {
    const request = requests.get(id);
    if (!request) continue; // a STAT stand-in: no request time known
    const seconds = Math.max(0, (now - parseTime(request.requested_at)) / 1000);
    node.dataset.band = waitClass(seconds);
    node.querySelector(".request-wait").textContent = `waiting ${formatDuration(seconds)}`;
  }
}

function onSnapshot(list) {
  const before = new Set(requests.keys());
  requests.clear();
  for (const request of list) requests.set(request.id, request);
  const fresh = list.filter((r) => !before.has(r.id));
  renderLobby();
  // Ring for requests that arrived while the socket was away, not for the first look at the page.
  if (snapshotSeen && fresh.length && !current) beep();
  snapshotSeen = true;
}

function onOpened(request) {
  const isNew = !requests.has(request.id);
  requests.set(request.id, request);
  renderLobby();
  const ours = (current && request.id === current.id) || request.id === handedBack;
  if (isNew && !current && !ours) {
    if (!beep()) {
      notices.show("info", "A new request arrived. Press “Enable sound” to hear the next one.", "sound");
    }
  }
}

function onPaged(message) {
  const sessionId = message.session_id;
  if (message.stat) {
    onStat(message);
    return;
  }
  if (current && current.id === sessionId) return;
  pagedFor.add(sessionId); // (marked when its item shows, should the page come first)
  renderLobby();
  if (current) return; // busy with a call: the badge is enough
  if (!beep()) {
    notices.show("warn", "You are being paged for a request. Press “Enable sound” to hear pages.", "sound");
  }
}

function onStat(message) {
  const sessionId = message.session_id;
  if (current && current.id === sessionId) return; // we are in it: its reaction alert says so
  // A STAT again (a later round of it) rings again, even after "Seen".
  stats.set(sessionId, {
    facility: message.facility || "an imaging site",
    room: message.room || "",
    seen: false,
  });
  pagedFor.add(sessionId);
  renderLobby();
  if (current) {
    // In another session's call the lobby is hidden: say it over the call.
    const stat = stats.get(sessionId);
    notices.show(
      "error",
      `STAT: contrast reaction at ${stat.facility}, ${stat.room}. A supervising radiologist is needed there now.`,
      `stat-${sessionId}`,
      { label: "Seen", onClick: () => seeStat(sessionId) },
    );
  }
  syncAlarm();
}

/** "Seen": silence this STAT's alarm; its banner stays until we act or the request closes. */
function seeStat(sessionId) {
  const stat = stats.get(sessionId);
  if (!stat) return;
  stat.seen = true;
  notices.clear(`stat-${sessionId}`);
  renderLobby();
  syncAlarm();
}

function clearStat(sessionId) {
  if (!stats.delete(sessionId)) return;
  notices.clear(`stat-${sessionId}`);
  renderLobby();
  syncAlarm();
}

function onCovered(sessionId, by) {
  const request = requests.get(sessionId);
  const where = request ? `: ${request.facility.name}, ${request.room.name}` : "";
  notices.show("info", `Covered by ${by}${where}.`, `covered-${sessionId}`);
  pagedFor.delete(sessionId);
  clearStat(sessionId); // someone joined: the STAT is answered
  if (request && !(current && current.id === sessionId)) onClosed(sessionId);
}

function onClosed(sessionId) {
  requests.delete(sessionId);
  pagedFor.delete(sessionId);
  stats.delete(sessionId);
  notices.clear(`stat-${sessionId}`);
  renderLobby();
  syncAlarm();
}

// --- accepting --------------------------------------------------------------------------------

function startCamera() {
  notices.clear("camera");
  cameraReady = (async () => {
    try {
      const stream = await getCameraAndMic();
      if (!current && !accepting) {
        stopStream(stream); // the request went elsewhere meanwhile
        return null;
      }
      localStream = stream;
      localVideo.srcObject = stream;
      renderCall();
      return stream;
    } catch (error) {
      notices.show(
        "error",
        `${error.message} The technologist cannot see or hear you until this is fixed.`,
        "camera",
        { label: "Try camera again", onClick: () => retryCamera() },
      );
      return null;
    }
  })();
  return cameraReady;
}

async function retryCamera() {
  stopCamera();
  await startCamera();
  // The technologist makes a new offer whenever we rejoin: our new tracks go into it.
  if (current) {
    socket.send({ type: "leave" });
    sendJoin();
  }
}

function stopCamera() {
  stopStream(localStream);
  localStream = null;
  localVideo.srcObject = null;
}

let accepting = false;

async function acceptRequest(sessionId, button) {
  if (current) {
    notices.error("Finish the current session before accepting another request.", "accept");
    return;
  }
  unlockSound();
  if (stats.has(sessionId)) seeStat(sessionId); // acting on it: the alarm has done its work
  accepting = true;
  button.disabled = true;
  button.textContent = "Accepting…";
  notices.clear("accept");
  const camera = startCamera(); // at once, while the server records the accept
  try {
    const { session } = await api("POST", `/api/sessions/${sessionId}/join`, { device_id: deviceId() });
    serverClock.sample(parseTime(session.accepted_at), lastExchange.sent, lastExchange.received, 1);
    requests.delete(sessionId);
    stats.delete(sessionId);
    renderLobby();
    syncAlarm();
    enterCall(session);
  } catch (error) {
    if (error.status === 401) return goToLogin();
    accepting = false;
    (await camera) && stopCamera();
    if (error.code === "preflight_required") {
      // Never a dead end: the test is one tap away, and the request stays in the list.
      notices.show("error", `Could not join yet. ${error.detail}`, "preflight-required", {
        label: "Test camera, microphone and network",
        onClick: () => preflight.run(),
      });
      button.disabled = false;
      button.textContent = "Accept";
    } else if (error.status === 409) {
      notices.show("warn", `Could not join: ${error.detail}.`, "accept");
      onClosed(sessionId);
    } else if (error.status === 404) {
      // (the server answers 404 for a request that is no longer open to this radiologist)
      notices.show(
        "warn",
        "Could not accept: this request is no longer open. Another radiologist took it, or it was cancelled.",
        "accept",
      );
      onClosed(sessionId);
    } else {
      notices.error(`Could not accept: ${error.detail}`, "accept");
      button.disabled = false;
      button.textContent = "Accept";
    }
  } finally {
    accepting = false;
  }
}

function sendJoin() {
  if (!current || current.state === "ended") return;
  socket.send({ type: "join", session_id: current.id, resume: call.active && call.verified });
}

function enterCall(session, resumed = false) {
  record.enter(session.id);
  current = session;
  link = null;
  peerPresent = false;
  document.body.classList.add("in-call");
  show($("lobby"), false);
  show($("call-panel"));
  show($("stage"));
  $("call-panel").dataset.sessionId = session.id;
  if (resumed) notices.show("info", "Your accepted session was restored.", "resumed");
  renderSession();
  sendJoin();
  keepScreenOn(true);
}

function updateSession(session) {
  if (!current || session.id !== current.id) return;
  current = session;
  if (session.state === "ended") {
    leaveCall(`${endedBy(session, me)} (${session.room.name}, ${session.facility.name}).`);
    return;
  }
  if (!session.radiologist || session.radiologist.id !== me.id) {
    const dropped = !session.radiologist && session.state === "paging" && handedBack !== session.id;
    leaveCall(
      handedBack === session.id
        ? RELEASED_TEXT
        : dropped
          ? "Your video and audio stopped reaching the technologist for too long, so Standby is paging radiologists again. You can join again from the list while it is open."
          : "You are no longer the radiologist of that session; it was handed back.",
    );
    return;
  }
  renderSession();
}

async function refreshSession() {
  if (!current) return;
  try {
    const { session } = await api("GET", `/api/sessions/${current.id}`);
    updateSession(session);
  } catch (error) {
    if (error.status === 401) goToLogin();
    else if (error.status === 404) leaveCall("That session is no longer yours to see.");
  }
}

function leaveCall(text) {
  if (!current) return;
  current = null;
  reactions.clear();
  renderReaction();
  syncAlarm();
  link = null;
  peerPresent = false;
  socket.send({ type: "leave" });
  call.close();
  stopCamera();
  cameraReady = null;
  clearInterval(callTicker);
  keepScreenOn(false);
  notices.clear("peer");
  notices.clear("ice");
  notices.clear("camera");
  document.body.classList.remove("in-call");
  show($("call-panel"), false);
  show($("stage"), false);
  show($("unmute"), false);
  show($("lobby"));
  record.leave();
  delete $("call-panel").dataset.sessionId;
  $("state").dataset.state = "ended";
  $("state").textContent = "ended";
  notices.show("info", text, "ended");
  renderCall();
  renderLobby();
}

// Hand back (before the call is up, in the panel) and End (once joined, in the head) are two
// controls in two places, and each asks for a deliberate second action.
$("release").addEventListener("click", async () => {
  if (!current || current.state === "joined") return;
  const id = current.id;
  const sure = await confirmAction({
    title: "Hand the request back?",
    detail: "You leave the session and Standby pages other radiologists to take it.",
    confirm: "Hand it back",
    keep: "Keep the request",
  });
  if (!sure || !current || current.id !== id) return;
  handedBack = id;
  await act($("release"), "The request was not handed back", async () => {
    await api("POST", `/api/sessions/${id}/release`);
    leaveCall(RELEASED_TEXT);
  });
});

$("complete").addEventListener("click", async () => {
  if (!current || current.state !== "joined") return;
  const id = current.id;
  const sure = await confirmAction({
    title: "End the session?",
    detail: `The call with ${current.technologist.full_name} ends for both of you and the session is recorded as completed.`,
    confirm: "End the session",
    keep: "Stay in the session",
  });
  if (!sure || !current || current.id !== id) return;
  await act($("complete"), "The session was not ended", async () => {
    await api("POST", `/api/sessions/${id}/end`, { outcome: "completed" });
    leaveCall("You ended the session. Thank you.");
  });
});

async function act(button, failure, run) {
  button.disabled = true;
  try {
    await run();
  } catch (error) {
    if (error.status === 401) return goToLogin();
    notices.error(`${failure}: ${error.detail}`, "end");
    await refreshSession();
  } finally {
    button.disabled = false;
  }
}

let callTicker = null;

function renderSession() {
  const s = current;
  const state = $("state");
  state.dataset.state = s.state;
  state.textContent = s.state;
  $("session-where").textContent = `${s.room.modality} · ${s.facility.state}`;
  $("fact-facility").textContent = `${s.facility.name} (${s.facility.state})`;
  $("fact-room").textContent = `${s.room.name} · ${s.room.modality}`;
  $("fact-technologist").textContent = s.technologist.full_name;
  $("fact-accession").textContent = s.accession_number || "—";
  const joined = s.state === "joined";
  show($("release-controls"), !joined);
  show($("complete"), joined);
  $("stage-label").textContent = s.technologist.full_name;
  clearInterval(callTicker);
  callTicker = setInterval(tickCall, 250);
  tickCall();
  renderCall();
}

function tickCall() {
  if (!current) return;
  if (reactions.size) renderReactionTime();
  const [seconds, caption, band] = timerReading(current);
  $("elapsed").textContent = formatDuration(seconds);
  $("elapsed-caption").textContent = caption;
  $("timer").dataset.band = band;
  $("timer").dataset.phase = current.joined_at ? "joined" : "waiting";
  $("timeline-fill").style.width = `${Math.min(100, (seconds / 120) * 100)}%`;
}

// --- the call ---------------------------------------------------------------------------------

async function answerOffer(sdp, restart) {
  if (!current) return;
  const stream = await (cameraReady || startCamera());
  if (!current) return;
  try {
    await call.answer(sdp, stream, restart);
  } catch (error) {
    notices.error(`The call could not start: ${error.message || error}`, "call");
  }
}

function renderCall() {
  renderCallPills(call, current ? current.state : null, $("ice-status"), $("media-status"), link, "radiologist");
  syncCopy();
  document.body.classList.toggle("with-peer", Boolean(current));
  show(localVideo, Boolean(localStream));
  show($("ice-status"), Boolean(current) || call.active);
  show($("media-status"), Boolean(current) || call.active);
  const gone = remoteCover(call, link, "radiologist", current ? current.state : null);
  showCover($("remote-cover"), $("state"), gone, current ? current.state : null);
  const placeholder = $("remote-placeholder");
  if (current && call.slow) {
    placeholder.textContent = `No picture or sound from ${current.technologist.full_name} yet. Their camera or microphone may be off.`;
    show(placeholder);
  } else if (current && !call.verified) {
    placeholder.textContent = peerPresent
      ? "Connecting video…"
      : `Waiting for ${current.technologist.full_name} to connect…`;
    show(placeholder);
  } else {
    show(placeholder, false);
  }
  if (call.verified && (call.ice === "connected" || call.ice === "completed")) notices.clear("ice");
}

$("unmute").addEventListener("click", () => {
  remoteVideo.muted = false;
  remoteVideo.play().catch(() => {});
  show($("unmute"), false);
});

// --- a contrast reaction in our session -----------------------------------------------------

const SEVERITY = { mild: "mild", moderate: "moderate", severe: "SEVERE" };

function onReactionAlert(message) {
  if (!current || message.session_id !== current.id) return;
  const known = reactions.get(message.seq);
  reactions.set(message.seq, { ...message, silenced: false, error: known ? known.error : null });
  renderReaction();
  syncAlarm();
}

/** The newest reaction not yet acknowledged, if any. */
function pendingReaction() {
  let newest = null;
  for (const reaction of reactions.values()) if (!newest || reaction.seq > newest.seq) newest = reaction;
  return newest;
}

function renderReaction() {
  const reaction = pendingReaction();
  const banner = $("reaction-alert");
  show(banner, Boolean(reaction));
  document.body.classList.toggle("reaction", Boolean(reaction));
  if (!reaction) return;
  banner.dataset.seq = String(reaction.seq);
  const severity = reaction.severity ? ` (${SEVERITY[reaction.severity] || reaction.severity})` : "";
  $("reaction-title").textContent = `STAT: contrast reaction${severity} in this session`;
  renderReactionTime();
  const error = $("reaction-error");
  error.textContent = reaction.error || "";
  show(error, Boolean(reaction.error));
  fitUnderReaction();
}

/** Move the page down by the banner's height, so it covers nothing of the call's controls. */
function fitUnderReaction() {
  const banner = $("reaction-alert");
  if (!banner.hidden) document.body.style.setProperty("--reaction-height", `${banner.offsetHeight}px`);
}

window.addEventListener("resize", fitUnderReaction);

function renderReactionTime() {
  const reaction = pendingReaction();
  if (!reaction || !current) return;
  const onset = parseTime(reaction.onset_at);
  const ago = formatDuration(Math.max(0, (serverClock.now() - onset) / 1000));
  const at = new Date(onset).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const where = `${current.facility.name}, ${current.room.name}`;
  const more = reactions.size > 1 ? ` · ${reactions.size} reactions not acknowledged` : "";
  const text = `Onset ${at} (${ago} ago) · reported by ${reaction.reported_by} · ${where}${more}`;
  if ($("reaction-detail").textContent !== text) $("reaction-detail").textContent = text;
}

$("reaction-ack").addEventListener("click", async () => {
  const reaction = pendingReaction();
  if (!reaction || !current) return;
  unlockSound();
  reaction.silenced = true; // pressed: the alarm has done its work, recorded or not
  syncAlarm();
  const button = $("reaction-ack");
  button.disabled = true;
  button.textContent = "Acknowledging…";
  try {
    await api("POST", `/api/sessions/${current.id}/reactions/${reaction.seq}/acknowledge`);
    reactions.delete(reaction.seq);
  } catch (error) {
    if (error.status === 401) return goToLogin();
    const why = error.status ? `${error.status}: ${error.detail}` : error.detail;
    reaction.error = `Your acknowledgement was not recorded (${why}). Tell the technologist you have seen it; press Acknowledge to try again.`;
  } finally {
    button.disabled = false;
    button.textContent = "Acknowledge";
  }
  renderReaction();
  syncAlarm();
});

// --- socket messages --------------------------------------------------------------------------

function onMessage(message) {
  switch (message.type) {
    case "requests":
      onSnapshot(message.items);
      break;
    case "request_opened":
      onOpened(message.request);
      break;
    case "request_closed":
      onClosed(message.session_id);
      break;
    case "page":
      onPaged(message);
      break;
    case "reaction_alert":
      onReactionAlert(message);
      break;
    case "covered":
      onCovered(message.session_id, message.by);
      break;
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
      renderCall();
      break;
    case "peer_left":
      if (!current) break;
      peerPresent = false;
      notices.show("warn", "The technologist's connection dropped. Waiting for them to come back…", "peer");
      renderCall();
      break;
    case "offer":
      answerOffer(message.sdp, Boolean(message.restart));
      break;
    case "candidate":
      call.addCandidate(message);
      break;
    case "session":
      updateSession(message.session);
      break;
    case "record_changed":
      if (current && message.session_id === current.id) record.refresh();
      break;
    case "link":
      showLink(message, "radiologist", Boolean(current && current.state === "joined"), notices);
      link = current && message.session_id === current.id ? message : null;
      renderCall();
      break;
    case "error":
      if (message.code === "not_joined" && !current) break; // a late message after leaving
      notices.error(`Server: ${message.message} (${message.code})`, `ws-${message.code}`);
      if (["session_ended", "forbidden", "not_accepted"].includes(message.code)) refreshSession();
      break;
    default:
      break;
  }
}

// --- start ------------------------------------------------------------------------------------

async function main() {
  me = await currentUser();
  fillHeader(me);
  if (!me.roles.includes("radiologist")) {
    notices.error("This console is for radiologists. Sign in with a radiologist account.", "role", {
      label: "Go to sign in",
      onClick: () => location.replace("/login"),
    });
    show($("lobby"), false);
    return;
  }
  try {
    const config = await api("GET", "/api/config");
    call.iceServers = config.ice_servers || [];
    call.iceTransportPolicy = config.ice_transport_policy || "all";
    copy.iceServers = call.iceServers;
    copy.iceTransportPolicy = call.iceTransportPolicy;
    serverClock.sample(parseTime(config.server_time), lastExchange.sent, lastExchange.received);
    preflight.load();
  } catch (error) {
    if (error.status === 401) return goToLogin();
    notices.error(`The console could not load: ${error.detail}`, "load", {
      label: "Reload",
      onClick: () => location.reload(),
    });
    return;
  }
  let mine = null;
  try {
    const { sessions } = await api("GET", "/api/sessions?mine=true&open=true&limit=5");
    mine = sessions.find((s) => s.radiologist && s.radiologist.id === me.id) || null;
  } catch {
    mine = null;
  }
  if (mine) {
    enterCall(mine, true);
    startCamera();
  }
  socket.start();
  setInterval(tickLobby, 1000);
}

main();

// Shared by every page: the JSON API, the server clock, messages, small DOM helpers and the
// signaling WebSocket client (reconnects by itself with backoff).

export const BEST_S = 30;
export const RISK_S = 90;

// --- DOM --------------------------------------------------------------------------------------

export const $ = (id) => document.getElementById(id);

/** Build an element: el("li", {class: "x", dataset: {sessionId: "…"}}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function show(node, visible = true) {
  node.hidden = !visible;
}

// --- alarm tone -------------------------------------------------------------------------------

/**
 * A repeating alarm through WebAudio (oscillators, no sound file) from ``start()`` until
 * ``stop()``: three short high pulses every ``everyMs``, unlike the two-tone chime of a request.
 * ``audio`` is the page's AudioContext; browsers keep it suspended until a tap, and meanwhile the
 * alarm still counts as ringing and sounds as soon as the context runs. Each burst that sounded is
 * counted on ``document.body.dataset.alarms`` (pages and tests can tell it is heard).
 */
export class AlarmTone {
  constructor(audio, { everyMs = 1600, frequency = 988 } = {}) {
    this.audio = audio;
    this.everyMs = everyMs;
    this.frequency = frequency;
    this.timer = null;
  }

  get ringing() {
    return this.timer !== null;
  }

  start() {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this._burst(), this.everyMs);
    this._burst();
  }

  stop() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Whether the alarm is ringing but cannot be heard (sound not yet allowed on this page). */
  get muted() {
    return this.ringing && !(this.audio && this.audio.state === "running");
  }

  _burst() {
    const audio = this.audio;
    if (!audio || audio.state !== "running") return;
    const start = audio.currentTime + 0.02;
    for (let i = 0; i < 3; i += 1) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      const t = start + i * 0.22;
      osc.type = "square";
      osc.frequency.value = this.frequency;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.25, t + 0.015);
      gain.gain.setValueAtTime(0.25, t + 0.13);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.16);
      osc.connect(gain).connect(audio.destination);
      osc.start(t);
      osc.stop(t + 0.17);
    }
    document.body.dataset.alarms = String(Number(document.body.dataset.alarms || 0) + 1);
  }
}

// --- server clock -----------------------------------------------------------------------------

/**
 * Server time = client time + offset. Each sample is a server timestamp known to lie between two
 * client readings; the tightest sample wins. Date headers (whole seconds) are coarse; a timestamp
 * the server stamped while answering (requested_at, accepted_at) is good to a round trip.
 */
export const serverClock = {
  offset: 0,
  uncertainty: Number.POSITIVE_INFINITY,
  sample(serverMs, sentMs, receivedMs, extra = 0) {
    if (!Number.isFinite(serverMs)) return;
    const uncertainty = (receivedMs - sentMs) / 2 + extra;
    if (uncertainty < this.uncertainty) {
      this.offset = serverMs - (sentMs + receivedMs) / 2;
      this.uncertainty = uncertainty;
    }
  },
  now() {
    return Date.now() + this.offset;
  },
};

export function parseTime(iso) {
  return iso ? Date.parse(iso) : Number.NaN;
}

/** 75 -> "1:15"; 3725 -> "1:02:05". */
export function formatDuration(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** "ok" under 30 s, "warn" up to 90 s, "risk" beyond. */
export function waitClass(seconds) {
  if (seconds < BEST_S) return "ok";
  if (seconds < RISK_S) return "warn";
  return "risk";
}

// --- HTTP JSON API ----------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** The last moment (client clock) a request was sent and answered, for the caller's clock sample. */
export const lastExchange = { sent: 0, received: 0 };

export async function api(method, path, body) {
  const init = {
    method,
    credentials: "same-origin",
    cache: "no-store",
    headers: { accept: "application/json" },
  };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const sent = Date.now();
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(
      0,
      "network",
      "The server cannot be reached. Check the network connection, then try again.",
    );
  }
  const received = Date.now();
  lastExchange.sent = sent;
  lastExchange.received = received;
  const date = response.headers.get("date");
  if (date) serverClock.sample(Date.parse(date) + 500, sent, received, 500);
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    let detail = data && data.detail;
    if (typeof detail !== "string") {
      detail = detail ? JSON.stringify(detail) : `${response.status} ${response.statusText}`.trim();
    }
    throw new ApiError(response.status, (data && data.error) || `http_${response.status}`, detail);
  }
  return data;
}

export function goToLogin() {
  location.replace("/login");
}

/** GET /api/me; an expired login goes back to the login page. */
export async function currentUser() {
  try {
    return (await api("GET", "/api/me")).user;
  } catch (error) {
    if (error.status === 401) {
      goToLogin();
      return new Promise(() => {}); // the page is leaving
    }
    throw error;
  }
}

export async function signOut() {
  try {
    await api("POST", "/api/logout");
  } finally {
    location.replace("/login");
  }
}

// --- messages ---------------------------------------------------------------------------------

/**
 * A message area: show(kind, text) with kind "error" | "warn" | "info"; messages stay until
 * dismissed or replaced under the same key (so a fixed problem can clear its own message).
 */
export class Notices {
  constructor(container) {
    this.container = container;
    this.byKey = new Map();
  }

  show(kind, text, key = text, action = null) {
    this.clear(key);
    const button = action
      ? el("button", { type: "button", class: "notice-action", onclick: action.onClick }, action.label)
      : null;
    const close = el("button", {
      type: "button",
      class: "notice-close",
      "aria-label": "Dismiss",
      onclick: () => this.clear(key),
    }, "×");
    const node = el(
      "div",
      { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" },
      el("span", { class: "notice-text" }, text),
      button,
      close,
    );
    this.container.append(node);
    this.byKey.set(key, node);
    return node;
  }

  error(text, key) {
    return this.show("error", text, key);
  }

  clear(key) {
    const node = this.byKey.get(key);
    if (node) {
      node.remove();
      this.byKey.delete(key);
    }
  }

  clearAll() {
    for (const key of [...this.byKey.keys()]) this.clear(key);
  }
}

/** Set a status pill: <span class="pill" data-state=…><b>label</b> text</span>. */
export function setPill(node, state, text) {
  if (node.dataset.state !== state) node.dataset.state = state;
  const label = node.querySelector(".pill-text");
  if (label.textContent !== text) label.textContent = text; // no needless live-region chatter
}

// --- header -----------------------------------------------------------------------------------

export function fillHeader(user) {
  const name = $("user-name");
  if (name) name.textContent = user.full_name;
  const out = $("sign-out");
  if (out) out.addEventListener("click", () => signOut());
}

// --- signaling socket -------------------------------------------------------------------------

const PING_EVERY_MS = 20000;
const PONG_WITHIN_MS = 10000;
const PROBE_MS = 3000; // the network came back: an open-looking socket must answer a ping this fast

/**
 * One WebSocket to /ws that comes back by itself. Status goes to onStatus(state, info):
 * "connecting", "connected", "reconnecting" ({delayMs, code}), "replaced", "forbidden",
 * "unauthenticated". onOpen runs after every (re)connection: the page re-sends its join there.
 */
export class SignalingSocket {
  constructor({ onMessage, onStatus, onOpen }) {
    this.onMessage = onMessage;
    this.onStatus = onStatus || (() => {});
    this.onOpen = onOpen || (() => {});
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.pingTimer = null;
    this.stopped = false;
    this.state = "idle";
    window.addEventListener("online", () => this.probe());
    // The browser knows its network is gone: say so now rather than when a ping goes unanswered
    // (up to 30 s), so the other page and the server learn it at once; come back on "online".
    window.addEventListener("offline", () => this.dropForOffline());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectSoon();
    });
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  start() {
    this.stopped = false;
    this.attempt = 0;
    if (!this.ws) this._connect();
  }

  /** While waiting to reconnect, try now (the network came back, the phone woke up). */
  reconnectSoon() {
    if (this.stopped || this.ws || this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
    this._connect();
  }

  /** The network came back: a socket that still looks open may have died while it was away. Ask;
   * without an answer within PROBE_MS, start a new one. */
  probe() {
    if (!this.connected) {
      this.reconnectSoon();
      return;
    }
    const ws = this.ws;
    const asked = Date.now();
    this.send({ type: "ping" });
    setTimeout(() => {
      if (this.ws === ws && this.pongAt < asked) this._drop(ws);
    }, PROBE_MS);
  }

  dropForOffline() {
    if (!this.stopped && this.ws) this._drop(this.ws);
  }

  /** Give up on this socket now (it may never say it closed) and reconnect as after a drop. */
  _drop(ws) {
    ws.close();
    this._lost(1006);
  }

  send(message) {
    if (!this.connected) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  _status(state, info = {}) {
    this.state = state;
    this.onStatus(state, info);
  }

  _connect() {
    this.timer = null;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws`);
    this.ws = ws;
    this._status(this.attempt === 0 ? "connecting" : "reconnecting", { delayMs: 0 });
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this._status("connected");
      this._startPing(ws);
      this.onOpen();
    });
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "pong") {
        this.pongAt = Date.now();
        return;
      }
      this.onMessage(message);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this._lost(event.code);
    });
  }

  _startPing(ws) {
    this._stopPing();
    this.pongAt = Date.now();
    this.pingTimer = setInterval(() => {
      if (this.ws !== ws) return this._stopPing();
      if (Date.now() - this.pongAt > PING_EVERY_MS + PONG_WITHIN_MS) {
        // No answer: the connection is dead even if the browser has not noticed yet.
        this._drop(ws);
        return;
      }
      this.send({ type: "ping" });
    }, PING_EVERY_MS);
  }

  _stopPing() {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  _lost(code) {
    this._stopPing();
    this.ws = null;
    if (this.stopped) return;
    // 4401 no login; 4440 logged out, 4441 expired, 4442 account disabled (on any worker)
    if (code === 4401 || code === 4440 || code === 4441 || code === 4442) {
      this.stopped = true;
      this._status("unauthenticated", { code });
      goToLogin();
      return;
    }
    // 4430: this login opened more sockets elsewhere and this, the oldest, was closed
    if (code === 4409 || code === 4430 || code === 4403) {
      this.stopped = true;
      this._status(code === 4403 ? "forbidden" : "replaced", { code });
      return;
    }
    const base = code === 4429 ? 5000 : 500;
    const delayMs = Math.round(
      Math.min(15000, base * 2 ** this.attempt) * (0.8 + Math.random() * 0.4),
    );
    this.attempt += 1;
    this._status("reconnecting", { delayMs, code });
    this.timer = setTimeout(() => this._connect(), delayMs);
  }
}

/** Show the socket's state on a pill; returns a function for SignalingSocket's onStatus. */
export function socketPill(node, notices, socketRef) {
  return (state, info) => {
    const socket = socketRef();
    if (state === "connected") {
      setPill(node, "ok", "connected");
      notices.clear("socket");
    } else if (state === "connecting") {
      setPill(node, "pending", "connecting…");
    } else if (state === "reconnecting") {
      const seconds = Math.ceil((info.delayMs || 0) / 1000);
      if (!navigator.onLine) setPill(node, "warn", "no network: reconnecting when it returns…");
      else setPill(node, "warn", seconds ? `reconnecting in ${seconds} s…` : "reconnecting…");
    } else if (state === "replaced") {
      setPill(node, "bad", "opened in another window");
      notices.show(
        "warn",
        "This console was opened in another window or tab, which now has the call. This window has stopped.",
        "socket",
        { label: "Use this window", onClick: () => { notices.clear("socket"); socket.start(); } },
      );
    } else if (state === "forbidden") {
      setPill(node, "bad", "refused");
      notices.error(
        "The server refused this page's connection (forbidden origin). Open Standby from its own address.",
        "socket",
      );
    } else if (state === "unauthenticated") {
      setPill(node, "bad", "signed out");
    }
  };
}

// --- camera and microphone --------------------------------------------------------------------

/** Camera + microphone; a readable reason when they are missing or refused. */
export async function getCameraAndMic() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error(
      "This browser cannot use a camera here. Open Standby over https (or on this computer) in a current browser.",
    );
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true },
      video: { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: "user" },
    });
  } catch (error) {
    throw new Error(mediaErrorText(error));
  }
}

export function mediaErrorText(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera and microphone are blocked. Allow them for this site (the camera icon in the address bar), then press “Try camera again”.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera or microphone was found. Connect one, then press “Try camera again”.";
    case "NotReadableError":
    case "AbortError":
      return "The camera or microphone is in use by another program. Close it, then press “Try camera again”.";
    default:
      return `The camera could not start: ${(error && error.message) || error}`;
  }
}

export function stopStream(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}

// --- keep the screen on during a call ------------------------------------------------------

let wakeLock = null;

export async function keepScreenOn(on) {
  try {
    if (on && !wakeLock && "wakeLock" in navigator && document.visibilityState === "visible") {
      wakeLock = await navigator.wakeLock.request("screen");
      wakeLock.addEventListener("release", () => {
        wakeLock = null;
      });
    } else if (!on && wakeLock) {
      await wakeLock.release();
      wakeLock = null;
    }
  } catch {
    wakeLock = null; // not allowed here; the call works without it
  }
}

/** How a radiologist accepted, in words (an accept's ``via``). */
// Why the pager skipped someone, in words (others are shown as the server gives them).
export const SKIP_REASONS = {
  license_expired: "license expired",
  no_license_in_state: "no license in this state",
  not_privileged_at_facility: "no privileges here",
  inactive: "account disabled",
};

export const VIA = { web: "console", sms: "SMS", voice: "phone" };

/** Until the connection has gathered its ICE candidates (or ``timeoutMs`` passed: offer what was
 * gathered, host candidates come first). For offers sent whole to the server's aiortc peer. */
export function waitForGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    }, timeoutMs);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

/**
 * A deliberate second action before something that cannot be undone (ending a session, handing
 * a request back): a modal dialog whose confirming button sits in the middle of the screen, away
 * from the control that opened it, and whose buttons take no tap for the first CONFIRM_ARM_MS (the
 * second tap of a double tap, wherever it lands, neither confirms nor dismisses). Resolves true when confirmed, false when kept.
 */
const CONFIRM_ARM_MS = 400;
export function confirmAction({ title, detail = "", confirm, keep = "Keep going" }) {
  return new Promise((resolve) => {
    const yes = el("button", { class: "danger big", type: "button", dataset: { testid: "confirm-yes" }, disabled: true }, confirm);
    const no = el("button", { class: "big", type: "button", dataset: { testid: "confirm-no" }, disabled: true }, keep);
    const dialog = el(
      "dialog",
      { class: "confirm", dataset: { testid: "confirm" }, "aria-labelledby": "confirm-title" },
      el("h2", { id: "confirm-title" }, title),
      detail ? el("p", {}, detail) : "",
      el("div", { class: "confirm-buttons" }, no, yes),
    );
    let answered = false;
    const answer = (value) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    yes.addEventListener("click", () => answer(true));
    no.addEventListener("click", () => answer(false));
    dialog.addEventListener("cancel", () => answer(false)); // Escape
    document.body.append(dialog);
    dialog.showModal();
    setTimeout(() => {
      yes.disabled = false;
      no.disabled = false;
      no.focus();
    }, CONFIRM_ARM_MS);
  });
}

/**
 * The big counter as [seconds, caption, band]. While waiting it counts from the request, or from
 * the latest re-page (``paging_since``): the 30 s and 90 s marks count again from there. Once
 * joined it shows how long the session has run, and the caption keeps the join latency. Paging
 * that ran out is red however short the wait, never green beside "do not inject".
 */
export function timerReading(session, paging = null) {
  const requested = parseTime(session.requested_at);
  const since = session.paging_since ? parseTime(session.paging_since) : requested;
  const repaged = since > requested;
  if (session.joined_at && session.radiologist) {
    const latency = latestJoinLatency(session);
    const ran = Math.max(0, (serverClock.now() - parseTime(session.joined_at)) / 1000);
    const caption = `in session · joined ${latency.toFixed(1)} s after the ${repaged ? "re-page" : "request"}`;
    return [ran, caption, waitClass(latency)];
  }
  const seconds = Math.max(0, (serverClock.now() - since) / 1000);
  const from = repaged ? "since the re-page" : "waiting";
  if (paging && paging.exhausted) return [seconds, `${from} · no radiologist answered`, "risk"];
  const caption =
    seconds < BEST_S
      ? `${from} · best in class is under 30 s`
      : seconds < RISK_S
        ? `${from} · past the 30 s mark`
        : `${from} · past 90 s: at risk`;
  return [seconds, caption, waitClass(seconds)];
}

/** Seconds from the request (or the re-page it answered) to the join now in force. */
function latestJoinLatency(session) {
  const repages = session.repages || [];
  const last = repages.length ? repages[repages.length - 1] : null;
  if (last && typeof last.join_latency_ms === "number") return last.join_latency_ms / 1000;
  if (typeof session.join_latency_ms === "number") return session.join_latency_ms / 1000;
  return (parseTime(session.joined_at) - parseTime(session.requested_at)) / 1000;
}

/** Why a request was cancelled, in the order the technologist's dialog offers them. The server
 * reads reasons stored under older names as these (signaling.sessions.state), so a page only ever
 * sees these keys. */
export const CANCEL_REASONS = {
  no_coverage: "No radiologist covered",
  patient_declined: "Patient declined",
  clinical: "Clinical reason",
  equipment: "Equipment problem",
  exam_cancelled: "Exam cancelled",
  requested_in_error: "Requested in error",
  other: "Other",
};

/** A cancel reason inside a sentence: "cancelled: patient declined". */
export function cancelReasonText(reason) {
  const label = CANCEL_REASONS[reason] || reason || "no reason given";
  return label.charAt(0).toLowerCase() + label.slice(1);
}

/** Who ended a session and how, for the other side: "Dr Ray Diaz ended the session", "The
 * technologist, Tina Torres, cancelled: patient declined", "You ended the session". */
export function endedBy(session, me) {
  const by = session.ended_by;
  const reason = cancelReasonText(session.cancel_reason);
  const completed = session.outcome === "completed";
  const how = completed ? "ended the session" : `cancelled: ${reason}`;
  if (!by) return completed ? "The session ended" : `Cancelled: ${reason}`;
  if (me && by.id === me.id) return `You ${how}`;
  if (by.role === "technologist") return `The technologist, ${by.full_name}, ${how}`;
  if (by.role === "radiologist") return `${by.full_name} ${how}`;
  return `${by.full_name} (supervisor or admin) ${how}`;
}

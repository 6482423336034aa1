// "Test camera, microphone and network": this device's camera and microphone are sent to the
// server for a few seconds, the server says what it saw and heard, and this page adds what it
// measured of the network on that same connection (docs/protocol.md, Pre-flight check).
// Used by the technologist's and the radiologist's consoles; the device id identifies this
// browser for the facility's "passed this shift" rule.

import { api, el, getCameraAndMic, stopStream, waitForGathering } from "./common.js";

const DEVICE_KEY = "standby.device";
const GATHER_MS = 2000; // STUN/TURN candidates: wait at most this long before offering what we have
const STATS_EVERY_MS = 500;
const MAX_WIDTH = 640; // the server judges a small copy: less upload, less server work

/** The random id this browser keeps for itself (never derived from the person or the machine). */
export function deviceId() {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

/** "Chrome on Android": enough for a person to tell their devices apart. */
export function deviceLabel() {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox"
    : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const system = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS"
    : /Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "macOS"
    : /Linux/.test(ua) ? "Linux" : "another system";
  return `${browser} on ${system}`;
}

/** "14:02", or "tomorrow 02:02" / "Mon 02:02" when not today. */
function clock(iso) {
  const moment = new Date(iso);
  const time = moment.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const today = new Date();
  if (moment.toDateString() === today.toDateString()) return time;
  const tomorrow = new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1);
  if (moment.toDateString() === tomorrow.toDateString()) return `tomorrow ${time}`;
  return `${moment.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" })} ${time}`;
}

/** Round trip, loss and the selected candidate type of a sending connection, from getStats. */
async function measure(pc) {
  const report = await pc.getStats();
  const byId = new Map();
  let pairId = null;
  let lost = 0;
  let sent = 0;
  let rtt = null;
  report.forEach((stat) => {
    byId.set(stat.id, stat);
    if (stat.type === "transport" && stat.selectedCandidatePairId) pairId = stat.selectedCandidatePairId;
    if (stat.type === "outbound-rtp") sent += stat.packetsSent || 0;
    if (stat.type === "remote-inbound-rtp") {
      lost += Math.max(0, stat.packetsLost || 0);
      if (typeof stat.roundTripTime === "number") rtt = Math.max(rtt || 0, stat.roundTripTime * 1000);
    }
  });
  if (!pairId) {
    report.forEach((stat) => {
      if (stat.type === "candidate-pair" && stat.nominated && stat.state === "succeeded") pairId = stat.id;
    });
  }
  const pair = pairId ? byId.get(pairId) : null;
  if (pair && typeof pair.currentRoundTripTime === "number") rtt = pair.currentRoundTripTime * 1000;
  const local = pair ? byId.get(pair.localCandidateId) : null;
  const type = local && local.candidateType;
  return {
    rtt_ms: rtt,
    loss: sent > 0 ? Math.min(1, lost / sent) : null,
    candidate: ["host", "srflx", "prflx", "relay"].includes(type) ? type : null,
  };
}

export class Preflight {
  /**
   * root: an empty element to fill. iceServers(): the list from /api/config. getStream(): the
   * page's own camera stream if it already has one (a phone may not open its camera twice).
   * onPassed(check): a check just passed.
   */
  constructor({ root, iceServers, iceTransportPolicy, getStream, onPassed }) {
    this.iceServers = iceServers || (() => []);
    this.iceTransportPolicy = iceTransportPolicy || (() => "all");
    this.getStream = getStream || (() => null);
    this.onPassed = onPassed || (() => {});
    this.running = null;
    this.button = el("button", { type: "button", class: "preflight-run", "data-testid": "preflight-run",
      onclick: () => this.run() }, "Test camera, microphone and network");
    this.required = el("p", { class: "preflight-required", hidden: true });
    this.status = el("p", { class: "preflight-status", "data-testid": "preflight-status" },
      "Not tested on this device yet.");
    this.results = el("ul", { class: "preflight-results", "data-testid": "preflight-results" });
    root.classList.add("preflight");
    root.dataset.state = "idle";
    root.replaceChildren(this.required, this.button, this.status, this.results);
    this.root = root;
  }

  /** Show this device's last result and whether a facility requires one. */
  async load() {
    try {
      const data = await api("GET", `/api/preflight/checks?device_id=${encodeURIComponent(deviceId())}`);
      this.validH = data.valid_h;
      this.requiredBy = data.required_by;
      if (data.required_by.length) {
        this.required.textContent = `Required each shift (${data.valid_h} h) by ${data.required_by.join(", ")}.`;
        this.required.hidden = false;
      }
      if (data.checks.length && !this.running) this.render(data.checks[0], true);
    } catch {
      // the button still works; the last result is a nicety
    }
  }

  /** The whole check; resolves with the stored result (or null if it could not run). */
  run() {
    if (!this.running) this.running = this._run().finally(() => { this.running = null; });
    return this.running;
  }

  async _run() {
    this.root.scrollIntoView({ block: "nearest" });
    this.button.disabled = true;
    this.root.dataset.state = "running";
    this.status.textContent = "Testing… (about 4 seconds)";
    this.results.replaceChildren();
    let own = null;
    let tracks = [];
    let pc = null;
    try {
      const existing = this.getStream();
      if (existing && existing.getTracks().some((t) => t.readyState === "live")) {
        tracks = existing.getTracks().filter((t) => t.readyState === "live").map((t) => t.clone());
      } else {
        own = await getCameraAndMic();
        tracks = own.getTracks();
      }
      pc = new RTCPeerConnection({
        iceServers: this.iceServers(),
        iceTransportPolicy: this.iceTransportPolicy(),
      });
      for (const track of tracks) {
        const init = { direction: "sendonly" };
        if (track.kind === "video") {
          const width = track.getSettings().width || MAX_WIDTH;
          init.sendEncodings = [{ maxFramerate: 15, scaleResolutionDownBy: Math.max(1, width / MAX_WIDTH) }];
        }
        pc.addTransceiver(track, init);
      }
      await pc.setLocalDescription(await pc.createOffer());
      await waitForGathering(pc, GATHER_MS);
      const started = await api("POST", "/api/preflight/checks", {
        sdp: pc.localDescription.sdp,
        device_id: deviceId(),
        device_label: deviceLabel(),
      });
      await pc.setRemoteDescription({ type: "answer", sdp: started.sdp });
      const until = performance.now() + started.capture_s * 1000;
      let network = { rtt_ms: null, loss: null, candidate: null };
      while (performance.now() < until) {
        await new Promise((r) => setTimeout(r, Math.min(STATS_EVERY_MS, until - performance.now())));
        const sample = await measure(pc).catch(() => null);
        if (sample && (sample.candidate || sample.rtt_ms !== null)) network = sample;
      }
      const { check } = await api("POST", `/api/preflight/checks/${started.check_id}/finish`, network);
      this.render(check, false);
      if (check.passed) this.onPassed(check);
      return check;
    } catch (error) {
      if (error.status === 401) location.replace("/login");
      this.root.dataset.state = "failed";
      this.status.textContent = `The test could not run: ${error.detail || error.message || error}`;
      return null;
    } finally {
      if (pc) pc.close();
      if (own) stopStream(own);
      else for (const track of tracks) track.stop(); // our clones only
      this.button.disabled = false;
    }
  }

  render(check, earlier) {
    this.root.dataset.state = check.passed ? "passed" : check.state === "complete" ? "failed" : "idle";
    const when = clock(check.checked_at);
    let line;
    if (check.passed) {
      // How long a pass counts matters only where a facility requires one.
      const counts = (this.requiredBy || []).length ? ` (counts until ${clock(check.valid_until)})` : "";
      line = `${earlier ? "Last check on this device" : "Check"}: passed at ${when}${counts}.`;
    } else if (check.state === "complete") {
      line = `${earlier ? "Last check on this device" : "Check"}: not passed at ${when}. Fix what is marked, then test again.`;
    } else {
      line = `Last check on this device (${when}) did not finish. Test again.`;
    }
    this.status.textContent = line;
    const items = [];
    for (const [part, ok] of [["camera", "ok"], ["microphone", "ok"]]) {
      if (check[part]) items.push(el("li", { dataset: { ok: String(check[part].verdict === ok) } }, check[part].text));
    }
    if (check.network) {
      items.push(el("li", { dataset: { ok: String(check.network.verdict !== "poor") } }, check.network.text));
    }
    this.results.replaceChildren(...items);
  }
}

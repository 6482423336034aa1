// The small copy of this page's camera and microphone that the server checks (docs/protocol.md,
// "Media monitor"): a second RTCPeerConnection sending clones of the local tracks, downscaled to
// about 240 px wide at one frame a second, to POST /api/sessions/{id}/monitor. Non-trickle: the
// offer goes once ICE gathering is complete. Reconnects when it fails; stops for good when the
// server says the facility has the monitor off.

import { api, waitForGathering } from "./common.js";

const TARGET_WIDTH = 240;
const VIDEO_MAX_BITRATE = 60_000;
const AUDIO_MAX_BITRATE = 24_000;
const GATHER_TIMEOUT_MS = 3000;
const RETRY_MS = [1000, 2000, 5000, 10000, 30000];
const DISCONNECTED_GRACE_MS = 3000;
const MIRROR_MS = 500; // a clone outlives its original's stop(): follow it (no event tells us)

function videoEncoding(track) {
  const width = (track.getSettings && track.getSettings().width) || 640;
  return {
    maxFramerate: 1,
    scaleResolutionDownBy: Math.max(1, width / TARGET_WIDTH),
    maxBitrate: VIDEO_MAX_BITRATE,
  };
}

export class MediaCopy {
  /** onChange(state): "off", "connecting", "sending", "retrying", "unavailable", "disabled". */
  constructor({ iceServers, onChange }) {
    this.iceServers = iceServers || [];
    this.iceTransportPolicy = "all"; // as the call: "relay" when the server says so
    this.onChange = onChange || (() => {});
    this.state = "off";
    this.sessionId = null;
    this.stream = null;
    this.pc = null;
    this.clones = [];
    this.attempt = 0;
    this.generation = 0;
    this.retryTimer = null;
    this.disconnectTimer = null;
    this.pairs = []; // [original, clone]
    this.mirrorTimer = null;
  }

  /** Keep a copy of ``stream`` going to the server for ``sessionId`` (no-op if it already is). */
  /** Send the copy while in ``session`` (as the server last described it) if its facility
   * monitors media and there is a camera; stop otherwise. ``renew``: offer again (a new socket). */
  sync(session, stream, renew = false) {
    const wanted = session && session.state !== "ended" && stream && session.facility && session.facility.monitor_media;
    if (!wanted) {
      if (this.state !== "off") this.stop();
      return;
    }
    if (renew && this.sessionId === session.id && this.stream === stream) this.renew();
    else this.ensure(session.id, stream);
  }

  ensure(sessionId, stream) {
    if (this.sessionId === sessionId && this.stream === stream && this.state !== "off") return;
    this.sessionId = sessionId;
    this.stream = stream;
    this.attempt = 0;
    this.renew();
  }

  /** A new offer now (the socket joined again: the server may have closed our monitor). */
  renew() {
    if (!this.sessionId || !this.stream || this.state === "disabled") return;
    this._open(++this.generation);
  }

  stop() {
    this.generation += 1;
    this.sessionId = null;
    this.stream = null;
    this._close();
    this._set("off");
  }

  _set(state) {
    if (this.state === state) return;
    this.state = state;
    this.onChange(state);
  }

  /** The copy shows what the page really sends: an original stopped or disabled, so is its clone. */
  _mirror() {
    for (const [original, clone] of this.pairs) {
      if (original.readyState === "ended" && clone.readyState !== "ended") clone.stop();
      if (clone.enabled !== original.enabled) clone.enabled = original.enabled;
    }
  }

  _close() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.disconnectTimer);
    clearInterval(this.mirrorTimer);
    this.pairs = [];
    const pc = this.pc;
    this.pc = null;
    if (pc) {
      pc.onconnectionstatechange = null;
      pc.close();
    }
    for (const track of this.clones.splice(0)) track.stop();
  }

  _retry(generation, state = "retrying") {
    if (generation !== this.generation) return;
    this._close();
    this._set(state);
    const delay = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
    this.attempt += 1;
    this.retryTimer = setTimeout(() => {
      if (generation === this.generation) this._open(++this.generation);
    }, delay);
  }

  async _open(generation) {
    this._close();
    this._set("connecting");
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers,
      iceTransportPolicy: this.iceTransportPolicy,
    });
    this.pc = pc;
    const senders = [];
    for (const track of this.stream.getTracks()) {
      if (track.readyState !== "live") continue;
      const clone = track.clone();
      this.clones.push(clone);
      this.pairs.push([track, clone]);
      const encoding =
        track.kind === "video" ? videoEncoding(track) : { maxBitrate: AUDIO_MAX_BITRATE };
      const transceiver = pc.addTransceiver(clone, { direction: "sendonly", sendEncodings: [encoding] });
      senders.push([transceiver.sender, encoding]);
    }
    this.mirrorTimer = setInterval(() => this._mirror(), MIRROR_MS);
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const state = pc.connectionState;
      clearTimeout(this.disconnectTimer);
      if (state === "connected") {
        this.attempt = 0;
        this._set("sending");
      } else if (state === "failed" || state === "closed") {
        this._retry(generation);
      } else if (state === "disconnected") {
        this.disconnectTimer = setTimeout(() => this._retry(generation), DISCONNECTED_GRACE_MS);
      }
    };
    try {
      if (!senders.length) throw new Error("no live camera or microphone track to copy");
      await pc.setLocalDescription(await pc.createOffer());
      await waitForGathering(pc, GATHER_TIMEOUT_MS);
      if (generation !== this.generation) return;
      const { sdp } = await api("POST", `/api/sessions/${this.sessionId}/monitor`, {
        sdp: pc.localDescription.sdp,
      });
      if (generation !== this.generation) return;
      await pc.setRemoteDescription({ type: "answer", sdp });
      // Some browsers take sendEncodings only as a hint: set the limits on the senders as well.
      for (const [sender, encoding] of senders) {
        const parameters = sender.getParameters();
        if (!parameters.encodings || !parameters.encodings.length) parameters.encodings = [{}];
        Object.assign(parameters.encodings[0], encoding);
        await sender.setParameters(parameters).catch(() => {});
      }
    } catch (error) {
      if (generation !== this.generation) return;
      if (error && error.status === 409 && error.code === "monitor_off") {
        this._close();
        this._set("disabled");
      } else if (error && (error.status === 404 || error.status === 403 || error.status === 401)) {
        this._close();
        this._set("off"); // not ours (any more): the session flow deals with it
      } else {
        this._retry(generation, error && error.status === 503 ? "unavailable" : "retrying");
      }
    }
  }
}

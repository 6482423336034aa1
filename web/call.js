// The peer-to-peer call: one RTCPeerConnection at a time (a new one for every plain offer), trickle
// ICE over the signaling socket, and the proof that media flows: remote video frames decoded and
// remote audio packets arriving, reported once per connection as {type: "media_state"}.
// A connection whose network path breaks is mended by an ICE restart on the same connection (same
// tracks, same picture element): the offerer restarts when ICE stays "disconnected" for
// DISCONNECTED_MS or "failed"; offers marked {restart: true} are answered on the current connection.

import { setPill } from "./common.js";

const POLL_MS = 200; // until ICE connects
const CONNECTED_POLL_MS = 50; // connected, first frame and audio due any moment: look closely
const SLOW_POLL_MS = 1000; // verified and reported: watch for a frozen picture
const STALL_MS = 3000;
const STATS_MS = 1000; // the server's link watch expects one report a second
const DISCONNECTED_MS = 2000; // "disconnected" this long: the path is gone, restart ICE

export class PeerCall {
  /**
   * send(message) -> bool: puts a signaling message on the socket (false if it is down).
   * remoteVideo: the <video> that shows (and plays the sound of) the other participant.
   * onChange(): something shown to the user changed (ICE state, media verification, stats).
   * onSoundBlocked(): the browser refused to play sound without a tap; the video plays muted.
   * onIceFailed(): ICE gave up on this connection, or stayed disconnected for DISCONNECTED_MS.
   */
  constructor({ iceServers, send, remoteVideo, onChange, onSoundBlocked, onIceFailed }) {
    this.iceServers = iceServers || [];
    this.iceTransportPolicy = "all"; // "relay": media only through the TURN relay (server setting)
    this.send = send;
    this.remoteVideo = remoteVideo;
    this.onChange = onChange || (() => {});
    this.onSoundBlocked = onSoundBlocked || (() => {});
    this.onIceFailed = onIceFailed || (() => {});
    this.pc = null;
    this.generation = 0;
    this._reset();
  }

  _reset() {
    this.ice = "none";
    this.verified = false; // remote video decodes and remote audio arrives here
    this.reported = false; // ...and the server has been told for this connection
    this.framePresented = false;
    this.videoFrames = 0;
    this.audioPackets = 0;
    this.lastFrameAt = 0;
    this.stalled = false;
    this.remoteStream = null;
    this.pendingRemote = [];
    this.pendingLocal = [];
    this.localSent = false;
  }

  get active() {
    return this.pc !== null;
  }

  /** A connection that has had time to show media, and shows none. */
  get slow() {
    return this.pc !== null && !this.verified && performance.now() - this.startedAt > 8000;
  }

  /** Technologist: a new connection and an offer. */
  async offer(localStream) {
    const pc = this._newConnection(localStream, true);
    await this._describe(pc, () => pc.createOffer(), (m) => this._sendLocal(m));
  }

  /** Technologist: restart ICE on the current connection (new candidates, same tracks); a new
   * connection when there is none to restart. */
  async restartIce(localStream) {
    const pc = this.pc;
    if (!pc || pc.signalingState !== "stable" || !pc.remoteDescription) return this.offer(localStream);
    pc.restartIce();
    await this._describe(pc, () => pc.createOffer({ iceRestart: true }), this.send, { restart: true });
  }

  /** Radiologist: answer the technologist's offer; an ICE restart on the current connection, any
   * other offer from a new one. */
  async answer(sdp, localStream, restart = false) {
    const current = this.pc;
    if (restart && current && current.signalingState === "stable" && current.connectionState !== "closed") {
      await current.setRemoteDescription({ type: "offer", sdp });
      await this._describe(current, () => current.createAnswer(), this.send);
      return;
    }
    const pc = this._newConnection(null, false);
    await pc.setRemoteDescription({ type: "offer", sdp });
    if (pc !== this.pc) return;
    this._addLocal(pc, localStream, false);
    await this._flushRemote(pc);
    await this._describe(pc, () => pc.createAnswer(), (m) => this._sendLocal(m));
  }

  async acceptAnswer(sdp) {
    const pc = this.pc;
    if (!pc || pc.signalingState !== "have-local-offer") return;
    await pc.setRemoteDescription({ type: "answer", sdp });
    await this._flushRemote(pc);
  }

  async addCandidate(message) {
    const pc = this.pc;
    if (!pc) return;
    const init =
      message.candidate === null || message.candidate === undefined
        ? null
        : {
            candidate: message.candidate,
            sdpMid: message.sdp_mid,
            sdpMLineIndex: message.sdp_mline_index,
          };
    if (!pc.remoteDescription) {
      this.pendingRemote.push(init);
      return;
    }
    await this._addIce(pc, init);
  }

  close() {
    const pc = this.pc;
    this.pc = null;
    this.generation += 1;
    clearTimeout(this.pollTimer);
    clearTimeout(this.disconnectedTimer);
    clearInterval(this.statsTimer);
    if (pc) {
      pc.onicecandidate = null;
      pc.oniceconnectionstatechange = null;
      pc.ontrack = null;
      pc.close();
    }
    if (this.remoteVideo.srcObject) this.remoteVideo.srcObject = null;
    this._reset();
    this.onChange();
  }

  // --- internals ------------------------------------------------------------------------------

  /** Create our offer or answer, set it and send it, unless a newer connection took over. */
  async _describe(pc, create, send, extra = {}) {
    const description = await create();
    if (pc !== this.pc) return;
    await pc.setLocalDescription(description);
    if (pc !== this.pc) return;
    send({ type: description.type, sdp: pc.localDescription.sdp, ...extra });
  }

  _newConnection(localStream, offering) {
    this.close();
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers,
      iceTransportPolicy: this.iceTransportPolicy,
    });
    this.pc = pc;
    this.startedAt = performance.now();
    this.ice = pc.iceConnectionState;
    this.remoteStream = new MediaStream();
    const generation = this.generation;

    pc.onicecandidate = (event) => {
      if (pc !== this.pc) return;
      const c = event.candidate;
      this._sendLocal({
        type: "candidate",
        candidate: c && c.candidate ? c.candidate : null,
        sdp_mid: c ? c.sdpMid : null,
        sdp_mline_index: c ? c.sdpMLineIndex : null,
      });
    };
    pc.oniceconnectionstatechange = () => {
      if (pc !== this.pc) return;
      this.ice = pc.iceConnectionState;
      this.send({ type: "ice_state", state: this.ice });
      if (this.ice === "connected" || this.ice === "completed") this._kick();
      clearTimeout(this.disconnectedTimer);
      if (this.ice === "disconnected") {
        this.disconnectedTimer = setTimeout(() => {
          if (pc === this.pc && pc.iceConnectionState === "disconnected") this.onIceFailed();
        }, DISCONNECTED_MS);
      }
      this.onChange();
      if (this.ice === "failed") this.onIceFailed();
    };
    pc.ontrack = (event) => {
      if (pc !== this.pc) return;
      this.remoteStream.addTrack(event.track);
      if (this.remoteVideo.srcObject !== this.remoteStream) {
        this.remoteVideo.srcObject = this.remoteStream;
        this._watchFrames(this.remoteStream);
      }
      this._play();
    };
    if (offering) this._addLocal(pc, localStream, true);
    this._poll(pc, generation);
    this._previous = null;
    clearInterval(this.statsTimer);
    this.statsTimer = setInterval(() => this._report(pc), STATS_MS);
    this.onChange();
    return pc;
  }

  /** Our tracks; a kind we have no track for still receives (the other side is still seen). */
  _addLocal(pc, stream, offering) {
    const tracks = stream ? stream.getTracks() : [];
    for (const track of tracks) pc.addTrack(track, stream);
    if (offering) {
      for (const kind of ["audio", "video"]) {
        if (!tracks.some((t) => t.kind === kind)) pc.addTransceiver(kind, { direction: "recvonly" });
      }
    }
  }

  _sendLocal(message) {
    if (message.type === "candidate" && !this.localSent) {
      this.pendingLocal.push(message);
      return;
    }
    this.send(message);
    if (message.type === "offer" || message.type === "answer") {
      this.localSent = true;
      for (const queued of this.pendingLocal.splice(0)) this.send(queued);
    }
  }

  async _flushRemote(pc) {
    for (const init of this.pendingRemote.splice(0)) await this._addIce(pc, init);
  }

  async _addIce(pc, init) {
    try {
      if (init) await pc.addIceCandidate(init);
      else await pc.addIceCandidate();
    } catch {
      // A candidate of an older connection, or end-of-candidates twice: nothing to do.
    }
  }

  _play() {
    const video = this.remoteVideo;
    const attempt = video.play();
    if (!attempt) return;
    attempt.catch((error) => {
      if (error && error.name === "NotAllowedError" && !video.muted) {
        // Sound needs a tap first: show the picture now, and ask for the tap.
        video.muted = true;
        video.play().catch(() => {});
        this.onSoundBlocked();
      }
    });
  }

  /** A presented frame on the remote <video> is the earliest sign of decoded video: check now. */
  _watchFrames(stream) {
    const video = this.remoteVideo;
    if (typeof video.requestVideoFrameCallback !== "function") return;
    video.requestVideoFrameCallback(() => {
      if (video.srcObject !== stream || this.remoteStream !== stream) return;
      this.framePresented = true;
      this._kick();
    });
  }

  _kick() {
    if (this.pc && !this.polling) {
      clearTimeout(this.pollTimer);
      this._poll(this.pc, this.generation, 0);
    }
  }

  _poll(pc, generation, delay = POLL_MS) {
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => this._measure(pc, generation), delay);
  }

  async _measure(pc, generation) {
    if (pc !== this.pc || generation !== this.generation) return;
    this.polling = true;
    let report = null;
    try {
      report = await pc.getStats();
    } catch {
      report = null;
    } finally {
      this.polling = false;
    }
    if (pc !== this.pc || generation !== this.generation) return;
    if (report) {
      let frames = 0;
      let packets = 0;
      report.forEach((stat) => {
        if (stat.type !== "inbound-rtp") return;
        if (stat.kind === "video") frames += stat.framesDecoded || 0;
        else if (stat.kind === "audio") packets += stat.packetsReceived || 0;
      });
      const now = performance.now();
      if (frames > this.videoFrames) this.lastFrameAt = now;
      this.videoFrames = frames;
      this.audioPackets = packets;
      if (!this.verified && frames > 0 && packets > 0) {
        this.verified = true;
        this.lastFrameAt = now;
      }
      this.stalled = this.verified && now - this.lastFrameAt > STALL_MS;
    }
    if (this.verified && !this.reported) {
      this.reported = this.send({ type: "media_state", video: true, audio: true });
    }
    this.onChange();
    const connected = this.ice === "connected" || this.ice === "completed";
    this._poll(
      pc,
      generation,
      this.verified && this.reported ? SLOW_POLL_MS : connected ? CONNECTED_POLL_MS : POLL_MS,
    );
  }

  /** Once a second: what this page receives, for the server's link watch (docs/protocol.md). */
  async _report(pc) {
    if (pc !== this.pc) return;
    let report;
    try {
      report = await pc.getStats();
    } catch {
      return;
    }
    if (pc !== this.pc) return;
    const totals = { frames: 0, fps: 0, packets: 0, level: 0, lost: 0, received: 0, bytes: 0, jitter: 0 };
    const byId = new Map();
    let pairId = null;
    report.forEach((stat) => {
      byId.set(stat.id, stat);
      if (stat.type === "transport" && stat.selectedCandidatePairId) pairId = stat.selectedCandidatePairId;
      if (stat.type !== "inbound-rtp") return;
      totals.lost += Math.max(0, stat.packetsLost || 0);
      totals.received += stat.packetsReceived || 0;
      totals.bytes += stat.bytesReceived || 0;
      totals.jitter = Math.max(totals.jitter, stat.jitter || 0);
      if (stat.kind === "video") {
        totals.frames += stat.framesDecoded || 0;
        totals.fps = Math.max(totals.fps, stat.framesPerSecond || 0);
      } else if (stat.kind === "audio") {
        totals.packets += stat.packetsReceived || 0;
        totals.level = Math.max(totals.level, stat.audioLevel || 0);
      }
    });
    if (!pairId) {
      report.forEach((stat) => {
        if (stat.type === "candidate-pair" && stat.nominated && stat.state === "succeeded") pairId = stat.id;
      });
    }
    const pair = pairId ? byId.get(pairId) : null;
    const local = pair ? byId.get(pair.localCandidateId) : null;
    const remote = pair ? byId.get(pair.remoteCandidateId) : null;
    const types = [local && local.candidateType, remote && remote.candidateType];
    const candidate = types.includes("relay") ? "relay" : types[0] || null;
    const now = performance.now();
    const before = this._previous;
    this._previous = { at: now, ...totals };
    const lost = before ? totals.lost - before.lost : 0;
    const received = before ? totals.received - before.received : 0;
    const seconds = before ? (now - before.at) / 1000 : 0;
    this.send({
      type: "stats",
      frames_decoded: totals.frames,
      fps: Math.min(240, totals.fps),
      audio_packets: totals.packets,
      audio_level: Math.min(1, totals.level),
      rtt_ms: pair && typeof pair.currentRoundTripTime === "number" ? pair.currentRoundTripTime * 1000 : null,
      loss: lost + received > 0 ? Math.min(1, Math.max(0, lost / (lost + received))) : 0,
      jitter_ms: totals.jitter * 1000,
      bitrate_kbps: seconds > 0 ? Math.max(0, ((totals.bytes - before.bytes) * 8) / 1000 / seconds) : 0,
      candidate: ["host", "srflx", "prflx", "relay"].includes(candidate) ? candidate : null,
    });
  }

  /** The server lost our report (we rejoined): say it again. */
  reportAgain() {
    this.reported = false;
    this._kick();
  }
}

const ICE_TEXT = {
  none: "not started",
  new: "starting",
  checking: "connecting (checking)",
  connected: "connected",
  completed: "connected",
  disconnected: "interrupted, recovering…",
  failed: "failed",
  closed: "closed",
};

/** The call's two pills: peer connection state, and media verification. Once the session is joined
 * the media pill follows the server's ``link`` verdict: green only while verified two-way live,
 * amber while degraded, red while a direction is frozen or lost, in words. */
export function renderCallPills(call, sessionState, icePill, mediaPill, link = null, myRole = null) {
  const ice = call.ice;
  const iceKind =
    ice === "connected" || ice === "completed"
      ? "ok"
      : ice === "failed"
        ? "bad"
        : ice === "disconnected"
          ? "warn"
          : ice === "none" || ice === "closed"
            ? "idle"
            : "pending";
  setPill(icePill, iceKind, ICE_TEXT[ice] || ice);
  mediaPill.dataset.ice = ice;
  const checked = Boolean(
    link && Object.values(link.directions || {}).every((d) => d.server_checked),
  );
  mediaPill.dataset.checked = checked ? "true" : "false";

  if (!call.active) {
    setPill(mediaPill, sessionState === "joined" ? "warn" : "idle",
      sessionState === "joined" ? "reconnecting media…" : "no call");
  } else if (call.stalled) {
    setPill(mediaPill, "bad", "remote video frozen");
  } else if (call.verified && sessionState === "joined") {
    const [kind, text] = linkPill(link, myRole, checked);
    setPill(mediaPill, kind, text);
  } else if (call.verified) {
    setPill(mediaPill, "pending", "receiving audio+video; checking the other side…");
  } else {
    const parts = [
      call.videoFrames > 0 || call.framePresented ? "video ✓" : "video …",
      call.audioPackets > 0 ? "audio ✓" : "audio …",
    ];
    setPill(mediaPill, "pending", `waiting for media: ${parts.join(", ")}`);
  }
  mediaPill.dataset.verified = call.verified ? "true" : "false";
}

const PILL_STATE = { degraded: "warn", frozen: "bad", lost: "bad" };
const STATE_RANK = { live: 0, degraded: 1, frozen: 2, lost: 3 };
const CAUSE_SHORT = {
  no_reports: "not connected",
  nothing_arrives: "nothing arrives",
  no_frames: "video stopped",
  video_black: "camera black",
  video_frozen: "picture frozen",
  video_lost: "video not reaching the server",
  video_dark: "picture too dark",
  audio_silent: "microphone silent",
  audio_missing: "no audio",
  audio_lost: "audio not reaching the server",
  high_loss: "packet loss",
  high_rtt: "long delay",
  high_jitter: "uneven delay",
  low_fps: "choppy picture",
};

/** A direction's state as a person says it: a camera sending black is "black", not "frozen". */
function stateWord(direction) {
  return direction.state === "frozen" && (direction.causes || []).includes("video_black") ? "black" : direction.state;
}

/** [pill state, words] for a joined call from the server's ``link`` verdict. */
function linkPill(link, myRole, checked) {
  if (!link) return ["pending", "two-way audio+video; checking the link…"];
  if (link.verified) {
    return ["verified", `two-way audio+video verified${checked ? " · checked by the server" : ""}`];
  }
  let worst = "live";
  let worstWord = "live";
  const words = [];
  for (const [sender, direction] of Object.entries(link.directions || {})) {
    if (direction.state === "live") continue;
    if (STATE_RANK[direction.state] > STATE_RANK[worst]) {
      worst = direction.state;
      worstWord = stateWord(direction);
    }
    const whose = sender === myRole ? "yours" : "theirs";
    const causes = (direction.causes || []).map((c) => CAUSE_SHORT[c] || c.replaceAll("_", " "));
    words.push(`${whose}: ${stateWord(direction)}${causes.length ? ` (${causes.join(", ")})` : ""}`);
  }
  if (worst === "live") return ["pending", "two-way audio+video; checking the link…"];
  return [PILL_STATE[worst], `link ${worstWord}: ${words.join("; ")}`];
}

const CAUSE_MINE = {
  no_reports: (other) => `The ${other}'s page is not connected: Standby cannot confirm they see and hear you.`,
  nothing_arrives: (other) => `Your video and audio are not reaching the ${other}.`,
  no_frames: (other) => `Your video is frozen for the ${other}.`,
  video_black: () => "Your camera sends a black picture.",
  video_frozen: () => "Your camera sends a frozen picture.",
  video_lost: () => "Your video is not reaching the server's check.",
  video_dark: () => "Your picture is too dark.",
  audio_silent: () => "Your microphone sends silence.",
  audio_lost: () => "Your audio is not reaching the server's check.",
  audio_missing: (other) => `Your audio is not reaching the ${other}.`,
};
const CAUSE_THEIRS = {
  no_reports: () => "Your connection to the server is not getting through.",
  nothing_arrives: (other) => `The ${other}'s video and audio are not reaching you.`,
  no_frames: (other) => `The ${other}'s video froze.`,
  video_black: (other) => `The ${other}'s camera sends a black picture.`,
  video_frozen: (other) => `The ${other}'s camera sends a frozen picture.`,
  video_lost: (other) => `The ${other}'s video is not reaching the server's check.`,
  video_dark: (other) => `The ${other}'s picture is too dark.`,
  audio_silent: (other) => `The ${other}'s microphone sends silence.`,
  audio_lost: (other) => `The ${other}'s audio is not reaching the server's check.`,
  audio_missing: (other) => `The ${other}'s audio is not reaching you.`,
};
const POOR = { high_loss: "packets are lost", high_rtt: "the delay is long", high_jitter: "the delay varies", low_fps: "the picture is choppy" };

/** What the server's ``link`` message means for this page, in words; null while verified live. */
export function linkProblem(link, myRole) {
  if (!link || link.verified) return null;
  const otherRole = myRole === "technologist" ? "radiologist" : "technologist";
  const lines = [];
  const poor = [];
  for (const [sender, table] of [
    [myRole, CAUSE_MINE],
    [otherRole, CAUSE_THEIRS],
  ]) {
    const direction = (link.directions || {})[sender];
    if (!direction || direction.state === "live") continue;
    for (const cause of direction.causes || []) {
      if (table[cause]) lines.push(table[cause](otherRole));
      else if (POOR[cause]) poor.push(POOR[cause]);
    }
  }
  if (poor.length) lines.push(`The connection is poor: ${[...new Set(poor)].join(", ")}.`);
  return lines.length ? [...new Set(lines)].join(" ") : null;
}

/** Show the server's ``link`` verdict on this page, once the call has been up (``joined``): while
 * it connects, "nothing arrives yet" is no news. */
export function showLink(link, myRole, joined, notices) {
  const problem = joined ? linkProblem(link, myRole) : null;
  if (problem) notices.show("warn", problem, "link");
  else notices.clear("link");
  document.body.dataset.link = link.verified ? "verified" : "problem";
}

const AUDIO_GONE = ["audio_missing", "audio_lost"];

/**
 * Whether the other participant's picture must be covered, and in what words: in a joined session,
 * when the server's link watch says what the other side sends is lost or frozen (or its sound does
 * not arrive), or this page sees their video stall. A last frame left on the screen looks live.
 * Returns null while their media is live (the cover lifts when the link is verified again).
 */
export function remoteCover(call, link, myRole, sessionState) {
  if (sessionState !== "joined") return null;
  const otherRole = myRole === "technologist" ? "radiologist" : "technologist";
  const direction = link && !link.verified ? (link.directions || {})[otherRole] : null;
  const causes = (direction && direction.causes) || [];
  let what = null;
  if (direction && (direction.state === "lost" || direction.state === "frozen")) {
    if (causes.includes("video_black")) what = "camera is sending a black picture";
    else if (direction.state === "frozen") what = "picture is frozen";
    else what = "video and sound are not reaching you";
    if (causes.includes("no_reports")) what = "page is not connected";
  } else if (direction && causes.some((c) => AUDIO_GONE.includes(c))) {
    what = "sound is not reaching you";
  } else if (call.stalled) {
    what = "picture is frozen";
  }
  if (!what) return null;
  return myRole === "technologist"
    ? { title: "The radiologist is not connected — do not inject", detail: `The radiologist's ${what}. Standby pages again if they do not come back.` }
    : { title: "The technologist is not connected — you are not supervising", detail: `The technologist's ${what}. Stay on this page while the link is checked.` };
}

/** Cover (or uncover) the remote picture, and turn the session badge red in words while covered. */
export function showCover(cover, badge, gone, sessionState) {
  if (gone) {
    cover.replaceChildren(
      Object.assign(document.createElement("strong"), { textContent: gone.title }),
      Object.assign(document.createElement("span"), { textContent: gone.detail }),
    );
    cover.hidden = false;
    badge.dataset.state = "link-lost";
    badge.textContent = "not connected";
  } else {
    cover.hidden = true;
    cover.replaceChildren();
    if (sessionState) {
      badge.dataset.state = sessionState;
      badge.textContent = sessionState;
    }
  }
  document.body.classList.toggle("remote-gone", Boolean(gone));
}

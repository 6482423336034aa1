// The peer-to-peer call: one RTCPeerConnection at a time (a new one for every offer), trickle ICE
// over the signaling socket, and the proof that media flows: remote video frames decoded and remote
// audio packets arriving, reported once per connection as {type: "media_state"}.

import { setPill } from "./common.js";

const POLL_MS = 200; // until ICE connects
const CONNECTED_POLL_MS = 50; // connected, first frame and audio due any moment: look closely
const SLOW_POLL_MS = 1000; // verified and reported: watch for a frozen picture
const STALL_MS = 3000;

export class PeerCall {
  /**
   * send(message) -> bool: puts a signaling message on the socket (false if it is down).
   * remoteVideo: the <video> that shows (and plays the sound of) the other participant.
   * onChange(): something shown to the user changed (ICE state, media verification, stats).
   * onSoundBlocked(): the browser refused to play sound without a tap; the video plays muted.
   * onIceFailed(): ICE gave up on this connection.
   */
  constructor({ iceServers, send, remoteVideo, onChange, onSoundBlocked, onIceFailed }) {
    this.iceServers = iceServers || [];
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
    const offer = await pc.createOffer();
    if (pc !== this.pc) return;
    await pc.setLocalDescription(offer);
    if (pc !== this.pc) return;
    this._sendLocal({ type: "offer", sdp: pc.localDescription.sdp });
  }

  /** Radiologist: a new connection answering the technologist's offer. */
  async answer(sdp, localStream) {
    const pc = this._newConnection(null, false);
    await pc.setRemoteDescription({ type: "offer", sdp });
    if (pc !== this.pc) return;
    this._addLocal(pc, localStream, false);
    await this._flushRemote(pc);
    const answer = await pc.createAnswer();
    if (pc !== this.pc) return;
    await pc.setLocalDescription(answer);
    if (pc !== this.pc) return;
    this._sendLocal({ type: "answer", sdp: pc.localDescription.sdp });
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

  _newConnection(localStream, offering) {
    this.close();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
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

/** The call's two pills: peer connection state, and media verification. */
export function renderCallPills(call, sessionState, icePill, mediaPill) {
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

  if (!call.active) {
    setPill(mediaPill, sessionState === "joined" ? "warn" : "idle",
      sessionState === "joined" ? "reconnecting media…" : "no call");
  } else if (call.stalled) {
    setPill(mediaPill, "warn", "remote video frozen");
  } else if (call.verified && sessionState === "joined") {
    setPill(mediaPill, "verified", "two-way audio+video verified");
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

// A peer connection on which the guest answers: a party that joins after the guest (an interpreter, or the
// next officer after a transfer) offers to it. The offerer's order of media and channels is kept
// (docs/protocol.md "Browser clients"): our camera and microphone go out on its first audio and video
// m-lines; the data channels come from it ("control" answers link pings as CallConnection does).

import { rtcConfiguration } from "./call.js";
import { linkPingsOf } from "./linkpings.js";

export class AnswerConnection {
  constructor({ callId, connecting, local, signal, events }) {
    this.callId = callId;
    this.signal = signal;
    this.events = events;
    this.local = local;
    this.closed = false;
    this.mediaReported = false;
    this.pendingRemote = [];
    this.control = null;
    this.pc = new RTCPeerConnection(rtcConfiguration(connecting));
    this.link = linkPingsOf(this);
    this.wire();
  }

  wire() {
    const pc = this.pc;
    pc.addEventListener("icecandidate", (event) => {
      const c = event.candidate;
      this.signal({
        type: "ice_candidate",
        call_id: this.callId,
        candidate: c?.candidate ?? "",
        sdp_mid: c?.candidate ? c.sdpMid : null,
        sdp_mline_index: c?.candidate ? c.sdpMLineIndex : null,
      });
    });
    pc.addEventListener("track", (event) => this.events.remoteTrack(event.track));
    pc.addEventListener("datachannel", (event) => {
      if (event.channel.label === "documents") {
        event.channel.binaryType = "arraybuffer";
        event.channel.addEventListener("message", (e) => this.events.documentFrame(e.data));
        return;
      }
      if (event.channel.label !== "control") return;
      this.control = event.channel;
      this.control.addEventListener("message", (e) => this.onControl(e.data));
      this.control.addEventListener("open", () => this.startLinkPings());
      this.control.addEventListener("error", () => {});
      if (this.control.readyState === "open") this.startLinkPings();
    });
    pc.addEventListener("connectionstatechange", () => {
      if (this.closed) return;
      if (pc.connectionState === "connected" && !this.mediaReported) {
        this.mediaReported = true;
        this.signal({ type: "media_connected", call_id: this.callId });
        this.events.connected();
      } else if (pc.connectionState === "failed") {
        this.signal({ type: "restart_media", call_id: this.callId, reason: "ice_failed" });
        this.events.failed();
      }
    });
  }

  async handleSignal(message) {
    if (this.closed) return;
    if (message.type === "sdp" && message.sdp_type === "offer") {
      await this.pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      this.attachLocal();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      this.signal({ type: "sdp", call_id: this.callId, sdp_type: "answer", sdp: this.pc.localDescription.sdp });
      for (const candidate of this.pendingRemote.splice(0)) await this.addCandidate(candidate);
    } else if (message.type === "ice_candidate") {
      if (!this.pc.remoteDescription) this.pendingRemote.push(message);
      else await this.addCandidate(message);
    }
  }

  /** Our microphone on the first audio m-line, our camera on the first video one (the camera's). */
  attachLocal() {
    const tracks = { audio: this.local?.getAudioTracks()[0], video: this.local?.getVideoTracks()[0] };
    for (const transceiver of this.pc.getTransceivers()) {
      const kind = transceiver.receiver.track.kind;
      if (!tracks[kind]) continue;
      transceiver.direction = "sendrecv";
      transceiver.sender.replaceTrack(tracks[kind]).catch(() => {});
      tracks[kind] = null; // only the first of each kind
    }
  }

  async addCandidate(message) {
    const candidate = message.candidate
      ? { candidate: message.candidate, sdpMid: message.sdp_mid, sdpMLineIndex: message.sdp_mline_index }
      : null;
    try {
      await this.pc.addIceCandidate(candidate ?? undefined);
    } catch {
      /* a candidate for a transport that is gone: harmless */
    }
  }

  onControl(data) {
    if (typeof data !== "string" || data.length > 65536) return;
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message?.type === "link_ping") {
      if (this.control?.readyState !== "open") return; // closing: the ping needs no answer any more
      this.control.send(JSON.stringify({ type: "link_pong", seq: message.seq, sent_ms: message.sent_ms }));
    } else if (message?.type === "link_pong") {
      this.link.pong(message);
    } else if (message && typeof message === "object") {
      this.events.control(message);
    }
  }

  /** An in-call message to the party (a chat line); false while the channel is not open. */
  sendControl(message) {
    if (this.control?.readyState !== "open") return false;
    this.control.send(JSON.stringify(message));
    return true;
  }

  startLinkPings() {
    this.link.start();
  }

  async stats() {
    const out = { videoFramesIn: 0, audioPacketsIn: 0, framesOut: 0 };
    for (const s of (await this.pc.getStats()).values()) {
      if (s.type === "inbound-rtp" && s.kind === "video") out.videoFramesIn += s.framesDecoded ?? 0;
      if (s.type === "inbound-rtp" && s.kind === "audio") out.audioPacketsIn += s.packetsReceived ?? 0;
      if (s.type === "outbound-rtp" && s.kind === "video") out.framesOut += s.framesEncoded ?? 0;
    }
    return out;
  }

  /** Channels first, then the connection (see CallConnection.close). */
  async close() {
    if (this.closed) return;
    this.closed = true;
    this.link.stop();
    if (this.control && this.control.readyState !== "closed") {
      const gone = new Promise((resolve) => {
        this.control.addEventListener("close", resolve, { once: true });
        setTimeout(resolve, 1000);
      });
      this.control.close();
      await gone;
    }
    this.pc.close();
  }
}

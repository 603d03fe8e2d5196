// One attempt at the call's media: an RTCPeerConnection on which the browser is the offerer.
// Order matters to the officer's console (remote_call/session.py): data channels "control" then
// "documents", then transceivers audio (sendrecv), camera video (sendrecv), screen video (sendonly, no
// track until the business shares: replaceTrack then, so sharing never renegotiates).
// A media restart throws this object away and builds a new one (the server sends call_connecting again).

import { linkPingsOf } from "./linkpings.js";

const CHANNEL_CLOSE_WAIT_MS = 1000;
const QUALITY_MS = 5000; // call_quality to the server every 5 s, as kiosks and consoles send it
// The camera's first frames are encoded at most START_HEIGHT tall, then at most SEND_HEIGHT (see fullSize).
// Measured in Chromium 156 (2026-12-02, bench_business.py's timeline): a 1280x720 encoder took 100-155 ms to
// set up (above 360p Chromium tries a hardware encoder first) and then dropped its first frame as "too
// large" for the 300 kbps a send stream starts at, which cost a second set-up at 960x540 and the next camera
// frame: the officer saw the business ~110 ms after the media was up, against ~15 ms from a kiosk. At
// 640x360 the set-up takes ~10-20 ms, before the media is up, and nothing is dropped.
const START_HEIGHT = 360;
// 960x540 is what Chromium settled on by itself after that drop; the console decodes in software.
const SEND_HEIGHT = 540;
const FULL_SIZE_POLL_MS = 100; // how often to look for the first encoded camera frame...
const FULL_SIZE_TRIES = 50; // ...for at most 5 s, then raise it anyway

// One DTLS certificate for every attempt of this page, made while the business waits (Chromium otherwise
// makes one per RTCPeerConnection, and createOffer waits for it after the officer has accepted).
let certificate = null;

/** Start making the page's certificate (idempotent); resolves to it, or null where that fails. */
function prepareCertificate() {
  certificate ??= RTCPeerConnection.generateCertificate({ name: "ECDSA", namedCurve: "P-256" }).catch(() => null);
  return certificate;
}

/** Video codecs in our order (docs/protocol.md "Codecs"): VP8, then H.264 the console decodes, and their
 * retransmission (rtx) entries; the other codecs Chromium offers (VP9, AV1, more H.264 profiles, RED,
 * FEC) would only make the offer longer for the console to read. */
function videoCodecs() {
  const all = RTCRtpSender.getCapabilities?.("video")?.codecs ?? [];
  const h264 = (c) => /^video\/h264$/i.test(c.mimeType) && /packetization-mode=1/.test(c.sdpFmtpLine ?? "")
    && /profile-level-id=42(00|e0)1f/i.test(c.sdpFmtpLine ?? "");
  const vp8 = all.filter((c) => /^video\/vp8$/i.test(c.mimeType));
  const rtx = all.filter((c) => /^video\/rtx$/i.test(c.mimeType));
  return vp8.length ? [...vp8, ...all.filter(h264), ...rtx] : [];
}

/** The factor that brings the camera's frames down to ``height`` (1 for a smaller camera, or none). */
function scaleTo(track, height) {
  const captured = track?.getSettings?.().height ?? 0;
  return captured > height ? captured / height : 1;
}

/** The RTCConfiguration for a call: only the server's ICE servers (TURN with per-call credentials), never a
 * public STUN server; ``cert`` only when the connection is built. */
export function rtcConfiguration(connecting, cert = null) {
  return {
    iceServers: (connecting.ice_servers || []).map((s) => ({
      urls: s.urls,
      username: s.username ?? undefined,
      credential: s.credential ?? undefined,
    })),
    iceTransportPolicy: connecting.ice_transport_policy === "relay" ? "relay" : "all",
    bundlePolicy: "max-bundle",
    ...(cert ? { certificates: [cert] } : {}),
  };
}

export class CallConnection {
  /**
   * Made while the business waits (see prepare): the peer connection, its channels and transceivers and
   * the offer, before there is a call; attach() gives it the call (its ICE servers), start() sets the offer
   * and sends it. Measured in Chromium 156 (2026-12-02, bench_business.py's timeline, quiet machine):
   * building the connection and createOffer after call_connecting took ~35 ms, by when a kiosk's offer is
   * out already (~19 ms). ICE gathering cannot start earlier: the TURN credentials are the call's.
   * @param {object} options
   * @param {MediaStream|null} options.local  camera + microphone, or null (chat only)
   * @param {RTCCertificate|null} [options.certificate]  from prepareCertificate(), or a fresh one
   */
  constructor({ local, certificate: cert = null }) {
    this.callId = null;
    this.signal = () => false;
    this.events = null;
    this.local = local;
    this.closed = false;
    this.mediaReported = false;
    this.pendingRemote = []; // candidates from the officer that arrive before the answer
    this.pc = new RTCPeerConnection(rtcConfiguration({}, cert));
    this.link = linkPingsOf(this);
    this.control = this.pc.createDataChannel("control", { ordered: true });
    this.documents = this.pc.createDataChannel("documents", { ordered: true });
    this.documents.binaryType = "arraybuffer";
    this.addTransceivers();
    this.wire();
    this.offer = this.pc.createOffer();
    this.offer.catch(() => {}); // start() meets the same failure
  }

  /** A connection for the next call, with the page's certificate; resolves once it is built. */
  static async prepare({ local }) {
    return new CallConnection({ local, certificate: await prepareCertificate() });
  }

  /**
   * The call this connection is for.
   * @param {object} options
   * @param {string} options.callId
   * @param {object} options.connecting  the server's call_connecting message (its ICE servers)
   * @param {(message: object) => boolean} options.signal  sends a signaling message
   * @param {object} options.events  callbacks: remoteTrack, control, documentFrame, documentsOpen,
   *   connected, linkLost, failed
   */
  attach({ callId, connecting, signal, events }) {
    this.callId = callId;
    this.signal = signal;
    this.events = events;
    // Before gathering starts (setLocalDescription). Chromium refuses a configuration without the
    // certificate it was built with ("modify ... in an unsupported way"): start from its own.
    const { iceServers, iceTransportPolicy } = rtcConfiguration(connecting);
    this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers, iceTransportPolicy });
  }

  addTransceivers() {
    const stream = this.local ?? new MediaStream();
    const audio = this.local?.getAudioTracks()[0];
    const camera = this.local?.getVideoTracks()[0];
    this.audio = this.pc.addTransceiver(audio ?? "audio", { direction: "sendrecv", streams: [stream] });
    this.camera = this.pc.addTransceiver(camera ?? "video", {
      direction: "sendrecv",
      streams: [stream],
      sendEncodings: [{ scaleResolutionDownBy: scaleTo(camera, START_HEIGHT) }],
    });
    this.screen = this.pc.addTransceiver("video", { direction: "sendonly" });
    const codecs = videoCodecs();
    if (codecs.length && this.camera.setCodecPreferences) {
      this.camera.setCodecPreferences(codecs);
      this.screen.setCodecPreferences(codecs);
    }
  }

  wire() {
    const pc = this.pc;
    pc.addEventListener("icecandidate", (event) => {
      const c = event.candidate;
      // A null candidate (or an empty one) ends gathering: sent as candidate "" = end-of-candidates.
      this.signal({
        type: "ice_candidate",
        call_id: this.callId,
        candidate: c?.candidate ?? "",
        sdp_mid: c?.candidate ? c.sdpMid : null,
        sdp_mline_index: c?.candidate ? c.sdpMLineIndex : null,
      });
    });
    pc.addEventListener("track", (event) => {
      if (event.transceiver === this.screen) return; // sendonly: nothing comes back on it
      this.events.remoteTrack(event.track, event.transceiver === this.audio ? "audio" : "video");
    });
    pc.addEventListener("connectionstatechange", () => {
      if (this.closed) return;
      if (pc.connectionState === "connected" && !this.mediaReported) {
        this.mediaReported = true;
        this.signal({ type: "media_connected", call_id: this.callId });
        this.qualityTimer = setInterval(() => this.reportQuality().catch(() => {}), QUALITY_MS);
        this.fullSize().catch(() => {}); // a sender gone meanwhile (hang-up, restart): nothing to do
        this.events.connected();
      } else if (pc.connectionState === "failed") {
        this.signal({ type: "restart_media", call_id: this.callId, reason: "ice_failed" });
        this.events.failed();
      }
    });
    this.control.addEventListener("open", () => this.startLinkPings());
    this.control.addEventListener("message", (event) => this.onControl(event.data));
    this.documents.addEventListener("open", () => this.events.documentsOpen(this.documents));
    this.documents.addEventListener("message", (event) => this.events.documentFrame(event.data));
    // A channel error during hang-up is expected (the officer closed first); there is nothing to do.
    this.control.addEventListener("error", () => {});
    this.documents.addEventListener("error", () => {});
  }

  async start() {
    const offer = await this.offer;
    if (this.closed) return;
    await this.pc.setLocalDescription(offer);
    if (this.closed) return;
    this.signal({ type: "sdp", call_id: this.callId, sdp_type: "offer", sdp: this.pc.localDescription.sdp });
  }

  async handleSignal(message) {
    if (this.closed) return;
    if (message.type === "sdp" && message.sdp_type === "answer") {
      await this.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
      for (const candidate of this.pendingRemote.splice(0)) await this.addCandidate(candidate);
    } else if (message.type === "ice_candidate") {
      if (!this.pc.remoteDescription) this.pendingRemote.push(message);
      else await this.addCandidate(message);
    }
  }

  async addCandidate(message) {
    // aiortc puts its candidates into the SDP; a trickled one is still accepted here.
    const candidate = message.candidate
      ? { candidate: message.candidate, sdpMid: message.sdp_mid, sdpMLineIndex: message.sdp_mline_index }
      : null;
    try {
      await this.pc.addIceCandidate(candidate ?? undefined);
    } catch {
      /* a candidate for a transport that is gone after a restart: harmless */
    }
  }

  // ------------------------------------------------------------------ control channel

  sendControl(message) {
    if (this.control.readyState !== "open") return false;
    this.control.send(JSON.stringify(message));
    return true;
  }

  onControl(data) {
    if (typeof data !== "string" || data.length > 65536) return;
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (!message || typeof message !== "object") return;
    if (message.type === "link_ping") {
      // Exactly one pong per ping, echoing its fields, whatever else is going on.
      this.sendControl({ type: "link_pong", seq: message.seq, sent_ms: message.sent_ms });
      return;
    }
    if (message.type === "link_pong") {
      this.link.pong(message);
      return;
    }
    this.events.control(message);
  }

  startLinkPings() {
    this.link.start();
  }

  /** The round trip of the last link pong, in ms; null until the officer answered one. */
  get linkRttMs() {
    return this.link.rttMs;
  }

  // ------------------------------------------------------------------ media controls

  /** Once the camera's first (small) frame is encoded, send it at up to SEND_HEIGHT. */
  async fullSize() {
    const sender = this.camera.sender;
    for (let tries = 0; tries < FULL_SIZE_TRIES && !this.closed; tries += 1) {
      const encoded = [...(await sender.getStats()).values()].some(
        (s) => s.type === "outbound-rtp" && (s.framesEncoded ?? 0) > 0,
      );
      if (encoded) break;
      await new Promise((resolve) => setTimeout(resolve, FULL_SIZE_POLL_MS));
    }
    if (this.closed) return;
    const parameters = sender.getParameters();
    const scale = scaleTo(sender.track, SEND_HEIGHT);
    if (!parameters.encodings?.length || parameters.encodings[0].scaleResolutionDownBy === scale) return;
    parameters.encodings[0].scaleResolutionDownBy = scale;
    await sender.setParameters(parameters);
  }

  /** Put a shared screen's track on the third transceiver (null stops sending). */
  async shareScreen(track) {
    await this.screen.sender.replaceTrack(track);
  }

  /** Swap the local stream (after a reload or a new device check) without renegotiating. */
  async useLocal(stream) {
    this.local = stream;
    await this.audio.sender.replaceTrack(stream?.getAudioTracks()[0] ?? null);
    await this.camera.sender.replaceTrack(stream?.getVideoTracks()[0] ?? null);
    if (this.mediaReported) await this.fullSize().catch(() => {}); // the new camera's size
  }

  /** Numbers for the quality report and the tests: frames and audio that arrived and left. */
  async stats() {
    const report = await this.pc.getStats();
    const out = { videoFramesIn: 0, audioSamplesIn: 0, audioPacketsIn: 0, framesOut: 0, packetsLost: 0 };
    for (const s of report.values()) {
      if (s.type === "inbound-rtp" && s.kind === "video") out.videoFramesIn += s.framesDecoded ?? 0;
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        out.audioSamplesIn += s.totalSamplesReceived ?? 0;
        out.audioPacketsIn += s.packetsReceived ?? 0;
      }
      if (s.type === "inbound-rtp") out.packetsLost += Math.max(0, s.packetsLost ?? 0);
      if (s.type === "outbound-rtp" && s.kind === "video") out.framesOut += s.framesEncoded ?? 0;
      if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
        out.rttMs = (s.currentRoundTripTime ?? 0) * 1000;
      }
    }
    return out;
  }

  /** One call_quality message from the change in getStats() since the last one (none the first time). */
  async reportQuality() {
    const now = performance.now();
    const totals = { bytesIn: 0, bytesOut: 0, lostIn: 0, gotIn: 0, lostOut: 0, sentOut: 0 };
    let rtt = null, jitter = null, fpsIn = null, fpsOut = null;
    for (const s of (await this.pc.getStats()).values()) {
      if (s.type === "inbound-rtp") {
        totals.bytesIn += s.bytesReceived ?? 0;
        totals.lostIn += Math.max(0, s.packetsLost ?? 0);
        totals.gotIn += s.packetsReceived ?? 0;
        if (s.kind === "audio" && s.jitter != null) jitter = s.jitter * 1000;
        if (s.kind === "video" && s.framesPerSecond != null) fpsIn = s.framesPerSecond;
      } else if (s.type === "outbound-rtp") {
        totals.bytesOut += s.bytesSent ?? 0;
        totals.sentOut += s.packetsSent ?? 0;
        if (s.kind === "video" && s.framesPerSecond != null) fpsOut = Math.max(fpsOut ?? 0, s.framesPerSecond);
      } else if (s.type === "remote-inbound-rtp") {
        totals.lostOut += Math.max(0, s.packetsLost ?? 0);
      } else if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime != null) {
        rtt = s.currentRoundTripTime * 1000;
      }
    }
    const last = this.lastQuality;
    this.lastQuality = { now, ...totals };
    if (!last || this.closed) return;
    const seconds = Math.max(0.001, (now - last.now) / 1000);
    const pct = (lost, got) => (lost + got > 0 ? Math.min(100, (100 * lost) / (lost + got)) : 0);
    const kbps = (bytes) => Math.max(0, (bytes * 8) / 1000 / seconds);
    this.signal({
      type: "call_quality",
      call_id: this.callId,
      rtt_ms: rtt,
      loss_in_pct: pct(Math.max(0, totals.lostIn - last.lostIn), Math.max(0, totals.gotIn - last.gotIn)),
      loss_out_pct: pct(Math.max(0, totals.lostOut - last.lostOut), Math.max(0, totals.sentOut - last.sentOut)),
      jitter_ms: jitter,
      bitrate_in_kbps: kbps(totals.bytesIn - last.bytesIn),
      bitrate_out_kbps: kbps(totals.bytesOut - last.bytesOut),
      fps_in: fpsIn,
      fps_out: fpsOut,
    });
  }

  // ------------------------------------------------------------------ teardown

  /**
   * Close the data channels first and let their SCTP streams reset, then the peer connection: closing
   * the connection with open channels makes Chromium abort the association and log an sctp-failure.
   */
  async close() {
    if (this.closed) return;
    this.closed = true;
    this.link.stop();
    clearInterval(this.qualityTimer);
    const channels = [this.control, this.documents].filter((c) => c.readyState !== "closed");
    const gone = channels.map(
      (c) =>
        new Promise((resolve) => {
          c.addEventListener("close", resolve, { once: true });
          setTimeout(resolve, CHANNEL_CLOSE_WAIT_MS);
        }),
    );
    for (const channel of channels) channel.close();
    await Promise.all(gone);
    this.pc.close();
  }
}

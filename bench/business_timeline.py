"""The business benchmark's diagnostic mode: where the time from the officer's accept to the first frame goes.

Two observers, both on the wall clock (one machine: the page's ``performance.timeOrigin + now`` and Python's
``time.time()`` agree to well under a millisecond):

- ``PAGE_TIMELINE_JS``, an init script for the business's page (diagnostic calls only, never the measured
  rounds): it notes signaling messages as they cross the page's WebSocket, the peer connection's steps
  (created, offer created, local/remote description set, ICE and connection states) and polls ``getStats``
  every few milliseconds until the first video frame went out and the first came in (captured, encoded,
  packet sent; packet received, decoded). Polling costs a little CPU, and a poll-noted moment is late by up
  to one poll (~5-10 ms): good enough to find where 100 ms go, not for the figures themselves.
- ``PartyTimeline``, hooks on a party's ``CallSession`` (the console's, or a headless kiosk's) the moment it
  is built (the party's ``call_connecting`` event is emitted before the session starts): offer/answer in and
  out, ICE and connection states, the first RTP packet per kind (aiortc's receiver), the first decoded video
  frame.

Every mark is in ms after the accept; ``summarise`` takes the medians over the diagnostic calls. The page
builds its connection and offer while the business waits, so ``page_pc_created`` and ``page_offer_created``
are negative (before the accept), and its ``getStats`` polling runs from then on.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

# Wraps WebSocket and RTCPeerConnection in the page before its modules load; marks go to __timeline.marks.
PAGE_TIMELINE_JS = """(() => {
  const T = (globalThis.__timeline = { marks: {}, info: {} });
  const now = () => performance.timeOrigin + performance.now();
  const mark = (name) => { if (!(name in T.marks)) T.marks[name] = now(); };
  const OUT = { sdp: "offer_sent", ice_candidate: "first_candidate_sent",
                media_connected: "media_connected_sent" };
  const IN = { call_connecting: "call_connecting_in", sdp: "answer_in", ice_candidate: "first_candidate_in",
               call_started: "call_started_in" };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try { const type = JSON.parse(data).type; if (OUT[type]) mark(OUT[type]); } catch {}
    return send.call(this, data);
  };
  const Socket = WebSocket;
  globalThis.WebSocket = class extends Socket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        try { const type = JSON.parse(event.data).type; if (IN[type]) mark(IN[type]); } catch {}
      });
    }
  };
  // The upload: reading the file, hashing it, the first and last chunk handed to the documents channel.
  const BIG = 1024 * 1024;
  const read = Blob.prototype.arrayBuffer;
  Blob.prototype.arrayBuffer = async function () {
    if (this.size < BIG) return read.call(this);
    mark("upload_read_start");
    const buffer = await read.call(this);
    mark("upload_read_end");
    return buffer;
  };
  const digest = SubtleCrypto.prototype.digest;
  SubtleCrypto.prototype.digest = async function (algorithm, data) {
    if ((data?.byteLength ?? 0) < BIG) return digest.call(this, algorithm, data);
    mark("upload_hash_start");
    const result = await digest.call(this, algorithm, data);
    mark("upload_hash_end");
    return result;
  };
  const channelSend = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (data) {
    if (this.label === "documents") {
      mark("upload_first_sent");
      T.marks.upload_last_sent = now();
    }
    return channelSend.call(this, data);
  };
  const Pc = RTCPeerConnection;
  async function poll(pc) {
    const seen = (name, cond) => { if (cond) mark(name); };
    while (pc.connectionState !== "closed") {
      for (const s of (await pc.getStats()).values()) {
        if (s.type === "media-source" && s.kind === "video") seen("video_captured_first", s.frames > 0);
        if (s.type === "outbound-rtp" && s.kind === "video") {  // the camera: the screen sender has no track
          seen("video_encoded_first", s.framesEncoded > 0);
          seen("video_sent_first", s.packetsSent > 0);
          seen("video_sent_frame", s.framesSent > 0);
          if (s.framesEncoded > 0 && !T.info.encoder) {
            T.info.encoder = { impl: s.encoderImplementation, width: s.frameWidth, height: s.frameHeight,
              encodeMs: (s.totalEncodeTime ?? 0) * 1000, sendDelayMs: (s.totalPacketSendDelay ?? 0) * 1000,
              limitation: s.qualityLimitationReason, packets: s.packetsSent };
          }
        }
        if (s.type === "outbound-rtp" && s.kind === "audio") seen("audio_sent_first", s.packetsSent > 0);
        if (s.type === "inbound-rtp" && s.kind === "video") {
          seen("video_in_first_packet", s.packetsReceived > 0);
          seen("video_in_decoded", s.framesDecoded > 0);
        }
      }
      if ("video_sent_first" in T.marks && "video_in_decoded" in T.marks) return;
      await new Promise((resolve) => setTimeout(resolve, 4));
    }
  }
  globalThis.RTCPeerConnection = class extends Pc {
    constructor(...args) {
      super(...args);
      mark("pc_created");
      this.addEventListener("icegatheringstatechange", () => mark("gathering_" + this.iceGatheringState));
      this.addEventListener("iceconnectionstatechange", () => mark("ice_" + this.iceConnectionState));
      this.addEventListener("connectionstatechange", () => mark("pc_" + this.connectionState));
      poll(this).catch(() => {});
    }
    async createOffer(...args) {
      const offer = await super.createOffer(...args);
      mark("offer_created");
      return offer;
    }
    async setLocalDescription(...args) { await super.setLocalDescription(...args); mark("local_set"); }
    async setRemoteDescription(...args) { await super.setRemoteDescription(...args); mark("remote_set"); }
  };
})();"""


class PartyTimeline:
    """Marks (wall-clock seconds) of one aiortc party's call session, keyed ``<role>_<step>``."""

    def __init__(self, party: Any, role: str) -> None:
        self.party = party
        self.role = role
        self.marks: dict[str, float] = {}
        self._unsubscribe: Callable[[], None] = party.events.subscribe(self._on_event)

    def close(self) -> None:
        """Stop hooking new sessions; safe more than once."""
        unsubscribe, self._unsubscribe = self._unsubscribe, lambda: None
        unsubscribe()

    def mark(self, step: str) -> None:
        self.marks.setdefault(f"{self.role}_{step}", time.time())

    def _on_event(self, event: str, _data: dict[str, Any]) -> None:
        if event == "call_connecting" and self.party.party.session is not None:
            self._hook(self.party.party.session)

    def _hook(self, session: Any) -> None:
        self.mark("call_connecting")
        send, handle = session._send_signal, session.handle_signal

        def send_signal(message: Any) -> Any:
            self.mark(f"{getattr(message, 'sdp_type', 'candidate')}_sent")
            return send(message)

        async def handle_signal(message: Any) -> None:
            self.mark(f"{getattr(message, 'sdp_type', 'candidate')}_in")
            await handle(message)
            self._hook_receivers(session)

        session._send_signal, session.handle_signal = send_signal, handle_signal
        pc = session.pc
        pc.on("iceconnectionstatechange", lambda: self.mark(f"ice_{pc.iceConnectionState}"))
        pc.on("connectionstatechange", lambda: self.mark(f"pc_{pc.connectionState}"))
        session.remote_video.listeners.append(lambda _frame: self.mark("video_decoded_first"))

        def on_document(_data: bytes | str) -> None:
            self.mark("document_first_in")
            self.marks[f"{self.role}_document_last_in"] = time.time()

        session.document_handlers.insert(0, on_document)  # before the desk's receiver: its arrival

    def _hook_receivers(self, session: Any) -> None:
        seen: set[str] = set()
        for transceiver in session.pc.getTransceivers():
            receiver = transceiver.receiver
            if transceiver.kind in seen or getattr(receiver, "_timeline", False):
                seen.add(transceiver.kind)
                continue
            seen.add(transceiver.kind)  # the first of each kind: audio, the camera (not a screen)
            receiver._timeline = True
            inner = receiver._handle_rtp_packet

            async def first_packet(
                packet: Any, arrival_time_ms: int, *, _kind: str = transceiver.kind, _inner: Any = inner
            ) -> None:
                self.mark(f"{_kind}_in_first_packet")
                await _inner(packet, arrival_time_ms)

            receiver._handle_rtp_packet = first_packet


def page_marks(marks: dict[str, float]) -> dict[str, float]:
    """The page's marks (epoch ms) as ``page_<step>`` in epoch seconds."""
    return {f"page_{name}": at / 1000 for name, at in marks.items()}


def upload_steps(party: dict[str, float], page: dict[str, float], chosen: float) -> dict[str, float]:
    """The upload's steps in ms after the file was chosen: the page's read, hash and sending, the console's
    first and last message in."""
    steps = {k: v for k, v in {**party, **page}.items() if "upload_" in k or "_document_" in k}
    return {f"upload: {name}": ms for name, ms in relative(steps, chosen).items()}


def relative(marks: dict[str, float], accepted: float) -> dict[str, float]:
    """Marks as ms after the accept, in time order."""
    out = {name: round((at - accepted) * 1000, 1) for name, at in marks.items()}
    return dict(sorted(out.items(), key=lambda item: item[1]))


def summarise(calls: list[dict[str, float]]) -> dict[str, float]:
    """The median of each mark over the diagnostic calls that have it, in time order."""
    names = {name for call in calls for name in call}
    medians = {name: round(statistics.median([c[name] for c in calls if name in c]), 1) for name in names}
    return dict(sorted(medians.items(), key=lambda item: item[1]))

// The link-ping duty of one peer connection (docs/protocol.md "Link pings"), shared by the business
// client's CallConnection and the guest page's AnswerConnection: a link_ping a second on "control" and,
// when neither a pong nor a packet of the peer's media came for 5 s, one restart request per dead period.
// Media still arriving means the path is alive, however late the pongs: they ride SCTP, where one dropped
// datagram holds the ordered channel for a retransmission time-out that doubles when the resend is dropped
// too (pongs 10-22 s late in a loaded four-party call; remote_call/link_watch.py).

const LINK_PING_MS = 1000;
const LINK_DEAD_MS = 5000;

/** Packets received so far on the connection's inbound audio and video. */
async function packetsIn(pc) {
  let packets = 0;
  for (const s of (await pc.getStats()).values()) {
    if (s.type === "inbound-rtp") packets += s.packetsReceived ?? 0;
  }
  return packets;
}

export class LinkPings {
  /**
   * @param {object} options
   * @param {RTCPeerConnection} options.pc  whose inbound media counts as hearing the peer
   * @param {(message: object) => unknown} options.send  sends an in-call message on "control"
   * @param {() => void} options.onDead  the path is dead: ask for a media restart
   * @param {number} [options.pingMs]  between pings (a test's quicker clock)
   * @param {number} [options.deadMs]  without a pong or media before the path counts as dead
   */
  constructor({ pc, send, onDead, pingMs = LINK_PING_MS, deadMs = LINK_DEAD_MS }) {
    this.pc = pc;
    this.pingMs = pingMs;
    this.deadMs = deadMs;
    this.send = send;
    this.onDead = onDead;
    this.seq = 0;
    this.heardAt = 0;
    this.packets = -1;
    this.timer = 0;
    this.stopped = false;
    this.rttMs = null;
  }

  start() {
    if (this.timer || this.stopped) return;
    this.heardAt = performance.now();
    this.timer = setInterval(() => this.tick(), this.pingMs);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** A link_pong arrived (its `sent_ms` is ours, echoed). */
  pong(message) {
    this.heardAt = performance.now();
    this.rttMs = Math.max(0, this.heardAt - message.sent_ms);
  }

  async tick() {
    this.seq += 1;
    this.send({ type: "link_ping", seq: this.seq, sent_ms: performance.now() });
    try {
      const packets = await packetsIn(this.pc);
      if (packets !== this.packets) {
        this.packets = packets;
        this.heardAt = performance.now();
      }
    } catch {
      return; // the connection is closing
    }
    if (this.stopped || performance.now() - this.heardAt <= this.deadMs) return;
    this.heardAt = performance.now(); // one restart request per dead period
    this.onDead();
  }
}

/**
 * The link pings of a CallConnection or an AnswerConnection: its own `pc`, in-call messages by its
 * `sendControl`, and when the path is dead `restart_media` by its `signal` and `events.linkLost()`.
 */
export function linkPingsOf(connection) {
  return new LinkPings({
    pc: connection.pc,
    send: (message) => connection.sendControl(message),
    onDead: () => {
      connection.signal({ type: "restart_media", call_id: connection.callId, reason: "link_lost" });
      connection.events.linkLost();
    },
  });
}

// What the interpreter sees of the call (docs/protocol.md "In-call messages over extra pairs"): the chat,
// the documents the officer shows and the scans the resident makes — the guest page's Shown, which shows
// only what the officer shows, with each party's documents taken by the purpose that party may send
// ("show" from the officer, "scan" from the caller), as the console interpreter's PeerDesk does. Never a
// saved case document (the server refuses the role). Kept in memory; gone when the call is left.

import { DocumentReceiver } from "./documents.js";
import { Shown } from "./shown.js";

const ALLOWED = { officer: "show", caller: "scan" }; // peer -> the purpose it may send us

export class Seen extends Shown {
  /** A documents-channel frame from ``peer``: its documents are checked against what that peer may send. */
  frame(peer, data) {
    if (!this.receivers.has(peer)) {
      this.receivers.set(peer, new DocumentReceiver((offer, bytes) => this.fromPeer(peer, offer, bytes)));
    }
    this.receivers.get(peer).feed(data);
  }

  fromPeer(peer, offer, bytes) {
    if (!offer || ALLOWED[peer] !== offer.purpose) return; // anything else is ignored, as the console does
    this.document({ ...offer, purpose: "show" }, bytes);
  }
}

/** The interpreter's chat line to every party (each pair's control channel); how many it reached. */
export function sendChat(connections, text) {
  const line = { type: "chat", id: `m-${crypto.randomUUID().slice(0, 12)}`, text: text.slice(0, 2000), sender: "interpreter" };
  let reached = 0;
  for (const connection of connections) {
    const channel = connection.control;
    if (channel?.readyState !== "open") continue;
    channel.send(JSON.stringify(line));
    reached += 1;
  }
  return reached;
}

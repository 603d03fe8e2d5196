// What the family member's page (/g/) and the external interpreter's page (/i/) share, imported by both
// instead of copied: the link in the address bar and its redeem, the device check's start, and one peer
// connection per party of the call (`Parties`). "./i18n.js" resolves against the page's own folder, so each
// page's texts come from its own catalog.

import { AnswerConnection } from "./answer.js";
import { CallConnection } from "./call.js";
import { mediaErrorKey } from "./devicecheck.js";
import { t } from "./i18n.js";
import { $, setText, show } from "./ui.js";

/** The link's secret, taken out of the address bar at once, and the session this tab kept (or null). */
export function takeLink(storeKey) {
  const secret = location.hash.slice(1);
  history.replaceState(null, "", location.pathname + location.search); // the secret leaves the address bar
  const kept = sessionStorage.getItem(storeKey);
  return { secret, kept: kept ? JSON.parse(kept) : null };
}

/** POST the link's secret to `url`: `{ok, answer}`, or null when the network failed. */
export async function redeemLink(url, secret) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ secret }),
      cache: "no-store",
    });
  } catch {
    return null;
  }
  const answer = await response.json().catch(() => ({}));
  return { ok: response.ok, answer };
}

/** The device check's start button: the camera and microphone, or null with the reason shown. */
export async function startDevices(check) {
  show("dev-error", false);
  try {
    const local = await check.start();
    show("preview-off", false);
    setText("dev-status", t("devices.ok"));
    document.body.dataset.devices = "ok";
    $("dev-join").disabled = false;
    return local;
  } catch (error) {
    setText("dev-error", t(mediaErrorKey(error)));
    show("dev-error", true);
    document.body.dataset.devices = "failed";
    return null;
  }
}

/** "市の職員（盛岡 花子）": who the party is, then the name the server gave. */
export function tileName(connecting) {
  return t("call.tile", t(`call.${connecting.peer}`), connecting.peer_name || "");
}

/** A connection on which this page offers: built (channels, transceivers, the offer) and given the call. */
function offering(options) {
  const connection = new CallConnection({ local: options.local });
  connection.attach(options);
  return connection;
}

/**
 * One connection per party (peer -> CallConnection when this page offers, AnswerConnection when it
 * answers). `page` is the page's state, read when it is needed: `signaling`, `local` (camera and
 * microphone), `tiles` (a tile per party) and `shown` (chat lines and documents).
 */
export class Parties {
  constructor(page) {
    this.page = page;
    this.connections = new Map();
  }

  get size() {
    return this.connections.size;
  }

  peers() {
    return [...this.connections.keys()];
  }

  values() {
    return this.connections.values();
  }

  /** A `call_connecting` for one party: a new connection replaces that party's old one (a restart). */
  async connect(connecting) {
    const peer = connecting.peer;
    await this.drop(peer, { keepTile: true });
    const page = this.page;
    // The page's own media is not a counter's to monitor: the consoles report the call's quality.
    const signal = (message) => message.type !== "call_quality" && page.signaling.send({ ...message, peer });
    const events = {
      remoteTrack: (track) => page.tiles.addTrack(peer, tileName(connecting), track),
      control: (message) => page.shown.control(message),
      documentFrame: (data) => page.shown.frame(peer, data),
      documentsOpen: () => {},
      connected: () => page.tiles.connected(peer),
      linkLost: () => page.tiles.waiting(peer, t("call.reconnecting")),
      failed: () => page.tiles.waiting(peer, t("call.reconnecting")),
    };
    const options = { callId: connecting.call_id, connecting, local: page.local, signal, events };
    const connection = connecting.offerer ? offering(options) : new AnswerConnection(options);
    this.connections.set(peer, connection);
    page.tiles.ensure(peer, tileName(connecting));
    if (connecting.offerer) await connection.start();
  }

  async handleSignal(message) {
    await this.connections.get(message.peer)?.handleSignal(message);
  }

  async drop(peer, { keepTile = false } = {}) {
    const connection = this.connections.get(peer);
    this.connections.delete(peer);
    if (!keepTile) this.page.tiles?.remove(peer);
    await connection?.close();
  }

  /** Every connection closed (each failure ignored: the call is being left anyway). */
  async dropAll() {
    await Promise.all(this.peers().map((peer) => this.drop(peer).catch(() => {})));
  }

  /** An in-call message to every party; how many took it. */
  sendToAll(message) {
    let sent = 0;
    for (const connection of this.connections.values()) if (connection.sendControl(message)) sent += 1;
    return sent;
  }

  /** What the tests read (globalThis.madoguchi): per peer, frames and audio (getStats) and frames painted. */
  async stats(peer) {
    const connection = this.connections.get(peer);
    const numbers = connection ? await connection.stats() : {};
    return { ...numbers, paintedFrames: this.page.tiles?.painted(peer) ?? 0 };
  }
}

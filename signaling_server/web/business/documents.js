// Documents on the call's "documents" data channel, framed exactly as remote_call/documents.py:
//   "O" + JSON document_offer                       announces size and SHA-256
//   "C" + len(doc_id) (1 byte) + doc_id + payload   the next 16 KiB of that document
// The sender waits on bufferedAmount (high 1 MiB, low 256 KiB) so a 40 MiB PDF never floods SCTP.
// Nothing is written to disk: bytes live in memory until the call ends.

export const MAX_BYTES = 40 * 1024 * 1024;
const CHUNK_BYTES = 16 * 1024;
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
const MAX_IN_FLIGHT = 4; // documents being received at once, as the console's receiver allows
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// The first bytes of each accepted type: the name's extension is never trusted (a renamed .exe is
// "MZ…" and is refused however it is named).
const MAGIC = [
  { mime: "application/pdf", label: "PDF", bytes: [0x25, 0x50, 0x44, 0x46, 0x2d] }, // %PDF-
  { mime: "image/png", label: "PNG", bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { mime: "image/jpeg", label: "JPEG", bytes: [0xff, 0xd8, 0xff] },
];
const EXTENSIONS = { pdf: "application/pdf", png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg" };

/** The MIME type the content really is, or null when it is none we accept. */
export function sniff(head) {
  const bytes = new Uint8Array(head);
  const match = MAGIC.find((m) => m.bytes.every((b, i) => bytes[i] === b));
  return match ? match.mime : null;
}

/** Check a chosen file: resolves to {mime} or {error: i18n key, arg}. Reads only its first bytes. */
export async function checkFile(file) {
  if (file.size === 0) return { error: "upload.empty" };
  if (file.size > MAX_BYTES) return { error: "upload.tooLarge" };
  const mime = sniff(await file.slice(0, 16).arrayBuffer());
  if (!mime) return { error: "upload.type" };
  const extension = (file.name.split(".").pop() || "").toLowerCase();
  const claimed = EXTENSIONS[extension];
  if (claimed && claimed !== mime) {
    return { error: "upload.typeMismatch", arg: MAGIC.find((m) => m.mime === mime).label };
  }
  return { mime };
}

export async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function newDocId(prefix) {
  const random = crypto.getRandomValues(new Uint8Array(8));
  return `${prefix}-${Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function frame(kind, body) {
  const out = new Uint8Array(1 + body.length);
  out[0] = kind.charCodeAt(0);
  out.set(body, 1);
  return out;
}

/**
 * Send one document on an open channel. `onProgress(sentBytes, total)` after every chunk.
 * Resolves once every byte is handed to the channel; rejects if the channel closes meanwhile.
 */
export async function sendDocument(channel, offer, buffer, onProgress) {
  if (channel.readyState !== "open") throw new Error("the documents channel is not open");
  channel.bufferedAmountLowThreshold = LOW_WATER;
  channel.send(frame("O", encoder.encode(JSON.stringify(offer))));
  const id = encoder.encode(offer.doc_id);
  const prefix = new Uint8Array(2 + id.length);
  prefix[0] = 0x43; // "C"
  prefix[1] = id.length;
  prefix.set(id, 2);
  const data = new Uint8Array(buffer);
  for (let start = 0; start < data.length; start += CHUNK_BYTES) {
    while (channel.bufferedAmount > HIGH_WATER) await drained(channel);
    if (channel.readyState !== "open") throw new Error("the documents channel closed during the transfer");
    const payload = data.subarray(start, start + CHUNK_BYTES);
    const message = new Uint8Array(prefix.length + payload.length);
    message.set(prefix);
    message.set(payload, prefix.length);
    channel.send(message);
    onProgress?.(Math.min(start + CHUNK_BYTES, data.length), data.length);
  }
}

function drained(channel) {
  return new Promise((resolve) => {
    const done = () => {
      channel.removeEventListener("bufferedamountlow", done);
      channel.removeEventListener("close", done);
      resolve();
    };
    channel.addEventListener("bufferedamountlow", done);
    channel.addEventListener("close", done);
  });
}

/**
 * Assembles documents the officer sends (purpose "show"): `onDocument(offer, bytes|null, detail)` once
 * per document, bytes only when every byte arrived and the SHA-256 matches.
 */
export class DocumentReceiver {
  constructor(onDocument) {
    this.onDocument = onDocument;
    this.incoming = new Map();
  }

  feed(data) {
    if (!(data instanceof ArrayBuffer) || data.byteLength < 2) return;
    const bytes = new Uint8Array(data);
    if (bytes[0] === 0x4f) this.offer(bytes.subarray(1));
    else if (bytes[0] === 0x43) {
      const length = bytes[1];
      const docId = decoder.decode(bytes.subarray(2, 2 + length));
      this.chunk(docId, bytes.subarray(2 + length));
    }
  }

  offer(body) {
    let offer;
    try {
      offer = JSON.parse(decoder.decode(body));
    } catch {
      return;
    }
    const sane =
      offer?.type === "document_offer" &&
      typeof offer.doc_id === "string" &&
      Number.isInteger(offer.size) &&
      offer.size > 0 &&
      offer.size <= MAX_BYTES &&
      /^[0-9a-f]{64}$/.test(offer.sha256 ?? "");
    if (!sane) return;
    if (this.incoming.has(offer.doc_id) || this.incoming.size >= MAX_IN_FLIGHT) {
      this.onDocument(offer, null, "too many documents at once or a repeated id");
      return;
    }
    this.incoming.set(offer.doc_id, { offer, buffer: new Uint8Array(offer.size), received: 0 });
  }

  chunk(docId, payload) {
    const entry = this.incoming.get(docId);
    if (!entry) return;
    if (entry.received + payload.length > entry.offer.size) {
      this.incoming.delete(docId);
      this.onDocument(entry.offer, null, "more bytes arrived than were announced");
      return;
    }
    entry.buffer.set(payload, entry.received);
    entry.received += payload.length;
    if (entry.received === entry.offer.size) {
      this.incoming.delete(docId);
      this.verify(entry);
    }
  }

  async verify(entry) {
    const ok = (await sha256Hex(entry.buffer)) === entry.offer.sha256;
    this.onDocument(entry.offer, ok ? entry.buffer : null, ok ? "" : "SHA-256 mismatch: the document was damaged");
  }

  discardAll() {
    this.incoming.clear();
  }
}

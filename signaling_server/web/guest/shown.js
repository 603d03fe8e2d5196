// What the parties share with the guest on its connections (remote_call/conference_desk.py): chat lines,
// and documents the officer shows (purpose "show"), checked by SHA-256 (the business client's
// DocumentReceiver). A scan of the resident's papers is not shown here; a withdrawn document goes away.
// Nothing is kept: the blob URLs are revoked when a document is withdrawn or the page ends.

import { DocumentReceiver } from "./documents.js";
import { el } from "./ui.js";

const SHOWN_TYPES = new Set(["image/png", "image/jpeg", "application/pdf"]);

export class Shown {
  constructor({ chat, documents, label }) {
    this.chat = chat; // <ol>
    this.documents = documents; // <div>
    this.label = label; // (key) => text
    this.urls = new Map(); // doc_id -> blob URL
    this.receivers = new Map(); // peer -> DocumentReceiver
  }

  /** A documents-channel frame from ``peer``. */
  frame(peer, data) {
    if (!this.receivers.has(peer)) {
      this.receivers.set(peer, new DocumentReceiver((offer, bytes) => this.document(offer, bytes)));
    }
    this.receivers.get(peer).feed(data);
  }

  /** A control-channel message: a chat line or a withdrawn document. */
  control(message) {
    if (message?.type === "chat" && typeof message.text === "string") {
      this.line(this.label(`chat.${message.sender}`), message.text);
    } else if (message?.type === "document_withdrawn") {
      this.withdraw(String(message.doc_id));
    }
  }

  /** The guest's own line, as it sent it (chat.js). */
  own(text) {
    this.line(this.label("chat.you"), text).classList.add("own");
  }

  line(who, text) {
    const line = el("li", "", `${who}: ${text.slice(0, 2000)}`);
    this.chat.append(line);
    this.chat.hidden = false;
    line.scrollIntoView({ block: "nearest" });
    return line;
  }

  document(offer, bytes) {
    if (!bytes || offer.purpose !== "show" || !SHOWN_TYPES.has(offer.mime) || this.urls.has(offer.doc_id)) return;
    const url = URL.createObjectURL(new Blob([bytes], { type: offer.mime }));
    this.urls.set(offer.doc_id, url);
    const item = el("figure", "shown-doc");
    item.dataset.doc = offer.doc_id;
    if (offer.mime === "application/pdf") {
      const link = el("a", "doc-link", `${this.label("call.open_pdf")}: ${offer.name}`);
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener";
      item.append(link);
    } else {
      const image = el("img");
      image.src = url;
      image.alt = offer.name;
      item.append(image, el("figcaption", "", offer.name));
    }
    this.documents.append(item);
    this.documents.hidden = false;
  }

  withdraw(docId) {
    const url = this.urls.get(docId);
    if (!url) return;
    this.urls.delete(docId);
    URL.revokeObjectURL(url);
    this.documents.querySelector(`[data-doc="${CSS.escape(docId)}"]`)?.remove();
    this.documents.hidden = this.urls.size === 0;
  }

  clear() {
    for (const docId of [...this.urls.keys()]) this.withdraw(docId);
    this.receivers.clear();
  }
}

// The call screen: remote and self video, mute / camera / screen share / upload / end, chat, the
// documents the officer shows, and the written conversation (筆談, writing.js). It talks to whatever
// CallConnection is current (a media restart replaces it).

import { checkFile, DocumentReceiver, newDocId, sendDocument, sha256Hex } from "./documents.js";
import { canShareScreen } from "./devicecheck.js";
import { hasKey, t } from "./i18n.js";
import { $, el, setText, show } from "./ui.js";
import { WritingPanel } from "./writing.js";

const VERDICT_TIMEOUT_MS = 120_000; // a 40 MiB check at the console takes well under this

/** The console answers a refused upload with "code: English sentence"; show the code in the reader's
 * language when we know it (too_large, wrong_type, unreadable, damaged). */
function reasonText(detail) {
  const code = String(detail || "").split(":")[0].trim();
  return hasKey(`upload.reason.${code}`) ? t(`upload.reason.${code}`) : "";
}

export class CallView {
  constructor({ connection, onEnd }) {
    this.connection = connection; // () => the current CallConnection or null
    this.onEnd = onEnd;
    this.local = null;
    this.muted = false;
    this.cameraOff = false;
    this.screenTrack = null;
    this.upload = null; // {docId, resolve} while a document waits for its verdict
    this.uploadText = null; // {key, arg, ok}: the upload's last status line
    this.urls = [];
    this.receiver = new DocumentReceiver((offer, bytes, detail) => this.shown(offer, bytes, detail));
    this.remoteStream = new MediaStream();
    this.remoteFrames = 0;
    this.writing = new WritingPanel({ connection, line: (who, text) => this.chatLine(who, text) }); // 筆談
    this.bind();
  }

  bind() {
    $("btn-mute").addEventListener("click", () => this.toggleMute());
    $("btn-camera").addEventListener("click", () => this.toggleCamera());
    $("btn-share").addEventListener("click", () => this.toggleShare());
    $("btn-upload").addEventListener("click", () => $("upload-input").click());
    $("upload-input").addEventListener("change", (event) => this.chosen(event.target));
    $("btn-end").addEventListener("click", () => this.onEnd());
    $("chat-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendChat();
    });
    $("btn-share").hidden = !canShareScreen();
    this.countFrames();
  }

  /** Remote video frames as painted (requestVideoFrameCallback): what the business really saw. */
  countFrames() {
    const video = $("remote-video");
    if (!video.requestVideoFrameCallback) return;
    const tick = () => {
      this.remoteFrames += 1;
      video.requestVideoFrameCallback(tick);
    };
    video.requestVideoFrameCallback(tick);
  }

  setLocal(stream) {
    this.local = stream;
    $("self-video").srcObject = stream;
    $("self-video").hidden = !stream || stream.getVideoTracks().length === 0;
    for (const id of ["btn-mute", "btn-camera"]) $(id).disabled = !stream;
  }

  setOfficer(name) {
    setText("call-officer", name ? t("call.officer", name) : "");
  }

  /** A new CallConnection: re-attach remote tracks as they come, and re-share a running screen share. */
  attached(connection) {
    this.remoteStream.getTracks().forEach((track) => this.remoteStream.removeTrack(track));
    if (this.screenTrack) {
      connection.shareScreen(this.screenTrack).catch(() => {});
    }
  }

  remoteTrack(track, kind) {
    if (kind === "audio") {
      $("remote-audio").srcObject = new MediaStream([track]);
    } else {
      this.remoteStream.addTrack(track);
      $("remote-video").srcObject = this.remoteStream;
    }
  }

  connected() {
    // Tell the officer about a share that was running before a media restart.
    if (this.screenTrack) this.connection()?.sendControl({ type: "screen_share", active: true });
  }

  // ------------------------------------------------------------------ controls

  toggleMute() {
    this.muted = !this.muted;
    this.local?.getAudioTracks().forEach((track) => (track.enabled = !this.muted));
    this.label();
  }

  toggleCamera() {
    this.cameraOff = !this.cameraOff;
    this.local?.getVideoTracks().forEach((track) => (track.enabled = !this.cameraOff));
    this.label();
  }

  async toggleShare() {
    if (this.screenTrack) {
      this.stopShare();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 10 } }, audio: false });
    } catch {
      this.note(t("call.shareFailed")); // the user closed the picker, or the browser refused
      return;
    }
    this.screenTrack = stream.getVideoTracks()[0];
    this.screenTrack.contentHint = "detail"; // drawings: keep the lines sharp rather than the motion smooth
    this.screenTrack.addEventListener("ended", () => this.stopShare());
    await this.connection()?.shareScreen(this.screenTrack);
    this.connection()?.sendControl({ type: "screen_share", active: true });
    this.label();
  }

  stopShare() {
    const track = this.screenTrack;
    if (!track) return;
    this.screenTrack = null;
    track.stop();
    this.connection()?.shareScreen(null).catch(() => {});
    this.connection()?.sendControl({ type: "screen_share", active: false });
    this.label();
  }

  /** Button texts and pressed states, in the current language. */
  label() {
    const set = (id, pressed, on, off) => {
      $(id).setAttribute("aria-pressed", String(pressed));
      $(id).textContent = t(pressed ? on : off);
    };
    set("btn-mute", this.muted, "call.unmute", "call.mute");
    set("btn-camera", this.cameraOff, "call.cameraOn", "call.cameraOff");
    set("btn-share", Boolean(this.screenTrack), "call.stopShare", "call.share");
    show("call-sharing", Boolean(this.screenTrack));
    this.renderUpload();
    this.writing.label();
  }

  // ------------------------------------------------------------------ chat

  sendChat() {
    const input = $("chat-input");
    const text = input.value.trim().slice(0, 2000);
    if (!text) return;
    const sent = this.connection()?.sendControl({ type: "chat", id: newDocId("m"), text, sender: "resident" });
    if (!sent) {
      this.note(t("upload.noChannel"));
      return;
    }
    input.value = "";
    this.chatLine("me", text);
  }

  chatLine(who, text) {
    const item = el("li", `chat-line ${who}`);
    const label = el("span", "who", t(who === "me" ? "chat.me" : "chat.officer"));
    label.dataset.i18n = who === "me" ? "chat.me" : "chat.officer"; // follows the language toggle
    item.append(label, el("span", "text", text));
    $("chat-log").append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  note(text) {
    $("chat-log").append(el("li", "chat-line note", text));
  }

  /** In-call messages from the officer (link pings are answered by the connection itself). */
  control(message) {
    if (this.writing.control(message)) return; // text_draft, ink_stroke, ink_clear: the 筆談 panel
    if (message.type === "chat" && message.sender === "officer" && typeof message.text === "string") {
      this.chatLine("officer", message.text);
    } else if (message.type === "document_received" && this.upload?.docId === message.doc_id) {
      this.upload.resolve(message);
    } else if (message.type === "document_withdrawn") {
      document.querySelector(`[data-doc="${CSS.escape(String(message.doc_id))}"]`)?.remove();
      show("shown-docs", $("shown-list").children.length > 0);
    }
  }

  // ------------------------------------------------------------------ upload

  async chosen(input) {
    const file = input.files?.[0];
    input.value = ""; // the same file may be chosen again
    if (file) await this.sendFile(file);
  }

  async sendFile(file) {
    if (this.upload) return this.uploadResult(false, "upload.busy");
    const channel = this.connection()?.documents;
    if (!channel || channel.readyState !== "open") return this.uploadResult(false, "upload.noChannel");
    show("upload-status");
    setText("upload-name", file.name);
    const check = await checkFile(file);
    if (check.error) return this.uploadResult(false, check.error, check.arg);
    this.upload = { docId: newDocId("up") };
    try {
      await this.transfer(channel, file, check.mime);
    } catch {
      this.uploadResult(false, "upload.failed", ""); // the channel closed under the transfer
    } finally {
      this.upload = null;
    }
  }

  async transfer(channel, file, mime) {
    this.uploadStatus("upload.hashing");
    $("upload-progress").value = 0;
    const buffer = await file.arrayBuffer();
    const offer = {
      type: "document_offer",
      doc_id: this.upload.docId,
      purpose: "upload",
      name: file.name.slice(0, 200),
      mime,
      size: buffer.byteLength,
      sha256: await sha256Hex(buffer),
    };
    const verdict = new Promise((resolve) => {
      this.upload.resolve = resolve;
      setTimeout(() => resolve(null), VERDICT_TIMEOUT_MS);
    });
    this.uploadStatus("upload.sending", file.name.slice(0, 200));
    await sendDocument(channel, offer, buffer, (sent, total) => ($("upload-progress").value = sent / total));
    this.uploadStatus("upload.waiting");
    const answer = await verdict;
    if (!answer) this.uploadResult(false, "upload.noVerdict");
    else if (answer.ok) this.uploadResult(true, "upload.ok");
    else this.uploadResult(false, "upload.failed", answer.detail);
  }

  /** Progress text, kept as a catalog key so that it follows the language toggle. */
  uploadStatus(key, arg) {
    this.uploadText = { key, arg, ok: null };
    this.renderUpload();
    document.body.dataset.upload = "sending"; // so a wait for the next "ok" or "failed" sees this upload's
  }

  uploadResult(ok, key, arg) {
    show("upload-status");
    this.uploadText = { key, arg, ok };
    this.renderUpload();
    document.body.dataset.upload = ok ? "ok" : "failed";
  }

  renderUpload() {
    const text = this.uploadText;
    if (!text) return;
    const arg = text.key === "upload.failed" ? reasonText(text.arg) : text.arg;
    setText("upload-result", t(text.key, arg));
    $("upload-result").className = text.ok === null ? "" : text.ok ? "ok" : "error";
  }

  // ------------------------------------------------------------------ documents the officer shows

  documentFrame(data) {
    this.receiver.feed(data);
  }

  async shown(offer, bytes, detail) {
    this.connection()?.sendControl({ type: "document_received", doc_id: offer.doc_id, ok: Boolean(bytes), detail });
    if (!bytes || offer.purpose !== "show") {
      if (!bytes) this.note(t("docs.damaged"));
      return;
    }
    const item = el("figure", "shown-doc");
    item.dataset.doc = offer.doc_id;
    const name = String(offer.name || offer.doc_id);
    if (offer.mime === "application/pdf") {
      // A download link to a blob URL: navigation is not governed by the page's CSP (default-src 'self'),
      // unlike an <iframe> or <embed> of a blob, and works the same in every browser.
      const url = URL.createObjectURL(new Blob([bytes], { type: "application/pdf" }));
      this.urls.push(url);
      const link = el("a", "doc-link", t("docs.download", name));
      link.href = url;
      link.download = name.endsWith(".pdf") ? name : `${name}.pdf`;
      item.append(link);
    } else {
      // Decoded straight into a canvas: no blob: or data: URL, so img-src 'self' need not be widened.
      const bitmap = await createImageBitmap(new Blob([bytes], { type: offer.mime }));
      const canvas = el("canvas", "doc-image");
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      canvas.getContext("2d").drawImage(bitmap, 0, 0);
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", name);
      item.append(canvas, el("figcaption", "", name));
    }
    $("shown-list").append(item);
    show("shown-docs");
  }

  /** The call is over: drop what it left behind (documents, chat, shares). */
  reset() {
    this.stopShare();
    this.writing.reset();
    this.receiver.discardAll();
    this.urls.forEach((url) => URL.revokeObjectURL(url));
    this.urls = [];
    $("shown-list").replaceChildren();
    show("shown-docs", false);
    $("remote-video").srcObject = null;
    $("remote-audio").srcObject = null;
  }
}

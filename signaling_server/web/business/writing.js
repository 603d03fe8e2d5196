// Written conversation (筆談) in the business's browser: the officer's real-time text, shown large as it is
// typed; the officer's handwriting, drawn stroke by stroke; and the business's own text and handwriting
// going back the same way. The messages are the in-call ones of remote_call/rtt.py (docs/protocol.md,
// "Written conversation"): text_draft {seq, text, final}, ink_stroke {stroke_id, points, done}, ink_clear.

import { t } from "./i18n.js";
import { $, show } from "./ui.js";

const RTT_INTERVAL_MS = 150; // a draft at most ~7 times a second (rtt.RTT_INTERVAL_S)
const INK_INTERVAL_MS = 50; // a stroke's points at most every 50 ms (rtt.INK_INTERVAL_S)
const MAX_DRAFT_CHARS = 1000;
const MAX_POINTS_PER_MESSAGE = 64;
const MAX_POINTS_PER_STROKE = 2000;
const MAX_STROKES_PER_PAGE = 300;
const MIN_STEP = 0.002; // a point closer than 0.2 % of the pad to the last one adds nothing visible
const OFFICER_INK = "#1f5fbf"; // the officer's strokes in blue, as on the kiosk; ours in the text colour

/** A point normalised to the pad (0..1, four decimals), a finger past the edge kept on it. */
function normalised(x, y) {
  const clamp = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;
  return [clamp(x), clamp(y)];
}

export class WritingPanel {
  /** @param {object} options
   * @param {() => object|null} options.connection  the current CallConnection (sendControl)
   * @param {(who: string, text: string) => void} options.line  adds a finished line to the chat */
  constructor({ connection, line }) {
    this.connection = connection;
    this.line = line;
    this.strokes = new Map(); // "officer:3" -> {author, points, done}
    this.peerSeq = -1; // the officer's newest draft seen (an older one is ignored)
    this.officerDraft = "";
    this.seq = 0; // our drafts, rising for the whole call (a media restart keeps counting)
    this.sentText = null;
    this.lastDraftAt = -Infinity;
    this.draftTimer = 0;
    this.pen = null; // {id, points, pending} while the business draws
    this.nextStroke = 0;
    this.inkTimer = 0;
    this.lastInkAt = -Infinity;
    this.bind();
  }

  bind() {
    $("btn-writing").addEventListener("click", () => this.open(!this.isOpen()));
    $("writing-input").addEventListener("input", () => this.typed());
    $("writing-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    $("writing-clear").addEventListener("click", () => this.clear(true));
    const pad = $("writing-pad");
    pad.addEventListener("pointerdown", (event) => this.penDown(event));
    pad.addEventListener("pointermove", (event) => this.penMove(event));
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      pad.addEventListener(type, () => this.penUp());
    }
    new ResizeObserver(() => this.draw()).observe(pad);
  }

  isOpen() {
    return !$("writing").hidden;
  }

  open(visible = true) {
    show("writing", visible);
    $("btn-writing").setAttribute("aria-pressed", String(visible));
    $("btn-writing").textContent = t(visible ? "writing.close" : "writing.open");
    if (visible) this.draw();
  }

  send(message) {
    return this.connection()?.sendControl(message) ?? false;
  }

  // ------------------------------------------------------------------ from the officer

  /** An in-call message of the written conversation; false for any other message. */
  control(message) {
    if (message.type === "text_draft") this.onDraft(message);
    else if (message.type === "ink_stroke") this.onStroke(message);
    else if (message.type === "ink_clear") this.clear(false);
    else return false;
    return true;
  }

  onDraft(message) {
    if (!Number.isInteger(message.seq) || typeof message.text !== "string") return;
    if (message.seq <= this.peerSeq) return; // an older draft than one already shown
    this.peerSeq = message.seq;
    const text = message.text.slice(0, MAX_DRAFT_CHARS);
    this.officerDraft = message.final ? "" : text;
    if (message.final && text.trim()) this.line("officer", text);
    if (!message.final && text) this.open(true); // the officer writes: the panel opens by itself
    this.renderDraft();
  }

  onStroke(message) {
    const id = Number(message.stroke_id);
    const points = Array.isArray(message.points) ? message.points : [];
    if (!Number.isInteger(id) || points.length > MAX_POINTS_PER_MESSAGE) return;
    const key = `officer:${id}`;
    let stroke = this.strokes.get(key);
    if (!stroke) {
      if (this.strokes.size >= MAX_STROKES_PER_PAGE) return; // the page is full until it is cleared
      stroke = { author: "officer", points: [], done: false };
      this.strokes.set(key, stroke);
    } else if (stroke.done) {
      return;
    }
    for (const point of points) {
      if (stroke.points.length >= MAX_POINTS_PER_STROKE) break;
      if (Array.isArray(point) && point.length === 2) stroke.points.push(normalised(+point[0], +point[1]));
    }
    stroke.done = Boolean(message.done);
    this.open(true);
    this.draw();
  }

  renderDraft() {
    const live = this.officerDraft;
    $("writing-officer").textContent = live || t("writing.officerIdle");
    $("writing-officer").classList.toggle("idle", !live);
  }

  // ------------------------------------------------------------------ the business types

  typed() {
    const input = $("writing-input");
    if (input.value.length > MAX_DRAFT_CHARS) input.value = input.value.slice(0, MAX_DRAFT_CHARS);
    this.flushDraft();
  }

  /** Send the draft now if the interval allows, else once it does (the latest text then). */
  flushDraft() {
    const text = $("writing-input").value;
    if (text === this.sentText) return;
    const wait = this.lastDraftAt + RTT_INTERVAL_MS - performance.now();
    if (wait > 0) {
      if (!this.draftTimer) {
        this.draftTimer = setTimeout(() => {
          this.draftTimer = 0;
          this.flushDraft();
        }, wait);
      }
      return;
    }
    this.seq += 1;
    this.lastDraftAt = performance.now();
    this.sentText = text;
    this.send({ type: "text_draft", seq: this.seq, text, final: false });
  }

  submit() {
    const input = $("writing-input");
    const text = input.value.slice(0, MAX_DRAFT_CHARS);
    if (!text.trim()) return;
    clearTimeout(this.draftTimer);
    this.draftTimer = 0;
    this.seq += 1;
    if (!this.send({ type: "text_draft", seq: this.seq, text, final: true })) {
      $("writing-note").textContent = t("upload.noChannel");
      return;
    }
    $("writing-note").textContent = "";
    this.line("me", text);
    input.value = "";
    this.sentText = "";
    this.lastDraftAt = performance.now();
  }

  // ------------------------------------------------------------------ the business draws

  at(event) {
    const box = $("writing-pad").getBoundingClientRect();
    return normalised((event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height);
  }

  penDown(event) {
    this.penUp();
    if (this.strokes.size >= MAX_STROKES_PER_PAGE) {
      $("writing-note").textContent = t("writing.full");
      return;
    }
    $("writing-pad").setPointerCapture?.(event.pointerId);
    const id = this.nextStroke++;
    const stroke = { author: "me", points: [this.at(event)], done: false };
    this.strokes.set(`me:${id}`, stroke);
    this.pen = { id, stroke, pending: [...stroke.points] };
    this.sendInk(false);
    this.draw();
  }

  penMove(event) {
    const pen = this.pen;
    if (!pen) return;
    // A busy page gets one pointermove a frame, the moves between coalesced into it: each is a point of
    // the stroke (ten quick moves under load reached the officer as fewer than five, a jagged line).
    const coalesced = event.getCoalescedEvents?.() ?? [];
    let added = false;
    for (const move of coalesced.length ? coalesced : [event]) {
      const point = this.at(move);
      const last = pen.stroke.points.at(-1);
      if (last && Math.hypot(point[0] - last[0], point[1] - last[1]) < MIN_STEP) continue;
      if (pen.stroke.points.length >= MAX_POINTS_PER_STROKE) {
        this.penUp(); // a very long stroke ends; the next touch begins another
        break;
      }
      pen.stroke.points.push(point);
      pen.pending.push(point);
      added = true;
      if (pen.pending.length >= MAX_POINTS_PER_MESSAGE) this.sendInk(false);
    }
    if (!added) return;
    this.draw();
    if (this.pen?.pending.length) this.armInk();
  }

  penUp() {
    if (!this.pen) return;
    this.pen.stroke.done = true;
    this.sendInk(true);
    this.pen = null;
  }

  armInk() {
    if (this.inkTimer) return;
    const wait = Math.max(0, this.lastInkAt + INK_INTERVAL_MS - performance.now());
    this.inkTimer = setTimeout(() => {
      this.inkTimer = 0;
      if (this.pen?.pending.length) this.sendInk(false);
    }, wait);
  }

  sendInk(done) {
    const pen = this.pen;
    if (!pen) return;
    const points = pen.pending.splice(0, MAX_POINTS_PER_MESSAGE);
    this.lastInkAt = performance.now();
    this.send({ type: "ink_stroke", stroke_id: pen.id, points, done: done && pen.pending.length === 0 });
    if (pen.pending.length) this.sendInk(done);
  }

  /** Wipe the pad (both sides' strokes); ``tell``: we wiped it, so the officer's pad is wiped too. */
  clear(tell) {
    this.penUp();
    this.strokes.clear();
    if (tell) this.send({ type: "ink_clear" });
    $("writing-note").textContent = "";
    this.draw();
  }

  draw() {
    const pad = $("writing-pad");
    const scale = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(pad.clientWidth * scale));
    const height = Math.max(1, Math.round(pad.clientHeight * scale));
    if (pad.width !== width || pad.height !== height) {
      pad.width = width;
      pad.height = height;
    }
    const g = pad.getContext("2d");
    g.clearRect(0, 0, width, height);
    g.lineCap = "round";
    g.lineJoin = "round";
    g.lineWidth = Math.max(3, Math.min(width, height) / 90);
    const ink = getComputedStyle(pad).color;
    for (const stroke of this.strokes.values()) {
      if (!stroke.points.length) continue;
      g.strokeStyle = stroke.author === "officer" ? OFFICER_INK : ink;
      g.beginPath();
      const [x0, y0] = stroke.points[0];
      g.moveTo(x0 * width, y0 * height);
      for (const [x, y] of stroke.points) g.lineTo(x * width, y * height);
      if (stroke.points.length === 1) g.lineTo(x0 * width + 0.1, y0 * height);
      g.stroke();
    }
  }

  label() {
    this.open(this.isOpen()); // the button's words in the current language
    this.renderDraft();
  }

  /** Read-only state for the browser tests (nothing is sent anywhere). */
  snapshot() {
    const strokes = [...this.strokes.values()].map((s) => ({
      author: s.author,
      points: s.points.length,
      done: s.done,
    }));
    return { open: this.isOpen(), officerDraft: this.officerDraft, strokes };
  }

  /** The call is over: nothing of it stays on the page. */
  reset() {
    this.penUp();
    clearTimeout(this.draftTimer);
    clearTimeout(this.inkTimer);
    this.draftTimer = this.inkTimer = 0;
    this.strokes.clear();
    this.peerSeq = -1;
    this.officerDraft = "";
    this.sentText = null;
    $("writing-input").value = "";
    $("writing-note").textContent = "";
    this.open(false);
    this.renderDraft();
    this.draw();
  }
}

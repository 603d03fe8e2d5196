// The business's browser client: one state object, a screen state machine with a transition table, and a
// handler table for the server's messages. See docs/business.md for the flow.

import { CallConnection } from "./call.js";
import { CallView } from "./callview.js";
import { DeviceCheck, canShareScreen, mediaErrorKey, missingFeatures } from "./devicecheck.js";
import { formatTime, initLanguage, onLanguageChange, setLanguage, t, translatePage } from "./i18n.js";
import * as store from "./session.js";
import { Signaling, websocketUrl } from "./signaling.js";
import { $, banner, el, setText, show, showScreen } from "./ui.js";

// Which screen may follow which; anything else is a bug and is refused with both names.
const TRANSITIONS = {
  checking: ["code", "link_error", "unsupported", "devices", "waiting", "session_error"],
  code: ["checking", "code", "link_error", "devices", "unsupported"],
  link_error: [],
  unsupported: [],
  devices: ["devices", "waiting", "session_error"],
  waiting: ["waiting", "call", "thanks", "session_error"],
  call: ["call", "waiting", "thanks", "session_error"],
  thanks: [],
  session_error: [],
};

const state = {
  screen: "checking",
  session: null, // {token, business, wsUrl, callId}
  signaling: null,
  local: null, // camera + microphone stream, or null (chat only)
  connection: null, // the current CallConnection
  prepared: null, // Promise<CallConnection|null>: the next call's connection, made while the business waits
  connecting: null, // the last call_connecting, for the officer's name
  position: null,
  ewtS: null,
  refused: null,
  note: null, // {key, arg}: why the business is back in the waiting room
  secret: "",
  linkError: null, // {key, details}: why the link was refused
  codeError: null, // i18n key under the code form
  thanks: "", // "", "cancelled." or "dropped.": which thank-you page
  rateCall: null, // the completed call the thank-you page asks to rate (rate_call), until rated
  rated: false,
  sessionError: null, // {key, arg}: why the session cannot go on
  attempt: 0, // counts call_connecting messages, so an outdated one gives up
  welcomes: 0, // signaling sessions so far: more than one means the page reconnected
  deviceText: { camera: null, mic: null, error: null }, // i18n keys of the device check's findings
  missing: null, // i18n keys of the browser features that are missing
};

function go(screen) {
  if (!TRANSITIONS[state.screen].includes(screen)) {
    throw new Error(`no transition from screen ${state.screen} to ${screen}`);
  }
  state.screen = screen;
  showScreen(screen);
  render();
}

// ------------------------------------------------------------------ link check

async function checkLink(code) {
  const result = await store.redeem(state.secret, code);
  if (result.ok) {
    state.secret = ""; // single-use: never needed again
    state.session = { ...result.session, callId: null };
    store.save(state.session);
    go("devices");
    return;
  }
  if (result.error === "code_required" || (result.error === "code_wrong" && code)) {
    state.codeError = result.error === "code_wrong" ? "link.code_wrong.body" : null;
    go("code");
    $("code-input").focus();
    return;
  }
  linkError(result.error, result);
}

function linkError(reason, details = {}) {
  const known = ["invalid", "expired", "not_yet", "used", "revoked", "code_wrong", "throttled", "missing"];
  const key = [...known, "network"].includes(reason) ? reason : "invalid";
  document.body.dataset.reason = key;
  state.linkError = { key, details };
  go("link_error");
}

function renderLinkError() {
  if (!state.linkError) return;
  const { key, details } = state.linkError;
  setText("link-error-title", t(`link.${key}.title`));
  setText("link-error-body", t(`link.${key}.body`));
  let hint = "";
  if (key === "throttled") hint = t("link.throttled.hint", details.retryAfterS || 60);
  if (key === "not_yet" && details.validFrom) hint = t("link.not_yet.hint", formatTime(details.validFrom));
  setText("link-error-hint", hint);
}

// ------------------------------------------------------------------ device check

const devices = new DeviceCheck({
  preview: $("preview"),
  meter: $("mic-level"),
  onLevel: (level) => {
    if (level > 0.05 && state.deviceText.mic === "devices.speak") {
      state.deviceText.mic = "devices.heard";
      renderDevices();
    }
  },
});

async function startDevices() {
  state.deviceText.error = null;
  try {
    const stream = await devices.start();
    state.deviceText.camera = stream.getVideoTracks().length ? "devices.ok" : "devices.missing";
    state.deviceText.mic = stream.getAudioTracks().length ? "devices.speak" : "devices.missing";
    document.body.dataset.devices = "ok";
  } catch (error) {
    // The reason is named in the page; only the browser's error name goes to the console.
    console.warn("getUserMedia failed:", error?.name);
    state.deviceText.error = mediaErrorKey(error);
    document.body.dataset.devices = state.deviceText.error.split(".")[1];
  }
  renderDevices();
}

function renderDevices() {
  const text = state.deviceText;
  const ready = document.body.dataset.devices === "ok";
  setText("dev-camera", text.camera ? t(text.camera) : "");
  setText("dev-mic", text.mic ? t(text.mic) : "");
  setText("dev-error", text.error ? t(text.error) : "");
  show("dev-error", Boolean(text.error));
  show("dev-join-without", Boolean(text.error));
  show("preview-off", !ready);
  $("dev-join").disabled = !ready;
  // Once the devices work, joining is the main action and checking again the second one.
  $("dev-start").textContent = t(ready ? "devices.again" : "devices.start");
  $("dev-start").className = ready ? "secondary" : "primary";
  $("dev-join").className = ready ? "primary" : "secondary";
}

function join(withMedia) {
  const stream = devices.finish();
  if (!withMedia) stream?.getTracks().forEach((track) => track.stop());
  state.local = withMedia ? stream : null;
  view.setLocal(state.local);
  go("waiting");
  prepareConnection(); // while the business waits, not after the officer accepts
  connectSignaling();
}

// ------------------------------------------------------------------ signaling

function connectSignaling() {
  state.signaling?.close();
  state.signaling = new Signaling(websocketUrl(state.session.wsUrl), () => state.session.token, {
    onWelcome,
    onMessage: (message) => HANDLERS[message.type]?.(message),
    onDisconnect: () => banner(t("reconnecting.signal")),
    onRefused: (error) => sessionOver(refusalReason(error)),
  });
  state.signaling.start();
}

/** Why the server will not take our hello: the session ran out, or something it names. */
function refusalReason(error) {
  if (error.code === "unauthenticated") return { key: "sessionError.expired" };
  return { key: "sessionError.other", arg: error.code };
}

function send(message) {
  return state.signaling?.send(message) ?? false;
}

function onWelcome(welcome) {
  state.welcomes += 1;
  banner("");
  if (welcome.business) state.session.business = welcome.business;
  store.save(state.session);
  render();
  if (state.session.callId) {
    // After every reconnection: the call may have moved on (or ended) while we were away.
    send({ type: "sync_call", call_id: state.session.callId });
  } else {
    send({ type: "request_call", department: state.session.business?.department });
  }
}

const HANDLERS = {
  queued(message) {
    rememberCall(message.call_id);
    state.position = message.position;
    state.ewtS = message.ewt_s ?? null;
    state.refused = null;
    if (state.screen === "call") leaveCall();
    render();
  },
  call_refused(message) {
    state.refused = message;
    render();
  },
  call_connecting: (message) => connectMedia(message),
  sdp: (message) => state.connection?.handleSignal(message).catch(mediaTrouble),
  ice_candidate: (message) => state.connection?.handleSignal(message).catch(mediaTrouble),
  call_started(message) {
    if (!state.connection || state.connection.callId !== message.call_id) {
      // We lost our side of the media (a reload): ask for it to be rebuilt.
      rememberCall(message.call_id);
      send({ type: "restart_media", call_id: message.call_id, reason: "link_lost" });
      return;
    }
    banner("");
    if (state.screen !== "call") go("call");
  },
  call_ended: (message) => callEnded(message.reason),
  call_requeued() {
    state.note = { key: "waiting.requeued" };
    leaveCall();
  },
  call_transferred(message) {
    state.note = { key: "waiting.transferred", arg: message.to_department };
    if (message.warm) view.note(t("waiting.transferred", message.to_department)); // the officer stays meanwhile
    else leaveCall();
  },
  error(message) {
    // Diagnostics without personal data: the code and the message type it was about.
    console.warn("server refused", message.about ?? "?", message.code);
    // The server signs the session out (revoked, or over after its call): it closes the connection next, and a
    // reconnection would be refused, so stop here instead.
    if (message.code === "unauthenticated" && !message.about) sessionOver(refusalReason(message));
  },
};

function rememberCall(callId) {
  state.session.callId = callId;
  store.update({ callId });
}

// ------------------------------------------------------------------ media

/** A failed WebRTC step: logged by name only; the link pings then ask the server for a media restart. */
function mediaTrouble(error) {
  console.warn("media set-up step failed:", error?.name ?? "error");
}

async function connectMedia(message) {
  rememberCall(message.call_id);
  state.connecting = message;
  const attempt = ++state.attempt;
  const previous = state.connection;
  state.connection = null;
  await previous?.close();
  if (attempt !== state.attempt) return; // a newer call_connecting arrived while the old media closed
  if (message.restart) banner(t("reconnecting.media"));
  const connection = await takePrepared();
  if (attempt !== state.attempt) {
    connection.close();
    return;
  }
  connection.attach({
    callId: message.call_id,
    connecting: message,
    signal: send,
    events: {
      remoteTrack: (track, kind) => view.remoteTrack(track, kind),
      control: (m) => view.control(m),
      documentFrame: (data) => view.documentFrame(data),
      documentsOpen: () => {},
      connected: () => {
        banner("");
        view.connected();
        if (state.screen !== "call") go("call");
      },
      linkLost: () => banner(t("reconnecting.media")),
      failed: () => banner(t("reconnecting.media")),
    },
  });
  state.connection = connection;
  $("btn-end").disabled = false;
  view.attached(connection);
  view.setOfficer(message.peer_name);
  render();
  await connection.start().catch(mediaTrouble);
}

/** Build the next call's peer connection and offer now, while the business waits (idempotent). */
function prepareConnection() {
  state.prepared ??= CallConnection.prepare({ local: state.local }).catch((error) => {
    mediaTrouble(error);
    return null;
  });
}

/** The connection prepared while waiting, or (after a media restart, or if preparing failed) a new one. */
async function takePrepared() {
  const prepared = state.prepared;
  state.prepared = null;
  return (await prepared) ?? CallConnection.prepare({ local: state.local });
}

/** The business will not wait again (the call ended, the session is over): let the prepared one go. */
function dropPrepared() {
  const prepared = state.prepared;
  state.prepared = null;
  prepared?.then((connection) => connection?.close());
}

function leaveCall() {
  const connection = state.connection;
  state.connection = null;
  connection?.close();
  view.reset();
  state.connecting = null;
  state.position = 1; // requeued or transferred callers wait at the head
  prepareConnection(); // for the next officer
  if (state.screen === "call") go("waiting");
}

async function endCall() {
  const callId = state.session?.callId;
  $("btn-end").disabled = true;
  // Close our channels and media first (cleanly, see CallConnection.close), then tell the server.
  const connection = state.connection;
  state.connection = null;
  await connection?.close();
  // Offline: the button comes back; the media is rebuilt when the connection returns.
  if (!callId || !send({ type: "end_call", call_id: callId })) $("btn-end").disabled = false;
}

function callEnded(reason) {
  const connection = state.connection;
  state.connection = null;
  connection?.close();
  dropPrepared();
  view.reset();
  state.local?.getTracks().forEach((track) => track.stop());
  // A completed call may be rated (rate_call, once): the connection stays open until it is, or closes now.
  state.rateCall = reason === "completed" ? state.session?.callId ?? null : null;
  if (!state.rateCall) state.signaling?.close();
  store.forget(); // a finished call ends the session: the token cannot join again
  banner("");
  const kind = reason === "completed" ? "" : reason === "cancelled" ? "cancelled." : "dropped.";
  state.thanks = kind;
  document.body.dataset.ended = reason;
  go("thanks");
}

function rate(rating) {
  if (!state.rateCall) return;
  send({ type: "rate_call", call_id: state.rateCall, rating });
  state.rateCall = null;
  state.rated = true;
  state.signaling?.close(); // the rating is sent before the close frame
  render();
}

function cancelWaiting() {
  const callId = state.session?.callId;
  if (callId && send({ type: "cancel_call", call_id: callId })) return; // call_ended(cancelled) follows
  callEnded("cancelled");
}

function sessionOver(why) {
  state.signaling?.close();
  dropPrepared();
  store.forget();
  if (state.screen === "thanks") {
    // The call is over and thanked for already; only the rating is lost (the server closes a finished
    // session within 30 s, see SESSION_CHECK_S).
    state.rateCall = null;
    render();
    return;
  }
  state.sessionError = why;
  go("session_error");
}

// ------------------------------------------------------------------ rendering

function render() {
  translatePage();
  const business = state.session?.business;
  for (const prefix of ["dev", "wait"]) {
    setText(`${prefix}-company`, business?.company ?? "");
    setText(`${prefix}-purpose`, business?.purpose ?? "");
  }
  renderWaiting();
  renderLinkError();
  renderDevices();
  view.label();
  if (state.connecting) view.setOfficer(state.connecting.peer_name);
  setText("thanks-title", t(`thanks.${state.thanks ?? ""}title`));
  setText("thanks-body", t(`thanks.${state.thanks ?? ""}body`));
  show("rating", Boolean(state.rateCall));
  setText("rating-thanks", state.rated ? t("rating.thanks") : "");
  const why = state.sessionError;
  setText("session-error-body", why ? t(why.key, why.arg) : "");
  setText("code-error", state.codeError ? t(state.codeError) : "");
  show("code-error", Boolean(state.codeError));
  $("unsupported-list").replaceChildren(...(state.missing ?? []).map((key) => el("li", "", t(key))));
}

function renderWaiting() {
  const refused = state.refused;
  setText("wait-position", state.position ? t("waiting.position", state.position) : t("waiting.joining"));
  const minutes = state.ewtS == null ? null : Math.round(state.ewtS / 60);
  setText("wait-estimate", minutes == null ? t("waiting.noEstimate") : t("waiting.estimate", minutes));
  const officer = state.connecting?.peer_name;
  show("wait-officer", Boolean(officer));
  setText("wait-officer", officer ? t("waiting.officer", officer) : "");
  let refusedText = "";
  if (refused) {
    refusedText = t(`refused.${refused.reason}`);
    if (refused.next_open) refusedText += ` ${t("refused.closed.next", formatTime(refused.next_open))}`;
  }
  const note = state.note ? t(state.note.key, state.note.arg) : "";
  setText("wait-refused", refusedText || note);
  show("wait-refused", Boolean(refusedText || note));
  show("wait-retry", Boolean(refused) && ["queue_full", "closed"].includes(refused.reason));
  document.body.dataset.refused = refused?.reason ?? "";
}

// ------------------------------------------------------------------ start

const view = new CallView({ connection: () => state.connection, onEnd: endCall });

function bindControls() {
  for (const button of document.querySelectorAll(".lang-btn")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  onLanguageChange(render);
  $("code-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const code = $("code-input").value.trim();
    if (!/^[0-9]{6}$/.test(code)) {
      state.codeError = "code.format";
      render();
      return;
    }
    state.codeError = null;
    go("checking");
    checkLink(code);
  });
  $("dev-start").addEventListener("click", startDevices);
  $("dev-tone").addEventListener("click", async () => {
    $("dev-tone").textContent = t("devices.tonePlaying");
    await devices.playTone();
    $("dev-tone").textContent = t("devices.tone");
  });
  $("dev-join").addEventListener("click", () => join(true));
  $("dev-join-without").addEventListener("click", () => join(false));
  $("wait-cancel").addEventListener("click", cancelWaiting);
  for (const button of document.querySelectorAll(".rating-btn")) {
    button.addEventListener("click", () => rate(Number(button.dataset.rating)));
  }
  $("wait-retry").addEventListener("click", () => {
    state.refused = null;
    render();
    send({ type: "request_call", department: state.session.business?.department });
  });
}

async function resume(saved) {
  // A reload or a return after a lost network: sign in again with the token, no link needed.
  state.session = saved;
  if (!saved.callId) {
    go("devices");
    return;
  }
  try {
    state.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  } catch {
    state.local = null; // permission withdrawn: carry on with chat only
  }
  view.setLocal(state.local);
  go("waiting");
  prepareConnection();
  connectSignaling();
}

function main() {
  state.secret = store.takeSecret(); // out of the address bar before anything else can see it
  initLanguage();
  bindControls();
  render();
  const missing = missingFeatures();
  if (missing.length) {
    state.missing = missing;
    go("unsupported");
    return;
  }
  if (!canShareScreen()) document.body.dataset.noShare = "1";
  const saved = store.load();
  if (state.secret) checkLink();
  else if (saved) resume(saved);
  else linkError("missing");
}

// Read-only numbers for support and the browser tests; nothing personal.
globalThis.madoguchi = {
  screen: () => state.screen,
  linkRttMs: () => state.connection?.linkRttMs ?? null, // set once the officer answered a link ping
  welcomes: () => state.welcomes,
  writing: () => view.writing.snapshot(), // 筆談: open, the officer's live text, the strokes' sizes
  stats: async () => ({
    ...(state.connection ? await state.connection.stats() : {}),
    paintedFrames: view.remoteFrames,
    linkRttMs: state.connection?.linkRttMs ?? null,
  }),
};

main();

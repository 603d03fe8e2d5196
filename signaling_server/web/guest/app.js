// The guest page (/g/#<secret>): a family member joins a live call. Link check → device check → join →
// a tile per party → leave. The signaling and the peer connection are the business client's modules
// (signaling.js, call.js), imported, not copied; each of the guest's connections names its `peer`.
// docs/guests.md describes the flow; docs/protocol.md "Guests" the messages.

import { DeviceCheck, missingFeatures } from "./devicecheck.js";
import { LANGUAGES, language, serverMessage, setLanguage, t } from "./i18n.js";
import { ChatInput } from "./chat.js";
import { Parties, redeemLink, startDevices, takeLink } from "./parties.js";
import { Shown } from "./shown.js";
import { Signaling, websocketUrl } from "./signaling.js";
import { Tiles } from "./tiles.js";
import { $, banner, setText, showScreen } from "./ui.js";

const STORE_KEY = "madoguchi.guest"; // the session (not the link's secret): a reload rejoins the call

/** Everything the page knows, in one object. */
const state = {
  session: null, // {session_token, ws_url, call_id, name, department: {ja, en}}
  refusal: null, // the last refused redeem's answer, shown again on a language change
  local: null, // camera + microphone
  signaling: null,
  tiles: null,
  shown: null, // chat lines and shown documents
  chat: null, // the guest's own lines (chat.js)
  leaving: false,
  done: false,
};
const parties = new Parties(state); // one connection per party of the call

// ---------------------------------------------------------------------- link check

async function redeem(secret) {
  const redeemed = await redeemLink("/api/guests/redeem", secret);
  if (!redeemed) return linkError("link.network.title", t("link.network.body"));
  const { ok, answer } = redeemed;
  const kept = sessionStorage.getItem(STORE_KEY);
  if (answer.error === "used" && kept) {
    // Redeemed by this tab before: a call that was full at the door (a follower node cannot tell a full
    // call when redeeming, docs/guests.md) is tried again with the session kept from then.
    state.session = JSON.parse(kept);
    return toDevices();
  }
  if (!ok) {
    state.refusal = answer;
    return linkError(`link.${answer.error || "invalid"}.title`, serverMessage(answer));
  }
  state.session = answer;
  sessionStorage.setItem(STORE_KEY, JSON.stringify(answer));
  toDevices();
}

function linkError(titleKey, body) {
  setText("link-error-title", t(titleKey));
  setText("link-error-body", body);
  showScreen("link_error");
}

// ---------------------------------------------------------------------- device check

function toDevices() {
  const dept = state.session.department;
  setText("dev-lead", t("devices.lead", language() === "en" ? dept.en : dept.ja));
  showScreen("devices");
}

const check = new DeviceCheck({ preview: $("preview"), meter: $("mic-level") });

async function checkDevices() {
  state.local = (await startDevices(check)) ?? state.local;
}

// ---------------------------------------------------------------------- the call

function join() {
  state.local = check.finish() ?? state.local;
  state.tiles = new Tiles($("tiles"), $("self-video"), state.local);
  state.shown = new Shown({ chat: $("chat"), documents: $("shown"), label: (key) => t(key) });
  state.chat ??= new ChatInput({
    form: $("chat-form"),
    input: $("chat-input"),
    status: $("chat-status"),
    send: (message) => parties.sendToAll(message),
    echo: (text) => state.shown.own(text),
    label: (key) => t(key),
  });
  showScreen("call");
  banner(t("call.connecting"));
  state.signaling = new Signaling(
    websocketUrl(state.session.ws_url),
    () => state.session.session_token,
    {
      onWelcome: () => banner(""),
      onMessage: (message) => onMessage(message).catch((error) => console.warn("guest:", error?.name)),
      onDisconnect: () => banner(t("call.reconnecting")),
      onRefused: () => finish("ended"),
    },
    { role: "guest", appVersion: "guest-web/1" },
  );
  state.signaling.start();
}

async function onMessage(message) {
  switch (message.type) {
    case "call_connecting":
      if (message.peer) await parties.connect(message);
      return;
    case "sdp":
    case "ice_candidate":
      await parties.handleSignal(message);
      return;
    case "party_left":
      await parties.drop(message.party);
      return;
    case "call_ended":
      finish(state.leaving ? "left" : "ended");
      return;
    case "error":
      if (message.code === "conflict" && message.about === "hello") finish("full", { keepSession: true });
      else console.warn("guest: the server refused", message.about);
      return;
    default:
      return; // call_started, interpreter_status, call_transferred ...: nothing to show here
  }
}

function leave() {
  state.leaving = true;
  $("call-leave").disabled = true;
  $("chat-send").disabled = true;
  if (!state.signaling?.send({ type: "leave_call", call_id: state.session.call_id })) finish("left");
}

/** The page's end. A full call keeps the session: opening the link again in this tab tries it once more. */
function finish(screen, { keepSession = false } = {}) {
  if (state.done) return;
  state.done = true;
  if (!keepSession) sessionStorage.removeItem(STORE_KEY);
  state.signaling?.close();
  parties.dropAll().catch(() => {});
  state.local?.getTracks().forEach((track) => track.stop());
  state.shown?.clear();
  banner("");
  showScreen(screen);
}

// ---------------------------------------------------------------------- start

function start() {
  for (const button of document.querySelectorAll(".lang-btn")) {
    button.addEventListener("click", () => {
      setLanguage(button.dataset.lang);
      if (document.body.dataset.screen === "devices") toDevices();
      if (document.body.dataset.screen === "link_error" && state.refusal) {
        linkError(`link.${state.refusal.error || "invalid"}.title`, serverMessage(state.refusal));
      }
    });
  }
  const wanted = new URLSearchParams(location.search).get("lang");
  setLanguage(LANGUAGES.includes(wanted) ? wanted : navigator.language?.startsWith("ja") ? "ja" : "en");
  $("dev-start").addEventListener("click", checkDevices);
  $("dev-join").addEventListener("click", join);
  $("call-leave").addEventListener("click", leave);
  $("full-retry").addEventListener("click", () => location.reload()); // the kept session joins again
  if (missingFeatures().length > 0) return showScreen("unsupported");
  const { secret, kept } = takeLink(STORE_KEY);
  if (secret) return redeem(secret);
  if (kept) {
    state.session = kept;
    return toDevices();
  }
  linkError("link.missing.title", t("link.missing.body"));
}

// What the tests read: per peer, frames and audio that arrived and left (getStats) and frames painted.
globalThis.madoguchi = { peers: () => parties.peers(), stats: (peer) => parties.stats(peer) };

start();

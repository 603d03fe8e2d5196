// The external interpreter's page (/i/#<secret>): an interpretation service invited by the city signs in
// through its link and works like a console interpreter. Link check → device check → the desk (available
// or on a break, a request rings: accept / decline before it passes on) → the call (a tile per party,
// chat and what the officer shows) → leave → the desk again. The signaling and the peer connections are
// the business client's and the guest page's modules (signaling.js, call.js, answer.js, tiles.js,
// shown.js, parties.js), imported, not copied; docs/interpreters.md describes the flow.

import { Desk } from "./desk.js";
import { DeviceCheck, missingFeatures } from "./devicecheck.js";
import { LANGUAGES, language, languageName, serverMessage, setLanguage, t } from "./i18n.js";
import { Parties, redeemLink, startDevices, takeLink } from "./parties.js";
import { Seen, sendChat } from "./seen.js";
import { Signaling, websocketUrl } from "./signaling.js";
import { Tiles } from "./tiles.js";
import { $, banner, setText, showScreen } from "./ui.js";

const STORE_KEY = "madoguchi.interpreter"; // the session (not the link's secret): a reload signs in again

// Which screen may follow which; anything else is a bug, named by both screens.
const SCREENS = {
  checking: ["link_error", "devices", "unsupported"],
  link_error: [],
  unsupported: [],
  devices: ["desk", "signed_out"],
  desk: ["call", "signed_out"],
  call: ["desk", "signed_out"],
  signed_out: [],
};

/** Everything the page knows, in one object. */
const state = {
  screen: "checking",
  session: null, // {session_token, ws_url, service, languages, valid_until}
  refusal: null, // the last refused redeem's answer, shown again on a language change
  local: null, // camera + microphone
  signaling: null,
  desk: null,
  callId: null, // the call being interpreted
  callLanguage: null,
  tiles: null,
  shown: null,
};
const parties = new Parties(state); // one connection per party of the call being interpreted

function go(screen) {
  if (screen !== state.screen && !SCREENS[state.screen].includes(screen)) {
    throw new Error(`no transition from screen ${state.screen} to ${screen}`);
  }
  state.screen = screen;
  showScreen(screen);
}

// ---------------------------------------------------------------------- link check

async function redeem(secret) {
  const redeemed = await redeemLink("/api/interpreters/redeem", secret);
  if (!redeemed) return linkError("link.network.title", t("link.network.body"));
  const { ok, answer } = redeemed;
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
  go("link_error");
}

// ---------------------------------------------------------------------- device check

function toDevices() {
  const names = state.session.languages.map(languageName).join(language() === "en" ? ", " : "、");
  setText("dev-lead", t("devices.lead", state.session.service, names));
  go("devices");
}

const check = new DeviceCheck({ preview: $("preview"), meter: $("mic-level") });

async function checkDevices() {
  state.local = (await startDevices(check)) ?? state.local;
}

// ---------------------------------------------------------------------- signed in: the desk

function signIn() {
  state.local = check.finish() ?? state.local;
  state.desk = new Desk({ accept, decline, available: () => setStatus("available"), away: () => setStatus("away") });
  banner(t("call.connecting"));
  state.signaling = new Signaling(
    websocketUrl(state.session.ws_url),
    () => state.session.session_token,
    {
      onWelcome: (welcome) => {
        banner("");
        state.desk.signedIn(state.session, welcome);
        if (state.screen === "devices") go("desk");
      },
      onMessage: (message) => onMessage(message).catch((error) => console.warn("interpreter:", error?.name)),
      onDisconnect: () => banner(t("call.reconnecting")),
      onRefused: () => signedOut(),
    },
    { role: "interpreter", appVersion: "interpreter-web/1" },
  );
  state.signaling.start();
}

function setStatus(status) {
  state.signaling?.send(status === "away" ? { type: "set_status", status, reason: "break" } : { type: "set_status", status });
}

function accept() {
  const offer = state.desk.offer;
  if (!offer) return;
  state.callLanguage = offer.language; // the offer goes when the pool says in_call
  state.signaling.send({ type: "accept_interpretation", call_id: offer.call_id });
}

function decline() {
  const offer = state.desk.offer;
  if (!offer) return;
  state.signaling.send({ type: "decline_interpretation", call_id: offer.call_id });
  state.desk.withdrawn("declined");
}

async function onMessage(message) {
  switch (message.type) {
    case "officer_state":
      state.desk.setState(message.state, message.reason);
      return;
    case "interpretation_offer":
      state.desk.ring(message);
      return;
    case "offer_withdrawn":
      if (state.desk.offer?.call_id === message.call_id) state.desk.withdrawn(message.reason);
      return;
    case "call_connecting":
      if (message.peer) await connect(message);
      return;
    case "call_started": // after a reconnect; a reloaded page has no connections left: rebuild ours
      if (message.call_id !== state.callId && parties.size === 0) rejoin(message.call_id);
      return;
    case "sdp":
    case "ice_candidate":
      await parties.handleSignal(message);
      return;
    case "party_left":
      if (message.call_id === state.callId) await parties.drop(message.party);
      return;
    case "call_ended":
      if (message.call_id === state.callId) await closeCall("ended.notice");
      return;
    case "error":
      if (message.code === "unauthenticated") signedOut();
      else console.warn("interpreter: the server refused", message.about, message.code);
      return;
    default:
      return; // call_started, pong ...: nothing to show here
  }
}

// ---------------------------------------------------------------------- the call

function enterCall(connecting) {
  state.callId = connecting.call_id;
  state.callLanguage = state.desk.offer?.language ?? state.callLanguage ?? null;
  state.desk.stopRinging();
  state.tiles = new Tiles($("tiles"), $("self-video"), state.local);
  state.shown = new Seen({ chat: $("chat"), documents: $("shown"), label: (key) => t(key) });
  $("tiles").dataset.layout = state.callLanguage === "jsl" ? "sign" : ""; // the signing resident large
  setText("call-language", state.callLanguage ? t("call.language", languageName(state.callLanguage)) : "");
  $("call-leave").disabled = false;
  go("call");
}

async function connect(connecting) {
  if (state.callId !== connecting.call_id) {
    if (state.callId) await closeCall(""); // a new call replaces a finished one
    enterCall(connecting);
  }
  await parties.connect(connecting);
}

/** The page was reloaded in a call the server held for us: we offered both pairs, so we ask for both
 * again (restart_media), and the server sends a fresh call_connecting for each. */
function rejoin(callId) {
  for (const peer of ["caller", "officer"]) {
    state.signaling.send({ type: "restart_media", call_id: callId, peer, reason: "link_lost" });
  }
}

function say(event) {
  event.preventDefault();
  const text = $("chat-text").value.trim();
  if (!text || !state.callId) return;
  if (sendChat(parties.values(), text) === 0) return; // no pair is up yet: keep the text
  state.shown.control({ type: "chat", sender: "interpreter", text });
  $("chat-text").value = "";
}

async function leave() {
  const callId = state.callId;
  if (!callId) return;
  $("call-leave").disabled = true;
  state.signaling.send({ type: "leave_call", call_id: callId });
  await closeCall("left.notice");
}

/** Out of the call (left, removed, or the call ended): every connection closes; back to the desk. */
async function closeCall(noticeKey) {
  state.callId = null;
  await parties.dropAll();
  state.shown?.clear();
  $("chat").replaceChildren();
  $("chat").hidden = true;
  if (noticeKey) state.desk.tell(noticeKey);
  if (state.screen === "call") go("desk");
}

function signedOut() {
  if (state.screen === "signed_out") return;
  sessionStorage.removeItem(STORE_KEY);
  state.signaling?.close();
  state.desk?.stopRinging();
  parties.dropAll().catch(() => {});
  state.local?.getTracks().forEach((track) => track.stop());
  state.shown?.clear();
  banner("");
  go("signed_out");
}

// ---------------------------------------------------------------------- start

function start() {
  for (const button of document.querySelectorAll(".lang-btn")) {
    button.addEventListener("click", () => {
      setLanguage(button.dataset.lang);
      if (state.screen === "devices") toDevices();
      if (state.screen === "link_error" && state.refusal) {
        linkError(`link.${state.refusal.error || "invalid"}.title`, serverMessage(state.refusal));
      }
      state.desk?.render();
    });
  }
  const wanted = new URLSearchParams(location.search).get("lang");
  setLanguage(LANGUAGES.includes(wanted) ? wanted : navigator.language?.startsWith("ja") ? "ja" : "en");
  $("dev-start").addEventListener("click", checkDevices);
  $("dev-join").addEventListener("click", signIn);
  $("chat-form").addEventListener("submit", say);
  $("call-leave").addEventListener("click", () => leave().catch((error) => console.warn("leave:", error?.name)));
  const missing = missingFeatures();
  if (missing.length > 0) {
    setText("unsupported-missing", missing.map((key) => t(key)).join(" / "));
    return go("unsupported");
  }
  const { secret, kept } = takeLink(STORE_KEY);
  if (secret) return redeem(secret);
  if (kept) {
    state.session = kept;
    return toDevices();
  }
  linkError("link.missing.title", t("link.missing.body"));
}

// What the tests read: per peer, frames and audio that arrived and left (getStats) and frames painted.
globalThis.madoguchi = {
  peers: () => parties.peers(),
  screen: () => state.screen,
  stats: (peer) => parties.stats(peer),
};

start();

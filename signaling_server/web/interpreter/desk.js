// The interpreter's desk between calls: who is signed in for which languages, the pool's state for them
// (officer_state: available, ringing, wrap_up, away...), the available / break buttons, and the request
// that rings (interpretation_offer) with its time left before the pool offers it to the next interpreter.

import { languageName, t } from "./i18n.js";
import { $, setText, show } from "./ui.js";

const TICK_MS = 250;

export class Desk {
  /** @param {{accept: () => void, decline: () => void, available: () => void, away: () => void}} actions */
  constructor(actions) {
    this.state = "offline";
    this.reason = null;
    this.offer = null; // the ringing interpretation_offer
    this.offerEnds = 0; // performance.now() when the pool stops ringing us
    this.timer = 0;
    this.notice = ""; // an i18n key: why the last request or call went away
    this.departments = new Map(); // id -> {name_ja, name_en}
    $("offer-accept").addEventListener("click", () => actions.accept());
    $("offer-decline").addEventListener("click", () => actions.decline());
    $("desk-available").addEventListener("click", () => actions.available());
    $("desk-away").addEventListener("click", () => actions.away());
  }

  signedIn(session, welcome) {
    this.session = session;
    this.departments = new Map((welcome.departments || []).map((d) => [d.id, d]));
    this.render();
  }

  setState(state, reason) {
    this.state = state;
    this.reason = reason ?? null;
    if (state !== "ringing") this.stopRinging();
    this.render();
  }

  ring(offer) {
    this.offer = offer;
    this.offerEnds = performance.now() + offer.ring_timeout_s * 1000;
    this.notice = "";
    clearInterval(this.timer);
    this.timer = setInterval(() => this.renderOffer(), TICK_MS);
    this.render();
  }

  /** The offer went away (offer_withdrawn): say why, in words the interpreter can act on. */
  withdrawn(reason) {
    this.notice = `withdrawn.${reason}`;
    this.stopRinging();
    this.render();
  }

  tell(noticeKey) {
    this.notice = noticeKey;
    this.render();
  }

  stopRinging() {
    clearInterval(this.timer);
    this.timer = 0;
    this.offer = null;
  }

  departmentName(id, lang) {
    const found = this.departments.get(id);
    if (!found) return id;
    return lang === "en" ? found.name_en : found.name_ja;
  }

  render() {
    if (this.session) {
      const names = this.session.languages.map(languageName).join(document.documentElement.lang === "en" ? ", " : "、");
      setText("desk-service", t("desk.who", this.session.service));
      setText("desk-languages", t("desk.languages", names));
      setText("desk-until", this.session.valid_until ? t("desk.until", this.session.valid_until.slice(0, 16).replace("T", " ")) : "");
    }
    const keyed = this.reason === "no_answer" && this.state === "away" ? "state.away.no_answer" : `state.${this.state}`;
    setText("desk-state", t(keyed));
    $("desk-state").dataset.state = this.state;
    setText("desk-notice", this.notice ? t(this.notice) : "");
    show("desk-notice", Boolean(this.notice));
    $("desk-available").disabled = !["away", "wrap_up"].includes(this.state);
    $("desk-away").disabled = !["available", "wrap_up"].includes(this.state);
    show("desk-actions", !this.offer); // while a request rings: accept or decline, nothing else
    show("offer", Boolean(this.offer));
    this.renderOffer();
  }

  renderOffer() {
    const offer = this.offer;
    if (!offer) return;
    const lang = document.documentElement.lang;
    setText("offer-body", t("offer.body", languageName(offer.language), this.departmentName(offer.department, lang)));
    setText("offer-waited", t("offer.waited", Math.round(offer.waited_s)));
    const left = Math.max(0, (this.offerEnds - performance.now()) / 1000);
    $("offer-meter").value = left / offer.ring_timeout_s;
    setText("offer-left", t("offer.left", Math.ceil(left)));
  }
}

"use strict";
// Public wait board: /api/board every refresh_s seconds. No personal data exists in the feed; all text still
// goes in through textContent.
(function () {
  const TEXT = {
    ja: {
      title: "リモート窓口 待ち時間のご案内", sub: "Remote counter — current waiting times",
      dep: "窓口", state: "受付状況", waiting: "お待ちの方", ewt: "待ち時間の目安", slots: "本日の予約枠",
      free: (n, next) => (n > 0 ? `${n} 枠（次 ${next}）` : "本日は満了"),
      open: "受付中", closed: "受付時間外", next: (t) => `次の受付: ${t}`,
      people: (n) => `${n} 人`, none: "待ちなし",
      minutes: (m) => (m < 1 ? "すぐにご案内" : `約 ${m} 分`), unknown: "—",
      updated: (t) => `最終更新 ${t}`, stale: "最新の情報を取得できません。表示が古い可能性があります。",
      note: "待ち時間は目安です。お近くの公民館・支所のリモート窓口端末からご利用いただけます。予約は /booking から。",
    },
    en: {
      title: "Remote counter — current waiting times", sub: "リモート窓口 待ち時間のご案内",
      dep: "Counter", state: "Status", waiting: "Waiting", ewt: "Estimated wait", slots: "Bookable today",
      free: (n, next) => (n > 0 ? `${n} ${n === 1 ? "slot" : "slots"} (next ${next})` : "Fully booked today"),
      open: "Open", closed: "Closed", next: (t) => `Opens ${t}`,
      people: (n) => `${n} ${n === 1 ? "person" : "people"}`, none: "No wait",
      minutes: (m) => (m < 1 ? "Served shortly" : `about ${m} min`), unknown: "—",
      updated: (t) => `Updated ${t}`, stale: "Cannot reach the server; the figures may be out of date.",
      note: "Waits are estimates. Use the remote counter kiosks at community centres and branch offices. Book a time at /booking.",
    },
  };
  const params = new URLSearchParams(location.search);
  let lang = params.get("lang") === "en" ? "en" : "ja";
  let last = null;
  let refreshS = 15;
  let timer = null;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function time(t) {
    return new Date(t * 1000).toLocaleTimeString(lang === "ja" ? "ja-JP" : "en-GB",
      { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  function nextOpen(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return d.toLocaleString(lang === "ja" ? "ja-JP" : "en-GB",
      { month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit", hour12: false });
  }

  function render() {
    const t = TEXT[lang];
    document.documentElement.lang = lang;
    document.getElementById("title-main").textContent = t.title;
    document.getElementById("title-sub").textContent = t.sub;
    document.getElementById("h-dep").textContent = t.dep;
    document.getElementById("h-state").textContent = t.state;
    document.getElementById("h-waiting").textContent = t.waiting;
    document.getElementById("h-ewt").textContent = t.ewt;
    document.getElementById("h-slots").textContent = t.slots;
    document.getElementById("note").textContent = t.note;
    document.getElementById("stale").textContent = t.stale;
    for (const b of document.querySelectorAll("nav.lang button")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
    if (!last) return;
    document.getElementById("city").textContent = lang === "ja" ? last.city.name_ja : last.city.name_en;
    const rows = last.departments.map((d) => {
      const tr = el("tr", d.open ? "open" : "closed");
      tr.dataset.department = d.id;
      const name = el("td", "dep");
      name.appendChild(el("span", "primary", lang === "ja" ? d.name_ja : d.name_en));
      name.appendChild(el("span", "secondary", lang === "ja" ? d.name_en : d.name_ja));
      tr.appendChild(name);
      const state = el("td", "state");
      state.appendChild(el("span", "badge", d.open ? t.open : t.closed));
      if (!d.open && d.next_open) state.appendChild(el("span", "next", t.next(nextOpen(d.next_open))));
      tr.appendChild(state);
      tr.appendChild(el("td", "waiting", d.open ? (d.waiting > 0 ? t.people(d.waiting) : t.none) : t.unknown));
      const minutes = d.ewt_s === null || d.ewt_s === undefined ? null : Math.round(d.ewt_s / 60);
      tr.appendChild(el("td", "ewt", d.open && minutes !== null ? t.minutes(minutes) : t.unknown));
      const free = d.free_slots_today;  // null: this counter takes no bookings
      tr.appendChild(el("td", "slots", free === null || free === undefined ? t.unknown : t.free(free, d.next_free_slot)));
      return tr;
    });
    document.getElementById("rows").replaceChildren(...rows);
    document.getElementById("updated").textContent = t.updated(time(last.generated_at));
  }

  async function refresh() {
    try {
      const response = await fetch("/api/board", { cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      last = await response.json();
      refreshS = Math.max(1, Number(last.refresh_s) || 15);
      document.getElementById("stale").hidden = true;
      render();
      document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
    } catch (err) {
      document.getElementById("stale").hidden = false;
    }
    clearTimeout(timer);
    timer = setTimeout(refresh, refreshS * 1000);
  }

  for (const b of document.querySelectorAll("nav.lang button")) {
    b.addEventListener("click", () => {
      lang = b.dataset.lang;
      const url = new URL(location.href);
      url.searchParams.set("lang", lang);
      history.replaceState(null, "", url);
      render();
    });
  }
  render();
  refresh();
})();

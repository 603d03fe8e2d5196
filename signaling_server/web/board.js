"use strict";
// Public wait board: /api/board every refresh_s seconds, in six languages (?lang= or the buttons). The wait
// column renders the server's one estimate (wait_state / wait_minutes from routing.estimate.wait_estimate),
// the same figure the kiosk tiles and the console boards show. No personal data exists in the feed; all
// text still goes in through textContent.
(function () {
  const TEXT = {
    ja: {
      name: "日本語", htmlLang: "ja", locale: "ja-JP",
      title: "リモート窓口 待ち時間のご案内", sub: "Remote counter — current waiting times",
      dep: "窓口", state: "受付状況", waiting: "お待ちの方", ewt: "待ち時間の目安", slots: "本日の予約枠",
      free: (n, next) => (n > 0 ? `${n} 枠（次 ${next}）` : "本日は満了"),
      open: "受付中", closed: "受付時間外", next: (t) => `次の受付: ${t}`,
      people: (n) => `${n} 人`,
      no_wait: "すぐにご案内", wait: (m) => `約\u00a0${m}\u00a0分`,
      busy: (m) => `担当者が対応中・約\u00a0${m}\u00a0分`, no_officer: "ただいま担当者がいません", unknown: "—",
      updated: (t) => `最終更新 ${t}`, stale: "最新の情報を取得できません。表示が古い可能性があります。",
      note: "待ち時間は目安です。お近くの公民館・支所のリモート窓口端末からご利用いただけます。予約は /booking から。",
    },
    "ja-easy": {
      name: "やさしい にほんご", htmlLang: "ja", locale: "ja-JP",
      title: "リモート まどぐち　まつ じかん", sub: "Remote counter — current waiting times",
      dep: "まどぐち", state: "いま できる？", waiting: "まっている ひと", ewt: "まつ じかん", slots: "きょうの よやく",
      free: (n, next) => (n > 0 ? `${n}つ あいています（つぎ ${next}）` : "きょうは いっぱいです"),
      open: "いま できます", closed: "いまは やすみです", next: (t) => `つぎに できる とき: ${t}`,
      people: (n) => `${n}にん`,
      no_wait: "すぐ つながります", wait: (m) => `${m}ぷん\u00a0くらい`,
      busy: (m) => `かかりの ひとが いそがしいです・${m}ぷん\u00a0くらい`, no_officer: "かかりの ひとが いまは いません",
      unknown: "—",
      updated: (t) => `${t} の じょうほう`, stale: "あたらしい じょうほうが とれません。ふるい かもしれません。",
      note: "まつ じかんは だいたいです。こうみんかんの リモート まどぐちの きかいで つかえます。よやくは /booking から。",
    },
    en: {
      name: "English", htmlLang: "en", locale: "en-GB",
      title: "Remote counter — current waiting times", sub: "リモート窓口 待ち時間のご案内",
      dep: "Counter", state: "Status", waiting: "Waiting", ewt: "Estimated wait", slots: "Bookable today",
      free: (n, next) => (n > 0 ? `${n} ${n === 1 ? "slot" : "slots"} (next ${next})` : "Fully booked today"),
      open: "Open", closed: "Closed", next: (t) => `Opens ${t}`,
      people: (n) => `${n} ${n === 1 ? "person" : "people"}`,
      no_wait: "Served now", wait: (m) => `about\u00a0${m}\u00a0min`,
      busy: (m) => `Staff busy · about\u00a0${m}\u00a0min`, no_officer: "No staff available right now", unknown: "—",
      updated: (t) => `Updated ${t}`, stale: "Cannot reach the server; the figures may be out of date.",
      note: "Waits are estimates. Use the remote counter kiosks at community centres and branch offices. Book a time at /booking.",
    },
    zh: {
      name: "中文", htmlLang: "zh", locale: "zh-CN",
      title: "远程窗口 等候时间", sub: "リモート窓口 待ち時間のご案内",
      dep: "窗口", state: "受理状态", waiting: "等候人数", ewt: "预计等候", slots: "今日可预约",
      free: (n, next) => (n > 0 ? `${n} 个（下一个 ${next}）` : "今日已约满"),
      open: "受理中", closed: "非受理时间", next: (t) => `下次受理：${t}`,
      people: (n) => `${n} 人`,
      no_wait: "立即接待", wait: (m) => `约\u00a0${m}\u00a0分钟`,
      busy: (m) => `工作人员正在接待・约\u00a0${m}\u00a0分钟`, no_officer: "目前没有工作人员", unknown: "—",
      updated: (t) => `更新于 ${t}`, stale: "无法获取最新信息，显示内容可能已过时。",
      note: "等候时间仅供参考。可在附近公民馆、支所的远程窗口终端办理。预约请访问 /booking。",
    },
    ko: {
      name: "한국어", htmlLang: "ko", locale: "ko-KR",
      title: "원격 창구 대기 시간 안내", sub: "リモート窓口 待ち時間のご案内",
      dep: "창구", state: "접수 상태", waiting: "대기 인원", ewt: "예상 대기 시간", slots: "오늘 예약 가능",
      free: (n, next) => (n > 0 ? `${n}개 (다음 ${next})` : "오늘은 마감"),
      open: "접수 중", closed: "접수 시간 외", next: (t) => `다음 접수: ${t}`,
      people: (n) => `${n}명`,
      no_wait: "바로 연결", wait: (m) => `약\u00a0${m}분`,
      busy: (m) => `담당자 응대 중 · 약\u00a0${m}분`, no_officer: "지금은 담당자가 없습니다", unknown: "—",
      updated: (t) => `${t} 업데이트`, stale: "최신 정보를 가져올 수 없습니다. 표시가 오래되었을 수 있습니다.",
      note: "대기 시간은 예상치입니다. 가까운 공민관·지소의 원격 창구 단말기에서 이용할 수 있습니다. 예약은 /booking.",
    },
    vi: {
      name: "Tiếng Việt", htmlLang: "vi", locale: "vi-VN",
      title: "Quầy từ xa — thời gian chờ", sub: "リモート窓口 待ち時間のご案内",
      dep: "Quầy", state: "Trạng thái", waiting: "Đang chờ", ewt: "Thời gian chờ dự kiến", slots: "Lịch hẹn hôm nay",
      free: (n, next) => (n > 0 ? `${n} chỗ (tiếp theo ${next})` : "Hôm nay đã kín"),
      open: "Đang mở", closed: "Ngoài giờ", next: (t) => `Mở lại: ${t}`,
      people: (n) => `${n} người`,
      no_wait: "Được phục vụ ngay", wait: (m) => `khoảng\u00a0${m}\u00a0phút`,
      busy: (m) => `Nhân viên đang bận · khoảng\u00a0${m}\u00a0phút`, no_officer: "Hiện chưa có nhân viên", unknown: "—",
      updated: (t) => `Cập nhật ${t}`, stale: "Không kết nối được máy chủ; số liệu có thể đã cũ.",
      note: "Thời gian chờ chỉ là ước tính. Hãy dùng máy quầy từ xa tại nhà văn hoá hoặc chi nhánh gần bạn. Đặt lịch tại /booking.",
    },
  };
  const JAPANESE_NAMES = new Set(["ja", "ja-easy"]);  // which languages show the Japanese name first
  const params = new URLSearchParams(location.search);
  let lang = Object.hasOwn(TEXT, params.get("lang")) ? params.get("lang") : "ja";
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
    return new Date(t * 1000).toLocaleTimeString(TEXT[lang].locale,
      { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  function nextOpen(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return d.toLocaleString(TEXT[lang].locale,
      { month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit", hour12: false });
  }

  // The server's one estimate, as words: never a figure of the page's own.
  function waitText(t, d) {
    switch (d.wait_state) {
      case "no_wait": return t.no_wait;
      case "wait": return t.wait(d.wait_minutes);
      case "nobody_waiting_officers_busy": return t.busy(d.wait_minutes);
      case "no_officer": return t.no_officer;
      default: return t.unknown;  // closed, or a server without the estimate
    }
  }

  // The name in the board's language (the server's `names`, else Japanese or English) and, below it, the
  // Japanese name (or the English one on a Japanese board).
  function names(d) {
    const own = (d.names && d.names[lang]) || (JAPANESE_NAMES.has(lang) ? d.name_ja : d.name_en);
    return [own, JAPANESE_NAMES.has(lang) ? d.name_en : d.name_ja];
  }

  // やさしい日本語 carries readings as {漢字|かんじ}: drawn as ruby above the kanji, never as markup.
  function rich(node, text) {
    const pattern = /\{([^{}|]+)\|([^{}]+)\}/g;
    let at = 0;
    for (const m of text.matchAll(pattern)) {
      if (m.index > at) node.appendChild(document.createTextNode(text.slice(at, m.index)));
      const ruby = el("ruby", "", m[1]);
      ruby.appendChild(el("rt", "", m[2]));
      node.appendChild(ruby);
      at = m.index + m[0].length;
    }
    if (at < text.length) node.appendChild(document.createTextNode(text.slice(at)));
    return node;
  }

  function cell(cls, label, text) {
    const td = el("td", cls, text);
    td.dataset.label = label;  // shown before the value when the table is laid out as cards (phones)
    return td;
  }

  function row(t, d) {
    const tr = el("tr", d.open ? "open" : "closed");
    tr.dataset.department = d.id;
    tr.dataset.waitState = d.wait_state || "";
    const [primary, secondary] = names(d);
    const name = el("td", "dep");
    name.appendChild(rich(el("span", "primary"), primary));
    name.appendChild(el("span", "secondary", secondary));
    tr.appendChild(name);
    const state = cell("state", t.state);
    state.appendChild(el("span", "badge", d.open ? t.open : t.closed));
    if (!d.open && d.next_open) state.appendChild(el("span", "next", t.next(nextOpen(d.next_open))));
    tr.appendChild(state);
    tr.appendChild(cell("waiting", t.waiting, d.open ? t.people(d.waiting) : t.unknown));
    tr.appendChild(cell("ewt", t.ewt, waitText(t, d)));
    const free = d.free_slots_today;  // null: this counter takes no bookings
    const slots = free === null || free === undefined ? t.unknown : t.free(free, d.next_free_slot);
    tr.appendChild(cell("slots", t.slots, slots));
    return tr;
  }

  function render() {
    const t = TEXT[lang];
    document.documentElement.lang = t.htmlLang;
    document.body.dataset.lang = lang;
    document.getElementById("title-main").textContent = t.title;
    document.getElementById("title-sub").textContent = t.sub;
    document.getElementById("title-sub").lang = lang === "ja" || lang === "ja-easy" ? "en" : "ja";
    for (const key of ["dep", "state", "waiting", "ewt", "slots"]) {
      document.getElementById("h-" + key).textContent = t[key];
    }
    document.getElementById("note").textContent = t.note;
    document.getElementById("stale").textContent = t.stale;
    for (const b of document.querySelectorAll("nav.lang button")) {
      b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
    }
    if (!last) return;
    document.getElementById("city").textContent = JAPANESE_NAMES.has(lang) ? last.city.name_ja : last.city.name_en;
    document.getElementById("rows").replaceChildren(...last.departments.map((d) => row(t, d)));
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

  function languageButtons() {
    const nav = document.querySelector("nav.lang");
    for (const [code, t] of Object.entries(TEXT)) {
      const b = el("button", "", t.name);
      b.type = "button";
      b.id = "lang-" + code;
      b.dataset.lang = code;
      b.lang = t.htmlLang;
      b.addEventListener("click", () => {
        lang = code;
        const url = new URL(location.href);
        url.searchParams.set("lang", lang);
        history.replaceState(null, "", url);
        render();
      });
      nav.appendChild(b);
    }
  }

  languageButtons();
  render();
  refresh();
})();

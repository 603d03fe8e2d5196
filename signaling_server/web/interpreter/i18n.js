// Every user-facing string of the external interpreter's page, Japanese first, then English (the
// interpreter reads Japanese or English; the languages they interpret are named in both). Text goes into
// the page through textContent only.

const LANGUAGE_NAMES = {
  ja: {
    en: "英語", zh: "中国語", ko: "韓国語", vi: "ベトナム語", ne: "ネパール語", tl: "タガログ語",
    pt: "ポルトガル語", es: "スペイン語", th: "タイ語", id: "インドネシア語", my: "ミャンマー語",
    fr: "フランス語", ru: "ロシア語", jsl: "日本手話",
  },
  en: {
    en: "English", zh: "Chinese", ko: "Korean", vi: "Vietnamese", ne: "Nepali", tl: "Tagalog",
    pt: "Portuguese", es: "Spanish", th: "Thai", id: "Indonesian", my: "Burmese", fr: "French",
    ru: "Russian", jsl: "Japanese Sign Language",
  },
};

const CATALOG = {
  ja: {
    city: "盛岡市",
    product: "リモート窓口 — 通訳者",
    "checking.title": "招待を確認しています",
    "checking.body": "しばらくお待ちください。",
    "link.invalid.title": "このリンクは使用できません",
    "link.expired.title": "この招待の有効期限が切れています",
    "link.not_yet.title": "この招待はまだ使えません",
    "link.used.title": "このリンクはすでに使用されています",
    "link.revoked.title": "この招待は取り消されました",
    "link.throttled.title": "しばらくしてからお試しください",
    "link.malformed.title": "リンクを読み取れませんでした",
    "link.missing.title": "リンクが見つかりません",
    "link.missing.body": "市から届いた招待のリンクを、そのまま開いてください。",
    "link.network.title": "サーバーに接続できません",
    "link.network.body": "インターネット接続を確認して、ページを再読み込みしてください。",
    "link.hint": "新しい招待が必要なときは、市の担当者（通訳の依頼元）にご連絡ください。",
    "devices.title": "カメラとマイクの確認",
    "devices.lead": (service, languages) => `${service} として、${languages} の通訳を受け付けます。`,
    "devices.start": "カメラとマイクをオンにする",
    "devices.ok": "カメラとマイクが使えます。",
    "devices.denied": "カメラやマイクの使用が許可されていません。ブラウザーの設定で許可してください。",
    "devices.notFound": "カメラまたはマイクが見つかりません。接続を確認してください。",
    "devices.busy": "カメラやマイクをほかのアプリが使っています。閉じてからもう一度お試しください。",
    "devices.failed": "カメラやマイクを使えませんでした。ほかのアプリを閉じてもう一度お試しください。",
    "devices.join": "サインインして受付画面へ",
    "devices.noPreview": "カメラはまだオフです",
    "devices.mic": "マイクの音量（話すと動きます）",
    "desk.title": "通訳の受付",
    "desk.who": (service) => `${service}（外部通訳）`,
    "desk.languages": (languages) => `対応言語: ${languages}`,
    "desk.until": (until) => `招待の有効期限: ${until}`,
    "desk.available": "受付開始",
    "desk.away": "休止する",
    "state.offline": "接続していません",
    "state.available": "受付中 — 依頼を待っています",
    "state.ringing": "依頼が届いています",
    "state.in_call": "通訳中",
    "state.wrap_up": "後処理中 — まもなく受付に戻ります",
    "state.away": "休止中",
    "state.away.no_answer": "休止中 — 依頼に応答がなかったため休止にしました。再開するには「受付開始」を押してください。",
    "offer.title": "通訳の依頼",
    "offer.body": (language, department) => `${department}の窓口から、${language}の通訳の依頼です。`,
    "offer.waited": (seconds) => `待ち時間 ${seconds} 秒`,
    "offer.left": (seconds) => `あと ${seconds} 秒で次の通訳者に回ります`,
    "offer.accept": "応答する",
    "offer.decline": "辞退する",
    "withdrawn.timeout": "応答がなかったため、この依頼は次の通訳者に回されました。",
    "withdrawn.answered_elsewhere": "この依頼はほかの通訳者が応答しました。",
    "withdrawn.caller_left": "依頼元の通話が終わりました。",
    "withdrawn.declined": "依頼を辞退しました。",
    "call.title": "通訳中",
    "call.you": "あなた",
    "call.caller": "相談者",
    "call.officer": "市の職員",
    "call.guest": "ご家族",
    "call.interpreter": "通訳者",
    "call.tile": (label, name) => (name ? `${label}（${name}）` : label),
    "call.connecting": "接続しています…",
    "call.reconnecting": "接続が切れました。再接続しています…",
    "call.leave": "通訳を終えて退出する",
    "call.open_pdf": "PDF を開く",
    "call.chat": "相談者と職員へのメッセージ（名前や数字の確認に）",
    "call.send": "送信",
    "call.language": (language) => `通訳言語: ${language}`,
    "chat.officer": "職員",
    "chat.resident": "相談者",
    "chat.interpreter": "通訳者",
    "chat.guest": "ご家族",
    "chat.guest": "ご家族", // a family member's line (sender "guest", web/guest/chat.js)
    "left.notice": "通話から退出しました。記録に残りました。",
    "ended.notice": "通話が終わりました。",
    "removed.notice": "職員が通訳を終了しました。",
    "signed_out.title": "サインアウトしました",
    "signed_out.body": "この招待は取り消されたか、有効期限が切れました。このページは閉じてかまいません。",
    "unsupported.title": "このブラウザーではご利用いただけません",
    "unsupported.body": "最新の Chrome、Edge、Safari または Firefox でリンクを開いてください。",
    "feature.rtc": "ビデオ通話（WebRTC）",
    "feature.gum": "カメラ・マイク",
    "feature.crypto": "安全な接続（https）",
  },
  en: {
    city: "Morioka City",
    product: "Remote counter — interpreter",
    "checking.title": "Checking your invitation",
    "checking.body": "Please wait a moment.",
    "link.invalid.title": "This link cannot be used",
    "link.expired.title": "This invitation has expired",
    "link.not_yet.title": "This invitation cannot be used yet",
    "link.used.title": "This link has already been used",
    "link.revoked.title": "This invitation was withdrawn",
    "link.throttled.title": "Please try again later",
    "link.malformed.title": "The link could not be read",
    "link.missing.title": "No link found",
    "link.missing.body": "Open the invitation link you received from the city as it is.",
    "link.network.title": "Cannot reach the server",
    "link.network.body": "Check your internet connection and reload the page.",
    "link.hint": "For a new invitation, contact the city staff who asked for interpretation.",
    "devices.title": "Camera and microphone",
    "devices.lead": (service, languages) => `You take interpretation requests as ${service} for ${languages}.`,
    "devices.start": "Turn on camera and microphone",
    "devices.ok": "Your camera and microphone work.",
    "devices.denied": "Camera or microphone access was denied. Allow it in your browser's settings.",
    "devices.notFound": "No camera or microphone was found. Check that they are connected.",
    "devices.busy": "Another app is using the camera or microphone. Close it and try again.",
    "devices.failed": "The camera or microphone could not be used. Close other apps and try again.",
    "devices.join": "Sign in and open the desk",
    "devices.noPreview": "The camera is still off",
    "devices.mic": "Microphone level (moves when you speak)",
    "desk.title": "Interpretation desk",
    "desk.who": (service) => `${service} (external interpreter)`,
    "desk.languages": (languages) => `Languages: ${languages}`,
    "desk.until": (until) => `Invitation valid until ${until}`,
    "desk.available": "Start taking requests",
    "desk.away": "Take a break",
    "state.offline": "Not connected",
    "state.available": "Available — waiting for a request",
    "state.ringing": "A request is waiting for you",
    "state.in_call": "Interpreting",
    "state.wrap_up": "Wrap-up — back to available shortly",
    "state.away": "On a break",
    "state.away.no_answer": "On a break — a request was not answered in time. Press \"Start taking requests\" to go on.",
    "offer.title": "Interpretation request",
    "offer.body": (language, department) => `The ${department} counter asks for ${language} interpretation.`,
    "offer.waited": (seconds) => `Waiting for ${seconds} s`,
    "offer.left": (seconds) => `Passed to the next interpreter in ${seconds} s`,
    "offer.accept": "Accept",
    "offer.decline": "Decline",
    "withdrawn.timeout": "No answer in time: the request went to the next interpreter.",
    "withdrawn.answered_elsewhere": "Another interpreter took this request.",
    "withdrawn.caller_left": "The call that asked has ended.",
    "withdrawn.declined": "You declined the request.",
    "call.title": "Interpreting",
    "call.you": "You",
    "call.caller": "Resident",
    "call.officer": "City officer",
    "call.guest": "Family member",
    "call.interpreter": "Interpreter",
    "call.tile": (label, name) => (name ? `${label} (${name})` : label),
    "call.connecting": "Connecting…",
    "call.reconnecting": "The connection was lost. Reconnecting…",
    "call.leave": "Finish and leave the call",
    "call.open_pdf": "Open the PDF",
    "call.chat": "A message to the resident and the officer (to check a name or a number)",
    "call.send": "Send",
    "call.language": (language) => `Interpreting: ${language}`,
    "chat.officer": "Officer",
    "chat.resident": "Resident",
    "chat.interpreter": "Interpreter",
    "chat.guest": "Family member",
    "chat.guest": "Family member",
    "left.notice": "You left the call; your time was recorded.",
    "ended.notice": "The call has ended.",
    "removed.notice": "The officer ended the interpretation.",
    "signed_out.title": "Signed out",
    "signed_out.body": "This invitation was withdrawn or has expired. You may close this page.",
    "unsupported.title": "This browser cannot be used",
    "unsupported.body": "Open the link in a recent Chrome, Edge, Safari or Firefox.",
    "feature.rtc": "video calls (WebRTC)",
    "feature.gum": "camera and microphone",
    "feature.crypto": "a secure connection (https)",
  },
};

export const LANGUAGES = ["ja", "en"];
let current = "ja";

export function setLanguage(lang) {
  current = LANGUAGES.includes(lang) ? lang : "ja";
  document.documentElement.lang = current;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const button of document.querySelectorAll(".lang-btn")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === current));
  }
}

export function language() {
  return current;
}

/** The text of ``key`` in the current language (Japanese when missing); functions get ``args``. */
export function t(key, ...args) {
  const value = CATALOG[current][key] ?? CATALOG.ja[key] ?? key;
  return typeof value === "function" ? value(...args) : value;
}

/** A language code (en, ne, jsl...) named in the page's language. */
export function languageName(code) {
  return LANGUAGE_NAMES[current][code] ?? code;
}

/** The server's own message for a refused link, in the current language. */
export function serverMessage(answer) {
  return (current === "en" ? answer.message_en : answer.message_ja) || "";
}

export { CATALOG };

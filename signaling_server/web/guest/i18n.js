// Every user-facing string of the guest page (a family member joining a call), Japanese first, then
// English and やさしい日本語. Text goes into the page through textContent only.

const CATALOG = {
  ja: {
    city: "盛岡市",
    product: "リモート窓口 — ご家族の参加",
    "checking.title": "リンクを確認しています",
    "checking.body": "しばらくお待ちください。",
    "link.invalid.title": "このリンクは使用できません",
    "link.expired.title": "このリンクの有効期限が切れています",
    "link.used.title": "このリンクはすでに使用されています",
    "link.ended.title": "この通話は終わっています",
    "link.full.title": "通話の参加者がいっぱいです",
    "link.throttled.title": "しばらくしてからお試しください",
    "link.missing.title": "リンクが見つかりません",
    "link.missing.body": "窓口の職員から届いたリンクを、そのまま開いてください。",
    "link.network.title": "サーバーに接続できません",
    "link.network.body": "インターネット接続を確認して、ページを再読み込みしてください。",
    "link.hint": "窓口にいるご本人を通じて、職員に伝えてもらうこともできます。",
    "devices.title": "カメラとマイクの確認",
    "devices.lead": (dept) => `${dept}の窓口との通話に、ご家族として参加します。`,
    "devices.start": "カメラとマイクをオンにする",
    "devices.ok": "カメラとマイクが使えます。",
    "devices.denied": "カメラやマイクの使用が許可されていません。ブラウザーの設定で許可してください。",
    "devices.failed": "カメラやマイクを使えませんでした。ほかのアプリを閉じてもう一度お試しください。",
    "devices.join": "通話に参加する",
    "devices.noPreview": "カメラはまだオフです",
    "devices.mic": "マイクの音量（話すと動きます）",
    "call.title": "通話中",
    "call.you": "あなた",
    "call.caller": "ご本人",
    "call.tile": (label, name) => (name ? `${label}（${name}）` : label),
    "call.officer": "市の職員",
    "call.interpreter": "通訳者",
    "call.connecting": "接続しています…",
    "call.reconnecting": "接続が切れました。再接続しています…",
    "call.leave": "退出する",
    "call.chat": "チャット",
    "call.open_pdf": "PDF を開く",
    "chat.officer": "職員",
    "chat.resident": "ご本人",
    "chat.interpreter": "通訳者",
    "chat.you": "あなた",
    "call.chat_label": "チャットで伝える（通話の皆さんに届きます）",
    "call.chat_placeholder": "ここにメッセージを入力",
    "call.send": "送信",
    "call.chat_not_sent": "まだ接続中のため送れませんでした。少し待ってからもう一度「送信」を押してください。",
    "left.title": "通話から退出しました",
    "left.body": "ご協力ありがとうございました。このページは閉じてかまいません。",
    "ended.title": "通話が終わりました",
    "ended.body": "窓口での手続きの通話が終了しました。このページは閉じてかまいません。",
    "full.title": "通話の参加者がいっぱいです",
    "full.body": "この通話は参加者がいっぱいです（4 人まで、ご家族は 1 人まで）。しばらくしてから「もう一度試す」を押してください。",
    "full.retry": "もう一度試す",
    "unsupported.title": "このブラウザーではご利用いただけません",
    "unsupported.body": "最新の Chrome、Edge、Safari または Firefox でリンクを開いてください。",
  },
  en: {
    city: "Morioka City",
    product: "Remote counter — family member",
    "checking.title": "Checking your link",
    "checking.body": "Please wait a moment.",
    "link.invalid.title": "This link cannot be used",
    "link.expired.title": "This link has expired",
    "link.used.title": "This link has already been used",
    "link.ended.title": "This call has ended",
    "link.full.title": "The call is full",
    "link.throttled.title": "Please try again later",
    "link.missing.title": "No link found",
    "link.missing.body": "Open the link you received from the city officer as it is.",
    "link.network.title": "Cannot reach the server",
    "link.network.body": "Check your internet connection and reload the page.",
    "link.hint": "You can also ask your family member at the counter to tell the officer.",
    "devices.title": "Camera and microphone",
    "devices.lead": (dept) => `You are joining a call with the ${dept} counter as a family member.`,
    "devices.start": "Turn on camera and microphone",
    "devices.ok": "Your camera and microphone work.",
    "devices.denied": "Camera or microphone access was denied. Allow it in your browser's settings.",
    "devices.failed": "The camera or microphone could not be used. Close other apps and try again.",
    "devices.join": "Join the call",
    "devices.noPreview": "The camera is still off",
    "devices.mic": "Microphone level (moves when you speak)",
    "call.title": "In the call",
    "call.you": "You",
    "call.caller": "Your family member",
    "call.tile": (label, name) => (name ? `${label} (${name})` : label),
    "call.officer": "City officer",
    "call.interpreter": "Interpreter",
    "call.connecting": "Connecting…",
    "call.reconnecting": "Connection lost. Reconnecting…",
    "call.leave": "Leave",
    "call.chat": "Chat",
    "call.open_pdf": "Open the PDF",
    "chat.officer": "Officer",
    "chat.resident": "Your family member",
    "chat.interpreter": "Interpreter",
    "chat.you": "You",
    "call.chat_label": "Write a message (everyone in the call sees it)",
    "call.chat_placeholder": "Type a message",
    "call.send": "Send",
    "call.chat_not_sent": "Not sent: still connecting. Wait a moment and press Send again.",
    "left.title": "You have left the call",
    "left.body": "Thank you for your help. You may close this page.",
    "ended.title": "The call has ended",
    "ended.body": "The call at the counter has ended. You may close this page.",
    "full.title": "The call is full",
    "full.body": "This call is full (4 parties at most, one family member). Press “Try again” a little later.",
    "full.retry": "Try again",
    "unsupported.title": "This browser cannot be used",
    "unsupported.body": "Open the link in a current Chrome, Edge, Safari or Firefox.",
  },
  "ja-easy": {
    city: "もりおかし",
    product: "リモートまどぐち — かぞくの さんか",
    "checking.title": "リンクを しらべて います",
    "checking.body": "すこし まって ください。",
    "link.invalid.title": "この リンクは つかえません",
    "link.expired.title": "この リンクは じかんが すぎました",
    "link.used.title": "この リンクは もう つかわれました",
    "link.ended.title": "この でんわは おわりました",
    "link.full.title": "でんわに はいれる ひとは いっぱいです",
    "link.throttled.title": "すこし まってから ためして ください",
    "link.missing.title": "リンクが ありません",
    "link.missing.body": "まどぐちの ひとから きた リンクを そのまま ひらいて ください。",
    "link.network.title": "サーバーに つながりません",
    "link.network.body": "インターネットを しらべて、ページを もう いちど ひらいて ください。",
    "link.hint": "まどぐちに いる かぞくから、しやくしょの ひとに いって もらう ことも できます。",
    "devices.title": "カメラと マイクの かくにん",
    "devices.lead": (dept) => `${dept}の まどぐちとの でんわに、かぞくとして はいります。`,
    "devices.start": "カメラと マイクを つける",
    "devices.ok": "カメラと マイクが つかえます。",
    "devices.denied": "カメラや マイクを つかう ことが できません。ブラウザーの せっていで ゆるして ください。",
    "devices.failed": "カメラや マイクが つかえませんでした。ほかの アプリを とじて ください。",
    "devices.join": "でんわに はいる",
    "devices.noPreview": "カメラは まだ ついて いません",
    "devices.mic": "マイクの おと（はなすと うごきます）",
    "call.title": "でんわ ちゅう",
    "call.you": "あなた",
    "call.caller": "ごほんにん",
    "call.tile": (label, name) => (name ? `${label}（${name}）` : label),
    "call.officer": "しやくしょの ひと",
    "call.interpreter": "つうやくの ひと",
    "call.connecting": "つないで います…",
    "call.reconnecting": "きれました。もう いちど つないで います…",
    "call.leave": "でる",
    "call.chat": "チャット",
    "call.open_pdf": "PDFを ひらく",
    "chat.officer": "しやくしょの ひと",
    "chat.resident": "ごほんにん",
    "chat.interpreter": "つうやくの ひと",
    "chat.you": "あなた",
    "call.chat_label": "もじで つたえる（でんわの みんなに とどきます）",
    "call.chat_placeholder": "ここに かいて ください",
    "call.send": "おくる",
    "call.chat_not_sent": "まだ つながって いないので おくれませんでした。すこし まってから もう いちど「おくる」を おして ください。",
    "left.title": "でんわから でました",
    "left.body": "ありがとう ございました。この ページは とじて ください。",
    "ended.title": "でんわが おわりました",
    "ended.body": "まどぐちの でんわが おわりました。この ページは とじて ください。",
    "full.title": "でんわに はいれる ひとは いっぱいです",
    "full.body": "でんわに はいれる ひとは いっぱいです（4にんまで、かぞくは 1にん）。すこし まってから「もう いちど ためす」を おして ください。",
    "full.retry": "もう いちど ためす",
    "unsupported.title": "この ブラウザーは つかえません",
    "unsupported.body": "あたらしい Chrome、Edge、Safari、Firefox で ひらいて ください。",
  },
};

export const LANGUAGES = ["ja", "ja-easy", "en"];
let current = "ja";

export function setLanguage(lang) {
  current = LANGUAGES.includes(lang) ? lang : "ja";
  document.documentElement.lang = current === "ja-easy" ? "ja" : current;
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

/** The server's own message for a refused link, in the current language. */
export function serverMessage(answer) {
  if (current === "en") return answer.message_en || "";
  if (current === "ja-easy") return answer.message_ja_easy || answer.message_ja || "";
  return answer.message_ja || "";
}

export { CATALOG };

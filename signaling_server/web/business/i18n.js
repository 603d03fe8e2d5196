// Every user-facing string of the business client, Japanese first. Values are strings or functions of
// the values they show. Text always goes into the page through textContent (never innerHTML).

const CATALOG = {
  ja: {
    city: "盛岡市",
    product: "リモート窓口（事業者向け）",
    contact: "ご不明な点は、ご案内のメールに記載の担当課へお問い合わせください。",
    "checking.title": "リンクを確認しています",
    "checking.body": "しばらくお待ちください。",
    "code.title": "確認コードを入力してください",
    "code.body": "ご案内のメールアドレスに 6 桁の確認コードをお送りしました。",
    "code.label": "確認コード（6 桁の数字）",
    "code.submit": "確認する",
    "code.format": "6 桁の数字を入力してください。",
    "link.invalid.title": "このリンクは使用できません",
    "link.invalid.body": "リンクが正しくないか、存在しません。メールのリンクをもう一度開いてください。",
    "link.expired.title": "このリンクの有効期限が切れています",
    "link.expired.body": "ご予約の時間帯が終了しました。担当課に新しいご案内をご依頼ください。",
    "link.not_yet.title": "まだご利用いただけません",
    "link.not_yet.body": "このリンクはご予約の時間帯になると使用できます。",
    "link.not_yet.hint": (t) => `ご利用開始: ${t}`,
    "link.used.title": "このリンクはすでに使用されています",
    "link.used.body": "リンクは一度だけ使用できます。別のブラウザーで開いた場合は、そちらをご利用ください。",
    "link.revoked.title": "このご案内は取り消されました",
    "link.revoked.body": "担当課がこのご案内を取り消しました。担当課にお問い合わせください。",
    "link.code_wrong.title": "確認コードが違います",
    "link.code_wrong.body": "メールに記載の 6 桁のコードをもう一度入力してください。",
    "link.throttled.title": "しばらくしてからお試しください",
    "link.throttled.body": "試行回数が多すぎます。",
    "link.throttled.hint": (s) => `約 ${Math.max(1, Math.ceil(s / 60))} 分後にもう一度お試しください。`,
    "link.missing.title": "リンクが見つかりません",
    "link.missing.body": "ご案内のメールに記載のリンクから開いてください。",
    "link.network.title": "サーバーに接続できません",
    "link.network.body": "インターネット接続を確認して、ページを再読み込みしてください。",
    "unsupported.title": "このブラウザーではご利用いただけません",
    "unsupported.body": "次の機能がありません:",
    "unsupported.hint": "最新の Chrome、Edge、Safari または Firefox でリンクを開いてください。",
    "feature.modules": "JavaScript モジュール",
    "feature.rtc": "ビデオ通話 (RTCPeerConnection)",
    "feature.gum": "カメラ・マイク (getUserMedia)",
    "feature.display": "画面共有 (getDisplayMedia)",
    "feature.crypto": "暗号機能 (crypto.subtle)。https で開いてください",
    "devices.title": "カメラ・マイク・スピーカーの確認",
    "devices.intro": "「確認を始める」を押すと、ブラウザーがカメラとマイクの使用許可を求めます。「許可」を選んでください。",
    "devices.start": "確認を始める",
    "devices.again": "もう一度確認する",
    "devices.camera": "カメラ",
    "devices.microphone": "マイク",
    "devices.speaker": "スピーカー",
    "devices.tone": "テスト音を鳴らす",
    "devices.tonePlaying": "再生中…",
    "devices.noPreview": "カメラの映像はここに表示されます",
    "devices.ok": "使用できます",
    "devices.speak": "話してみてください",
    "devices.heard": "音声を確認しました",
    "devices.missing": "ありません",
    "devices.join": "窓口に並ぶ",
    "devices.joinWithout": "カメラ・マイクなしで並ぶ（チャットのみ）",
    "devices.denied": "カメラまたはマイクの使用が許可されていません。アドレスバーの鍵のアイコンからカメラとマイクを「許可」にして、もう一度「確認を始める」を押してください。",
    "devices.notFound": "カメラまたはマイクが見つかりません。接続を確認してください。",
    "devices.busy": "カメラまたはマイクを他のアプリが使用中です。他のアプリを閉じてからもう一度お試しください。",
    "devices.failed": "カメラ・マイクを開始できませんでした。",
    "waiting.title": "窓口の順番をお待ちください",
    "waiting.joining": "受付中です…",
    "waiting.position": (n) => (n <= 1 ? "あなたは 1 番目です" : `${n} 番目（前に ${n - 1} 件）`),
    "waiting.estimate": (m) => (m < 1 ? "まもなくご案内します" : `待ち時間の目安: 約 ${m} 分`),
    "waiting.noEstimate": "待ち時間の目安: 算出中",
    "waiting.officer": (name) => `担当: ${name} が応答しました。接続しています…`,
    "waiting.note": "担当者が応答するまで、このページを開いたままお待ちください。担当者が対応中の場合はそのまま順番を保ちます。",
    "waiting.cancel": "受付を取り消す",
    "waiting.retry": "もう一度並ぶ",
    "waiting.requeued": "担当者との接続が切れました。順番の先頭でお待ちいただいています。",
    "waiting.transferred": (d) => `${d} にお引き継ぎします。そのままお待ちください。`,
    "refused.closed": "担当課は現在受付時間外です。",
    "refused.closed.next": (t) => `次の受付開始: ${t}`,
    "refused.last_join_passed": "本日の受付は終了しました。",
    "refused.queue_full": "ただいま大変混み合っています。少し時間をおいて、もう一度お並びください。",
    "refused.unknown_department": "担当課が見つかりません。担当課にお問い合わせください。",
    "refused.not_remote": "この担当課はリモート窓口を行っていません。",
    "call.title": "通話",
    "call.mute": "マイクを切る",
    "call.unmute": "マイクを入れる",
    "call.cameraOff": "カメラを切る",
    "call.cameraOn": "カメラを入れる",
    "call.share": "画面を共有",
    "call.stopShare": "共有を停止",
    "call.sharing": "画面を共有しています",
    "call.shareFailed": "画面共有を開始できませんでした。",
    "call.upload": "書類を送る",
    "call.end": "通話を終える",
    "call.endConfirm": "通話を終了しますか？",
    "call.officer": (name) => `担当: ${name}`,
    "call.connecting": "映像を接続しています…",
    "writing.open": "文字で話す（筆談）",
    "writing.close": "筆談を閉じる",
    "writing.title": "文字で話す（筆談）",
    "writing.officerLive": "担当者が書いている文字",
    "writing.officerIdle": "担当者が文字を入力すると、ここに表示されます。",
    "writing.pad": "手書きの欄（担当者の字は青）",
    "writing.clear": "手書きを消す",
    "writing.inputLabel": "あなたの文字（入力中の文字も担当者に見えます）",
    "writing.placeholder": "ここに入力してください",
    "writing.send": "送る",
    "writing.full": "手書きの欄がいっぱいです。「手書きを消す」を押してください。",
    "chat.title": "チャット",
    "chat.label": "メッセージ",
    "chat.placeholder": "メッセージを入力",
    "chat.send": "送信",
    "chat.me": "あなた",
    "chat.officer": "担当者",
    "docs.shownTitle": "担当者からの書類",
    "docs.download": (name) => `${name} を開く（PDF）`,
    "docs.damaged": "担当者からの書類を正しく受け取れませんでした。",
    "upload.sending": (name) => `送信中: ${name}`,
    "upload.hashing": "確認用の値を計算しています…",
    "upload.waiting": "担当者の確認を待っています…",
    "upload.ok": "担当者が書類を受け取りました（内容を確認済み）。",
    "upload.failed": (d) => `書類を送れませんでした。${d}`,
    "upload.noVerdict": "担当者の受け取り確認が届きませんでした。もう一度お送りください。",
    "upload.reason.too_large": "ファイルが大きすぎます（上限 40 MB）。",
    "upload.reason.wrong_type": "ファイルの中身が PDF・PNG・JPEG ではありません。",
    "upload.reason.unreadable": "ファイルを開けませんでした。壊れていないか確認してください。",
    "upload.reason.damaged": "送信中にデータが壊れました。もう一度お送りください。",
    "upload.type": "PDF、PNG、JPEG のファイルだけ送れます。このファイルは中身がそのどれでもありません。",
    "upload.typeMismatch": (kind) => `ファイル名の拡張子と中身が一致しません（中身は ${kind}）。正しい形式で保存し直してください。`,
    "upload.tooLarge": "ファイルが大きすぎます（上限 40 MB）。",
    "upload.empty": "ファイルが空です。",
    "upload.busy": "前の書類を送信中です。完了してからお送りください。",
    "upload.noChannel": "通話がつながってから送ってください。",
    "reconnecting.signal": "接続が切れました。再接続しています…",
    "reconnecting.media": "映像が途切れました。再接続しています…",
    "thanks.title": "ご利用ありがとうございました",
    "rating.question": "本日の対応はいかがでしたか",
    "rating.good": "よかった",
    "rating.ok": "ふつう",
    "rating.bad": "よくなかった",
    "rating.thanks": "ご回答ありがとうございました",
    "thanks.body": "通話は終了しました。手続きの結果は担当課からご連絡します。",
    "thanks.cancelled.title": "受付を取り消しました",
    "thanks.cancelled.body": "またのご利用をお待ちしています。",
    "thanks.dropped.title": "通話が終了しました",
    "thanks.dropped.body": "接続が切れたため通話が終了しました。お手数ですが担当課にご連絡ください。",
    "thanks.close": "このウィンドウは閉じていただいて構いません。",
    "sessionError.title": "このセッションは終了しています",
    "sessionError.expired": "ご利用時間が終了したか、別の画面でサインインされました。",
    "sessionError.other": (d) => `通話を続けられません（${d}）。`,
  },
  en: {
    city: "Morioka City",
    product: "Remote counter for businesses",
    contact: "If you have questions, contact the division named in your invitation e-mail.",
    "checking.title": "Checking your link",
    "checking.body": "One moment, please.",
    "code.title": "Enter your confirmation code",
    "code.body": "We sent a 6-digit confirmation code to the e-mail address of your invitation.",
    "code.label": "Confirmation code (6 digits)",
    "code.submit": "Confirm",
    "code.format": "Please enter the 6 digits.",
    "link.invalid.title": "This link cannot be used",
    "link.invalid.body": "The link is wrong or does not exist. Please open the link in your e-mail again.",
    "link.expired.title": "This link has expired",
    "link.expired.body": "Your booked time is over. Please ask the division for a new invitation.",
    "link.not_yet.title": "Not open yet",
    "link.not_yet.body": "This link works from the start of your booked time.",
    "link.not_yet.hint": (t) => `Opens at ${t}`,
    "link.used.title": "This link has already been used",
    "link.used.body": "A link works once. If you opened it in another browser, please continue there.",
    "link.revoked.title": "This invitation was withdrawn",
    "link.revoked.body": "The division withdrew this invitation. Please contact the division.",
    "link.code_wrong.title": "The code is not correct",
    "link.code_wrong.body": "Please enter the 6-digit code from the e-mail again.",
    "link.throttled.title": "Please try again later",
    "link.throttled.body": "Too many attempts.",
    "link.throttled.hint": (s) => `Try again in about ${Math.max(1, Math.ceil(s / 60))} min.`,
    "link.missing.title": "No link found",
    "link.missing.body": "Please open the page from the link in your invitation e-mail.",
    "link.network.title": "Cannot reach the server",
    "link.network.body": "Check your internet connection and reload the page.",
    "unsupported.title": "This browser cannot be used",
    "unsupported.body": "It lacks:",
    "unsupported.hint": "Please open the link in a current Chrome, Edge, Safari or Firefox.",
    "feature.modules": "JavaScript modules",
    "feature.rtc": "video calls (RTCPeerConnection)",
    "feature.gum": "camera and microphone (getUserMedia)",
    "feature.display": "screen sharing (getDisplayMedia)",
    "feature.crypto": "cryptography (crypto.subtle): open the page over https",
    "devices.title": "Check your camera, microphone and speaker",
    "devices.intro": "Press “Start the check”: your browser asks to use the camera and microphone. Please choose “Allow”.",
    "devices.start": "Start the check",
    "devices.again": "Check again",
    "devices.camera": "Camera",
    "devices.microphone": "Microphone",
    "devices.speaker": "Speaker",
    "devices.tone": "Play a test tone",
    "devices.tonePlaying": "Playing…",
    "devices.noPreview": "Your camera picture appears here",
    "devices.ok": "Ready",
    "devices.speak": "Please say something",
    "devices.heard": "We can hear you",
    "devices.missing": "Not available",
    "devices.join": "Join the queue",
    "devices.joinWithout": "Join without camera and microphone (chat only)",
    "devices.denied": "The browser is not allowed to use the camera or microphone. Allow both with the lock icon in the address bar, then press “Start the check” again.",
    "devices.notFound": "No camera or microphone was found. Please check that they are connected.",
    "devices.busy": "Another application is using the camera or microphone. Close it and try again.",
    "devices.failed": "The camera and microphone could not be started.",
    "waiting.title": "Please wait for your turn",
    "waiting.joining": "Joining the queue…",
    "waiting.position": (n) => (n <= 1 ? "You are first in line" : `Number ${n} in line (${n - 1} ahead of you)`),
    "waiting.estimate": (m) => (m < 1 ? "You will be served shortly" : `Estimated wait: about ${m} min`),
    "waiting.noEstimate": "Estimated wait: being calculated",
    "waiting.officer": (name) => `${name} has answered. Connecting…`,
    "waiting.note": "Please keep this page open until an officer answers. If officers are busy you keep your place.",
    "waiting.cancel": "Leave the queue",
    "waiting.retry": "Join again",
    "waiting.requeued": "The connection to the officer was lost. You are at the head of the queue.",
    "waiting.transferred": (d) => `You are being handed over to ${d}. Please wait.`,
    "refused.closed": "The division is closed now.",
    "refused.closed.next": (t) => `Opens at ${t}`,
    "refused.last_join_passed": "The counter takes no more calls today.",
    "refused.queue_full": "The queue is full. Please try again in a little while.",
    "refused.unknown_department": "The division was not found. Please contact the division.",
    "refused.not_remote": "This division does not offer the remote counter.",
    "call.title": "Call",
    "call.mute": "Mute",
    "call.unmute": "Unmute",
    "call.cameraOff": "Camera off",
    "call.cameraOn": "Camera on",
    "call.share": "Share screen",
    "call.stopShare": "Stop sharing",
    "call.sharing": "You are sharing your screen",
    "call.shareFailed": "Screen sharing could not start.",
    "call.upload": "Send a document",
    "call.end": "End call",
    "call.endConfirm": "End the call?",
    "call.officer": (name) => `Officer: ${name}`,
    "call.connecting": "Connecting video…",
    "writing.open": "Talk in writing",
    "writing.close": "Close writing",
    "writing.title": "Talk in writing",
    "writing.officerLive": "What the officer is writing",
    "writing.officerIdle": "The officer's text appears here as it is typed.",
    "writing.pad": "Handwriting pad (the officer's strokes in blue)",
    "writing.clear": "Clear the pad",
    "writing.inputLabel": "Your text (the officer sees it as you type)",
    "writing.placeholder": "Type here",
    "writing.send": "Send",
    "writing.full": "The pad is full. Press \"Clear the pad\".",
    "chat.title": "Chat",
    "chat.label": "Message",
    "chat.placeholder": "Type a message",
    "chat.send": "Send",
    "chat.me": "You",
    "chat.officer": "Officer",
    "docs.shownTitle": "Documents from the officer",
    "docs.download": (name) => `Open ${name} (PDF)`,
    "docs.damaged": "A document from the officer did not arrive intact.",
    "upload.sending": (name) => `Sending: ${name}`,
    "upload.hashing": "Computing the check value…",
    "upload.waiting": "Waiting for the officer's confirmation…",
    "upload.ok": "The officer received the document (content verified).",
    "upload.failed": (d) => `The document was not delivered. ${d}`,
    "upload.noVerdict": "The officer's confirmation did not arrive. Please send the document again.",
    "upload.reason.too_large": "The file is too large (at most 40 MB).",
    "upload.reason.wrong_type": "The file's content is not PDF, PNG or JPEG.",
    "upload.reason.unreadable": "The file could not be opened. Please check that it is not damaged.",
    "upload.reason.damaged": "The data was damaged on the way. Please send it again.",
    "upload.type": "Only PDF, PNG and JPEG files can be sent. This file's content is none of them.",
    "upload.typeMismatch": (kind) => `The file name does not match its content (which is ${kind}). Please save it again in the right format.`,
    "upload.tooLarge": "The file is too large (at most 40 MB).",
    "upload.empty": "The file is empty.",
    "upload.busy": "A document is still being sent. Please wait until it is done.",
    "upload.noChannel": "Please wait until the call is connected.",
    "reconnecting.signal": "Connection lost. Reconnecting…",
    "reconnecting.media": "The video was interrupted. Reconnecting…",
    "thanks.title": "Thank you",
    "thanks.body": "The call has ended. The division will contact you about the result.",
    "thanks.cancelled.title": "You left the queue",
    "thanks.cancelled.body": "We look forward to serving you another time.",
    "thanks.dropped.title": "The call has ended",
    "thanks.dropped.body": "The call ended because the connection was lost. Please contact the division.",
    "thanks.close": "You may close this window.",
    "rating.question": "How was today's service?",
    "rating.good": "Good",
    "rating.ok": "OK",
    "rating.bad": "Not good",
    "rating.thanks": "Thank you for your answer",
    "sessionError.title": "This session has ended",
    "sessionError.expired": "Your time is over, or you signed in on another screen.",
    "sessionError.other": (d) => `The call cannot go on (${d}).`,
  },
};

export const LANGUAGES = Object.keys(CATALOG);
const STORE_KEY = "madoguchi.lang";
let current = "ja";
const listeners = [];

function stored() {
  try {
    return sessionStorage.getItem(STORE_KEY);
  } catch {
    return null; // storage may be disabled; Japanese then
  }
}

export function initLanguage() {
  const wanted = new URLSearchParams(location.search).get("lang") || stored();
  current = LANGUAGES.includes(wanted) ? wanted : "ja";
  document.documentElement.lang = current;
  return current;
}

export function language() {
  return current;
}

export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) return;
  current = lang;
  document.documentElement.lang = lang;
  try {
    sessionStorage.setItem(STORE_KEY, lang);
  } catch {
    /* not kept across reloads then */
  }
  translatePage();
  for (const listener of listeners) listener(lang);
}

export function onLanguageChange(listener) {
  listeners.push(listener);
}

/** The text for `key` in the current language; a function entry is called with `args`. */
export function t(key, ...args) {
  const entry = CATALOG[current][key] ?? CATALOG.ja[key];
  if (entry === undefined) return key; // a missing key shows itself, so tests catch it
  return typeof entry === "function" ? entry(...args) : entry;
}

export function hasKey(key) {
  return key in CATALOG.ja;
}

/** Fill every static [data-i18n] element (and [data-i18n-placeholder], [data-i18n-aria-label]) from the
 * catalog. */
export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of root.querySelectorAll("[data-i18n-aria-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  }
  for (const button of root.querySelectorAll(".lang-btn")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === current));
  }
}

/** A time (ISO 8601 string) in the reader's language, in the city's time zone. */
export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(current === "ja" ? "ja-JP" : "en-GB", {
    timeZone: "Asia/Tokyo",
    month: "numeric",
    day: "numeric",
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
}

export function catalogKeys(lang) {
  return Object.keys(CATALOG[lang]);
}

"""What the server itself writes to a resident about a booking (the reminder e-mail, the calendar file), in
the languages of the booking page: ja, ja-easy (やさしい日本語) and en. The page and the kiosk have their
own catalogs for everything on screen."""

from __future__ import annotations

LANGUAGES = ("ja", "ja-easy", "en")

CATALOG: dict[str, dict[str, str]] = {
    "ja": {
        "summary": "{city} {department} リモート窓口のご予約",
        "location": "お近くの公民館・支所のリモート窓口端末",
        "description": (
            "予約番号（PIN）はお手元の控えをご覧ください。端末の「予約のある方」から受付してください。"
        ),
        "reminder_subject": "【{city}】明日のリモート窓口のご予約",
        "reminder_body": (
            "{name} 様\n\n明日 {when} に {department} のリモート窓口をご予約いただいています。\n"
            "お近くの公民館・支所のリモート窓口端末で「予約のある方」を押し、予約番号（PIN）を入力してください。\n"
            "予約時刻の{grace}分後までに受付がない場合、ご予約は取り消しとなります。\n\n"
            "キャンセル・変更: {url}\nお問い合わせ: {city} {phone}\n"
        ),
        "changed_subject": "【{city}】ご予約の時間に窓口をご案内できなくなりました",
        "changed_body": (
            "{name} 様\n\n{day} {when} の {department} のご予約について、窓口の予定が変わったため、"
            "この時間にはご案内できなくなりました。申し訳ありません。\n"
            "予約番号（PIN）で別の日時に変更するか、キャンセルしてください: {url}\n"
            "お電話でも承ります: {city} {phone}\n"
        ),
    },
    "ja-easy": {
        "summary": "{city} {department} の よやく",
        "location": "ちかくの 公民館（こうみんかん）・支所（ししょ）の リモート窓口",
        "description": (
            "よやく ばんごう（PIN）は メモを 見て ください。"
            "がめんの「よやく が ある ひと」を おして ください。"
        ),
        "reminder_subject": "【{city}】あしたの よやく",
        "reminder_body": (
            "{name} さま\n\nあした {when} に {department} の よやく が あります。\n"
            "ちかくの 公民館（こうみんかん）・支所（ししょ）の がめんで「よやく が ある ひと」を おして、"
            "よやく ばんごう（PIN）を いれて ください。\n"
            "よやく の 時間から {grace}ふん すぎても こない ときは、よやく は なくなります。\n\n"
            "やめる・かえる: {url}\nきく ところ: {city} {phone}\n"
        ),
        "changed_subject": "【{city}】よやく の 時間（じかん）が だめに なりました",
        "changed_body": (
            "{name} さま\n\n{day} {when} の {department} の よやく は、まどぐち の よてい が かわった ので、"
            "この 時間（じかん）に できなく なりました。ごめんなさい。\n"
            "よやく ばんごう（PIN）で ほかの ひ・時間（じかん）に かえて ください: {url}\n"
            "でんわ でも できます: {city} {phone}\n"
        ),
    },
    "en": {
        "summary": "Remote counter appointment: {department}, {city}",
        "location": "A remote counter kiosk at a community centre or branch office",
        "description": "Your PIN is on your confirmation. At the kiosk choose 'I have an appointment'.",
        "reminder_subject": "[{city}] Your remote counter appointment tomorrow",
        "reminder_body": (
            "Dear {name},\n\nYou have a remote counter appointment with the {department} tomorrow"
            " at {when}.\nAt a kiosk in a community centre or branch office, choose 'I have an appointment'"
            " and enter your PIN.\n"
            "If you have not checked in {grace} minutes after the time, the appointment lapses.\n\n"
            "Cancel or change: {url}\nQuestions: {city} {phone}\n"
        ),
        "changed_subject": "[{city}] Your remote counter appointment can no longer take place",
        "changed_body": (
            "Dear {name},\n\nThe counter's schedule has changed and your appointment with the {department}"
            " on {day} at {when} can no longer take place. We are sorry.\n"
            "Please choose another time with your PIN, or cancel: {url}\n"
            "You can also call us: {city} {phone}\n"
        ),
    },
}


def text(language: str, key: str, **values: object) -> str:
    catalog = CATALOG.get(language, CATALOG["ja"])
    return catalog[key].format(**values)

"""Mail to a business: the invitation link and the second-factor code, in Japanese and English.

Sent with the standard library's ``smtplib`` in a worker thread (no new dependency; smtplib blocks), each
message on its own connection: invitations are a few a day per officer. ``smtp.timeout_s`` bounds every
socket operation, so a dead mail server costs the officer's request at most a few times that. A failure
never raises: ``send`` returns a reason the console shows next to the link, which the officer can pass
on by hand. The reason names the failure, never the password.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from config.schema import CityConfig, SmtpConfig
from signaling_server.business.invitations import Invitation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


class MailerError(ValueError):
    """The mail configuration cannot be used (an unreadable password file)."""


def read_password_file(path: Path) -> str:
    """The SMTP password from its own file, refused when anyone but its owner may read or write it (the
    same rule as the secrets file, config/loader.py)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise MailerError(f"smtp.password_file: cannot read {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise MailerError(
            f"smtp.password_file {path} is readable or writable by others (mode {mode & 0o777:04o}); "
            f"chmod 600 {path}"
        )
    return text


class Mailer:
    def __init__(self, smtp: SmtpConfig) -> None:
        self._smtp = smtp
        self._password = smtp.password
        if smtp.host and smtp.password_file:
            self._password = read_password_file(Path(smtp.password_file))

    @property
    def enabled(self) -> bool:
        return bool(self._smtp.host)

    async def send(self, mail: Mail) -> str | None:
        """Send ``mail``; None when the server accepted it, else why not (for the console and the log)."""
        if not self.enabled:
            return "no mail server is configured (smtp.host)"
        try:
            await asyncio.to_thread(self._send_blocking, mail)
        except (smtplib.SMTPException, OSError, UnicodeError) as exc:
            reason = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("mail to a business could not be sent: %s", reason)
            return reason
        return None

    def _send_blocking(self, mail: Mail) -> None:
        smtp = self._smtp
        message = EmailMessage()
        message["From"] = smtp.from_address
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=smtp.from_address.rpartition("@")[2])
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to us
        message.set_content(mail.body, charset="utf-8")
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, self._password)
            client.send_message(message)


def _when(invitation: Invitation) -> str:
    return f"{invitation.valid_from_iso} – {invitation.valid_until_iso}"


def invitation_mail(invitation: Invitation, link: str, city: CityConfig, department: tuple[str, str]) -> Mail:
    """The link, what it is for, when it works; Japanese first, then English."""
    name_ja, name_en = department
    second = (
        "リンクを開くと、確認コード（6桁）をこのアドレスに別途お送りします。\n"
        if invitation.second_factor
        else ""
    )
    second_en = (
        "When you open the link, a 6-digit code is sent to this address in a separate e-mail.\n"
        if invitation.second_factor
        else ""
    )
    body = (
        f"{invitation.company}\n{invitation.contact_name} 様\n\n"
        f"{city.name_ja} {name_ja} のリモート窓口へのご案内です。\n"
        f"ご用件: {invitation.purpose or '-'}\n"
        f"有効期間: {_when(invitation)}\n\n"
        f"次のリンクをパソコンまたはタブレットのブラウザ（Chrome、Edge、Safari）で開いてください。\n"
        f"ソフトウェアのインストールは不要です。リンクは一度だけ使えます。他の方に転送しないでください。\n\n"
        f"{link}\n\n{second}"
        f"お問い合わせ: {city.name_ja} {city.phone}\n\n"
        "----------------------------------------------------------------\n\n"
        f"Dear {invitation.contact_name} ({invitation.company}),\n\n"
        f"You are invited to a remote counter session with the {name_en}, {city.name_en}.\n"
        f"Purpose: {invitation.purpose or '-'}\n"
        f"Valid: {_when(invitation)}\n\n"
        "Open the link below in a browser (Chrome, Edge or Safari) on a computer or tablet; nothing needs\n"
        "to be installed. The link works once; please do not forward it.\n\n"
        f"{link}\n\n{second_en}"
        f"Questions: {city.name_en} {city.phone}\n"
    )
    subject = f"【{city.name_ja}】リモート窓口のご案内 / Remote counter invitation ({name_en})"
    return Mail(to=invitation.email, subject=subject, body=body)


def code_mail(invitation: Invitation, code: str, city: CityConfig, ttl_s: float) -> Mail:
    minutes = max(1, round(ttl_s / 60))
    body = (
        f"{invitation.contact_name} 様\n\n"
        f"リモート窓口の確認コード: {code}\n"
        f"{minutes}分間有効です。お心当たりのない場合は、このメールを破棄してください。\n\n"
        "----------------------------------------------------------------\n\n"
        f"Your remote counter verification code: {code}\n"
        f"It is valid for {minutes} minutes. If you did not open the invitation link, ignore this e-mail.\n\n"
        f"{city.name_ja} / {city.name_en} {city.phone}\n"
    )
    subject = f"【{city.name_ja}】確認コード / Verification code"
    return Mail(to=invitation.email, subject=subject, body=body)

"""The SMTP password may live in a file of its own, which only its owner may read (like the secrets file)."""

from __future__ import annotations

import pytest

from config.schema import SmtpConfig
from signaling_server.business.mailer import Mailer, MailerError


def test_a_password_file_readable_by_others_is_refused_by_name_and_a_private_one_is_read(tmp_path):
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret-mail-password\n")
    secret.chmod(0o644)
    smtp = SmtpConfig(host="127.0.0.1", port=25, username="madoguchi", password_file=str(secret))
    with pytest.raises(MailerError, match=r"readable or writable by others \(mode 0644\); chmod 600"):
        Mailer(smtp)
    secret.chmod(0o600)
    assert Mailer(smtp)._password == "s3cret-mail-password"
    with pytest.raises(MailerError, match="cannot read"):
        Mailer(smtp.model_copy(update={"password_file": str(tmp_path / "missing")}))

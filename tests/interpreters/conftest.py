"""The guest tests' real SMTP server on 127.0.0.1 (aiosmtpd), for the interpreter invitation's mail."""

from tests.guests.conftest import smtp

__all__ = ["smtp"]

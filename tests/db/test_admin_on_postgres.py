"""``madoguchi-admin`` against a PostgreSQL database: accounts, kiosk tokens and the audit check work as
on the SQLite file, and an unreachable database is one clear line naming it (never its password)."""

from __future__ import annotations

import contextlib
import io

import pytest

from signaling_server.admin import main
from signaling_server.db import DatabaseError, open_database
from signaling_server.store import Store


def admin(url: str, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["--database", url, *args])
    return status, out.getvalue()


def test_accounts_and_kiosk_tokens_by_the_admin_tool(postgres_url: str, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert admin(postgres_url, "add-officer", "hanako", "--name", "盛岡 花子", "--skill", "kosodate",
                 "--password-stdin")[0] == 0  # fmt: skip
    status, issued = admin(postgres_url, "issue-kiosk-token", "kiosk-ueda")
    assert status == 0 and issued.strip()
    status, listed = admin(postgres_url, "list-officers")
    assert status == 0 and "hanako" in listed and "盛岡 花子" in listed
    assert admin(postgres_url, "disable", "hanako")[0] == 0
    assert admin(postgres_url, "revoke-kiosk", "kiosk-ueda")[0] == 0
    store = Store(postgres_url)
    assert store.officer("hanako").disabled and store.kiosk_token_hash("kiosk-ueda") is None
    store.close()
    status, verified = admin(postgres_url, "audit", "verify")
    assert status == 0 and "chain intact" in verified


def test_an_unreachable_database_is_named_without_its_password(tmp_path) -> None:
    url = f"postgresql://madoguchi:s3cret@/nowhere?host={tmp_path}"  # no server listens there
    with pytest.raises(DatabaseError) as refused:
        open_database(url)
    message = str(refused.value)
    assert "s3cret" not in message and "cannot connect" in message and "/nowhere" in message


def test_the_server_does_not_start_on_an_unreachable_database(tmp_path, capsys) -> None:
    from signaling_server.cli import main as server_main

    url = f"postgresql://madoguchi:s3cret@/nowhere?host={tmp_path}"
    assert server_main(["--database", url, "--port", "0"]) == 2
    said = capsys.readouterr().err
    assert (
        said.startswith("madoguchi-server: server.database postgresql://madoguchi@") and "s3cret" not in said
    )

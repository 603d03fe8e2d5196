"""Helpers for the external interpreter tests over a real server: a supervisor's session, the invitation,
the browser's redeem and the interpreter's sign-in with the session it gave."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from remote_call import protocol as p
from signaling_server.auth import hash_password, new_token, token_hash
from signaling_server.testing import WireClient

PASSWORD = "correct horse battery"
SERVICE = "みちのく通訳センター"


def supervisor_token(server: Any, username: str = "sachiko") -> str:
    """A supervisor account and a live session of it (the token a console would hold)."""
    if server.store.officer(username) is None:
        server.store.add_officer(
            username, "監督 幸子", "supervisor", hash_password(PASSWORD), {"shimin-toroku": "primary"}
        )
    token = new_token()
    server.store.add_session(token_hash(token), username, time.time() + 3600)
    return token


async def request(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, json=body, headers=headers) as answer,
    ):
        return answer.status, await answer.json()


async def invite(server: Any, token: str, **fields: Any) -> dict[str, Any]:
    body = {"service": SERVICE, "languages": ["ne", "jsl"], **fields}
    status, answer = await request("POST", f"{server.http_url}/api/interpreter-invitations", body, token)
    assert status == 201, answer
    assert "/i/#" in answer["link"]
    return answer


def secret_of(answer: dict[str, Any]) -> str:
    return str(answer["link"]).split("#", 1)[1]


async def redeem(server: Any, secret: str) -> tuple[int, Any]:
    return await request("POST", f"{server.http_url}/api/interpreters/redeem", {"secret": secret})


async def revoke(server: Any, token: str, invitation_id: str) -> tuple[int, Any]:
    url = f"{server.http_url}/api/interpreter-invitations/{invitation_id}"
    return await request("DELETE", url, None, token)


async def signed_in(server: Any, session_token: str) -> WireClient:
    """The external interpreter's websocket, signed in with its session (its welcome read)."""
    hello = p.Hello(
        v=p.PROTOCOL_VERSION, role=p.Role.INTERPRETER, credentials=p.SessionCredentials(token=session_token)
    )
    client = await WireClient.connect(server.url, hello)
    await client.expect(p.Welcome)
    return client

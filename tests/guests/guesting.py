"""Helpers for the guest tests over a real server: the officer's link, the guest's redeem and sign-in."""

from __future__ import annotations

from typing import Any

import aiohttp

from remote_call import protocol as p
from signaling_server.auth import hash_password
from signaling_server.testing import WireClient, call_in_progress

PASSWORD = "correct horse battery"


def session_of(client: WireClient) -> str:
    welcome = next(m for m in client.seen if isinstance(m, p.Welcome))
    assert welcome.session_token
    return welcome.session_token


async def call(server: Any, officer: str = "hanako") -> tuple[WireClient, WireClient, str]:
    return await call_in_progress(
        server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"], officer, PASSWORD
    )


async def post(url: str, body: Any, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as response:
        return response.status, await response.json()


async def make_link(server: Any, officer: WireClient, call_id: str, **body: Any) -> dict[str, Any]:
    status, answer = await post(
        f"{server.http_url}/api/calls/{call_id}/guest-links", body, session_of(officer)
    )
    assert status == 201, answer
    return answer


def secret_of(answer: dict[str, Any]) -> str:
    link = answer["link"]
    assert "/g/#" in link
    return link.split("#", 1)[1]


async def redeem(server: Any, secret: str) -> tuple[int, Any]:
    return await post(f"{server.http_url}/api/guests/redeem", {"secret": secret})


async def guest(server: Any, token: str) -> WireClient:
    """A guest's websocket, signed in (its welcome read)."""
    client = await WireClient.connect(
        server.url,
        p.Hello(v=p.PROTOCOL_VERSION, role=p.Role.GUEST, credentials=p.SessionCredentials(token=token)),
    )
    await client.expect(p.Welcome)
    return client


async def joined_guest(server: Any, officer: WireClient, call_id: str) -> WireClient:
    status, answer = await redeem(server, secret_of(await make_link(server, officer, call_id)))
    assert status == 200, answer
    return await guest(server, answer["session_token"])


def add_interpreter(server: Any, username: str, language: str) -> None:
    server.store.add_officer(
        username, username, "interpreter", hash_password(PASSWORD), {language: "primary"}
    )


async def interpreter_in(
    server: Any, officer: WireClient, call_id: str, username: str = "maria"
) -> WireClient:
    """An interpreter signed in, requested by the officer and joined to the call."""
    add_interpreter(server, username, "tl")
    client = await WireClient.connect(
        server.url,
        p.Hello(
            v=p.PROTOCOL_VERSION,
            role=p.Role.INTERPRETER,
            credentials=p.PasswordCredentials(username=username, password=PASSWORD),
        ),
    )
    await client.expect(p.OfficerState, state="available")
    await officer.send(p.RequestInterpreter(call_id=call_id, language="tl"))
    await client.expect(p.InterpretationOffer)
    await client.send(p.AcceptInterpretation(call_id=call_id))
    await client.expect(p.CallConnecting, peer="officer")
    return client


async def close_all(*clients: WireClient) -> None:
    for client in clients:
        await client.close()

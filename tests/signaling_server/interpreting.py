"""Helpers for the interpreter tests over a real server: accounts, sign-in, and a call with an interpreter."""

from __future__ import annotations

from typing import Any

from remote_call import protocol as p
from signaling_server.auth import hash_password
from signaling_server.testing import WireClient, call_in_progress

PASSWORD = "correct horse battery"


def add_interpreter(server: Any, username: str, languages: dict[str, str], name: str = "") -> None:
    server.store.add_officer(username, name or username, "interpreter", hash_password(PASSWORD), languages)


async def interpreter(server: Any, username: str) -> WireClient:
    client = await WireClient.connect(
        server.url,
        p.Hello(
            v=p.PROTOCOL_VERSION,
            role=p.Role.INTERPRETER,
            credentials=p.PasswordCredentials(username=username, password=PASSWORD),
        ),
    )
    await client.expect(p.Welcome)
    await client.expect(p.OfficerState, state="available")
    return client


async def call(server: Any, officer: str = "hanako") -> tuple[WireClient, WireClient, str]:
    return await call_in_progress(
        server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"], officer, PASSWORD
    )


async def joined(
    server: Any, language: str = "tl", username: str = "maria"
) -> tuple[WireClient, WireClient, WireClient, str]:
    """A kiosk, an officer and an interpreter in one call: (kiosk, officer, interpreter, call id)."""
    add_interpreter(server, username, {language: "primary"}, name="Maria Santos")
    i = await interpreter(server, username)
    k, o, call_id = await call(server)
    await o.send(p.RequestInterpreter(call_id=call_id, language=language))
    offer = await i.expect(p.InterpretationOffer)
    assert (offer.call_id, offer.language) == (call_id, language)
    await i.send(p.AcceptInterpretation(call_id=call_id))
    await i.expect(p.CallConnecting, peer="caller")
    await i.expect(p.CallConnecting, peer="officer")
    await k.expect(p.CallConnecting, peer="interpreter")
    await o.expect(p.CallConnecting, peer="interpreter")
    return k, o, i, call_id


async def close_all(*clients: WireClient) -> None:
    for client in clients:
        await client.close()

"""Revocation across processes on PostgreSQL: ``madoguchi-admin`` in its own process (another node's
view of the same database) revokes a kiosk token and disables an account; the server's live connections
end within one check period, as on SQLite (the credential_changes counter of migration 2)."""

from __future__ import annotations

from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.testing import WireClient, test_config
from tests.security.test_revocation import PASSWORD, admin, ended


async def test_a_revoked_kiosk_and_a_disabled_officer_are_signed_out(postgres_url: str) -> None:
    config = test_config()
    async with EmbeddedServer(config, postgres_url) as server:
        fleet = provision(server.store, config, kiosk_ids=["kiosk-ueda", "kiosk-tonan"], officers=["hanako"],
                          password=PASSWORD)  # fmt: skip
        ueda = await WireClient.kiosk(server.url, "kiosk-ueda", fleet.kiosk_tokens["kiosk-ueda"])
        tonan = await WireClient.kiosk(server.url, "kiosk-tonan", fleet.kiosk_tokens["kiosk-tonan"])
        hanako = await WireClient.officer(server.url, "hanako", PASSWORD)
        await admin(postgres_url, "revoke-kiosk", "kiosk-ueda")
        assert "revoked or replaced" in (await ended(ueda)).detail
        await admin(postgres_url, "disable", "hanako")
        assert "disabled" in (await ended(hanako)).detail
        assert "kiosk-tonan" in server.switchboard.kiosks and not tonan.ws.closed
        for client in (ueda, tonan, hanako):
            await client.close()

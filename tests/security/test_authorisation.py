"""Who may read what (issue 14, item 1), against a real server: a saved case document only for the officer
who handled the call and supervisors of the call's department; supervisors see the queues, officers and
statistics of their own departments only, on REST and in the websocket's pushes."""

from __future__ import annotations

import hashlib
import os
import urllib.parse

import aiohttp

from config.schema import DocumentsConfig
from remote_call import protocol as p
from signaling_server.auth import hash_password
from signaling_server.case_documents import new_key
from signaling_server.testing import WireClient, call_in_progress, test_config

PASSWORD = "correct horse battery"
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
NAME = "住民票 盛岡太郎"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def staff_session(server, username: str, role: p.Role) -> str:
    client = await WireClient.connect(
        server.url,
        p.Hello(v=1, role=role, credentials=p.PasswordCredentials(username=username, password=PASSWORD)),
    )
    welcome = await client.expect(p.Welcome)
    await client.close()
    return welcome.session_token


async def it_dashboard_session(server, http: aiohttp.ClientSession, username: str) -> str:
    """The IT dashboard's cookie, as an IT administrator who signed in at /it/login holds it."""
    form = {"username": username, "password": PASSWORD}
    async with http.post(f"{server.http_url}/it/login", data=form, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/it/"
        return resp.cookies["madoguchi_it"].value


async def test_case_documents_only_for_the_calls_officer_and_its_departments_supervisors(make_server):
    config = test_config().model_copy(
        update={"documents": DocumentsConfig(keys={"k1": new_key()}, current_key="k1")}
    )
    async with make_server(config) as server:
        add = server.store.add_officer
        add("it-sato", "佐藤", "it_admin", hash_password(PASSWORD), {"kosodate": "primary"})
        add("boss-kosodate", "係長", "supervisor", hash_password(PASSWORD), {"kosodate": "primary"})
        add("boss-kenko", "係長", "supervisor", hash_password(PASSWORD), {"kenko-hoken": "primary"})
        tokens = server.fleet.kiosk_tokens
        kiosk, officer, call_id = await call_in_progress(
            server.url, "kiosk-ueda", tokens["kiosk-ueda"], "hanako", PASSWORD
        )
        url = f"{server.http_url}/api/cases/{call_id}/documents"
        headers = {
            "Content-Type": "image/png",
            "X-Content-SHA256": hashlib.sha256(PNG).hexdigest(),
            "X-Document-Name": urllib.parse.quote(NAME),
        }
        async with aiohttp.ClientSession() as http:
            hanako = bearer(officer.seen[0].session_token)
            async with http.put(f"{url}/scan1", data=PNG, headers={**headers, **hanako}) as resp:
                assert resp.status == 201
            admin = await it_dashboard_session(server, http, "it-sato")
            for path in (url, f"{url}/scan1"):
                async with http.get(path, headers=bearer(admin)) as resp:
                    assert resp.status == 403, path
                    assert "IT administrators never" in await resp.text()
            elsewhere = await staff_session(server, "boss-kenko", p.Role.SUPERVISOR)
            async with http.get(f"{url}/scan1", headers=bearer(elsewhere)) as resp:
                assert (resp.status, await resp.text()) == (403, "not your case")
            own = await staff_session(server, "boss-kosodate", p.Role.SUPERVISOR)
            async with http.get(f"{url}/scan1", headers=bearer(own)) as resp:
                assert resp.status == 200 and await resp.read() == PNG
            async with http.get(url, headers=bearer(own)) as resp:
                assert [d["name"] for d in await resp.json()] == [NAME]
            async with http.get(f"{url}/scan1", headers=hanako) as resp:
                assert resp.status == 200
        # The name a resident typed is personal data: encrypted at rest, never in the audit log.
        (stored,) = server.store.conn.execute("SELECT name FROM case_documents").fetchone()
        assert stored.startswith("enc1:") and NAME not in stored
        assert not [e for e in server.switchboard.audit.entries() if NAME in str(e.details)]
        opened = [e.actor for e in server.switchboard.audit.entries(action="document_opened")]
        assert opened == ["boss-kosodate", "hanako"]  # the refused reads opened nothing
        for client in (kiosk, officer):
            await client.close()


async def test_supervisors_see_the_statistics_of_their_own_departments_only(server):
    server.store.add_officer(
        "boss-kenko", "係長", "supervisor", hash_password(PASSWORD), {"kenko-hoken": "primary"}
    )
    server.store.add_officer("kodomo", "子供", "officer", hash_password(PASSWORD), {"kosodate": "primary"})
    kodomo = await WireClient.officer(server.url, "kodomo", PASSWORD)  # serves kosodate only
    kenji = await WireClient.officer(server.url, "kenji", PASSWORD)  # serves kenko-hoken only
    boss = await WireClient.connect(
        server.url,
        p.Hello(
            v=1,
            role=p.Role.SUPERVISOR,
            credentials=p.PasswordCredentials(username="boss-kenko", password=PASSWORD),
        ),
    )
    welcome = await boss.expect(p.Welcome)
    pushed = (await boss.expect(p.SupervisorStats)).stats
    assert set(pushed["departments"]) == {"kenko-hoken"}
    assert set(pushed["officers"]) == {"kenji"} and pushed["officers"]["kenji"]["departments"] == {
        "kenko-hoken": "primary"
    }
    stats_url, headers = f"{server.http_url}/api/stats", bearer(welcome.session_token)
    async with aiohttp.ClientSession() as http, http.get(stats_url, headers=headers) as resp:
        body = await resp.json()
    assert resp.status == 200
    assert set(body["departments"]) == {"kenko-hoken"} and set(body["officers"]) == {"kenji"}
    assert all(set(day["departments"]) <= {"kenko-hoken"} for day in body["history"].values())
    for client in (kodomo, kenji, boss):
        await client.close()

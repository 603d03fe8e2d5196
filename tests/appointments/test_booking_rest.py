"""The booking API over HTTP: the public page's calls without sign-in (book, look up, .ics, cancel, abuse
limits, same origin) and the staff API behind a session (the officer's day, 電話予約, supervisors' slots
and statistics), every route declared in access.py."""

from __future__ import annotations

import time

import aiohttp

from signaling_server.access import declared_routes
from signaling_server.auth import hash_password, new_token, token_hash


def staff_token(server, username: str) -> str:
    token = new_token()
    server.store.add_session(token_hash(token), username, time.time() + 3600)
    return token


async def first_slot(http: aiohttp.ClientSession, base: str, department: str = "kosodate") -> dict:
    async with http.get(f"{base}/api/booking/days", params={"department": department}) as r:
        days = (await r.json())["days"]
    async with http.get(f"{base}/api/booking/slots", params={"department": department, "date": days[1]}) as r:
        return (await r.json())["slots"][0]


BOOKING = {"department": "kosodate", "name": "盛岡 花子", "contact": "019-000-0000", "language": "ja"}


async def test_a_resident_books_looks_up_downloads_and_cancels_without_signing_in(server):
    base = server.http_url
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/booking/departments") as r:
            deps = (await r.json())["departments"]
        assert [d["id"] for d in deps] == ["kosodate", "shimin-toroku", "okuyami"]
        assert any(p["id"] == "ninshin-todoke" for p in deps[0]["procedures"])
        slot = await first_slot(http, base)
        body = BOOKING | {
            "slot_start": slot["start"],
            "procedure": "ninshin-todoke",
            "email": "hanako@example.jp",
        }
        async with http.post(f"{base}/api/booking", json=body) as r:
            assert r.status == 201
            booked = await r.json()
        assert len(booked["pin"]) == 6 and booked["qr"].startswith("data:image/svg+xml;base64,")
        async with http.post(f"{base}/api/booking", json=BOOKING | {"slot_start": slot["start"]}) as r:
            assert (r.status, (await r.json())["error"]) == (409, "slot_full")
        async with http.post(f"{base}/api/booking/lookup", json={"pin": booked["pin"]}) as r:
            found = await r.json()
        assert found["booking_id"] == booked["booking_id"] and "contact" not in found
        async with http.post(f"{base}/api/booking/ics", json={"pin": booked["pin"]}) as r:
            assert r.headers["Content-Type"].startswith("text/calendar")
            ics = await r.text()
        assert "BEGIN:VEVENT" in ics and f"UID:{booked['booking_id']}@" in ics and booked["pin"] not in ics
        async with http.post(f"{base}/api/booking/cancel", json={"pin": booked["pin"]}) as r:
            assert (await r.json())["state"] == "cancelled"
        async with http.post(f"{base}/api/booking/cancel", json={"pin": booked["pin"]}) as r:
            assert (r.status, (await r.json())["error"]) == (404, "pin_unknown")


async def test_the_public_api_refuses_other_origins_floods_bad_input_and_guessed_pins(server):
    base = server.http_url
    async with aiohttp.ClientSession() as http:
        slot = await first_slot(http, base)
        evil = {"Origin": "https://evil.example"}
        async with http.post(
            f"{base}/api/booking", json=BOOKING | {"slot_start": slot["start"]}, headers=evil
        ) as r:
            assert r.status == 403
        async with http.post(f"{base}/api/booking", data=b"[1, 2]") as r:
            assert (r.status, (await r.json())["error"]) == (400, "bad_input")
        async with http.post(f"{base}/api/booking", data=b"x" * 9000) as r:
            assert (await r.json())["error"] == "bad_input"
        async with http.get(f"{base}/api/booking/days", params={"department": "kosodate"}) as r:
            next_day = (await r.json())["days"][1]  # a whole day of slots: today's may be nearly over
        async with http.get(
            f"{base}/api/booking/slots", params={"department": "kosodate", "date": next_day}
        ) as r:
            starts = [s["start"] for s in (await r.json())["slots"]]
        assert len(starts) >= 5
        for start in starts[:5]:
            async with http.post(f"{base}/api/booking", json=BOOKING | {"slot_start": start}) as r:
                assert r.status == 201, await r.text()
        async with http.post(f"{base}/api/booking", json=BOOKING | {"slot_start": slot["start"]}) as r:
            assert (r.status, (await r.json())["error"]) == (429, "flood")
        for _ in range(5):
            async with http.post(f"{base}/api/booking/lookup", json={"pin": "000001"}) as r:
                assert r.status in (404, 429)
        async with http.post(f"{base}/api/booking/lookup", json={"pin": "000001"}) as r:
            assert r.status == 429 and int(r.headers["Retry-After"]) >= 1


async def test_staff_book_by_phone_see_their_day_and_supervisors_block_slots(server):
    base = server.http_url
    server.store.add_officer(
        "kacho", "課長", "supervisor", hash_password("pw for the kacho"), {"kosodate": "primary"}
    )
    officer = {"Authorization": f"Bearer {staff_token(server, 'hanako')}"}
    kenji = {"Authorization": f"Bearer {staff_token(server, 'kenji')}"}  # serves kenko-hoken only
    supervisor = {"Authorization": f"Bearer {staff_token(server, 'kacho')}"}
    async with aiohttp.ClientSession() as http:
        slot = await first_slot(http, base)
        day = time.strftime("%Y-%m-%d", time.localtime(slot["start"]))
        phone = BOOKING | {"slot_start": slot["start"], "officer": "hanako", "notes": "児童手当の転入"}
        async with http.post(f"{base}/api/appointments", json=phone) as r:
            assert r.status == 401
        async with http.post(f"{base}/api/appointments", json=phone, headers=kenji) as r:
            assert r.status == 403
        async with http.post(f"{base}/api/appointments", json=phone, headers=officer) as r:
            assert r.status == 201
            booked = await r.json()
        async with http.get(f"{base}/api/appointments/me", params={"date": day}, headers=officer) as r:
            mine = (await r.json())["bookings"]
        assert [(b["booking_id"], b["notes"], b["channel"]) for b in mine] == [
            (booked["booking_id"], "児童手当の転入", "phone")
        ]
        query = {"department": "kosodate", "date": day}
        async with http.get(f"{base}/api/appointments", params=query, headers=officer) as r:
            listing = await r.json()
        assert listing["slots"][0]["booked"] == 1 and len(listing["bookings"]) == 1
        assert listing["slots"][0]["on_shift"] is None  # no roster in this config: bookable_officers rules
        block = {"department": "kosodate", "slot_start": slot["start"], "capacity": 0}
        async with http.put(f"{base}/api/appointments/slots", json=block, headers=officer) as r:
            assert r.status == 403
        async with http.put(f"{base}/api/appointments/slots", json=block, headers=supervisor) as r:
            over = (await r.json())["over_capacity"]
        assert [b["booking_id"] for b in over] == [booked["booking_id"]]
        async with http.get(f"{base}/api/appointments/affected?department=kosodate", headers=supervisor) as r:
            affected = await r.json()
        assert [b["booking_id"] for b in affected["bookings"]] == [booked["booking_id"]]
        assert affected["notified"] == 0  # no e-mail address given (and no mail server here)
        async with http.get(f"{base}/api/appointments/stats", headers=supervisor) as r:
            stats = (await r.json())["departments"]["kosodate"]
        assert stats["booked"] == 1 and stats["no_show_rate"] is None


def test_every_appointment_route_declares_its_access(server):
    routes = {k: v for k, v in declared_routes(server.app).items() if "booking" in k or "appointments" in k}
    assert len(routes) == 16 and "undeclared" not in routes.values()
    assert routes["POST /api/booking"] == "public (same origin)"
    assert routes["PUT /api/appointments/slots"] == "bearer session: supervisor [own departments]"

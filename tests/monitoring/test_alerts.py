"""Alert rules on their own: raised once, cleared on recovery, poor call quality only when sustained."""

from __future__ import annotations

import pytest

from signaling_server.alerts import AlertManager, AlertRules, paper_condition


@pytest.fixture
def conn(engine_db):
    """The alerts table on each engine (SQLite and PostgreSQL)."""
    return engine_db


def quality(
    rules: AlertRules,
    now: float,
    *,
    loss: float | None = 0.0,
    rtt: float | None = 20.0,
    call_id: str = "c1",
    role: str = "kiosk",
    who: str = "kiosk-1",
) -> None:
    rules.on_health(
        "quality",
        who,
        {
            "role": role,
            "call_id": call_id,
            "now": now,
            "loss": loss,
            "sample": {"rtt_ms": rtt, "loss_in_pct": loss},
        },
    )


def test_poor_quality_must_be_sustained_and_recovery_too(conn):
    alerts = AlertManager(conn)
    events: list[tuple[str, str]] = []
    alerts.observers.append(lambda event, alert: events.append((event, alert.kind)))
    rules = AlertRules(alerts, clock=lambda: 0.0, loss_pct=5, rtt_ms=300, sustained_s=15)
    quality(rules, 0, loss=12)
    quality(rules, 5, loss=0)  # a blip: no alert
    quality(rules, 10, loss=8)
    quality(rules, 20, rtt=450, loss=0)
    assert events == []
    quality(rules, 25, loss=9)  # bad since 10 s: sustained for 15 s
    assert events == [("raised", "call_quality")]
    quality(rules, 30, loss=20)
    assert len(events) == 1  # raised once
    quality(rules, 35)
    quality(rules, 45)
    assert len(events) == 1  # good for only 10 s
    quality(rules, 50)
    assert events[-1] == ("cleared", "call_quality")
    alert = alerts.recent()[0]
    assert alert.details["call_id"] == "c1" and alert.cleared_at == 50 and alert.raised_at == 25


def test_a_call_ending_clears_its_quality_alert(conn):
    alerts = AlertManager(conn)
    rules = AlertRules(alerts, clock=lambda: 99.0, sustained_s=0)
    quality(rules, 1, rtt=900, role="officer", who="hanako")
    assert [a.subject for a in alerts.open_alerts()] == ["c1/officer"]
    rules.call_ended("c1")
    assert alerts.open_alerts() == [] and alerts.recent()[0].cleared_at == 99.0


def test_open_alerts_survive_a_restart_and_are_not_raised_again(conn):
    first = AlertManager(conn)
    AlertRules(first, clock=lambda: 0.0).on_health("offline", "k1", {"now": 1.0, "last_seen": 0.0})
    second = AlertManager(conn)  # the server restarted
    rules = AlertRules(second, clock=lambda: 0.0)
    raised: list[str] = []
    second.observers.append(lambda event, alert: raised.append(event))
    rules.on_health("offline", "k1", {"now": 50.0})
    assert raised == [] and len(second.recent()) == 1
    rules.on_health("online", "k1", {"now": 60.0})
    assert raised == ["cleared"]


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ("paper_out", "out"),
        ("Paper out", "out"),
        ("用紙切れ", "out"),
        ("paper_near_end", "near_end"),
        ("paper low", "near_end"),
        ("用紙残りわずか", "near_end"),
        ("cover open", None),
        ("", None),
    ],
)
def test_paper_conditions(detail: str, expected: str | None):
    assert paper_condition(detail) == expected


def test_bad_thresholds_and_severities_are_refused(conn):
    alerts = AlertManager(conn)
    with pytest.raises(ValueError, match="thresholds"):
        AlertRules(alerts, clock=lambda: 0.0, loss_pct=0)
    with pytest.raises(ValueError, match="severity"):
        alerts.raise_alert("x", "y", kiosk_id=None, severity="fatal", message_ja="", message_en="", now=0)

"""Names from the city configuration, and today's history bookkeeping."""

from __future__ import annotations

from config.loader import load_config
from staff_console.directory import Directory
from staff_console.history import CallHistory, HistoryEntry


def test_names_come_from_the_configuration():
    d = Directory(load_config())
    assert d.procedure_name("jido-teate-nintei") == "児童手当等の受給資格及び児童手当の額についての認定請求"
    assert d.procedure_name("jido-teate-nintei", "en").startswith("Child allowance: eligibility")
    assert d.procedure_name(None) is None and d.procedure_name("unknown-proc") == "unknown-proc"
    assert d.department_name("kosodate") == "子育てあんしん課"
    assert d.kiosk_location("kiosk-ueda") == "上田公民館 1階ロビー"
    assert d.wrap_up_s("kosodate") is not None and d.wrap_up_s("nope") is None
    assert d.transfer_note("kosodate: 住民票も必要") == "子育てあんしん課: 住民票も必要"
    assert d.transfer_note("no-such: text") == "no-such: text"
    assert Directory().department_name("kosodate") == "kosodate"


def test_history_reopens_a_call_taken_again_and_counts_outcomes():
    history = CallHistory()
    entry = history.open(HistoryEntry("c1", "kosodate", "上田公民館", None, "ja", started_at=100.0))
    entry.ended_at, entry.outcome = 160.0, "resolved"
    assert entry.duration_s == 60.0
    again = history.open(HistoryEntry("c1", "kosodate", "上田公民館", None, "ja", started_at=200.0))
    assert again is entry and again.ended_at is None and len(history.entries) == 1
    history.open(HistoryEntry("c2", "shimin-toroku", "都南総合支所", None, "en", started_at=300.0))
    assert history.outcomes() == {"resolved": 1, "none": 1}

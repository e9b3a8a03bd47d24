"""Settings history: every session.update vs the server's answer (no sockets, then one live)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from realtime_widget.log import Recorder
from realtime_widget.log.recording import Recording
from realtime_widget.log.settings_table import (
    SETTINGS_COLUMNS,
    settings_diff_text,
    settings_frame,
    settings_rows,
)
from realtime_widget.protocol.config import (
    default_session,
    diff_config,
    format_diff,
    merge_session,
    settings_to_session,
)
from tests.fixtures.streams import load, replay


class Stream:
    """Feed real event dicts through a Recorder as a session would, at given times."""

    def __init__(self, model: str = "gpt-realtime") -> None:
        self.rec = Recorder()
        self.session = default_session(model, id="sess_1")
        self.t = 10.0
        self.n = 0
        self.server("session.created", session=self.session)

    def _tick(self) -> float:
        self.t += 0.05
        return self.t

    def server(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.n += 1
        event = {"type": type_, "event_id": f"event_{self.n:03d}", **fields}
        self.rec.receive(json.dumps(event), self._tick())
        return event

    def update(self, event_id: str | None = None, **settings: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": "session.update",
            "session": settings_to_session(**settings),
        }
        if event_id is not None:
            event["event_id"] = event_id
        self.rec.send(event, self._tick())
        return event

    def applied(self, session: dict[str, Any]) -> dict[str, Any]:
        """The server applies ``session`` (merged like a GA server does)."""
        self.session = merge_session(self.session, session)
        self.server("session.updated", session=self.session)
        return self.session

    def refuse(self, event_id: str | None, param: str, code: str = "invalid_value") -> str:
        message = f"Invalid value for '{param}'."
        error = {"type": "invalid_request_error", "code": code, "message": message, "param": param}
        if event_id is not None:
            error["event_id"] = event_id
        self.server("error", error=error)
        return message


def test_recorded_fixture_server_kept_a_value() -> None:
    """vad_turn: the server answered a transcription request with transcription null."""
    lines = load("vad_turn")
    rec, _, _ = replay(lines)
    update = next(line for line in lines if line.type == "session.update")
    created = next(line for line in lines if line.type == "session.created")
    updated = next(line for line in lines if line.type == "session.updated")
    df = settings_frame(rec.log)
    assert list(df.columns) == list(SETTINGS_COLUMNS)
    assert list(df["kind"]) == ["created", "update"]
    first, row = df.iloc[0], df.iloc[1]
    assert first["effective"] == created.event["session"] and first["requested"] is None
    assert first["event_id"] == created.event["event_id"] and first["t"] == 0
    assert row["requested"] == update.event["session"]
    assert row["effective"] == updated.event["session"]
    assert row["event_id"] == update.event["event_id"]
    assert row["t"] == pytest.approx(update.t - lines[0].t)
    assert row["answer_ms"] == pytest.approx((updated.t - update.t) * 1000)
    assert row["changes"] == diff_config(update.event["session"], updated.event["session"])
    assert row["not_applied"] == ["audio.input.transcription"]
    assert row["status"] == "changed" and not row["refused"]
    text = settings_diff_text(rec.log)
    assert format_diff(row["changes"]) in text.replace("\n    ", "\n")
    assert "✗ audio.input.transcription" in text


def test_applied_update_lists_every_requested_leaf() -> None:
    s = Stream()
    sent = s.update("evt_1", voice="marin", silence_duration_ms=500, turn_detection="server_vad")
    effective = s.applied(sent["session"])
    (row,) = [r for r in settings_rows(s.rec.log) if r.kind == "update"]
    assert row.status == "applied" and row.not_applied == [] and row.effective == effective
    assert {c.path for c in row.changes} == {
        "type",
        "audio.output.voice",
        "audio.input.turn_detection.type",
        "audio.input.turn_detection.silence_duration_ms",
    }
    assert all(c.status == "applied" for c in row.changes)
    assert "all applied" in settings_diff_text(s.rec.log)


def test_server_changed_a_requested_value() -> None:
    s = Stream()
    sent = s.update("evt_1", speed=1.4, instructions="Be terse.")
    # This server does not support another speed: it keeps 1.0.
    granted = merge_session(sent["session"], {"audio": {"output": {"speed": 1.0}}})
    s.applied(granted)
    row = settings_rows(s.rec.log)[1]
    assert row.status == "changed" and row.not_applied == ["audio.output.speed"]
    (change,) = [c for c in row.changes if c.status != "applied"]
    assert (change.requested, change.effective, change.status) == (1.4, 1.0, "changed")
    text = settings_diff_text(s.rec.log)
    assert str(change) in text and "1 not applied" in text


def test_refused_update_is_matched_by_event_id_and_does_not_take_the_next_answer() -> None:
    s = Stream()
    before = s.session
    bad = s.update("evt_bad", voice="cedar")
    good = s.update("evt_good", instructions="Hello.")
    message = s.refuse("evt_bad", "session.audio.output.voice", "cannot_update_voice")
    s.applied(good["session"])
    rows = settings_rows(s.rec.log)
    assert [r.kind for r in rows] == ["created", "update", "update"]
    refused, applied = rows[1], rows[2]
    assert refused.event_id == "evt_bad" and refused.refused and refused.status == "refused"
    assert (refused.error_code, refused.error) == ("cannot_update_voice", message)
    assert refused.requested == bad["session"]
    assert refused.effective == before  # the config still in force
    assert refused.not_applied == ["audio.output.voice"]  # "type" equals what is in force
    assert applied.event_id == "evt_good" and applied.status == "applied"
    assert applied.effective is not None and applied.effective["instructions"] == "Hello."
    df = settings_frame(s.rec.log)
    assert list(df["refused"]) == [False, True, False]
    assert df["error"].iloc[1] == message
    text = settings_diff_text(s.rec.log)
    assert f"evt_bad → refused (cannot_update_voice: {message})" in text
    assert "server kept 'alloy'" in text


def test_an_error_about_another_event_refuses_nothing() -> None:
    s = Stream()
    sent = s.update("evt_1", voice="marin")
    s.refuse("evt_other", "item.id")
    s.applied(sent["session"])
    assert [r.status for r in settings_rows(s.rec.log)] == ["created", "applied"]


def test_update_without_event_id_is_refused_by_a_session_error() -> None:
    s = Stream()
    s.update(None, voice="marin")
    s.refuse(None, "session.audio.output.voice")
    row = settings_rows(s.rec.log)[1]
    assert row.refused and row.event_id is None


def test_pending_and_unsolicited_rows() -> None:
    s = Stream()
    s.applied({})  # the server re-sends its config unasked
    s.update("evt_1", voice="marin")
    rows = settings_rows(s.rec.log)
    assert [(r.kind, r.status) for r in rows] == [
        ("created", "created"),
        ("updated", "updated"),
        ("update", "pending"),
    ]
    assert rows[2].effective is None and rows[2].answer_ms is None
    assert "evt_1 → no answer yet" in settings_diff_text(s.rec.log)


def test_times_are_seconds_since_the_first_event() -> None:
    s = Stream()
    t_sent = s.t + 0.05
    sent = s.update("evt_1", voice="marin")
    s.applied(sent["session"])
    df = settings_frame(s.rec.log)
    assert df["t"].iloc[1] == pytest.approx(t_sent - 10.05)
    assert df["answer_ms"].iloc[1] == pytest.approx(50.0)


def test_empty_log() -> None:
    rec = Recorder()
    df = settings_frame(rec.log)
    assert df.empty and list(df.columns) == list(SETTINGS_COLUMNS)
    assert settings_diff_text(rec.log) == ""


async def test_live_local_server_settings_history() -> None:
    from realtime_widget import Session

    async with Session("local", voice="marin", server_options={"pace": "burst"}) as s:
        effective = await s.update(instructions="Be terse.", silence_duration_ms=400)
        # The server refuses a session.update without session.type.
        s.send({"type": "session.update", "event_id": "evt_no_type", "session": {"speed": 1.1}})
        error = await s.wait_for("error", timeout=10)
        recording = getattr(s, "recording", None) or Recording(s.recorder)
        df = recording.settings()
        text = recording.settings_diff()
    assert error["error"]["event_id"] == "evt_no_type"
    assert list(df["kind"]) == ["created", "update", "update", "update"]
    assert list(df["status"]) == ["created", "applied", "applied", "refused"]
    initial, mine, refused = df.iloc[1], df.iloc[2], df.iloc[3]
    assert initial["requested"]["audio"]["output"]["voice"] == "marin"
    assert initial["effective"]["audio"]["output"]["voice"] == "marin"
    assert mine["effective"] == effective
    assert mine["changes"] == diff_config(mine["requested"], effective)
    assert refused["event_id"] == "evt_no_type" and refused["error"] == error["error"]["message"]
    assert refused["effective"] == effective and refused["not_applied"] == ["speed"]
    assert (df["answer_ms"].iloc[1:] >= 0).all()
    assert "evt_no_type → refused" in text and "✓ instructions = 'Be terse.'" in text

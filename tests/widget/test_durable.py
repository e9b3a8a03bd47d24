"""RowDiff and Settle (sans-I/O), then the relay's use of them on a fake session."""

from __future__ import annotations

from typing import Any

import pytest

import realtime_widget.widget.relay
from realtime_widget import _preload
from realtime_widget.widget.durable import MAX_STALE, QUIET, RowDiff, Settle

from .fakes import Harness


def row(item_id: str, text: str = "", role: str = "user", status: str = "completed") -> Any:
    return {"item_id": item_id, "role": role, "text": text, "unheard": "", "status": status}


def apply(page: list[Any], msg: dict[str, Any]) -> list[Any]:
    """What the page does with a ``rows`` message (js/hub.js applyRowChanges)."""
    out = list(page)
    out[msg["start"] : msg["start"] + msg["delete"]] = msg["rows"]
    assert len(out) == msg["total"]
    return out


def test_row_diff_sends_one_splice_of_what_changed() -> None:
    d = RowDiff()
    rows = [row("u1", "hi"), row("a1", "hel", "assistant", "in_progress")]
    first = d.message(rows)
    assert first == {"type": "rows", "start": 0, "delete": 0, "rows": rows, "total": 2}
    assert d.message(list(rows)) is None  # nothing changed: nothing to send
    rows2 = [rows[0], row("a1", "hello", "assistant"), row("u2", "again")]
    second = d.message(rows2)
    assert second is not None and (second["start"], second["delete"]) == (1, 1)
    assert second["rows"] == rows2[1:]
    assert apply(apply([], first), second) == rows2  # type: ignore[arg-type]


def test_row_diff_insertion_and_deletion_anywhere_stay_small() -> None:
    d = RowDiff()
    many = [row(f"u{i}", str(i)) for i in range(50)]
    d.synced(many)
    late = row("u_late", "late")
    # the user's transcript completed after the reply began: it goes before the reply
    inserted = [*many[:48], late, *many[48:]]
    msg = d.message(inserted)
    assert msg is not None and (msg["start"], msg["delete"], msg["rows"]) == (48, 0, [late])
    assert apply(many, msg) == inserted
    # the oldest items deleted (a long session trimming its context): no rows resent
    trimmed = inserted[3:]
    gone = d.message(trimmed)
    assert gone is not None and (gone["start"], gone["delete"], gone["rows"]) == (0, 3, [])
    assert apply(inserted, gone) == trimmed
    # the same row repeated at the end: the splice stays within both lists
    a = row("a", "x")
    d.synced([a, a])
    grown = d.message([a, a, a])
    assert grown is not None and apply([a, a], grown) == [a, a, a]
    assert len(grown["rows"]) == 1


def test_settle_waits_for_quiet_and_bounds_staleness() -> None:
    s = Settle()
    assert s.deadline(busy=False) is None and not s.due(1e9, busy=False)
    s.changed(10.0)
    s.changed(10.5)
    assert s.deadline(busy=False) == 10.5 + QUIET
    assert not s.due(10.5 + QUIET - 0.01, busy=False)
    assert s.due(10.5 + QUIET, busy=False)
    # busy (a reply under way, the user speaking): only the staleness limit counts
    assert s.deadline(busy=True) == 10.0 + MAX_STALE
    assert not s.due(10.5 + QUIET, busy=True)
    assert s.due(10.0 + MAX_STALE, busy=True)
    s.synced()
    assert not s.pending and s.syncs == 1 and s.deadline(busy=True) is None


# -- the relay -----------------------------------------------------------------------


def _user_item(h: Harness, t: float, item_id: str, text: str) -> None:
    h.session.feed(t, type="conversation.item.added", item={
        "id": item_id, "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": text}]})  # fmt: skip


def test_relay_rows_now_whole_state_at_a_pause(h: Harness) -> None:
    _user_item(h, 100.0, "u1", "hi")
    h.at(100.3)
    assert [r["text"] for r in h.traits["transcript"]] == ["hi"]  # Python: current
    assert "transcript" not in h.synced  # the page: a rows message, not the trait
    [msg] = h.sent("rows")
    assert msg["total"] == 1 and msg["rows"][0]["text"] == "hi"
    _user_item(h, 100.6, "u2", "again")
    h.at(100.9)
    second = h.sent("rows")[-1]
    assert (second["start"], second["delete"]) == (1, 0)  # only the new row
    assert [r["text"] for r in second["rows"]] == ["again"]
    assert "transcript" not in h.synced
    h.at(100.6 + QUIET)
    assert [r["text"] for r in h.synced["transcript"]] == ["hi", "again"]
    assert "again" in h.synced["conversation_html"]
    assert h.relay.stats["durable_syncs"] == 1
    h.at(110.0)
    assert h.relay.stats["durable_syncs"] == 1  # nothing new: no second sync
    assert len(h.sent("rows")) == 2


def test_relay_no_full_sync_during_a_reply_but_within_max_stale(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables: list[float] = []
    monkeypatch.setattr(h.relay, "_turn_table", lambda: tables.append(h.now) or "<table/>")
    _user_item(h, 100.0, "u1", "hi")
    h.session.assistant_reply(100.1, ms=2000)  # created, not done: a reply under way
    for k in range(1, 20):
        h.at(100.1 + k * 0.5)
        deadline = h.relay._deadline()
        assert deadline is not None and deadline > h.now  # no timer firing in a loop
    assert "transcript" not in h.synced
    h.at(100.0 + MAX_STALE + 0.3)
    assert [r["item_id"] for r in h.synced["transcript"]] == ["u1", "a1"]
    assert tables == []  # forced while busy: the table (a whole-log scan) is not rebuilt
    h.session.feed(h.now + 0.1, type="response.done", response={"id": "r1",
                   "status": "completed", "output": []})  # fmt: skip
    h.at(h.now + QUIET + 0.1)
    assert len(tables) == 1 and h.synced["conversation_html"].endswith("<table/>")


def test_relay_waits_while_the_user_speaks_or_a_reply_plays(h: Harness) -> None:
    _user_item(h, 100.0, "u1", "hi")
    h.session.feed(100.1, type="input_audio_buffer.speech_started", audio_start_ms=0,
                   item_id="u2")  # fmt: skip
    assert h.relay.status == "user_speaking"
    h.at(103.0)
    assert "transcript" not in h.synced
    h.session.feed(103.1, type="input_audio_buffer.speech_stopped", audio_end_ms=3000,
                   item_id="u2")  # fmt: skip
    h.at(103.2)
    assert "transcript" in h.synced  # quiet for 1 s since the row, nothing under way
    # a reply that is done on the server but still playing in the browser
    h.session.assistant_reply(104.0, ms=500)
    h.session.feed(104.1, type="response.done", response={"id": "r1", "status": "completed",
                                                          "output": []})  # fmt: skip
    h.post(104.2, type="playback", event="started", item_id="a1", played=0, t=1.0)
    assert h.relay.status == "model_speaking"
    synced = h.relay.stats["durable_syncs"]
    h.at(106.0)
    assert h.relay.stats["durable_syncs"] == synced
    h.post(106.1, type="playback", event="drained", t=2.0)
    h.at(106.1 + QUIET)
    assert h.relay.stats["durable_syncs"] == synced + 1
    assert [r["item_id"] for r in h.synced["transcript"]] == ["u1", "a1"]


def test_relay_syncs_whole_state_when_the_connection_closes_after_the_stop(
    h: Harness,
) -> None:
    _user_item(h, 100.0, "u1", "bye")
    h.at(100.3)
    assert "transcript" not in h.synced
    h.session.assistant_reply(100.4, ms=500)
    h.at(100.5)
    n = len(h.out)
    h.session.feed(100.6, type="connection.closed", expected=False, code=1006, message="gone")
    assert [r["text"] for r in h.synced["transcript"]] == ["bye", ""]
    assert "bye" in h.synced["conversation_html"]
    assert h.sent("stop")[-1]["reason"] == "disconnect"
    assert h.relay.status == "error" and "gone" in h.relay.last_error
    # the stop went out first (the whole state is the largest message)
    assert [c["type"] for c, _ in h.out[n:]][:1] == ["stop"]


def test_relay_a_failing_sync_is_logged_and_not_retried_in_a_loop(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(values: dict[str, Any], sync: bool = True) -> None:
        if "conversation_html" in values:
            raise RuntimeError("comm closed")
        h.traits.update(values)

    monkeypatch.setattr(h.relay, "_set_traits", broken)
    _user_item(h, 100.0, "u1", "hi")
    h.at(100.3)
    h.at(101.0)
    assert "durable state sync failed" in caplog.text
    assert h.relay._deadline() is None  # nothing due: the timer does not spin
    # a turn table that fails drops only the table
    monkeypatch.undo()
    monkeypatch.setattr(realtime_widget.widget.relay, "turns_html", _raise)
    monkeypatch.setattr(_preload, "ready", lambda name: True)
    _user_item(h, 101.5, "u2", "again")
    h.at(101.6)
    h.at(102.5)
    assert "again" in h.synced["conversation_html"]
    assert "rtw-turns" not in h.synced["conversation_html"]
    assert "turn table failed" in caplog.text


def _raise(*args: Any) -> str:
    raise ValueError("no table")


def test_relay_turn_table_follows_when_pandas_is_ready(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    callbacks: list[Any] = []
    monkeypatch.setattr(_preload, "ready", lambda name: None)  # still importing
    monkeypatch.setattr(_preload, "preload", lambda name, done=None: callbacks.append(done))
    _user_item(h, 100.0, "u1", "hi")
    h.at(100.3)
    h.at(101.0)
    assert (
        "hi" in h.synced["conversation_html"] and "rtw-turns" not in h.synced["conversation_html"]
    )
    assert callbacks and callbacks[-1] is not None
    monkeypatch.setattr(_preload, "ready", lambda name: True)
    callbacks[-1]()  # the import thread is done: it calls back
    h.run()  # the loop runs the call_soon_threadsafe
    h.at(h.now)
    h.at(h.now + QUIET)
    assert 'class="rtw-turns"' in h.synced["conversation_html"]

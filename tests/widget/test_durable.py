"""RowDiff and Settle (sans-I/O), then the relay's use of them on a fake session."""

from __future__ import annotations

from typing import Any

from realtime_widget.widget.durable import MAX_STALE, QUIET, RowDiff, Settle

from .fakes import Harness


def row(item_id: str, text: str = "", role: str = "user", status: str = "completed") -> Any:
    return {"item_id": item_id, "role": role, "text": text, "unheard": "", "status": status}


def apply(page: list[Any], msg: dict[str, Any]) -> list[Any]:
    """What the page does with a ``rows`` message (js/hub.js applyRowChanges)."""
    out = [*page[: msg["total"]], *[None] * (msg["total"] - len(page))]
    for i, r in msg["rows"]:
        out[i] = r
    return out


def test_row_diff_sends_only_changed_positions() -> None:
    d = RowDiff()
    rows = [row("u1", "hi"), row("a1", "hel", "assistant", "in_progress")]
    first = d.message(rows)
    assert first == {"type": "rows", "total": 2, "rows": [[0, rows[0]], [1, rows[1]]]}
    assert d.message(list(rows)) is None  # nothing changed: nothing to send
    rows2 = [rows[0], row("a1", "hello", "assistant"), row("u2", "again")]
    second = d.message(rows2)
    assert second is not None and [i for i, _ in second["rows"]] == [1, 2]
    assert apply(apply([], first), second) == rows2  # type: ignore[arg-type]


def test_row_diff_insertion_and_removal() -> None:
    d = RowDiff()
    a, b, c = row("a1", "x", "assistant"), row("u1", "late"), row("u0", "early")
    d.synced([c, a])
    # the user's transcript completed after the reply began: it goes before the reply
    msg = d.message([c, b, a])
    assert msg is not None and [i for i, _ in msg["rows"]] == [1, 2]
    assert apply([c, a], msg) == [c, b, a]
    gone = d.message([c, a])  # an item deleted: shorter list, shifted rows resent
    assert gone is not None and gone["total"] == 2 and [i for i, _ in gone["rows"]] == [1]
    assert apply([c, b, a], gone) == [c, a]


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
    assert msg["total"] == 1 and msg["rows"][0][1]["text"] == "hi"
    _user_item(h, 100.6, "u2", "again")
    h.at(100.9)
    second = h.sent("rows")[-1]
    assert second["total"] == 2 and [i for i, _ in second["rows"]] == [1]  # only the new row
    assert "transcript" not in h.synced
    h.at(100.6 + QUIET)
    assert [r["text"] for r in h.synced["transcript"]] == ["hi", "again"]
    assert "again" in h.synced["conversation_html"]
    assert h.relay.stats["durable_syncs"] == 1
    h.at(110.0)
    assert h.relay.stats["durable_syncs"] == 1  # nothing new: no second sync
    assert len(h.sent("rows")) == 2


def test_relay_no_full_sync_during_a_reply_but_within_max_stale(h: Harness) -> None:
    _user_item(h, 100.0, "u1", "hi")
    h.session.assistant_reply(100.1, ms=2000)  # created, not done: a reply under way
    for k in range(1, 20):
        h.at(100.1 + k * 0.5)
    assert "transcript" not in h.synced
    assert h.relay._deadline() is not None
    h.at(100.0 + MAX_STALE + 0.3)
    assert [r["item_id"] for r in h.synced["transcript"]] == ["u1", "a1"]


def test_relay_syncs_whole_state_when_the_connection_closes(h: Harness) -> None:
    _user_item(h, 100.0, "u1", "bye")
    h.at(100.3)
    assert "transcript" not in h.synced
    h.session.feed(100.4, type="connection.closed", expected=True, code=1000, message="")
    assert [r["text"] for r in h.synced["transcript"]] == ["bye"]
    assert "bye" in h.synced["conversation_html"]

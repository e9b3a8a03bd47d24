"""BargeIn (stops awaiting the browser's answer) and PlaybackTracker."""

from __future__ import annotations

import pytest

from realtime_widget.widget.bargein import BargeIn, PlaybackTracker


def test_stop_answer_and_ids() -> None:
    b = BargeIn(timeout=0.5)
    s1 = b.stop("item_a", "speech_started", 1.0, estimate_ms=800.0)
    s2 = b.stop(None, "ptt", 1.1)
    assert s1.message() == {"type": "stop", "stop_id": s1.stop_id, "reason": "speech_started",
                            "item_id": "item_a"}  # fmt: skip
    assert s2.stop_id == s1.stop_id + 1
    assert b.deadline() == 1.5
    assert b.answer(s1.stop_id) is s1
    assert b.answer(s1.stop_id) is None  # answered once
    assert b.answer("nonsense") is None
    assert b.answer(True) is None
    assert [s.stop_id for s in b.pending] == [s2.stop_id]


def test_unanswered_stop_expires_after_500_ms_and_a_late_answer_is_ignored() -> None:
    b = BargeIn(timeout=0.5)
    s = b.stop("item_a", "speech_started", 2.0, estimate_ms=1234.0)
    assert b.expired(2.49) == []
    [gone] = b.expired(2.5)
    assert gone is s and gone.estimate_ms == 1234.0
    assert b.timeouts == 1
    assert b.answer(s.stop_id) is None
    assert b.deadline() is None


def test_tracker_reports_and_extrapolation() -> None:
    now = [10.0]
    p = PlaybackTracker(lambda: now[0])
    assert p.position_ms("a") is None
    p.started("a", 0, 10.0, t_started=9.99)
    assert p.get("a") is not None
    p.progress("a", 2400, 10.1, buffered=4800)
    now[0] = 10.15
    assert p.played_samples("a", 10.15) == pytest.approx(2400 + 0.05 * 24000)
    assert p.position_ms("a") == pytest.approx((2400 + 1200) / 24)
    # No report for over 250 ms while playing: unknown (the caller estimates by wall clock).
    assert p.played_samples("a", 10.36) is None
    p.finished("a", 4800, 10.3)
    assert p.current is None
    assert p.position_ms("a") is None  # not playing
    assert p.played_samples("a", 11.0) == 4800
    p.more_audio("a")  # more audio came after all
    state = p.get("a")
    assert state is not None and not state.finished


def test_tracker_drained_and_interrupted() -> None:
    p = PlaybackTracker(lambda: 0.0)
    p.started("a", 0, 1.0, None)
    state = p.get("a")
    assert state is not None and state.playing
    p.drained(1.5)
    assert p.current is None
    assert p.played_samples("a", 5.0) == 0  # not playing: no extrapolation
    p.started("b", 0, 2.0, None)
    p.interrupted("b", 7000, 2.3)
    assert p.current is None
    assert p.position_ms("b") is None
    assert p.played_samples("b", 3.0) == 7000


def test_tracker_progress_with_nothing_queued_pauses() -> None:
    p = PlaybackTracker(lambda: 0.0)
    p.started("a", 0, 1.0, None)
    p.progress("a", 4800, 1.2, buffered=0)  # ran dry: the count stays put
    assert p.current is None
    assert p.played_samples("a", 2.0) == 4800
    p.progress("a", 4800, 2.1, buffered=2400)  # resumed
    assert p.current == "a"

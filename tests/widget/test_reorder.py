"""Reorderer: mic/ptt back in seq order, gaps skipped after 200 ms, duplicates dropped."""

from __future__ import annotations

from realtime_widget.widget.reorder import Reorderer


def test_in_order_passes_straight_through() -> None:
    r: Reorderer[str] = Reorderer()
    assert r.push(0, "a", 0.0) == ["a"]
    assert r.push(1, "b", 0.02) == ["b"]
    assert r.deadline() is None
    assert (r.gaps, r.duplicates) == (0, 0)


def test_out_of_order_is_reordered() -> None:
    r: Reorderer[int] = Reorderer()
    assert r.push(1, 1, 0.0) == []
    assert r.push(2, 2, 0.001) == []
    assert r.push(0, 0, 0.002) == [0, 1, 2]
    assert r.gaps == 0
    assert r.push(4, 4, 0.01) == []
    assert r.push(3, 3, 0.011) == [3, 4]


def test_gap_waits_at_most_200_ms_then_is_skipped_and_counted() -> None:
    r: Reorderer[int] = Reorderer(max_wait=0.2)
    r.push(0, 0, 0.0)
    assert r.push(2, 2, 1.0) == []
    assert r.push(3, 3, 1.05) == []
    assert r.deadline() == 1.2  # counted from the first message after the gap
    assert r.poll(1.19) == []
    assert r.poll(1.2) == [2, 3]
    assert r.gaps == 1
    # The missing one arriving late is a duplicate now: dropped.
    assert r.push(1, 1, 1.3) == []
    assert r.duplicates == 1
    assert r.push(4, 4, 1.31) == [4]


def test_several_gaps_skip_in_one_poll_when_all_waited() -> None:
    r: Reorderer[int] = Reorderer(max_wait=0.2)
    r.push(2, 2, 0.0)
    r.push(5, 5, 0.01)
    assert r.poll(0.3) == [2, 5]
    assert r.gaps == 2 + 2  # 0,1 then 3,4
    assert r.expected == 6


def test_duplicates_dropped() -> None:
    r: Reorderer[str] = Reorderer()
    assert r.push(0, "a", 0.0) == ["a"]
    assert r.push(0, "a again", 0.01) == []
    r.push(2, "c", 0.02)
    assert r.push(2, "c again", 0.03) == []
    assert r.duplicates == 2
    assert r.push(1, "b", 0.04) == ["b", "c"]


def test_reset_for_a_new_connection() -> None:
    r: Reorderer[int] = Reorderer()
    for i in range(10):
        r.push(i, i, i * 0.02)
    r.push(11, 11, 0.3)  # held, waiting for 10
    r.reset()
    assert r.held == 0
    assert r.push(0, 100, 1.0) == [100]
    assert r.duplicates == 0


def test_counter_restart_without_reset_is_followed() -> None:
    # A reloaded page whose connect we never saw: seq far behind means a new counter.
    r: Reorderer[int] = Reorderer(restart_after=100)
    for i in range(500):
        r.push(i, i, 0.0)
    assert r.push(0, -1, 1.0) == [-1]
    assert r.push(1, -2, 1.02) == [-2]
    assert r.restarts == 1
    assert r.duplicates == 0

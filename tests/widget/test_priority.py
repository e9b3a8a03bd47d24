"""AudioFirst (sans-I/O): when display updates wait, and that none is lost."""

from __future__ import annotations

from realtime_widget.widget.priority import GRACE, MAX_HOLD, AudioFirst


def msg(n: int) -> dict[str, object]:
    return {"type": "transcript", "n": n}


def test_idle_until_a_response_is_expected_or_created() -> None:
    gate = AudioFirst()
    assert gate.idle and not gate.holding(0.0) and gate.deadline() is None
    assert gate.take(0.0) == []


def test_created_response_holds_until_grace_after_its_first_audio() -> None:
    gate = AudioFirst()
    gate.begin("resp_1", 10.0)
    assert gate.holding(10.0) and gate.deadline() == 10.0 + MAX_HOLD
    gate.hold(msg(1))
    gate.hold(msg(2))
    gate.audio_sent("resp_1", 10.004)
    assert gate.deadline() == 10.004 + GRACE
    assert gate.holding(10.004 + GRACE / 2)
    assert gate.take(10.004 + GRACE / 2) == []  # still holding: nothing goes
    assert gate.take(10.004 + GRACE) == [msg(1), msg(2)]  # in order, all of them
    assert gate.idle and gate.deadline() is None


def test_audio_of_another_response_does_not_release() -> None:
    gate = AudioFirst()
    gate.begin("resp_2", 0.0)
    gate.audio_sent("resp_1", 0.001)  # the tail of the previous reply
    assert gate.deadline() == MAX_HOLD


def test_expected_response_releases_on_any_audio_and_created_restarts_the_window() -> None:
    gate = AudioFirst()
    gate.expect(0.0)
    assert gate.deadline() == MAX_HOLD and gate.holds == 1
    gate.begin("resp_1", 0.1)
    assert gate.deadline() == 0.1 + MAX_HOLD and gate.holds == 1  # the same hold
    gate = AudioFirst()
    gate.expect(0.0)
    gate.audio_sent("resp_9", 0.002)  # response id unknown yet: any audio counts
    assert gate.deadline() == 0.002 + GRACE


def test_hold_ends_by_itself_after_max_hold() -> None:
    gate = AudioFirst()
    gate.begin("resp_1", 0.0)
    gate.hold(msg(1))
    assert gate.take(MAX_HOLD - 1e-3) == []
    assert gate.take(MAX_HOLD) == [msg(1)]


def test_a_response_that_does_not_speak_is_not_held() -> None:
    gate = AudioFirst()
    gate.begin("resp_1", 0.0, speaks=False)
    assert not gate.holding(0.0)
    gate.expect(1.0)
    gate.begin("resp_2", 1.0, speaks=False)  # asked for, then text only: stop waiting
    assert not gate.holding(1.0)


def test_end_releases_now_but_only_for_its_response() -> None:
    gate = AudioFirst()
    gate.begin("resp_2", 0.0)
    gate.hold(msg(1))
    gate.end("resp_1")  # an older response finishing does not end this hold
    assert gate.holding(0.01)
    gate.end("resp_2")
    assert not gate.holding(0.01)
    assert gate.take(0.01) == [msg(1)]
    gate.begin("resp_3", 1.0)
    gate.end()  # a stop or a closed connection: whatever the response
    assert not gate.holding(1.0)

"""Relay logic on a fake session with an explicit clock: barge-in, push-to-talk,
modes, reordering, status, errors. (The live tests run it against the local server.)"""

from __future__ import annotations

import time

import pytest

from realtime_widget.errors import ConnectionClosedError
from realtime_widget.widget.relay import TOO_SHORT, scrub

from .fakes import VAD, FakeSession, Harness, audio_delta_event


def chunk(ms: int = 20) -> bytes:
    return b"\x10\x00" * (24 * ms)


def test_attach_takes_over_barge_in(h: Harness) -> None:
    assert h.session.auto_truncate is False
    assert h.session.playback_position == h.relay.position_ms
    assert h.traits["status"] == "listening"
    h.relay.detach()
    session = h.session  # mypy narrowed the attributes above; read them afresh
    assert (session.auto_truncate, session.playback_position) == (True, None)
    h.relay.attach()


def test_deltas_of_one_read_leave_as_one_message_and_later_ones_at_once(h: Harness) -> None:
    """A server's burst (one network read, one turn of the loop) is one ``audio`` message
    for the player; a paced delta that follows goes out as it comes."""
    s = h.session
    s.feed(100.0, type="response.created", response={"id": "r1", "status": "in_progress"})
    item = {"id": "a1", "type": "message", "role": "assistant", "content": []}
    s.feed(100.0, type="conversation.item.added", item=item, previous_item_id=None)
    s.feed_read(100.001, [audio_delta_event("a1", "r1", 40, value=k) for k in (1, 2, 3)])
    [first] = h.sent("audio")
    [(_, [pcm])] = [(c, b) for c, b in h.out if c is first]
    assert (first["offset"], len(pcm)) == (0, 3 * 40 * 24 * 2)
    assert pcm[::1920] == bytes([1, 2, 3])  # in order
    s.feed_read(100.041, [audio_delta_event("a1", "r1", 40, value=4)])
    assert [c["offset"] for c in h.sent("audio")] == [0, 3 * 960]


def test_barge_in_stop_then_interrupted_then_truncate_at_browser_count(h: Harness) -> None:
    s = h.session
    s.assistant_reply(100.0, ms=2000)
    audio = h.sent("audio")
    assert audio and audio[0]["item_id"] == "a1" and audio[0]["offset"] == 0
    h.post(100.05, type="playback", event="started", item_id="a1", played=0,
           t=h.browser_ms(100.04))  # fmt: skip
    assert h.relay.status == "model_speaking"
    assert h.sent("state")[-1] == {"type": "state", "speaking": "model"}
    # The user talks over the reply.
    s.feed(100.8, type="input_audio_buffer.speech_started", audio_start_ms=1000, item_id="u2")
    [stop] = h.sent("stop")
    assert stop["item_id"] == "a1" and stop["reason"] == "speech_started"
    assert h.relay.status == "user_speaking"
    # Deltas of the stopped item are not forwarded any more.
    n_audio = len(h.sent("audio"))
    s.audio_delta(100.81, "a1", "r1", 100)
    h.at(100.9)
    assert len(h.sent("audio")) == n_audio
    h.post(100.85, type="interrupted", item_id="a1", played=12345, t=h.browser_ms(100.8),
           stop_id=stop["stop_id"])  # fmt: skip
    [truncate] = h.client_events("conversation.item.truncate")
    assert truncate["item_id"] == "a1"
    assert truncate["audio_end_ms"] == 12345 // 24  # floor(played / 24)
    assert [n["type"] for n in h.notes("widget.stop_sent")] == ["widget.stop_sent"]
    [interrupted] = h.notes("widget.interrupted")
    assert interrupted["played"] == 12345 and interrupted["late"] is False
    [computed] = h.notes("widget.truncate_computed")
    assert computed["source"] == "browser" and computed["sent"] is True
    logged = next(r for r in s.log if r.type == "widget.interrupted")
    assert logged.t_browser == h.browser_ms(100.8)
    # No second truncate when the timeout passes.
    h.at(101.5)
    assert len(h.client_events("conversation.item.truncate")) == 1


def test_truncate_is_clamped_to_audio_received(h: Harness) -> None:
    h.session.assistant_reply(100.0, ms=1000)  # still generating: no output_audio.done
    h.session.feed(100.5, type="input_audio_buffer.speech_started", audio_start_ms=0)
    [stop] = h.sent("stop")
    h.post(100.6, type="interrupted", item_id="a1", played=10 * 24000, t=h.browser_ms(100.6),
           stop_id=stop["stop_id"])  # fmt: skip
    [truncate] = h.client_events("conversation.item.truncate")
    assert truncate["audio_end_ms"] == 1000


def test_nothing_to_truncate_when_everything_was_heard(h: Harness) -> None:
    s = h.session
    s.assistant_reply(100.0, ms=1000)
    s.feed(100.01, type="response.output_audio.done", response_id="r1", item_id="a1",
           output_index=0, content_index=0)  # fmt: skip
    s.feed(101.5, type="input_audio_buffer.speech_started", audio_start_ms=0)
    [stop] = h.sent("stop")
    h.post(101.6, type="interrupted", item_id="a1", played=24000, t=h.browser_ms(101.6),
           stop_id=stop["stop_id"])  # fmt: skip
    assert h.client_events("conversation.item.truncate") == []
    [computed] = h.notes("widget.truncate_computed")
    assert computed["sent"] is False


def test_stop_names_nothing_when_the_browser_finished_the_item(h: Harness) -> None:
    s = h.session
    s.assistant_reply(100.0, ms=500)
    h.post(100.1, type="playback", event="started", item_id="a1", played=0, t=h.browser_ms(100.1))
    h.post(100.7, type="playback", event="stopped", item_id="a1", played=12000,
           t=h.browser_ms(100.7))  # fmt: skip
    assert h.relay.status == "listening"
    s.feed(102.0, type="input_audio_buffer.speech_started", audio_start_ms=0)
    [stop] = h.sent("stop")
    assert stop["item_id"] is None
    h.post(102.05, type="interrupted", item_id=None, played=0, t=h.browser_ms(102.05),
           stop_id=stop["stop_id"])  # fmt: skip
    assert h.client_events("conversation.item.truncate") == []


def test_status_follows_playback_through_an_underrun(h: Harness) -> None:
    h.session.assistant_reply(100.0, ms=1000)
    h.post(100.1, type="playback", event="started", item_id="a1", played=0, t=h.browser_ms(100.1))
    assert h.relay.status == "model_speaking"
    h.post(100.5, type="progress", item_id="a1", played=9600, buffered=0, underruns=0, t=0)
    h.post(100.5, type="playback", event="stopped", item_id="a1", played=9600, t=0)
    assert h.relay.status == "listening"
    h.session.audio_delta(100.6, "a1", "r1", 200)  # the reply goes on
    h.post(100.7, type="progress", item_id="a1", played=9600, buffered=4800, underruns=1, t=0)
    assert h.relay.status == "model_speaking"
    h.post(101.0, type="playback", event="drained", t=0)
    assert h.relay.status == "listening"


def test_no_answer_within_500_ms_falls_back_to_the_estimate(h: Harness) -> None:
    s = h.session
    s.assistant_reply(100.0, ms=3000)
    s.estimate = 1500.0  # what the session's wall clock says when the stop is sent
    s.feed(101.5, type="input_audio_buffer.speech_started", audio_start_ms=0)
    [stop] = h.sent("stop")
    s.estimate = 2500.0  # later estimates must not be used
    h.at(101.99)
    assert h.client_events("conversation.item.truncate") == []
    h.at(102.0)
    [truncate] = h.client_events("conversation.item.truncate")
    assert truncate["audio_end_ms"] == 1500
    assert h.notes("widget.interrupt_timeout")[0]["stop_id"] == stop["stop_id"]
    assert h.notes("widget.truncate_computed")[0]["source"] == "estimate"
    # The late answer is logged, not acted on.
    h.post(102.2, type="interrupted", item_id="a1", played=100, t=h.browser_ms(101.6),
           stop_id=stop["stop_id"])  # fmt: skip
    assert len(h.client_events("conversation.item.truncate")) == 1
    assert h.notes("widget.interrupted")[0]["late"] is True


def test_fallback_prefers_the_browser_progress_reports(h: Harness) -> None:
    s = h.session
    s.assistant_reply(100.0, ms=3000)
    h.post(100.1, type="playback", event="started", item_id="a1", played=0, t=h.browser_ms(100.1))
    h.post(101.0, type="progress", item_id="a1", played=21600, buffered=2400, underruns=0,
           t=h.browser_ms(101.0))  # fmt: skip
    s.estimate = 9999.0
    s.feed(101.1, type="input_audio_buffer.speech_started", audio_start_ms=0)
    h.at(101.7)
    [truncate] = h.client_events("conversation.item.truncate")
    assert truncate["audio_end_ms"] == pytest.approx(1000, abs=1)  # 900 ms + 100 ms extrapolated


def test_interrupt_response_off_also_cancels() -> None:
    h = Harness(FakeSession(turn_detection={**VAD, "interrupt_response": False}))
    try:
        h.session.assistant_reply(100.0)
        h.session.feed(100.5, type="input_audio_buffer.speech_started", audio_start_ms=0)
        [cancel] = h.client_events("response.cancel")
        assert cancel["response_id"] == "r1"
    finally:
        h.close()


def test_push_to_talk_down_up_commits() -> None:
    h = Harness(FakeSession(turn_detection=None), mode="ptt")
    try:
        s = h.session
        s.assistant_reply(100.0)
        h.post(100.2, chunk(), type="mic", seq=0, t=h.browser_ms(100.2), n=480)
        assert s.appended == []  # not held: not a turn
        h.post(100.3, type="ptt", action="down", seq=1, t=h.browser_ms(100.3))
        assert h.sent("stop")[-1]["reason"] == "ptt"
        assert [e["type"] for e in s.sent] == ["input_audio_buffer.clear", "response.cancel"]
        assert h.relay.status == "user_speaking"
        for i in range(6):  # 120 ms
            h.post(100.32 + i * 0.02, chunk(), type="mic", seq=2 + i, t=h.browser_ms(100.32))
        h.post(100.5, type="ptt", action="up", seq=8, t=h.browser_ms(100.5))
        assert [e["type"] for e in s.sent][-2:] == ["input_audio_buffer.commit", "response.create"]
        assert len(s.appended) == 6
        assert h.relay.status == "listening"
        # Too short: cleared, and said so.
        h.post(101.0, type="ptt", action="down", seq=9, t=h.browser_ms(101.0))
        h.post(101.02, chunk(), type="mic", seq=10, t=h.browser_ms(101.02))
        h.post(101.05, type="ptt", action="up", seq=11, t=h.browser_ms(101.05))
        assert s.sent[-1]["type"] == "input_audio_buffer.clear"
        assert h.relay.last_error == TOO_SHORT
        h.at(102.0)
        assert h.traits["last_error"] == TOO_SHORT
    finally:
        h.close()


def test_ptt_is_applied_in_order_with_the_audio() -> None:
    # The "up" overtakes the last chunks: the reorderer holds it until they arrive.
    h = Harness(FakeSession(turn_detection=None), mode="ptt")
    try:
        h.post(100.0, type="ptt", action="down", seq=0, t=0)
        h.post(100.01, chunk(), type="mic", seq=1, t=0)
        h.post(100.02, type="ptt", action="up", seq=6, t=0)
        for seq in (3, 2, 5, 4):
            h.post(100.03, chunk(), type="mic", seq=seq, t=0)
        assert len(h.session.appended) == 5
        assert [e["type"] for e in h.session.sent][-2:] == [
            "input_audio_buffer.commit", "response.create"]  # fmt: skip
    finally:
        h.close()


def test_mic_reordered_gap_skipped_and_browser_time_kept(h: Harness) -> None:
    pcm = [bytes([i, 0]) * 480 for i in range(6)]
    h.post(100.0, pcm[0], type="mic", seq=0, t=1000.0)
    h.post(100.01, pcm[2], type="mic", seq=2, t=1040.0)
    h.post(100.02, pcm[1], type="mic", seq=1, t=1020.0)
    h.post(100.03, pcm[4], type="mic", seq=4, t=1080.0)  # 3 never comes
    assert [p for p, _ in h.session.appended] == pcm[:3]
    h.at(105.0)  # a chunk stuck behind a blocked main thread may take seconds: still held
    assert [p for p, _ in h.session.appended] == pcm[:3]
    h.at(110.05)  # the gap is skipped after 10 s
    assert [p for p, _ in h.session.appended] == [pcm[0], pcm[1], pcm[2], pcm[4]]
    assert h.relay.stats["mic_gaps"] == 1
    assert [t for _, t in h.session.appended] == [1000.0, 1020.0, 1040.0, 1080.0]
    appends = [r for r in h.session.log if r.type == "input_audio_buffer.append"]
    assert len(appends) == 4
    assert h.relay.stats["mic_chunks"] == 4 and h.relay.stats["mic_ms"] == 80


def test_mic_while_disconnected_is_dropped() -> None:
    h = Harness(FakeSession(status="closed"))
    try:
        h.post(100.0, chunk(), type="mic", seq=0, t=0)
        assert h.session.appended == []
        assert h.relay.stats["mic_dropped"] == 1
    finally:
        h.close()


def test_connect_keeps_early_mic_and_reports_status() -> None:
    h = Harness(FakeSession(status="new"))
    try:
        assert h.traits["status"] == "disconnected"
        h.post(100.0, type="connect", t=0)
        assert h.relay.status == "connecting"
        h.post(100.01, chunk(), type="mic", seq=0, t=5.0)  # before the socket is open
        h.run()
        assert h.session.status == "connected"
        assert h.relay.status == "listening"
        assert [t for _, t in h.session.appended] == [5.0]
        h.post(101.0, type="disconnect", t=0)
        h.run()
        assert h.relay.status == "disconnected"
        assert h.sent("stop")[-1]["reason"] == "disconnect"
    finally:
        h.close()


def test_connect_failure_is_an_error_without_the_key() -> None:
    h = Harness(FakeSession(status="new"))
    try:
        h.session.connect_error = ConnectionClosedError(
            "server rejected WebSocket connection: HTTP 401 (key sk-abc123456789XYZ)"
        )
        h.post(100.0, type="connect", t=0)
        h.run()
        h.at(101.0)
        assert h.relay.status == "error"
        assert h.traits["status"] == "error"
        assert "HTTP 401" in h.traits["last_error"]
        assert "sk-abc123456789XYZ" not in h.traits["last_error"]
    finally:
        h.close()


def test_mode_switch_updates_turn_detection_and_restores_vad(h: Harness) -> None:
    s = h.session
    s.config["audio"]["input"]["turn_detection"] = {**VAD, "silence_duration_ms": 350}
    h.relay.set_mode("ptt")
    h.run()
    assert s.updates == [{"turn_detection": None}]
    s.config["audio"]["input"]["turn_detection"] = None  # the server applied it
    h.relay.set_mode("vad")
    h.run()
    restored = s.updates[-1]["turn_detection"]
    assert restored["type"] == "server_vad"
    assert restored["silence_duration_ms"] == 350  # the earlier setting, not a default
    assert restored["threshold"] == 0.5
    assert "idle_timeout_ms" not in restored  # None values are not sent back


def test_vad_after_ptt_start_uses_500_ms_silence() -> None:
    h = Harness(FakeSession(turn_detection=None), mode="ptt")
    try:
        h.relay.set_mode("vad")
        h.run()
        assert h.session.updates == [
            {"turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}]  # fmt: skip
    finally:
        h.close()


def test_mode_follows_a_session_update_made_elsewhere(h: Harness) -> None:
    h.session.config = {"audio": {"input": {"turn_detection": None}}}
    h.session.feed(100.0, type="session.updated", session=h.session.config)
    assert h.relay.mode == "ptt"
    h.at(101.0)
    assert h.traits["mode"] == "ptt"
    assert h.session.updates == []  # following is not changing


def test_ping_pong_is_immediate(h: Harness) -> None:
    h.post(100.0, type="ping", id=7, t=0)
    assert h.out[-1][0] == {"type": "pong", "id": 7, "t_kernel": (1_700_000_000.0 + 100.0) * 1000}


def test_text_is_sent(h: Harness) -> None:
    h.post(100.0, type="text", text="hello", t=0)
    h.run()
    assert h.session.texts == ["hello"]


def test_errors_become_last_error(h: Harness) -> None:
    h.session.feed(100.0, type="error", error={"type": "invalid_request_error",
                                             "code": "bad_thing", "message": "No."})  # fmt: skip
    h.at(101.0)
    assert h.traits["last_error"] == "invalid_request_error/bad_thing: No."


def test_status_batches_and_speaking_hints(h: Harness) -> None:
    s = h.session
    flushes = h.relay.traits.flushes
    s.feed(100.0, type="input_audio_buffer.speech_started", audio_start_ms=0)
    s.feed(100.05, type="input_audio_buffer.speech_stopped", audio_end_ms=900)
    s.feed(100.1, type="input_audio_buffer.speech_started", audio_start_ms=1000)
    assert [m["speaking"] for m in h.sent("state")] == ["user", None, "user"]
    assert h.relay.traits.flushes <= flushes + 1  # at most one trait batch so far
    h.at(100.5)
    assert h.traits["status"] == "user_speaking"


def test_unknown_and_malformed_messages_are_counted(h: Harness) -> None:
    h.post(100.0, type="nonsense")
    h.post(100.0, type="nonsense")
    h.relay.handle("not a dict", [], 100.0)
    h.post(100.0, type="playback", event="started", item_id=None)
    assert h.relay.stats["unknown_messages"] == 2
    assert len(h.notes("widget.unknown_message")) == 1


def test_events_batches_collapse_and_stay_rare(h: Harness) -> None:
    for i in range(50):
        h.post(100.0 + i * 0.02, chunk(), type="mic", seq=i, t=0)
        h.at(100.0 + i * 0.02)
    h.at(101.5)
    batches = h.sent("events")
    assert 5 <= len(batches) <= 9  # ~1 s at one batch per 150 ms
    rows = [r for b in batches for r in b["events"]]
    assert sum(int(r["summary"].split()[0][1:]) if r["summary"].startswith("×") else 1
               for r in rows if r["type"] == "input_audio_buffer.append") == 50  # fmt: skip


def test_scrub() -> None:
    assert scrub("key sk-proj-abcdef123456 failed") == "key *** failed"
    assert scrub("Authorization: Bearer abc.def") == "Authorization: ***"
    assert scrub("task-123456 is fine") == "task-123456 is fine"
    assert scrub("custom secret here", ("secret",)) == "custom *** here"


def test_response_done_updates_live_usage_and_the_saved_turn_summary_at_a_pause(
    h: Harness,
) -> None:
    from realtime_widget import _preload
    from realtime_widget.state.pricing import PriceTable

    # The turn table waits for pandas to be imported off the loop (test_preload.py
    # covers the table arriving later); here it is ready.
    _preload.preload("pandas")
    deadline = time.monotonic() + 30
    while _preload.ready("pandas") is None and time.monotonic() < deadline:
        time.sleep(0.01)
    usage = {
        "total_tokens": 120, "input_tokens": 100, "output_tokens": 20,
        "input_token_details": {"text_tokens": 10, "audio_tokens": 90, "cached_tokens": 0},
        "output_token_details": {"text_tokens": 5, "audio_tokens": 15},
    }  # fmt: skip
    h.session.feed(99.0, type="session.created", session={"type": "realtime", "model": "m-x"})
    h.session.feed(100.0, type="conversation.item.added", item={
        "id": "u1", "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "hi"}]})  # fmt: skip
    h.session.feed(100.1, type="response.created", response={"id": "r1", "status": "in_progress"})
    done = {"id": "r1", "status": "completed", "output": [], "usage": usage}
    h.session.feed(100.5, type="response.done", response=done)
    h.at(100.9)
    assert h.synced["usage"]["total_tokens"] == 120  # at once, on the page too
    assert h.synced["usage"]["responses"] == 1
    assert h.synced["usage"]["cost_usd"] is None  # "m-x" has no price: not a made-up number
    assert "conversation_html" not in h.synced  # the turn summary waits for a pause
    h.at(101.0)  # 1 s after the last row change (the user's row), nothing under way
    assert 'class="rtw-turns"' in h.synced["conversation_html"]
    prices = PriceTable.default()
    prices["m-x"] = prices["gpt-realtime"]
    h.relay.prices = prices
    h.session.feed(101.5, type="response.done", response=done)
    h.at(102.5)
    expected = prices.cost(usage, "m-x")
    assert expected is not None
    assert h.traits["usage"]["cost_usd"] == pytest.approx(expected["total"])  # one response


def test_clock_offset_corrects_a_remote_browser_only(h: Harness) -> None:
    wall = 1_700_000_000.0 + h.now  # the harness's kernel wall clock, in s
    # One host: a 2 ms "offset" measured with a 3 ms round trip is noise; not applied.
    h.post(h.now, type="clock", offset_ms=2.0, rtt_ms=3.0)
    assert h.relay.clock_offset_ms == 0.0
    assert h.relay._kernel_time(wall * 1000 - 250.0, h.now) == pytest.approx(h.now - 0.25)
    # A remote browser whose clock is 5 s behind the kernel's.
    h.post(h.now, type="clock", offset_ms=5000.0, rtt_ms=4.0)
    assert h.relay.clock_offset_ms == 5000.0
    browser_ms = wall * 1000 - 5000.0 - 250.0  # 250 ms ago, on the browser's clock
    assert h.relay._kernel_time(browser_ms, h.now) == pytest.approx(h.now - 0.25)
    notes = [e.payload for e in h.session.log.filter(type="widget.clock")]
    assert [n["applied_ms"] for n in notes] == [0.0, 5000.0]
    h.post(h.now, type="clock", offset_ms="x", rtt_ms=1)  # malformed: ignored
    assert h.relay.clock_offset_ms == 5000.0

"""Conversation state driven by the recorded-style streams in tests/fixtures (no sockets)."""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np
import pytest

from realtime_widget.state import AudioRef, Conversation
from realtime_widget.state.audio_store import BLOCK_BYTES, AudioTrack
from tests.fixtures.streams import Line, appended_pcm, delta_pcm, first, load, replay

SPM = 24  # samples per ms


def pcm_of(arr: np.ndarray) -> bytes:
    return arr.astype("<i2").tobytes()


def run(name: str) -> tuple[Conversation, list[Line]]:
    lines = load(name)
    rec, _, _ = replay(lines)
    return rec.conversation, lines


# -- a VAD turn ------------------------------------------------------------------------------


def test_vad_turn_items_in_order_with_roles_and_texts() -> None:
    conv, _ = run("vad_turn")
    assert [(i.id, i.role, i.type) for i in conv.items] == [
        ("item_U1", "user", "message"),
        ("item_A1", "assistant", "message"),
    ]
    a1 = conv.item("item_A1")
    assert a1.text == "Hello there, how can I help?"
    assert a1.status == "completed"
    assert a1.response_id == "resp_1"
    assert a1.raw["content"] == [{"type": "output_audio", "transcript": a1.text}]
    u1 = conv.item("item_U1")
    assert u1.transcript == "Hi, what's up?"
    assert u1.transcript_status == "completed"
    assert u1.transcription_usage == {"type": "duration", "seconds": 1}
    assert conv.anomalies == []
    assert conv.unknown == []
    assert conv.session is not None
    assert conv.session["type"] == "realtime"
    assert conv.session_requested == {
        "type": "realtime",
        "audio": {"input": {"transcription": {"model": "whisper-1"}}},
    }
    assert conv.rate_limits is not None
    assert len(conv.rate_limits) == 2


def test_user_audio_is_the_vad_slice_of_what_was_appended() -> None:
    conv, lines = run("vad_turn")
    mic = appended_pcm(lines)
    assert pcm_of(conv.input_audio()) == mic
    # speech_started audio_start_ms=100, speech_stopped audio_end_ms=420
    assert pcm_of(conv.item_audio("item_U1")) == mic[100 * SPM * 2 : 420 * SPM * 2]
    assert conv.item("item_U1").input_span == (100 * SPM, 420 * SPM)
    assert conv.item("item_U1").audio_ms == 320


def test_assistant_audio_is_the_concatenated_deltas() -> None:
    conv, lines = run("vad_turn")
    expected = delta_pcm(lines, "item_A1")
    assert len(expected) == 20 * 20 * SPM * 2  # 20 deltas of 20 ms
    assert pcm_of(conv.item_audio("item_A1")) == expected
    a1 = conv.item("item_A1")
    assert a1.audio_ms == 400
    assert a1.audio_done
    assert conv.last_assistant_audio_item() == "item_A1"


def test_turn_timings_equal_the_fixture_timestamps() -> None:
    conv, lines = run("vad_turn")
    (turn,) = conv.turns
    assert turn.source == "speech"
    assert turn.item_id == "item_U1"
    assert turn.t_speech_started == first(lines, "input_audio_buffer.speech_started").t
    assert turn.audio_start_ms == 100
    assert turn.t_speech_stopped == first(lines, "input_audio_buffer.speech_stopped").t
    assert turn.audio_end_ms == 420
    assert turn.t_committed == first(lines, "input_audio_buffer.committed").t
    assert turn.response_id == "resp_1"
    assert turn.t_response_created == first(lines, "response.created").t
    assert turn.t_first_audio == first(lines, "response.output_audio.delta").t
    assert turn.t_first_text == first(lines, "response.output_audio_transcript.delta").t
    assert turn.t_response_done == first(lines, "response.done").t
    assert not turn.interrupted
    assert turn.truncated_ms is None
    assert turn.latency == pytest.approx(turn.t_first_audio - turn.t_speech_stopped)
    resp = conv.responses["resp_1"]
    assert resp.t_first_audio == turn.t_first_audio
    assert resp.t_first_text == turn.t_first_text
    assert resp.turn == 0


def test_response_fields_and_active_response() -> None:
    lines = load("vad_turn")
    created = lines.index(first(lines, "response.created"))
    rec, _, _ = replay(lines[: created + 1])
    assert rec.conversation.active_response_id == "resp_1"
    assert rec.conversation.responses["resp_1"].status == "in_progress"
    replay(lines[created + 1 :], rec)
    conv = rec.conversation
    assert conv.active_response_id is None
    resp = conv.responses["resp_1"]
    assert resp.status == "completed"
    assert resp.reason is None
    assert resp.output_item_ids == ["item_A1"]
    assert resp.conversation_id == "conv_fixture"
    assert not resp.out_of_band
    assert resp.usage is not None
    assert resp.usage["total_tokens"] == 310


# -- usage -----------------------------------------------------------------------------------


def test_usage_totals_sum_every_response_done() -> None:
    conv, _ = run("function_call")
    assert conv.usage["total_tokens"] == 310 + 400
    assert conv.usage["input_tokens"] == 500
    assert conv.usage["output_tokens"] == 210
    assert conv.usage["input_token_details.cached_tokens"] == 64 + 128
    assert conv.usage["input_token_details.cached_tokens_details.audio_tokens"] == 64
    assert conv.usage["input_token_details.audio_tokens"] == 340
    assert conv.usage["output_token_details.text_tokens"] == 55
    assert conv.usage["output_token_details.audio_tokens"] == 155


# -- text and function calls -------------------------------------------------------------------


def test_text_turn() -> None:
    conv, lines = run("text_turn")
    assert [(i.id, i.role, i.text) for i in conv.items] == [
        ("item_U1", "user", "What is 2+2?"),
        ("item_A1", "assistant", "2 + 2 = 4."),
    ]
    (turn,) = conv.turns
    assert turn.source == "item"
    assert turn.response_ids == ["resp_1"]
    assert turn.t_first_text == first(lines, "response.output_text.delta").t
    assert turn.t_first_audio is None
    assert conv.item_audio("item_A1").size == 0
    assert conv.truncate_event("item_A1", 100) is None


def test_function_call_turn() -> None:
    conv, lines = run("function_call")
    assert [i.id for i in conv.items] == ["item_U1", "item_F1", "item_O1", "item_A2"]
    call = conv.item("item_F1")
    assert (call.type, call.call_id, call.name, call.arguments) == (
        "function_call",
        "call_1",
        "get_time",
        '{"tz": "UTC"}',
    )
    out = conv.item("item_O1")
    assert (out.type, out.call_id, out.output) == (
        "function_call_output",
        "call_1",
        '{"time": "12:00"}',
    )
    assert conv.item("item_A2").text == "It is noon UTC."
    (turn,) = conv.turns
    assert turn.response_id == "resp_1"
    assert turn.response_ids == ["resp_1", "resp_2"]
    # The user hears the answer of the second response.
    assert turn.t_first_audio == first(lines, "response.output_audio.delta").t
    assert turn.t_response_done == lines[-1].t
    assert conv.responses["resp_1"].output_item_ids == ["item_F1"]
    assert conv.responses["resp_2"].output_item_ids == ["item_A2"]


def test_function_call_arguments_accumulate_from_deltas() -> None:
    lines = load("function_call")
    stop = lines.index(first(lines, "response.function_call_arguments.done"))
    rec, _, _ = replay(lines[:stop])
    assert rec.conversation.item("item_F1").arguments == '{"tz": "UTC"}'


# -- barge-in and truncation --------------------------------------------------------------------


def test_barge_in_cancels_truncates_and_splits_the_transcript() -> None:
    conv, lines = run("barge_in")
    assert [i.id for i in conv.items] == ["item_U1", "item_A1", "item_U2", "item_A2"]
    r1 = conv.responses["resp_1"]
    assert r1.status == "cancelled"
    assert r1.reason == "turn_detected"
    a1 = conv.item("item_A1")
    assert a1.status == "incomplete"
    assert a1.truncated_ms == 250
    assert a1.truncate_requested_ms == 250
    assert a1.t_truncated == first(lines, "conversation.item.truncated").t
    # The generated audio is kept whole; what was heard is its first 250 ms.
    generated = delta_pcm(lines, "item_A1")
    assert len(generated) == 400 * SPM * 2
    assert pcm_of(conv.item_audio("item_A1")) == generated
    assert pcm_of(conv.heard_audio("item_A1")) == generated[: 250 * SPM * 2]
    assert a1.heard_ms == 250
    # Transcript deltas were received at 0, 100, 200, 300 ms of audio (and 400 for " warm.").
    assert a1.heard_text == "Sure, the weather today is"
    assert a1.heard_text + a1.unheard_text == a1.text
    assert a1.unheard_text.startswith(" sunny and")
    t0, t1 = conv.turns
    assert t0.interrupted
    assert t0.truncated_ms == 250
    assert not t1.interrupted
    assert t1.item_id == "item_U2"
    assert t1.response_id == "resp_2"


def test_barge_in_user_audio_slices() -> None:
    conv, lines = run("barge_in")
    mic = appended_pcm(lines)
    assert len(mic) == 1200 * SPM * 2
    assert pcm_of(conv.item_audio("item_U1")) == mic[100 * SPM * 2 : 500 * SPM * 2]
    assert pcm_of(conv.item_audio("item_U2")) == mic[700 * SPM * 2 : 1100 * SPM * 2]


def test_transcript_split_is_proportional_without_delta_marks() -> None:
    conv = Conversation()
    feed_reply(conv, "item_A", n_deltas=10)  # 200 ms of audio, text only from .done
    conv.feed_server(
        {
            "type": "response.output_audio_transcript.done",
            "item_id": "item_A",
            "content_index": 0,
            "transcript": "0123456789",
        },
        1.0,
    )
    conv.feed_server(
        {"type": "conversation.item.truncated", "item_id": "item_A", "audio_end_ms": 50}, 1.1
    )
    item = conv.item("item_A")
    # 50 of 200 ms heard: a quarter of 10 characters, rounded.
    assert (item.heard_text, item.unheard_text) == ("01", "23456789")


def test_truncation_at_or_past_the_end_hears_everything() -> None:
    conv = Conversation()
    feed_reply(conv, "item_A", n_deltas=5, words=["a", "b"])
    conv.feed_server(
        {"type": "conversation.item.truncated", "item_id": "item_A", "audio_end_ms": 100}, 2.0
    )
    assert conv.item("item_A").heard_text == "ab"
    assert conv.item("item_A").unheard_text == ""


# -- late input transcription ---------------------------------------------------------------


def test_late_transcript_attaches_to_the_user_item() -> None:
    conv, lines = run("late_transcription")
    created = first(lines, "response.created").t
    completed = first(lines, "conversation.item.input_audio_transcription.completed").t
    assert completed > first(lines, "response.done").t > created
    u1 = conv.item("item_U1")
    assert u1.transcript == "Can you help?"
    assert u1.transcript_status == "completed"
    assert u1.transcription_usage is not None
    assert u1.transcription_usage["type"] == "tokens"
    assert conv.item("item_A1").transcript is None
    assert conv.item("item_A1").text == "Yes, sure."


def test_transcript_delta_in_progress_and_failure() -> None:
    conv = Conversation()
    base = "conversation.item.input_audio_transcription"
    conv.feed_server({"type": f"{base}.delta", "item_id": "u", "delta": "Hel"}, 1.0)
    assert conv.item("u").transcript == "Hel"
    assert conv.item("u").transcript_status == "in_progress"
    err = {"type": "transcription_error", "code": "audio_unintelligible", "message": "?"}
    conv.feed_server({"type": f"{base}.failed", "item_id": "u", "error": err}, 1.1)
    assert conv.item("u").transcript_status == "failed"
    assert conv.item("u").transcript_error == err
    conv.feed_server(
        {"type": f"{base}.segment", "item_id": "u", "id": "s1", "text": "Hel", "speaker": "A"}, 1.2
    )
    segments = conv.item("u").segments
    assert segments is not None
    assert segments[0]["speaker"] == "A"


# -- unknown, beta, manual, out-of-band ----------------------------------------------------------


def test_unknown_events_are_kept_and_errors_correlated() -> None:
    conv, _ = run("unknown_and_extras")
    assert [e["type"] for e in conv.unknown] == ["vendor.metrics", "response.fancy_new_thing"]
    (error,) = conv.errors
    assert error.code == "response_cancel_not_active"
    assert error.event_id == "evt_cancel1"
    assert error.client_event_type == "response.cancel"
    assert error.type == "invalid_request_error"
    assert conv.anomalies == []
    assert conv.item("item_A1").text == "Hm."


def test_beta_stream_through_the_recorder() -> None:
    conv, lines = run("beta_stream")
    assert [(i.id, i.role) for i in conv.items] == [("item_U1", "user"), ("item_A1", "assistant")]
    a1 = conv.item("item_A1")
    assert a1.text == "Beta works."
    assert a1.status == "completed"
    assert pcm_of(conv.item_audio("item_A1")) == delta_pcm(lines, "item_A1")
    assert conv.session is not None
    assert conv.session["type"] == "realtime"
    assert conv.usage["total_tokens"] == 50
    # The stray text delta names an item and response nobody announced.
    assert [a.type for a in conv.anomalies] == ["response.output_text.delta"]
    assert "item_X" not in [i.id for i in conv.items]
    assert conv.item("item_X").text == "stray"


def test_manual_turns_commit_clear_and_client_audio_items() -> None:
    conv, lines = run("manual_turns")
    mic = appended_pcm(lines)
    # 300 ms committed; 40 ms appended before `committed` arrived belong to the next buffer.
    assert conv.item("item_U1").input_span == (0, 300 * SPM)
    assert pcm_of(conv.item_audio("item_U1")) == mic[: 300 * SPM * 2]
    # After the clear at 500 ms, 200 ms appended then committed.
    assert conv.item("item_U2").input_span == (500 * SPM, 700 * SPM)
    assert pcm_of(conv.item_audio("item_U2")) == mic[500 * SPM * 2 : 700 * SPM * 2]
    assert [t.source for t in conv.turns] == ["commit", "commit", "item"]
    # The failed commit was answered by an error and left no mark behind.
    assert conv.errors[0].client_event_type == "input_audio_buffer.commit"
    assert not conv._marks
    # The client's audio item: inserted at root, its audio is what the client sent.
    create = first(lines, "conversation.item.create")
    sent_pcm = base64.b64decode(create.event["item"]["content"][0]["audio"])
    assert [i.id for i in conv.items] == ["item_U3", "item_U1"]
    assert pcm_of(conv.item_audio("item_U3")) == sent_pcm
    assert conv.item("item_U3").audio_ms == 50
    # item_U2 was deleted: gone from items, remembered.
    assert [i.id for i in conv.deleted] == ["item_U2"]
    assert conv.item("item_U2").deleted
    assert pcm_of(conv.item_audio("item_U2")) == mic[500 * SPM * 2 : 700 * SPM * 2]


def test_out_of_band_response_stays_out_of_the_conversation() -> None:
    conv, _ = run("out_of_band")
    oob = conv.responses["resp_oob"]
    assert oob.out_of_band
    assert oob.metadata == {"purpose": "classify"}
    assert oob.turn is None
    assert conv.item("item_X1").text == "playful"
    assert [i.id for i in conv.items] == ["item_U1", "item_A1"]
    (turn,) = conv.turns
    assert turn.response_ids == ["resp_1"]
    assert not conv.responses["resp_1"].out_of_band
    assert conv.usage["total_tokens"] == 710


def test_null_conversation_id_without_a_request_stays_in_the_conversation() -> None:
    # Some compatible servers send conversation_id: null for every response.
    conv = Conversation()
    conv.feed_server(
        {"type": "response.created", "response": {"id": "r", "conversation_id": None}}, 1.0
    )
    assert not conv.responses["r"].out_of_band
    assert conv.active_response_id == "r"


# -- ordering ----------------------------------------------------------------------------------


def added(item_id: str, prev: object = ..., role: str = "user") -> dict[str, object]:
    ev: dict[str, object] = {
        "type": "conversation.item.added",
        "item": {"id": item_id, "type": "message", "role": role, "content": []},
    }
    if prev is not ...:
        ev["previous_item_id"] = prev
    return ev


def test_previous_item_id_places_items() -> None:
    conv = Conversation()
    conv.feed_server(added("a"), 1)
    conv.feed_server(added("b", None), 2)
    conv.feed_server(added("c", "root"), 3)
    conv.feed_server(added("d", "a"), 4)
    assert [i.id for i in conv.items] == ["c", "a", "d", "b"]
    conv.feed_server(added("e", "nope"), 5)
    assert [i.id for i in conv.items][-1] == "e"
    assert "nope" in conv.anomalies[-1].message
    # A repeat naming another predecessor moves the item; one without previous_item_id does not.
    conv.feed_server(added("b", "c"), 6)
    assert [i.id for i in conv.items] == ["c", "b", "a", "d", "e"]
    conv.feed_server({**added("b"), "type": "conversation.item.done"}, 7)
    assert [i.id for i in conv.items] == ["c", "b", "a", "d", "e"]
    with pytest.raises(KeyError):
        conv.item("zzz")
    with pytest.raises(KeyError):
        conv.item_audio("zzz")


# -- robustness -------------------------------------------------------------------------------

MALFORMED: list[dict[str, Any]] = [
    {},
    {"type": 5},
    {"type": "response.output_audio.delta"},
    {"type": "response.output_audio.delta", "item_id": "x", "delta": "!!!not base64"},
    {"type": "response.output_audio.delta", "item_id": "x", "delta": 12},
    {"type": "response.output_audio_transcript.delta", "item_id": "x"},
    {"type": "response.output_text.done", "item_id": 3},
    {"type": "response.created"},
    {"type": "response.created", "response": {"id": 7}},
    {"type": "response.done", "response": "nope"},
    {"type": "response.done", "response": {"id": "r9", "output": [1, None, {"no": "id"}]}},
    {"type": "response.done", "response": {"id": "r10", "usage": {"total_tokens": "many"}}},
    {"type": "conversation.item.added"},
    {"type": "conversation.item.added", "item": {"id": None}},
    {"type": "conversation.item.deleted"},
    {"type": "conversation.item.truncated", "item_id": "x"},
    {"type": "conversation.item.truncated", "item_id": "x", "audio_end_ms": "soon"},
    {"type": "input_audio_buffer.speech_started"},
    {"type": "input_audio_buffer.speech_stopped", "item_id": 4},
    {"type": "input_audio_buffer.committed"},
    {"type": "input_audio_buffer.timeout_triggered", "audio_start_ms": math.inf},
    {"type": "conversation.item.input_audio_transcription.delta"},
    {"type": "conversation.item.input_audio_transcription.completed", "item_id": "u"},
    {"type": "error"},
    {"type": "error", "error": "text"},
    {"type": "session.updated", "session": []},
    {"type": "rate_limits.updated", "rate_limits": {}},
    {"type": "response.output_item.added", "item": "x"},
    {"type": "response.function_call_arguments.delta", "item_id": "f", "delta": None},
]


def test_malformed_events_never_raise() -> None:
    conv = Conversation()
    for i, event in enumerate(MALFORMED):
        assert conv.feed_server(event, float(i)) is None
    client: list[dict[str, Any]] = [
        {"type": "input_audio_buffer.append"},
        {"type": "input_audio_buffer.append", "audio": "***"},
        {"type": "conversation.item.create"},
        {"type": "conversation.item.create", "item": {"content": [{"type": "input_audio"}]}},
        {"type": "conversation.item.truncate", "item_id": 3},
        {"type": "response.cancel", "response_id": 3},
        {"type": "session.update", "session": None},
        {"type": None},
    ]
    for event in client:
        conv.feed_client(event, 99.0)
    assert len(conv.anomalies) >= 15
    assert [e.get("type") for e in conv.unknown] == [None, 5]
    assert len(conv.errors) == 2
    repr(conv)


def test_truncate_event_clamps_to_received_audio() -> None:
    conv = Conversation()
    feed_reply(conv, "item_A", n_deltas=20)  # 400 ms
    ev = conv.truncate_event("item_A", 250.7)
    assert ev is not None
    assert (ev["type"], ev["item_id"], ev["audio_end_ms"], ev["content_index"]) == (
        "conversation.item.truncate",
        "item_A",
        250,
        0,
    )
    assert isinstance(ev["event_id"], str)
    assert _end(conv.truncate_event("item_A", 10_000)) == 400
    assert _end(conv.truncate_event("item_A", -5)) == 0
    assert _end(conv.truncate_event("item_A", math.nan)) == 0
    assert _end(conv.truncate_event("item_A", math.inf)) == 400
    assert _end(conv.truncate_event("item_A", 399.99)) == 399
    ev = conv.truncate_event("item_A", 100, content_index=1)
    assert ev is not None
    assert ev["content_index"] == 1
    assert conv.truncate_event("unknown", 100) is None
    conv.feed_server(added("u1"), 5.0)
    assert conv.truncate_event("u1", 100) is None  # a user item is never truncated


def test_received_ms_rounds_down_for_partial_milliseconds() -> None:
    conv = Conversation()
    feed_reply(conv, "item_A", n_deltas=0)
    conv.feed_server(audio_delta("item_A", b"\x01\x00" * 30), 1.0)  # 1.25 ms
    assert _end(conv.truncate_event("item_A", 2.0)) == 1


def _end(ev: dict[str, object] | None) -> object:
    assert ev is not None
    return ev["audio_end_ms"]


def test_last_assistant_audio_item_ignores_out_of_band_audio() -> None:
    conv = Conversation()
    feed_reply(conv, "item_A", n_deltas=2)
    assert conv.last_assistant_audio_item() == "item_A"
    conv.feed_client({"type": "response.create", "response": {"conversation": "none"}}, 2.0)
    conv.feed_server(
        {"type": "response.created", "response": {"id": "oob", "conversation_id": None}}, 2.1
    )
    conv.feed_server(
        {
            "type": "response.output_item.added",
            "response_id": "oob",
            "item": {"id": "item_B", "type": "message", "role": "assistant"},
        },
        2.2,
    )
    conv.feed_server(audio_delta("item_B", b"\0\0" * 480, "oob"), 2.3)
    assert conv.item("item_B").audio_samples == 480
    assert conv.last_assistant_audio_item() == "item_A"


# -- audio plumbing -------------------------------------------------------------------------------


def test_feed_client_append_returns_consecutive_refs_and_decodes_base64() -> None:
    conv = Conversation()
    a = conv.feed_client({"type": "input_audio_buffer.append"}, 1.0, audio=b"\1\0" * 480)
    b = conv.feed_client(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\2\0" * 240).decode()},
        1.02,
    )
    assert a == AudioRef("input", 0, 480)
    assert b == AudioRef("input", 480, 240)
    assert b.ms == 10
    assert conv.input_samples == 720
    assert list(conv.audio(b)) == [2] * 240


def test_memoryview_audio_is_copied() -> None:
    conv = Conversation()
    buf = bytearray(b"\1\0" * 10)
    conv.feed_client({"type": "input_audio_buffer.append"}, 1.0, audio=memoryview(buf))  # type: ignore[arg-type]
    buf[:] = b"\0" * 20
    assert list(conv.input_audio()) == [1] * 10


def test_audio_track_blocks_read_across_boundaries() -> None:
    track = AudioTrack()
    rng = np.random.default_rng(0)
    whole = rng.integers(-32768, 32767, size=(BLOCK_BYTES // 2) * 3 + 1234, dtype=np.int16)
    data = whole.tobytes()
    pos = 0
    while pos < len(data):
        n = int(rng.integers(1, 4000)) * 2
        assert track.append(data[pos : pos + n]) == pos // 2
        pos += n
    assert len(track) == whole.size
    assert len(track._blocks) >= 2  # the tail was joined into blocks as it grew
    for start, stop in [(0, 10), (BLOCK_BYTES // 2 - 5, BLOCK_BYTES // 2 + 5), (1000, 700_000)]:
        assert np.array_equal(track.array(start, stop), whole[start:stop])
    assert np.array_equal(track.array(), whole)
    assert track.array(10, 5).size == 0
    assert track.append(b"\1") == whole.size  # an odd byte is dropped
    assert len(track) == whole.size


def test_timeout_triggered_opens_a_turn_with_its_audio() -> None:
    conv = Conversation()
    conv.feed_client({"type": "input_audio_buffer.append"}, 0.0, audio=b"\1\0" * 24_000)
    conv.feed_server(
        {
            "type": "input_audio_buffer.timeout_triggered",
            "audio_start_ms": 200,
            "audio_end_ms": 700,
            "item_id": "u",
        },
        1.0,
    )
    conv.feed_server({"type": "input_audio_buffer.committed", "item_id": "u"}, 1.01)
    (turn,) = conv.turns
    assert turn.source == "timeout"
    assert conv.item("u").input_span == (200 * SPM, 700 * SPM)


# -- helpers ------------------------------------------------------------------------------------


def audio_delta(item_id: str, pcm: bytes, resp: str = "r") -> dict[str, object]:
    return {
        "type": "response.output_audio.delta",
        "response_id": resp,
        "item_id": item_id,
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(pcm).decode(),
    }


def feed_reply(
    conv: Conversation, item_id: str, n_deltas: int, words: list[str] | None = None
) -> None:
    """A response ``r`` whose item gets ``n_deltas`` 20 ms deltas (words spread evenly)."""
    conv.feed_server({"type": "response.created", "response": {"id": "r"}}, 0.5)
    conv.feed_server(
        {
            "type": "response.output_item.added",
            "response_id": "r",
            "item": {"id": item_id, "type": "message", "role": "assistant", "content": []},
        },
        0.6,
    )
    words = words or []
    every = max(1, n_deltas // max(1, len(words)))
    for i in range(n_deltas):
        if words and i % every == 0 and i // every < len(words):
            conv.feed_server(
                {
                    "type": "response.output_audio_transcript.delta",
                    "item_id": item_id,
                    "response_id": "r",
                    "delta": words[i // every],
                },
                1.0 + i / 100,
            )
        pcm = b"\1\0" * 480
        conv.feed_server(audio_delta(item_id, pcm), 1.0 + i / 100, audio=pcm)


def test_turn_output_lists_the_items_of_every_response_of_a_turn() -> None:
    from tests.fixtures.streams import load, replay

    recorder, _, _ = replay(load("function_call"))
    conv = recorder.conversation
    for turn in conv.turns:
        expected = [i for r in turn.response_ids for i in conv.responses[r].output_item_ids]
        assert [item.id for item in conv.turn_output(turn)] == expected
    assert any(len(t.response_ids) > 1 for t in conv.turns)  # a tool call and its answer

"""Recorder: the receive/send hot path (parse, base64 once, state, log), no sockets."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from realtime_widget.log import INVALID_FRAME, Received, Recorder
from realtime_widget.protocol.events import input_audio_buffer_append, user_audio_item
from tests.fixtures.streams import first, load, replay


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


PCM = bytes(range(256)) * 15  # 3840 bytes = 80 ms
B64 = base64.b64encode(PCM).decode()


# -- send ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"type": "input_audio_buffer.append"},
        {"type": "input_audio_buffer.append", "audio": ""},
        {"type": "input_audio_buffer.append", "event_id": "evt_1"},
        {"type": "input_audio_buffer.append", "event_id": 'evt_\u00e9"1'},
        {"type": "input_audio_buffer.append", "event_id": "evt_1", "audio": None},
        {"audio": None, "type": "input_audio_buffer.append", "event_id": "evt_2"},
        {"audio": None, "type": "input_audio_buffer.append"},
    ],
)
def test_send_append_json_equals_dumps_of_the_full_event(event: dict[str, Any]) -> None:
    rec = Recorder()
    text = rec.send(event, 1.0, audio=PCM)
    assert text == dumps({**event, "audio": B64})
    assert json.loads(text)["audio"] == B64
    assert rec.conversation.input_audio().astype("<i2").tobytes() == PCM
    entry = rec.log[0]
    assert entry.audio_ms == 80.0
    assert "audio" not in entry.payload


def test_send_append_with_base64_only() -> None:
    rec = Recorder()
    event = input_audio_buffer_append(PCM, event_id="evt_9")
    assert rec.send(event, 1.0) == dumps(event)
    assert rec.conversation.input_audio().astype("<i2").tobytes() == PCM
    assert rec.log[0].payload == {"type": "input_audio_buffer.append", "event_id": "evt_9"}


def test_send_accepts_memoryview_audio() -> None:
    rec = Recorder()
    buf = bytearray(PCM)
    text = rec.send({"type": "input_audio_buffer.append"}, 1.0, audio=memoryview(buf))
    buf[:] = bytes(len(buf))
    assert json.loads(text)["audio"] == B64
    assert rec.conversation.input_audio().astype("<i2").tobytes() == PCM


def test_send_other_events_returns_dumps() -> None:
    rec = Recorder()
    event = {"type": "response.create", "event_id": "e", "response": {"instructions": "Hé ✓"}}
    assert rec.send(event, 1.0) == dumps(event)
    assert rec.log[0].payload is event  # kept verbatim (no audio inside)


def test_send_item_create_with_audio_injects_base64_once() -> None:
    rec = Recorder()
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio"}]}
    event: dict[str, Any] = {"type": "conversation.item.create", "item": item}
    text = rec.send(event, 1.0, audio=PCM)
    full = {"type": "conversation.item.create", "item": user_audio_item(PCM)}
    assert text == dumps(full)
    assert event["item"]["content"] == [{"type": "input_audio"}]  # caller's event untouched
    entry = rec.log[0]
    assert entry.audio is not None
    assert entry.audio_ms == 80.0
    assert entry.payload["item"]["content"] == [{"type": "input_audio"}]
    # The same item sent with its base64 inside: the log strips it, the state decodes it.
    rec2 = Recorder()
    assert rec2.send(full, 1.0) == dumps(full)
    assert rec2.log[0].payload["item"]["content"] == [{"type": "input_audio"}]
    assert rec2.log[0].audio_ms == 80.0
    rec2.receive(dumps({"type": "conversation.item.added", "item": {**item, "id": "u"}}), 2.0)
    assert rec2.conversation.item_audio("u").astype("<i2").tobytes() == PCM


def test_send_refuses_unserialisable_events_and_records_nothing() -> None:
    rec = Recorder()
    with pytest.raises(TypeError):
        rec.send({"type": "response.create", "response": {"x": object()}}, 1.0)
    assert len(rec.log) == 0


# -- receive --------------------------------------------------------------------------------


def test_receive_returns_events_and_decoded_audio() -> None:
    lines = load("vad_turn")
    _, received, _ = replay(lines)
    server = [line for line in lines if line.dir == "server"]
    assert [r.event for r in received] == [line.event for line in server]
    for r in received:
        assert isinstance(r, Received)
        if r.event["type"] == "response.output_audio.delta":
            assert r.audio == base64.b64decode(r.event["delta"])  # the dict keeps its base64
        else:
            assert r.audio is None


def test_receive_accepts_bytes_and_memoryview() -> None:
    rec = Recorder()
    frame = dumps({"type": "session.created", "event_id": "e1", "session": {"type": "realtime"}})
    (a,) = rec.receive(frame.encode(), 1.0)
    (b,) = rec.receive(memoryview(frame.encode()), 1.1)
    assert a.event == b.event == json.loads(frame)
    assert len(rec.log) == 2


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '"text"',
        "{}",
        '{"type": 5}',
        b"\xff\xfe\x00",
        "",
        "{" * 10_000,
        "[" * 100_000,
    ],
)
def test_receive_invalid_frames_are_logged_never_raised(frame: str | bytes) -> None:
    rec = Recorder()
    assert rec.receive(frame, 3.0) == []
    (entry,) = rec.log
    assert entry.direction == "server"
    assert entry.type == INVALID_FRAME
    assert entry.payload["error"]
    assert len(entry.payload["frame"]) <= 200
    assert rec.log.errors() == [entry]


def test_receive_beta_item_created_yields_added_and_done() -> None:
    rec = Recorder()
    item = {"id": "u", "type": "message", "role": "user", "status": "completed", "content": []}
    out = rec.receive(dumps({"type": "conversation.item.created", "item": item}), 1.0)
    assert [r.event["type"] for r in out] == ["conversation.item.added", "conversation.item.done"]
    assert [e.type for e in rec.log] == ["conversation.item.added", "conversation.item.done"]
    assert [i.id for i in rec.conversation.items] == ["u"]


def test_receive_beta_audio_delta_is_decoded_and_compact() -> None:
    rec = Recorder()
    frame = dumps({"type": "response.audio.delta", "item_id": "a", "delta": B64})
    (r,) = rec.receive(frame, 1.0)
    assert r.event["type"] == "response.output_audio.delta"
    assert r.audio == PCM
    assert rec.log[0].payload == {
        "type": "response.output_audio.delta",
        "item_id": "a",
        "_beta_type": "response.audio.delta",
    }
    assert rec.conversation.item_audio("a").astype("<i2").tobytes() == PCM


def test_receive_bad_base64_delta_is_an_anomaly_not_an_exception() -> None:
    rec = Recorder()
    (r,) = rec.receive(
        dumps({"type": "response.output_audio.delta", "item_id": "a", "delta": "abc"}), 1.0
    )
    assert r.audio is None
    assert any("base64" in a.message for a in rec.conversation.anomalies)
    assert rec.log[0].payload == {"type": "response.output_audio.delta", "item_id": "a"}


def test_receive_survives_a_bug_in_the_state(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(rec.conversation, "feed_server", boom)
    (r,) = rec.receive(dumps({"type": "response.created", "response": {"id": "r"}}), 1.0)
    assert r.event["type"] == "response.created"
    assert "RuntimeError" in rec.conversation.anomalies[-1].message


def test_unknown_events_are_returned_and_logged() -> None:
    rec, received, _ = replay(load("unknown_and_extras"))
    types = [r.event["type"] for r in received]
    assert "vendor.metrics" in types
    assert rec.log.filter(type="vendor.metrics")[0].payload["extra"] == {"nested": [1, 2, 3]}


def test_raw_and_base64_appends_give_the_same_state() -> None:
    lines = load("barge_in")
    a, _, sent_a = replay(lines, raw_appends=True)
    b, _, sent_b = replay(lines, raw_appends=False)
    assert sent_a == sent_b  # the same JSON on the wire either way
    assert (a.conversation.input_audio() == b.conversation.input_audio()).all()
    truncate = first(lines, "conversation.item.truncate")
    assert dumps(truncate.event) in sent_a


# -- widget notes ----------------------------------------------------------------------------


def test_note_logs_widget_events() -> None:
    rec = Recorder()
    i = rec.note("playback.started", 2.0, t_browser=1234.5, item_id="item_A", samples=480)
    entry = rec.log[i]
    assert entry.direction == "widget"
    assert entry.type == "playback.started"
    assert entry.t_browser == 1234.5
    assert entry.item_id == "item_A"
    assert entry.payload == {"type": "playback.started", "item_id": "item_A", "samples": 480}
    assert rec.audio(entry).size == 0
    assert "widget 1" in repr(rec.log)


@pytest.mark.parametrize(
    ("fmt", "encode", "decode"),
    [("audio/pcmu", "ulaw_encode", "ulaw_decode"), ("audio/pcma", "alaw_encode", "alaw_decode")],
)
def test_item_create_with_audio_in_a_g711_session(fmt: str, encode: str, decode: str) -> None:
    import base64

    import numpy as np

    from realtime_widget.protocol import audio as pa

    rec = Recorder()
    session = {"type": "realtime", "audio": {"input": {"format": {"type": fmt}}}}
    rec.receive(dumps({"type": "session.updated", "session": session}), 0.5)
    pcm24 = (np.sin(np.arange(4800) / 10) * 8000).astype("<i2")
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio"}]}
    # PCM16 given: the wire carries the session's G.711 at 8 kHz, the state the PCM16.
    text = rec.send({"type": "conversation.item.create", "item": item}, 1.0, audio=pcm24.tobytes())
    wire = base64.b64decode(json.loads(text)["item"]["content"][0]["audio"])
    expected = getattr(pa, encode)(pa.resample(pcm24, 24000, 8000))
    assert wire == expected
    assert rec.log[1].audio_ms == 200.0
    # G.711 base64 given inside the event: the state decodes it to PCM16 24 kHz.
    rec.send({"type": "conversation.item.create", "item": user_audio_item(wire)}, 2.0)
    assert rec.log[2].audio_ms == 200.0
    back = pa.resample(getattr(pa, decode)(wire), 8000, 24000)
    ref = rec.log[2].audio
    assert ref is not None
    assert np.array_equal(rec.conversation.audio(ref), back.astype(np.int16))

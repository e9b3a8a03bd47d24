"""Save/load: ``load(save(r))`` is exact, and bad files give clear errors."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import realtime_widget
from realtime_widget import RealtimeError, Session
from realtime_widget.log.archive import FORMAT_NAME, FORMAT_VERSION, RecordingFileError, load
from realtime_widget.log.recorder import Recorder
from realtime_widget.log.recording import Recording
from realtime_widget.protocol.events import user_audio_item
from realtime_widget.server import LocalServer
from realtime_widget.state.conversation import Conversation
from tests.fixtures.streams import NAMES, replay
from tests.fixtures.streams import load as load_fixture
from tests.signals import silence, speech_like

# -- exact comparison -------------------------------------------------------------------------

_SKIP_CONV = frozenset(
    # bound handlers; compared through the public views below instead
    {"_server", "_client", "_items", "_order", "_input", "_tracks", "_turn_by_item",
     "_turn_by_response", "turns", "responses", "deleted"}
)  # fmt: skip


def _fields(obj: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(obj):
        if f.name == "_conversation":
            continue
        value = getattr(obj, f.name)
        out[f.name] = value.tolist() if hasattr(value, "tolist") else value
    return out


def assert_same_conversation(a: Conversation, b: Conversation) -> None:
    assert [i.id for i in a.items] == [i.id for i in b.items]
    assert a._items.keys() == b._items.keys()
    for item_id in a._items:
        assert _fields(a._items[item_id]) == _fields(b._items[item_id]), item_id
        assert a._items[item_id].text == b._items[item_id].text
        assert np.array_equal(a.item_audio(item_id), b.item_audio(item_id))
        assert np.array_equal(a.heard_audio(item_id), b.heard_audio(item_id))
    assert [i.id for i in a.deleted] == [i.id for i in b.deleted]
    assert list(a.responses) == list(b.responses)
    for rid in a.responses:
        assert _fields(a.responses[rid]) == _fields(b.responses[rid]), rid
    assert [_fields(t) for t in a.turns] == [_fields(t) for t in b.turns]
    assert {k: t.index for k, t in a._turn_by_item.items()} == {
        k: t.index for k, t in b._turn_by_item.items()
    }
    assert {k: t.index for k, t in a._turn_by_response.items()} == {
        k: t.index for k, t in b._turn_by_response.items()
    }
    assert a.usage == b.usage
    assert a.errors == b.errors
    assert a.unknown == b.unknown
    assert a.anomalies == b.anomalies
    va = {k: v for k, v in vars(a).items() if k not in _SKIP_CONV}
    vb = {k: v for k, v in vars(b).items() if k not in _SKIP_CONV}
    assert va == vb
    assert np.array_equal(a.input_audio(), b.input_audio())
    assert a._tracks.keys() == b._tracks.keys()
    for name in a._tracks:
        assert np.array_equal(a._tracks[name].array(), b._tracks[name].array()), name


def assert_same(a: Recording, b: Recording) -> None:
    assert a.log.anchor == b.log.anchor
    assert a.log.to_records() == b.log.to_records()
    assert list(a.log) == list(b.log)  # every LoggedEvent field, payloads included
    assert [e.payload for e in a.log] == [e.payload for e in b.log]
    assert a.log.counts() == b.log.counts()
    for ea, eb in zip(a.log, b.log, strict=True):
        if ea.audio is not None:
            assert np.array_equal(a.recorder.audio(ea), b.recorder.audio(eb))
    assert_same_conversation(a.conversation, b.conversation)
    assert (a.recorder.input_format, a.recorder.output_format) == (
        b.recorder.input_format,
        b.recorder.output_format,
    )
    assert b.info == a.info
    assert a.summary() == b.summary()
    assert len(a.history) == len(b.history)
    for ha, hb in zip(a.history, b.history, strict=True):
        assert_same(ha, hb)


def round_trip(rec: Recording, tmp_path: Path, name: str = "rec.zip") -> Recording:
    path = rec.save(tmp_path / name)
    assert path == tmp_path / name
    loaded = realtime_widget.load(path)
    assert_same(rec, loaded)
    return loaded


# -- fixtures (recorded-style streams, no sockets) --------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("raw_appends", [True, False])
def test_fixture_round_trip_is_exact(name: str, raw_appends: bool, tmp_path: Path) -> None:
    rec, _, _ = replay(load_fixture(name), raw_appends=raw_appends)
    rec.note("mic.on", 0.05, t_browser=1_700_000_000_123.5, device="default")
    original = Recording(rec, {"target": "fixture", "url": "ws://x/y", "model": "m"})
    loaded = round_trip(original, tmp_path)
    assert loaded.info == {"target": "fixture", "url": "ws://x/y", "model": "m"}


def test_irregular_and_invalid_events_round_trip(tmp_path: Path) -> None:
    rec = Recorder()
    t = 10.0

    def server(event: dict[str, Any] | str) -> None:
        nonlocal t
        t += 0.01
        rec.receive(event if isinstance(event, str) else json.dumps(event), t)

    def client(event: dict[str, Any], audio: bytes | None = None) -> None:
        nonlocal t
        t += 0.01
        rec.send(event, t, audio=audio)

    pcm = speech_like(0.2, seed=1).tobytes()
    b64 = base64.b64encode(pcm).decode()
    server({"type": "session.created", "session": {"type": "realtime", "model": "m"}})
    client({"type": "input_audio_buffer.append"}, pcm)
    client({"type": "input_audio_buffer.append", "event_id": "a1", "extra": [1, 2]}, pcm[:960])
    client({"type": "input_audio_buffer.append", "audio": "%%%not base64"})  # an anomaly
    client({"type": "input_audio_buffer.append", "audio": b64})
    client({"type": "input_audio_buffer.append"}, b"")  # empty chunk
    client({"type": "conversation.item.create", "item": user_audio_item(b"")}, pcm)
    client({"type": "conversation.item.create", "item": {**user_audio_item(b""), "id": "ci"}}, pcm)
    client({"type": "conversation.item.create", "item": user_audio_item(pcm)})  # base64 inside
    client({"type": "no.such.client.event", "x": {"y": [1.5, None, True]}})
    client({"event_id": "no type"})
    server("not json {")
    server("[1, 2]")
    server({"no": "type"})
    server({"type": "invalid_frame", "sent": "by a strange server"})  # a real one: fed
    server({"type": "totally.unknown", "payload": {"a": 1}})
    server({"type": "response.created", "response": {"id": "r1", "status": "in_progress"}})
    item = {"id": "it1", "type": "message", "role": "assistant", "content": []}
    server({"type": "response.output_item.added", "response_id": "r1", "item": item})
    server({"type": "response.output_audio.delta", "item_id": "it1", "response_id": "r1",
            "output_index": 0, "content_index": 0, "delta": b64, "obfuscation": "xy"})  # fmt: skip
    server({"type": "response.output_audio.delta", "item_id": "it1", "event_id": None,
            "delta": b64})  # irregular: kept as a dict  # fmt: skip
    server({"type": "response.output_audio.delta", "item_id": "it1", "delta": "@@@"})  # bad b64
    server({"type": "response.output_audio.delta", "item_id": 5, "delta": b64})  # no item
    server({"type": "response.output_audio.delta", "item_id": "ghost", "delta": b64,
            "weird": {"k": 1}})  # unannounced item  # fmt: skip
    server({"type": "response.output_audio_transcript.delta", "item_id": "it1",
            "response_id": "r1", "delta": "Hel", "extra1": 1, "extra2": "two"})  # fmt: skip
    server({"type": "response.output_text.delta", "item_id": "it1", "delta": 7})  # irregular
    server({"type": "error", "error": {"type": "invalid_request_error", "code": "c",
            "message": "bad", "event_id": "a1"}})  # fmt: skip
    server({"type": "response.done", "response": {"id": "r1", "status": "completed",
            "usage": {"total_tokens": 9, "input_tokens": 4, "output_tokens": 5}}})  # fmt: skip
    rec.note("playback.started", t + 0.1, t_browser=1234, item_id="it1")
    rec.note("playback.stopped", t + 0.2, item_id="it1", played_ms=12.25, nan=float("nan"))
    rec.log.set_t_browser(1, 99.5)
    assert rec.conversation.anomalies  # the bad base64 ones
    assert any(e.type == "invalid_frame" for e in rec.log)
    original = Recording(rec)
    # NaN in a widget event: == fails on NaN, so compare that one by its text.
    path = original.save(tmp_path / "odd.zip")
    loaded = load(path)
    nan_a, nan_b = rec.log[-1].payload["nan"], loaded.log[-1].payload["nan"]
    assert np.isnan(nan_a) and np.isnan(nan_b)
    rec.log._dicts[-1] = {**rec.log._dicts[-1], "nan": None}
    loaded.log._dicts[-1] = {**loaded.log._dicts[-1], "nan": None}
    assert_same(original, loaded)
    # the invalid frames were not fed; the real "invalid_frame" event was
    assert [e["type"] for e in loaded.conversation.unknown] == ["invalid_frame", "totally.unknown"]


def test_g711_session_round_trip(tmp_path: Path) -> None:
    rec = Recorder()
    fmt = {"type": "audio/pcmu"}
    session = {"type": "realtime", "audio": {"input": {"format": fmt}, "output": {"format": fmt}}}
    rec.receive(json.dumps({"type": "session.created", "session": session}), 1.0)
    assert rec.input_format == "audio/pcmu"
    pcm = speech_like(0.3, seed=2).tobytes()
    rec.send({"type": "input_audio_buffer.append"}, 1.1, audio=pcm)
    ulaw = base64.b64encode(bytes(range(256)) * 4).decode()
    rec.send({"type": "input_audio_buffer.append", "audio": ulaw}, 1.2)  # wire format given
    rec.receive(json.dumps({"type": "response.created", "response": {"id": "r"}}), 1.3)
    rec.receive(
        json.dumps(
            {
                "type": "response.output_item.added",
                "response_id": "r",
                "item": {"id": "a", "type": "message", "role": "assistant"},
            }
        ),
        1.4,
    )
    for k in range(3):
        delta = {"type": "response.output_audio.delta", "item_id": "a", "delta": ulaw}
        rec.receive(json.dumps(delta), 1.5 + k / 10)
    loaded = round_trip(Recording(rec), tmp_path)
    assert loaded.recorder.output_format == "audio/pcmu"
    # PCM16 at 24 kHz (3 x 1024 µ-law bytes at 8 kHz, less the resampler's latency)
    assert 9000 <= len(loaded.conversation.item_audio("a")) <= 3 * 1024 * 3


# -- a live session against the local server --------------------------------------------------


async def test_live_local_session_round_trip(tmp_path: Path) -> None:
    server = LocalServer(pace="realtime")
    url = await server.start()
    try:
        s = Session(url, turn_detection="server_vad", silence_duration_ms=300)
        await s.connect()
        try:
            # A VAD turn, audio both ways.
            audio = np.concatenate([silence(0.3), speech_like(0.8, seed=11)])
            await s.send_audio(audio, realtime=False, trailing_silence_ms=600)
            await s.wait_for("response.done", timeout=15, since=0)
            # A typed turn.
            await s.send_text("Hello there")
            await s.wait_for("response.done", timeout=15)
            # A barge-in: speak over a long reply; auto_truncate cuts it.
            mark = s.mark()
            await s.send_audio(speech_like(2.5, seed=12), realtime=False, trailing_silence_ms=500)
            await s.wait_for("response.output_audio.delta", timeout=15, since=mark)
            await asyncio.sleep(0.4)
            mark = s.mark()
            await s.send_audio(speech_like(0.6, seed=13), realtime=False, trailing_silence_ms=500)
            await s.wait_for("conversation.item.truncated", timeout=15, since=mark)
            await s.wait_for(
                "response.done",
                lambda e: e["response"]["status"] == "completed",
                timeout=20,
                since=mark,
            )
            # An error (an unknown client event) and widget events.
            s.send({"type": "no.such.event", "event_id": "evt_bad"})
            await s.wait_for("error", timeout=10)
            s.recorder.note("mic.off", 1.0e9, t_browser=1_700_000_000_000.25)
        finally:
            await s.close()
        # A second connection: the first becomes history.
        await s.connect()
        try:
            await s.send_text("again")
            await s.wait_for("response.done", timeout=15)
        finally:
            await s.close()
    finally:
        await server.stop()
    conv = s.recorder.conversation
    assert any(i.truncated for i in s.history[0].conversation.items)
    assert s.history[0].conversation.errors
    assert conv.responses
    recording = s.recording if hasattr(s, "recording") else Recording(s.recorder)
    if not recording.history:  # before Session.recording existed
        recording = Recording(s.recorder, history=[Recording(r) for r in s.history])
    loaded = round_trip(recording, tmp_path, "live.zip")
    assert len(loaded.history) == 1
    assert "api_key" not in json.dumps(loaded.info)


async def test_unknown_server_event_in_a_live_session(tmp_path: Path) -> None:
    server = LocalServer(pace="burst")
    url = await server.start()
    try:
        async with Session(url) as s:
            await s.send_text("hi")
            await s.wait_for("response.done", timeout=10)
        # The local server never sends unknown events: feed one to the recorder.
        s.recorder.receive('{"type":"vendor.custom","x":1}', 1e9)
    finally:
        await server.stop()
    loaded = round_trip(Recording(s.recorder), tmp_path)
    assert loaded.conversation.unknown == [{"type": "vendor.custom", "x": 1}]


# -- secrets ----------------------------------------------------------------------------------


def test_no_secret_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-test-THISISASECRETKEY1234"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    rec = Recorder()
    tool = {"type": "mcp", "server_label": "x", "server_url": "https://x",
            "authorization": "Bearer abc", "headers": {"X-Key": "zzz"}}  # fmt: skip
    rec.send({"type": "session.update", "session": {"type": "realtime", "tools": [tool]}}, 1.0)
    rec.note("debug", 1.1, text=f"key was {key}")
    info = {"url": "wss://api/x?api-key=SECRET2", "api_key": "SECRET3", "model": "m"}
    path = Recording(rec, info).save(tmp_path / "s.zip")
    with zipfile.ZipFile(path) as zf:
        blob = b"".join(zf.read(n) for n in zf.namelist())
    for secret in (key, "abc", "zzz", "SECRET2", "SECRET3"):
        assert secret.encode() not in blob
    loaded = load(path)
    assert loaded.info == {"url": "wss://api/x", "model": "m"}
    assert loaded.log[0].payload["session"]["tools"][0]["authorization"] == "***"


# -- bad files --------------------------------------------------------------------------------


def _saved(tmp_path: Path) -> Path:
    rec, _, _ = replay(load_fixture("vad_turn"))
    return Recording(rec).save(tmp_path / "ok.zip")


def _rewrite(src: Path, dst: Path, change: dict[str, bytes | None]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in change:
                data = change[name]
                if data is not None:
                    zout.writestr(name, data)
            else:
                zout.writestr(name, zin.read(name))
    return dst


def _manifest(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as zf:
        result: dict[str, Any] = json.loads(zf.read("manifest.json"))
        return result


def test_manifest_describes_the_file(tmp_path: Path) -> None:
    m = _manifest(_saved(tmp_path))
    assert m["format"] == FORMAT_NAME and m["version"] == FORMAT_VERSION
    assert m["library"]["version"] == realtime_widget.__version__
    (conn,) = m["connections"]
    assert set(conn) >= {"info", "anchor", "events", "events_file", "input", "tracks"}
    assert all(t["file"].endswith(".npy") for t in conn["tracks"])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingFileError, match="no such recording file"):
        load(tmp_path / "nope.zip")


def test_not_a_zip(tmp_path: Path) -> None:
    p = tmp_path / "x.zip"
    p.write_text("hello")
    with pytest.raises(RecordingFileError, match="not a realtime_widget recording"):
        load(p)


def test_truncated_file(tmp_path: Path) -> None:
    ok = _saved(tmp_path)
    bad = tmp_path / "cut.zip"
    bad.write_bytes(ok.read_bytes()[: ok.stat().st_size // 2])
    with pytest.raises(RecordingFileError):
        load(bad)


def test_corrupt_member(tmp_path: Path) -> None:
    ok = _saved(tmp_path)
    data = bytearray(ok.read_bytes())
    with zipfile.ZipFile(ok) as zf:
        info = zf.getinfo("connections/0/audio/input.npy")
    offset = info.header_offset + 30 + len(info.filename) + 200
    data[offset : offset + 16] = b"\xff" * 16  # flip stored bytes: CRC mismatch
    bad = tmp_path / "crc.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(RecordingFileError, match="corrupt"):
        load(bad)


def test_other_zip_and_other_format(tmp_path: Path) -> None:
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(RecordingFileError, match=r"no manifest\.json"):
        load(other)
    ok = _saved(tmp_path)
    m = _manifest(ok)
    m["format"] = "something-else"
    p = _rewrite(ok, tmp_path / "fmt.zip", {"manifest.json": json.dumps(m).encode()})
    with pytest.raises(RecordingFileError, match="format 'something-else'"):
        load(p)


def test_newer_version(tmp_path: Path) -> None:
    ok = _saved(tmp_path)
    m = _manifest(ok)
    m["version"] = FORMAT_VERSION + 1
    p = _rewrite(ok, tmp_path / "new.zip", {"manifest.json": json.dumps(m).encode()})
    with pytest.raises(RecordingFileError, match="upgrade") as info:
        load(p)
    assert isinstance(info.value, RealtimeError)


@pytest.mark.parametrize(
    ("member", "data", "match"),
    [
        ("manifest.json", b"{not json", "not JSON"),
        ("connections/0/events.jsonl", None, "corrupt"),
        ("connections/0/events.jsonl", b'{"direction": "server"}\n', "line 1"),
        ("connections/0/events.jsonl", b"garbage\n", "line 1 is not JSON"),
        ("connections/0/audio/input.npy", b"\x93NUMPY broken", "corrupt"),
    ],
)
def test_damaged_members(tmp_path: Path, member: str, data: bytes | None, match: str) -> None:
    p = _rewrite(_saved(tmp_path), tmp_path / "bad.zip", {member: data})
    with pytest.raises(RecordingFileError, match=match):
        load(p)


def test_event_count_mismatch(tmp_path: Path) -> None:
    ok = _saved(tmp_path)
    with zipfile.ZipFile(ok) as zf:
        lines = zf.read("connections/0/events.jsonl").splitlines(keepends=True)
    p = _rewrite(ok, tmp_path / "short.zip", {"connections/0/events.jsonl": b"".join(lines[:-1])})
    with pytest.raises(RecordingFileError, match="manifest says"):
        load(p)


def test_failed_save_leaves_no_file(tmp_path: Path) -> None:
    class Boom(Recording):
        @property
        def conversation(self) -> Conversation:
            raise RuntimeError("boom")

    target = tmp_path / "never.zip"
    with pytest.raises(RuntimeError):
        Boom(Recorder()).save(target)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []

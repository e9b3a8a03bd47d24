"""Replay a recorded local-server session into a new one with other settings, and compare."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest

import realtime_widget
from realtime_widget import Session
from realtime_widget.log.recording import Recording
from realtime_widget.replayer import Replay, replay, requested_settings
from realtime_widget.server import LocalServer
from tests.signals import silence, speech_like

BURST = {"server_options": {"pace": "burst"}}


def _recording(s: Session) -> Recording:
    return s.recording if hasattr(s, "recording") else Recording(s.recorder)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved local-server session: two VAD turns and a typed one."""
    return asyncio.run(_record(tmp_path_factory.mktemp("replay") / "talk.zip"))


async def _record(path: Path) -> Path:
    server = LocalServer(pace="burst")
    url = await server.start()
    try:
        async with Session(
            url,
            voice="alloy",
            turn_detection="server_vad",
            silence_duration_ms=400,
            transcription="gpt-4o-transcribe",
        ) as s:
            for seed, seconds in ((21, 0.9), (22, 1.3)):
                mark = s.mark()
                audio = np.concatenate([silence(0.3), speech_like(seconds, seed=seed)])
                await s.send_audio(audio, realtime=False, trailing_silence_ms=900)
                await s.wait_for("response.done", timeout=15, since=mark)
            await s.send_text("Hello from the keyboard")
            await s.wait_for("response.done", timeout=15)
        return _recording(s).save(path)
    finally:
        await server.stop()


async def test_replay_with_other_settings(recorded: Path) -> None:
    original = realtime_widget.load(recorded)
    assert [t.source for t in original.conversation.turns] == ["speech", "speech", "item"]
    assert requested_settings(original)["audio"]["output"]["voice"] == "alloy"

    r = await realtime_widget.replay(
        recorded, session_kwargs=BURST, voice="marin", silence_duration_ms=250
    )
    assert isinstance(r, Replay)
    # The new session asked for the original's settings with the overrides on top.
    sent = requested_settings(r.new)
    assert sent["audio"]["output"]["voice"] == "marin"
    assert sent["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 250
    assert sent["audio"]["input"]["transcription"] == {"model": "gpt-4o-transcribe"}
    assert r.new.conversation.session is not None
    assert r.new.conversation.session["audio"]["output"]["voice"] == "marin"

    df = r.compare()
    assert len(df) == len(original.conversation.turns) == 3
    assert list(df["kind"]) == ["audio", "audio", "text"]
    assert (df["replay_turns"] == 1).all()
    # Every replay figure is the new recording's own, computed from its events.
    new_turns = r.new.turns()
    for rt in r.turns:
        (index,) = rt.turns
        row = df.loc[rt.original]
        assert row["user_text_replay"] == new_turns.loc[index, "user_text"]
        assert row["assistant_text_replay"] == new_turns.loc[index, "assistant_text"]
        assert row["latency_ms_replay"] == new_turns.loc[index, "speech_end_to_first_audio_ms"]
    orig_turns = original.turns()
    assert list(df["user_text_original"]) == list(orig_turns["user_text"])
    assert list(df["latency_ms_original"]) == list(orig_turns["speech_end_to_first_audio_ms"])
    # The local server transcribes "[x s of audio]" and echoes: same speech, same texts.
    assert df.loc[2, "user_text_replay"] == "Hello from the keyboard"
    assert "Hello from the keyboard" in df.loc[2, "assistant_text_replay"]
    for i in (0, 1):
        assert df.loc[i, "user_text_replay"].startswith("[")
        assert math.isfinite(df.loc[i, "latency_ms_replay"])
        assert df.loc[i, "latency_ms_replay"] > 0
    assert (df["output_tokens_replay"] > 0).all()
    # The replay's user items hold the original speech (the server's VAD cuts it anew).
    for i in (0, 1):
        a = original.conversation.item_audio(original.conversation.turns[i].item_id or "")
        new_item = r.new.conversation.turns[r.turns[i].turns[0]].item_id or ""
        b = r.new.conversation.item_audio(new_item)
        mid = len(a) // 2
        assert a[mid : mid + 2400].tobytes() in b.tobytes()  # 100 ms, sample-exact
    assert "<table" in r._repr_html_()
    assert "marin" in repr(r)


async def test_replay_manual_turns_from_a_recording(recorded: Path) -> None:
    original = realtime_widget.load(recorded)
    r = await replay(original, "local", session_kwargs=BURST, turn_detection=None)
    assert r.original is original
    assert r.new.conversation.session is not None
    assert r.new.conversation.session["audio"]["input"]["turn_detection"] is None
    commits = r.new.log.filter(type="input_audio_buffer.commit", direction="client")
    assert len(commits) == 2
    df = r.compare()
    assert len(df) == 3
    assert [t.source for t in r.new.conversation.turns] == ["commit", "commit", "item"]
    assert df["assistant_text_replay"].str.len().gt(0).all()
    # Markers of what was replayed are in the new log, as widget-side events.
    marks = r.new.log.filter(type="replay.turn", direction="widget")
    assert [m.payload["original_turn"] for m in marks] == [0, 1, 2]


async def test_replay_realtime_pace_and_response_turn(tmp_path: Path) -> None:
    async with Session("local", server_options={"pace": "burst"}, turn_detection=None) as s:
        await s.create_response()  # the assistant speaks first: a "response" turn
        await s.wait_for("response.done", timeout=10)
        await s.send_audio(speech_like(0.4, seed=5), realtime=False, commit=True, respond=True)
        await s.wait_for("response.done", timeout=10)
    rec = _recording(s)
    assert [t.source for t in rec.conversation.turns] == ["response", "commit"]
    r = await replay(rec, pace="realtime", session_kwargs=BURST, chunk_ms=20)
    df = r.compare()
    assert list(df["kind"]) == ["response", "audio"]
    assert r.turns[1].sent_ms == pytest.approx(400, abs=1)
    appends = r.new.log.filter(type="input_audio_buffer.append", direction="client")
    assert len(appends) == 20  # 20 ms chunks
    # paced like a microphone: the appends span about the audio's duration
    assert appends[-1].t_kernel - appends[0].t_kernel > 0.3


async def test_replay_rejects_bad_arguments(recorded: Path) -> None:
    with pytest.raises(ValueError, match="pace"):
        await replay(recorded, pace="slow")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_ms"):
        await replay(recorded, chunk_ms=5)
    with pytest.raises(realtime_widget.RealtimeError):
        await replay(recorded.parent / "missing.zip")

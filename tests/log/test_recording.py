"""Recording: the inspection API (audio, mixdown, timeline, display) over recorded streams."""

from __future__ import annotations

import base64
import math
from pathlib import Path

import numpy as np
import pytest

from realtime_widget.log import Recorder
from realtime_widget.log.mixdown import GAP_S, conversation_audio, placements
from realtime_widget.log.recording import Recording
from realtime_widget.protocol.audio import read_wav
from tests.fixtures.streams import appended_pcm, delta_pcm, first, load, replay


def rec_of(name: str) -> Recording:
    recorder, _, _ = replay(load(name))
    return Recording(recorder)


def test_item_audio_and_heard_audio() -> None:
    lines = load("barge_in")
    rec = rec_of("barge_in")
    truncated = first(lines, "conversation.item.truncated")
    item = rec.conversation.item(truncated.event["item_id"])
    generated = np.frombuffer(delta_pcm(lines, item.id), dtype="<i2")
    assert np.array_equal(item.audio, generated)
    assert np.array_equal(item.heard_audio, generated[: truncated.event["audio_end_ms"] * 24])
    assert len(item.heard_audio) < len(item.audio)


def test_user_item_audio_is_its_slice_of_the_input() -> None:
    lines = load("vad_turn")
    rec = rec_of("vad_turn")
    user = next(i for i in rec.items if i.role == "user")
    stopped = first(lines, "input_audio_buffer.speech_stopped")
    started = first(lines, "input_audio_buffer.speech_started")
    pcm = np.frombuffer(appended_pcm(lines), dtype="<i2")
    expected = pcm[started.event["audio_start_ms"] * 24 : stopped.event["audio_end_ms"] * 24]
    assert np.array_equal(user.audio, expected)


def test_item_to_wav_and_play(tmp_path: Path) -> None:
    pytest.importorskip("IPython")
    rec = rec_of("barge_in")
    item = next(i for i in rec.items if i.truncated)
    path = item.to_wav(tmp_path / "a.wav", heard=True)
    samples, rate = read_wav(path)
    assert rate == 24000
    assert np.array_equal(samples, item.heard_audio)
    player = item.play()
    assert "audio/wav" in player._repr_html_() or player.data[:4] == b"RIFF"
    text_item = next(i for i in rec_of("text_turn").items if i.role == "user")
    with pytest.raises(ValueError, match="has no audio"):
        text_item.play()


def test_mixdown_places_both_sides_without_losing_samples() -> None:
    lines = load("barge_in")
    rec = rec_of("barge_in")
    user, assistant = placements(rec.log, rec.conversation)
    # Every appended sample is placed once, in order.
    assert np.array_equal(np.concatenate([a for _, a in user]), rec.conversation.input_audio())
    # Each assistant item's heard part, in conversation order, never overlapping.
    heard = [i for i in rec.items if i.role == "assistant" and i.audio_samples]
    assert [item_id for _, item_id, _ in assistant] == [i.id for i in heard]
    for (pos, _, audio), item in zip(assistant, heard, strict=True):
        assert np.array_equal(audio, item.heard_audio)
        t_first = item.t_first_audio
        assert t_first is not None
        assert pos >= round((t_first - lines[0].t) * 24000)
    ends = [p + len(a) for p, _, a in assistant]
    starts = [p for p, _, _ in assistant]
    assert all(s >= e for s, e in zip(starts[1:], ends[:-1], strict=False))
    stereo = rec.audio(stereo=True)
    mono = rec.audio()
    assert stereo.shape == (len(mono), 2)
    expected = np.clip(stereo[:, 0].astype(np.int32) + stereo[:, 1], -32768, 32767)
    assert np.array_equal(mono, expected)
    for pos, _, audio in assistant:
        assert np.array_equal(stereo[pos : pos + len(audio), 1], audio)


def test_mixdown_keeps_long_send_gaps_as_silence() -> None:
    recorder = Recorder()
    chunk = (np.arange(480, dtype=np.int16) + 1).tobytes()
    event = {"type": "input_audio_buffer.append"}
    recorder.send(event, 10.0, audio=chunk)  # first event: t0
    recorder.send(event, 10.02, audio=chunk)  # jitter: laid end to end
    recorder.send(event, 12.0, audio=chunk)  # a pause longer than GAP_S
    user, _ = placements(recorder.log, recorder.conversation)
    assert [p for p, _ in user] == [0, 480, round(2.0 * 24000) - 480]
    assert GAP_S < 2.0 - 0.02
    audio = conversation_audio(recorder.log, recorder.conversation)
    assert len(audio) == round(2.0 * 24000)


def test_recording_to_wav_stereo(tmp_path: Path) -> None:
    rec = rec_of("vad_turn")
    path = rec.to_wav(tmp_path / "both.wav", stereo=True)
    data = path.read_bytes()
    assert data[22] == 2  # channels in the fmt chunk
    mono, _ = read_wav(tmp_path / "both.wav")
    assert len(mono) == len(rec.audio())


def test_timeline_plot_has_markers_and_waveforms() -> None:
    pytest.importorskip("matplotlib")
    rec = rec_of("barge_in")
    fig = rec.timeline()
    ax_user, ax_bot = fig.axes
    turns = rec.turns()
    starts = sorted(turns["t_speech_started"].dropna())
    lines_x = sorted({float(line.get_xdata()[0]) for line in ax_user.get_lines()})
    for t in starts:
        assert any(math.isclose(t, x) for x in lines_x)
    # The truncation marker sits where the heard audio ends.
    _, assistant = placements(rec.log, rec.conversation)
    cut = next((p + len(a)) / 24000 for p, i, a in assistant if rec.conversation.item(i).truncated)
    assert any(math.isclose(float(line.get_xdata()[0]), cut) for line in ax_bot.get_lines())
    assert ax_bot.collections  # waveform envelopes
    zoom = rec.timeline(start=0.5, end=1.0)
    assert zoom.axes[1].get_xlim() == pytest.approx((0.5, 1.0))
    fig.savefig(__import__("io").BytesIO(), format="png")  # renders without error


def test_repr_and_summary() -> None:
    rec = rec_of("barge_in")
    text = repr(rec)
    assert "turns" in text and "errors" in text
    assert rec.summary()["turns"] == len(rec.conversation.turns)
    page = rec._repr_html_()
    assert 'class="rtw-turns"' in page and 'class="rtw-conversation"' in page
    assert rec.model == "gpt-realtime"


def test_appended_base64_is_what_mixdown_uses() -> None:
    lines = load("vad_turn")
    rec = rec_of("vad_turn")
    total = sum(
        len(base64.b64decode(line.event["audio"])) // 2
        for line in lines
        if line.type == "input_audio_buffer.append"
    )
    assert sum(len(a) for _, a in placements(rec.log, rec.conversation)[0]) == total

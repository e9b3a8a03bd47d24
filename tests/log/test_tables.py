"""The turn table and latency summary, from recorded streams (no sockets)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from realtime_widget.log.recording import Recording
from realtime_widget.log.tables import LATENCY_COLUMNS, InputClock, first_played_times
from tests.fixtures.streams import Line, first, load, replay

pytest.importorskip("pandas")


def rec_of(name: str) -> tuple[Recording, list[Line]]:
    lines = load(name)
    recorder, _, _ = replay(lines)
    return Recording(recorder), lines


def first_after(lines: list[Line], type_: str, t: float) -> Line:
    return next(line for line in lines if line.type == type_ and line.t >= t)


def append_end_time(lines: list[Line], sample: int) -> float:
    """Independent of InputClock: walk the appends and find the chunk holding ``sample``."""
    pos = 0
    for line in lines:
        if line.dir == "client" and line.type == "input_audio_buffer.append":
            import base64

            n = len(base64.b64decode(line.event["audio"])) // 2
            if pos + n >= sample:
                return line.t - (pos + n - sample) / 24000
            pos += n
    return math.nan


def test_vad_turn_row_is_computed_from_the_events() -> None:
    rec, lines = rec_of("vad_turn")
    turns = rec.turns()
    assert list(turns.index) == [0]
    row = turns.loc[0]
    t0 = lines[0].t
    started = first(lines, "input_audio_buffer.speech_started")
    stopped = first(lines, "input_audio_buffer.speech_stopped")
    created = first(lines, "response.created")
    delta = first_after(lines, "response.output_audio.delta", created.t)
    done = first(lines, "response.done")
    assert row["source"] == "speech"
    assert row["t_speech_started"] == pytest.approx(started.t - t0)
    assert row["t_speech_stopped"] == pytest.approx(stopped.t - t0)
    assert row["t_response_created"] == pytest.approx(created.t - t0)
    assert row["t_first_audio"] == pytest.approx(delta.t - t0)
    assert row["t_response_done"] == pytest.approx(done.t - t0)
    # audio_end_ms includes the VAD's silence (OpenAI's definition): the speech ended
    # silence_duration_ms (the value in effect then) earlier.
    configs = [
        line.event["session"]["audio"]["input"]["turn_detection"]
        for line in lines
        if line.type in ("session.created", "session.updated") and line.t <= stopped.t
    ]
    silence = configs[-1]["silence_duration_ms"]
    end_ms = stopped.event["audio_end_ms"] - silence
    assert end_ms > started.event["audio_start_ms"]
    end = append_end_time(lines, end_ms * 24)
    assert row["t_speech_end"] == pytest.approx(end - t0)
    assert row["speech_end_to_first_audio_ms"] == pytest.approx((delta.t - end) * 1000)
    assert row["vad_ms"] == pytest.approx((stopped.t - end) * 1000)
    assert row["first_audio_ms"] == pytest.approx((delta.t - created.t) * 1000)
    assert math.isnan(row["t_first_played"])  # no widget: nothing was played in a browser
    transcript = first(lines, "conversation.item.input_audio_transcription.completed")
    assert row["user_text"] == transcript.event["transcript"]
    said = first(lines, "response.output_audio_transcript.done")
    assert row["assistant_text"] == said.event["transcript"]
    assert not row["interrupted"]


def test_playback_started_from_the_widget_gives_first_played() -> None:
    rec, lines = rec_of("vad_turn")
    item = rec.turns().loc[0]
    created = first(lines, "response.created")
    delta = first_after(lines, "response.output_audio.delta", created.t)
    t_played = delta.t + 0.085
    rec.recorder.note("widget.playback_started", t_played, item_id=delta.event["item_id"])
    rec.recorder.note("widget.playback_started", t_played + 5, item_id=delta.event["item_id"])
    row = rec.turns().loc[0]
    assert first_played_times(rec.log) == {delta.event["item_id"]: t_played}
    assert row["playout_ms"] == pytest.approx(85.0)
    assert row["speech_end_to_first_played_ms"] == pytest.approx(
        item["speech_end_to_first_audio_ms"] + 85.0
    )


def test_barge_in_turn_is_interrupted_with_unheard_text() -> None:
    rec, lines = rec_of("barge_in")
    turns = rec.turns()
    assert len(turns) == 2
    row = turns.loc[0]
    truncated = first(lines, "conversation.item.truncated")
    assert row["interrupted"]
    assert row["truncated_ms"] == truncated.event["audio_end_ms"]
    item = rec.conversation.item(truncated.event["item_id"])
    assert row["unheard_text"] == item.unheard_text
    assert row["unheard_text"]
    assert not turns.loc[1]["interrupted"]


def test_manual_turns_use_commit_as_end_of_speech() -> None:
    rec, lines = rec_of("manual_turns")
    turns = rec.turns()
    assert set(turns["source"]) <= {"commit", "item"}
    commits = [line for line in lines if line.type == "input_audio_buffer.committed"]
    first_commit = turns[turns["source"] == "commit"].iloc[0]
    assert first_commit["t_committed"] == pytest.approx(commits[0].t - lines[0].t)
    assert math.isnan(first_commit["t_speech_stopped"])


def test_text_turn_has_user_text() -> None:
    rec, lines = rec_of("text_turn")
    row = rec.turns().iloc[0]
    create = first(lines, "conversation.item.create")
    assert row["source"] == "item"
    assert row["user_text"] == create.event["item"]["content"][0]["text"]


def test_latency_summary_percentiles() -> None:
    rec, _ = rec_of("barge_in")
    turns = rec.turns()
    summary = rec.latency()
    assert list(summary.index) == list(LATENCY_COLUMNS)
    values = turns["first_audio_ms"].dropna().to_numpy()
    assert summary.loc["first_audio_ms", "count"] == len(values)
    assert summary.loc["first_audio_ms", "p50"] == pytest.approx(np.percentile(values, 50))
    assert summary.loc["first_audio_ms", "p95"] == pytest.approx(np.percentile(values, 95))
    assert summary.loc["playout_ms", "count"] == 0
    assert math.isnan(summary.loc["playout_ms", "p50"])


def test_input_clock_maps_positions_to_append_times() -> None:
    rec, lines = rec_of("vad_turn")
    clock = InputClock(rec.log)
    for sample in (0, 1, 480, 4800, int(clock.end[-1])):
        assert clock.time_of(sample) == pytest.approx(append_end_time(lines, sample))
    assert math.isnan(clock.time_of(int(clock.end[-1]) + 1))


def test_empty_recording_tables() -> None:
    from realtime_widget.log import Recorder

    rec = Recording(Recorder())
    assert len(rec.turns()) == 0
    assert rec.latency()["count"].sum() == 0


def test_silence_in_effect_follows_session_updates() -> None:
    import json

    from realtime_widget.log import Recorder
    from realtime_widget.log.tables import SilenceAt

    def session(td: object) -> dict[str, object]:
        return {"type": "realtime", "audio": {"input": {"turn_detection": td}}}

    rec = Recorder()
    rec.receive(json.dumps({"type": "session.created", "session": session(
        {"type": "server_vad", "silence_duration_ms": 500})}), 1.0)  # fmt: skip
    rec.receive(json.dumps({"type": "session.updated", "session": session(
        {"type": "server_vad", "silence_duration_ms": 900})}), 5.0)  # fmt: skip
    rec.receive(json.dumps({"type": "session.updated", "session": session(
        {"type": "semantic_vad", "eagerness": "low"})}), 9.0)  # fmt: skip
    rec.receive(json.dumps({"type": "session.updated", "session": {"type": "realtime"}}), 10.0)
    at = SilenceAt(rec.log)
    assert [at(2.0), at(5.0), at(7.0), at(9.5), at(11.0)] == [500, 900, 900, 0, 0]

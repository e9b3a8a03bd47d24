"""The ``events`` digest: compact rows, runs of appends and deltas collapsed."""

from __future__ import annotations

import json

from realtime_widget.log.recorder import Recorder
from realtime_widget.widget.digest import EventDigest, collapse, summarize


def test_collapse_runs_per_type_within_a_stretch_of_deltas() -> None:
    entries = [
        (1.0, "server", "response.created", "resp_1", 0.0),
        *[(2.0 + i, "server", "response.output_audio.delta", "", 40.0) for i in range(12)],
        (2.5, "server", "response.output_audio_transcript.delta", "Hel", 0.0),
        (2.6, "server", "response.output_audio_transcript.delta", "lo", 0.0),
        (3.0, "client", "input_audio_buffer.append", "", 20.0),
        (4.0, "server", "response.done", "resp_1 completed", 0.0),
        (5.0, "server", "response.output_audio.delta", "", 40.0),
    ]
    rows = collapse(entries)
    assert [(r["dir"], r["type"], r["summary"]) for r in rows] == [
        ("server", "response.created", "resp_1"),
        ("server", "response.output_audio.delta", "×12 480 ms"),
        ("server", "response.output_audio_transcript.delta", "×2 Hello"),
        ("client", "input_audio_buffer.append", "20 ms"),
        ("server", "response.done", "resp_1 completed"),
        ("server", "response.output_audio.delta", "40 ms"),  # a new stretch
    ]
    assert rows[1]["t"] == 2.0  # the first of the run


def test_collapse_caps_the_batch() -> None:
    entries = [(float(i), "server", f"type.{i}", "", 0.0) for i in range(150)]
    rows = collapse(entries, max_entries=100)
    assert len(rows) == 101
    assert rows[-1]["type"] == "…" and rows[-1]["summary"] == "50 more"


def test_summaries() -> None:
    err = {"error": {"type": "invalid_request_error", "code": "bad", "message": "no <b>"}}
    assert summarize("error", err) == "bad: no <b>"
    trunc = {"item_id": "item_1", "audio_end_ms": 514}
    assert summarize("conversation.item.truncate", trunc) == "item_1 at 514 ms"
    done = {"response": {"id": "r1", "status": "cancelled",
                         "status_details": {"reason": "turn_detected"}}}  # fmt: skip
    assert summarize("response.done", done) == "r1 cancelled (turn_detected)"
    assert summarize("widget.stop_sent", {"stop_id": 3, "reason": "ptt", "item_id": None}) == (
        "stop_id=3 reason=ptt"
    )
    session = {"session": {"audio": {"input": {"turn_detection": None}}}}
    assert summarize("session.updated", session) == "turn detection: off"


def test_digest_reads_the_log_incrementally_and_follows_a_new_log() -> None:
    rec = Recorder()
    rec.receive(json.dumps({"type": "session.created", "session": {}}), 1.0)
    rec.send({"type": "input_audio_buffer.append"}, 1.1, audio=b"\0\0" * 480)
    rec.send({"type": "input_audio_buffer.append"}, 1.12, audio=b"\0\0" * 480)
    d = EventDigest(interval=0.15)
    assert d.deadline(rec.log) == float("-inf")  # due at once
    rows = d.take(rec.log, 2.0)
    assert [r["type"] for r in rows] == ["session.created", "input_audio_buffer.append"]
    assert rows[1]["summary"] == "×2 40 ms"
    assert d.deadline(rec.log) is None  # nothing new
    rec.note("widget.mic", 2.1, status="on")
    assert d.deadline(rec.log) == 2.15
    assert [r["type"] for r in d.take(rec.log, 2.2)] == ["widget.mic"]
    fresh = Recorder()  # a reconnect: a new log, read from its start
    fresh.note("widget.hello", 3.0)
    assert d.unseen(fresh.log)
    assert [r["type"] for r in d.take(fresh.log, 3.1)] == ["widget.hello"]

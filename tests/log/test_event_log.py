"""The event log: compact audio rows, payload rebuild, no base64 kept, queries."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from realtime_widget.log import EventLog, LoggedEvent, Recorder
from realtime_widget.state import AudioRef
from tests.fixtures.streams import NAMES, Line, first, load, replay


def without_audio(event: dict[str, Any]) -> dict[str, Any]:
    """What the log should give back for ``event``: it minus every base64 payload."""
    out = dict(event)
    if event["type"] == "response.output_audio.delta":
        del out["delta"]
    elif event["type"] == "input_audio_buffer.append":
        out.pop("audio", None)
    item = out.get("item")
    if isinstance(item, dict) and isinstance(item.get("content"), list):
        content = [{k: v for k, v in p.items() if k != "audio"} for p in item["content"]]
        out["item"] = {**item, "content": content}
    return out


def longest_str(obj: Any) -> int:
    if isinstance(obj, str):
        return len(obj)
    if isinstance(obj, dict):
        return max([longest_str(k) for k in obj] + [longest_str(v) for v in obj.values()] + [0])
    if isinstance(obj, (list, tuple)):
        return max([longest_str(v) for v in obj] + [0])
    return 0


GA_STREAMS = [n for n in NAMES if n != "beta_stream"]


@pytest.mark.parametrize("name", GA_STREAMS)
@pytest.mark.parametrize("raw_appends", [True, False])
def test_payloads_rebuild_the_events_minus_audio(name: str, raw_appends: bool) -> None:
    lines = load(name)
    rec, _, _ = replay(lines, raw_appends=raw_appends)
    log = rec.log
    assert len(log) == len(lines)  # GA streams: one log entry per line
    for line, entry in zip(lines, log, strict=True):
        assert entry.direction == line.dir
        assert entry.type == line.type
        assert entry.t_kernel == line.t
        expected = without_audio(line.event)
        if raw_appends and line.type == "input_audio_buffer.append":
            expected.pop("audio", None)
        assert entry.payload == expected, entry.type
        assert entry.event_id == line.event.get("event_id")


@pytest.mark.parametrize("name", NAMES)
def test_the_log_never_keeps_base64(name: str) -> None:
    rec, _, _ = replay(load(name), raw_appends=False)
    log = rec.log
    for entry in log:
        assert longest_str(entry.payload) <= 200, entry.type
    # Nor does anything the log holds internally (columns, dicts, extras).
    assert longest_str(log._dicts) <= 200
    assert longest_str(log._d_extra) <= 200
    assert longest_str(list(log._a_extra.values())) <= 200
    assert longest_str(log._d_event_id) <= 200


def test_audio_rows_are_compact_and_point_at_their_audio() -> None:
    lines = load("vad_turn")
    rec, _, _ = replay(lines)
    log = rec.log
    deltas = log.filter(type="response.output_audio.delta")
    appends = log.filter(type="input_audio_buffer.append", direction="client")
    assert len(deltas) == 20
    assert len(appends) == 35
    assert all(log._kind[e.index] != 0 for e in deltas + appends)  # not kept as dicts
    by_index = dict(enumerate(lines))
    for entry in deltas:
        source = by_index[entry.index].event
        assert entry.audio is not None
        assert entry.audio == AudioRef("item_A1", entry.audio.start, 480)
        assert entry.audio_ms == 20.0
        assert entry.item_id == "item_A1"
        assert entry.response_id == "resp_1"
        assert entry.payload["obfuscation"] == source["obfuscation"]
        assert rec.audio(entry).astype("<i2").tobytes() == base64.b64decode(source["delta"])
    for entry in appends:
        assert entry.audio is not None
        assert entry.audio.track == "input"
        assert entry.audio_ms == 20.0
        source = by_index[entry.index].event
        assert rec.audio(entry).astype("<i2").tobytes() == base64.b64decode(source["audio"])
    starts = [e.audio.start for e in appends if e.audio]
    assert starts == [i * 480 for i in range(35)]


def test_beta_deltas_keep_their_original_type_as_an_extra() -> None:
    rec, _, _ = replay(load("beta_stream"))
    deltas = rec.log.filter(type="response.output_audio.delta")
    assert len(deltas) == 6
    assert all(e.payload["_beta_type"] == "response.audio.delta" for e in deltas)
    assert all(e.audio is not None for e in deltas)
    # conversation.item.created became added + done: two entries.
    types = [e.type for e in rec.log.filter(item_id="item_U1", direction="server")]
    assert types.count("conversation.item.added") == 1
    assert types.count("conversation.item.done") == 1


def test_irregular_audio_events_are_kept_as_dicts_without_audio() -> None:
    log = EventLog()
    ref = AudioRef("item_A", 0, 480)
    base = {"type": "response.output_audio.delta", "delta": "x"}
    odd: list[dict[str, Any]] = [
        {**base, "item_id": "item_A", "event_id": None},
        {**base, "item_id": "item_A", "output_index": "0"},
        {**base, "item_id": "item_A", "content_index": -1},
        {**base, "item_id": "other"},
        base,
    ]
    for i, event in enumerate(odd):
        index = log.record("server", event, float(i), audio=ref)
        assert log._kind[index] == 0
        entry = log[index]
        assert entry.payload == {k: v for k, v in event.items() if k != "delta"}
        assert entry.audio == ref
        assert entry.audio_ms == 20.0
    # Audio events recorded without an AudioRef: still no base64.
    log.record("server", {"type": "response.output_audio.delta", "delta": "QUFB" * 100}, 9.0)
    log.record("client", {"type": "input_audio_buffer.append", "audio": "QUFB" * 100}, 9.1)
    assert log[-2].payload == {"type": "response.output_audio.delta"}
    assert log[-1].payload == {"type": "input_audio_buffer.append"}
    assert log[-1].audio is None
    # A compact delta with every optional field absent rebuilds as it came.
    index = log.record(
        "server", {"type": "response.output_audio.delta", "item_id": "item_A", "delta": "x"}, 10.0,
        audio=ref,
    )  # fmt: skip
    assert log._kind[index] != 0
    assert log[index].payload == {"type": "response.output_audio.delta", "item_id": "item_A"}


def test_append_rows_keep_event_id_and_extras() -> None:
    log = EventLog()
    ref = AudioRef("input", 0, 480)
    log.record("client", {"type": "input_audio_buffer.append", "event_id": "e1"}, 1.0, audio=ref)
    log.record(
        "client", {"type": "input_audio_buffer.append", "audio": "QUFB", "seq": 7}, 2.0, audio=ref
    )
    log.record("client", {"type": "input_audio_buffer.append"}, 3.0, audio=AudioRef("x", 0, 1))
    assert log[0].payload == {"type": "input_audio_buffer.append", "event_id": "e1"}
    assert log[0].event_id == "e1"
    assert log[1].payload == {"type": "input_audio_buffer.append", "seq": 7}
    assert log._kind[2] == 0  # not on the input track: kept as a dict
    assert log[2].audio == AudioRef("x", 0, 1)


def test_times_wall_clock_from_the_anchor_and_browser_times() -> None:
    log = EventLog(anchor=(100.0, 1_700_000_000.0))
    log.record("server", {"type": "session.created"}, 101.5)
    log.record("widget", {"type": "playback.started"}, 102.0, t_browser=5123.25)
    log.record(
        "server", {"type": "response.output_audio.delta", "item_id": "a"}, 102.5,
        t_browser=6000.0, audio=AudioRef("a", 0, 24),
    )  # fmt: skip
    assert log[0].t_wall == pytest.approx(1_700_000_001.5)
    assert log[0].t_browser is None
    assert log[1].t_browser == 5123.25
    assert log[2].t_browser == 6000.0
    assert log[2].audio_ms == 1.0


def test_indexing_iteration_and_filters() -> None:
    rec, _, _ = replay(load("function_call"))
    log = rec.log
    assert log[-1].type == "response.done"
    assert log[-1] == log[len(log) - 1]
    with pytest.raises(IndexError):
        log[len(log)]
    assert [e.index for e in log] == list(range(len(log)))
    client = log.filter(direction="client")
    assert [e.type for e in client] == [
        "conversation.item.create",
        "response.create",
        "conversation.item.create",
        "response.create",
    ]
    f1 = log.filter(item_id="item_F1")
    assert "response.function_call_arguments.delta" in [e.type for e in f1]
    assert "response.output_item.added" in [e.type for e in f1]  # item.id counts
    r2 = log.filter(response_id="resp_2", type="response.done")
    assert len(r2) == 1
    assert r2[0].response_id == "resp_2"
    assert log.counts() == {"client": 4, "server": len(log) - 4, "widget": 0}


def test_errors_include_error_events_and_invalid_frames() -> None:
    rec, _, _ = replay(load("unknown_and_extras"))
    rec.receive("not json", 5.0)
    errors = rec.log.errors()
    assert [e.type for e in errors] == ["error", "invalid_frame"]
    assert errors[0].payload["error"]["event_id"] == "evt_cancel1"


def test_repr_is_short_and_has_no_payload() -> None:
    rec, _, _ = replay(load("barge_in"), raw_appends=False)
    text = repr(rec.log)
    assert text.startswith(f"<EventLog {len(rec.log)} events")
    assert "client 61" in text
    assert "server" in text
    assert "response.done" in text
    assert len(text) < 300
    assert "obfuscation" not in text
    assert repr(EventLog()).endswith("(empty); last: ->")


def test_to_records_columns() -> None:
    lines = load("vad_turn")
    rec, _, _ = replay(lines)
    records = rec.log.to_records()
    n = len(rec.log)
    assert all(len(col) == n for col in records.values())
    assert records["type"] == [line.type for line in lines]
    assert records["t_kernel"] == [line.t for line in lines]
    i = records["type"].index("response.output_audio.delta")
    assert records["item_id"][i] == "item_A1"
    assert records["audio_ms"][i] == 20.0
    j = records["type"].index("response.created")
    assert records["response_id"][j] == "resp_1"
    assert records["audio_ms"][j] is None


def test_to_dataframe() -> None:
    pd = pytest.importorskip("pandas")
    rec, _, _ = replay(load("text_turn"))
    df = rec.log.to_dataframe()
    assert len(df) == len(rec.log)
    assert list(df["type"])[:2] == ["session.created", "conversation.item.create"]
    assert isinstance(df["t_wall"].iloc[0], pd.Timestamp)


def test_logged_event_is_frozen() -> None:
    rec, _, _ = replay(load("text_turn"))
    entry: LoggedEvent = rec.log[0]
    with pytest.raises(AttributeError):
        entry.type = "x"  # type: ignore[misc]


def test_lines_helper_is_consistent() -> None:
    line = Line("server", 1.0, {"type": "x"})
    assert line.type == "x"
    assert Recorder().log.counts() == {"client": 0, "server": 0, "widget": 0}


def test_text_deltas_are_rows_too() -> None:
    lines = load("barge_in")
    rec, _, _ = replay(lines)
    log = rec.log
    rows = log.filter(type="response.output_audio_transcript.delta")
    assert len(rows) == 6  # 5 words of the interrupted reply, 1 of the next
    assert all(log._kind[e.index] == 2 for e in rows)  # delta table, not dicts
    sources = [
        line.event for line in lines if line.type == "response.output_audio_transcript.delta"
    ]
    assert [e.payload for e in rows] == sources
    assert all(e.audio is None and e.audio_ms is None for e in rows)
    assert rows[0].item_id == "item_A1"
    assert rows[0].response_id == "resp_1"
    counts = log.type_counts()
    assert counts["response.output_audio_transcript.delta"] == 6
    assert counts["input_audio_buffer.append"] == 60


def test_input_transcription_and_argument_deltas_rebuild_exactly() -> None:
    log = EventLog()
    events: list[dict[str, Any]] = [
        {"type": "conversation.item.input_audio_transcription.delta", "event_id": "e1",
         "item_id": "u", "content_index": 0, "delta": "Hel", "logprobs": [{"token": "Hel"}]},
        {"type": "response.function_call_arguments.delta", "event_id": "e2",
         "response_id": "r", "item_id": "f", "output_index": 1, "call_id": "c", "delta": "{"},
        {"type": "response.output_text.delta", "item_id": "a", "delta": "x", "obfuscation": 5},
    ]  # fmt: skip
    for i, event in enumerate(events):
        index = log.record("server", event, float(i))
        assert log._kind[index] == 2
        assert log[index].payload == event
    # Irregular: a text delta whose delta is not a string stays a dict.
    odd = {"type": "response.output_text.delta", "item_id": "a", "delta": None}
    index = log.record("server", odd, 9.0)
    assert log._kind[index] == 0
    assert log[index].payload == odd


def test_compact_event_shares_keys_and_ids() -> None:
    import json

    from realtime_widget.log.event_log import compact_event

    content = [{"type": "input_text", "text": "hi"}]
    item = {"id": "item_" + "x" * 20, "status": "completed", "content": content}
    frame = json.dumps({"type": "conversation.item.added", "item": item})
    a, b = compact_event(json.loads(frame)), compact_event(json.loads(frame))
    assert a == json.loads(frame)
    key_a = next(k for k in a if k == "item")
    key_b = next(k for k in b if k == "item")
    assert key_a is key_b
    assert a["item"]["id"] is b["item"]["id"]
    assert a["type"] is b["type"]
    assert a["item"]["content"][0]["text"] == "hi"


def test_df_columns_match_to_records() -> None:
    pd = pytest.importorskip("pandas")
    from realtime_widget.log.event_log import COLUMNS

    for name in GA_STREAMS:
        rec, _, _ = replay(load(name))
        df = rec.log.df
        records = rec.log.to_records()
        assert tuple(df.columns) == COLUMNS
        assert list(df.index) == records["index"]
        for col in ("direction", "type", "event_id", "item_id", "response_id"):
            assert [None if pd.isna(v) else v for v in df[col]] == records[col], col
        assert list(df["t_kernel"]) == records["t_kernel"]
        assert list(df["t"]) == pytest.approx(records["t"])
        audio = [None if pd.isna(v) else v for v in df["audio_ms"]]
        assert audio == records["audio_ms"]
        assert isinstance(df["type"].dtype, pd.CategoricalDtype)


def test_df_error_and_previous_item_columns() -> None:
    lines = load("manual_turns")
    rec, _, _ = replay(lines)
    rec.receive(b"{not json", 99.0)
    df = rec.log.df
    errors = df[df["error_type"].notna()]
    error_lines = [line for line in lines if line.type == "error"]
    assert list(errors["type"]) == ["error"] * len(error_lines) + ["invalid_frame"]
    first_error = error_lines[0].event["error"]
    assert errors.iloc[0]["error_code"] == first_error.get("code")
    assert errors.iloc[0]["error_message"] == first_error["message"]
    assert errors.iloc[-1]["error_message"]  # the ProtocolError text
    added = [line for line in lines if line.type == "conversation.item.added"]
    rows = df[df["type"] == "conversation.item.added"]
    assert [None if isinstance(v, float) else v for v in rows["previous_item_id"]] == [
        line.event.get("previous_item_id") for line in added
    ]
    assert len(rec.log.where(errors=True)) == len(errors)
    assert "2 errors, last: invalid_frame (frame is not JSON" in repr(rec.log)


def test_df_is_cached_until_new_events() -> None:
    pytest.importorskip("pandas")
    rec, _, _ = replay(load("text_turn"))
    df = rec.log.df
    assert rec.log.df is df
    rec.note("widget.mic", 1e9, status="on")
    df2 = rec.log.df
    assert df2 is not df
    assert len(df2) == len(df) + 1
    assert df2.iloc[-1]["direction"] == "widget"


def test_where_filters() -> None:
    pytest.importorskip("pandas")
    lines = load("barge_in")
    rec, _, _ = replay(lines)
    log = rec.log
    assert len(log.where(type="response.*")) == sum(
        line.type.startswith("response.") for line in lines
    )
    assert len(log.where(direction="client")) == sum(line.dir == "client" for line in lines)
    item = first(lines, "conversation.item.truncated").event["item_id"]
    by_item = log.where(item_id=item)
    assert len(by_item) == len(log.filter(item_id=item))
    resp = first(lines, "response.created").event["response"]["id"]
    assert len(log.where(response_id=resp, type="*delta")) == len(
        [e for e in log.filter(response_id=resp) if e.type.endswith("delta")]
    )
    with pytest.raises(ValueError, match="direction"):
        log.where(direction="up")  # type: ignore[arg-type]


def test_input_timeline_arrays() -> None:
    lines = load("vad_turn")
    rec, _, _ = replay(lines)
    start, length, t = rec.log.input_timeline()
    appends = [line for line in lines if line.type == "input_audio_buffer.append"]
    assert list(t) == [line.t for line in appends]
    assert list(length) == [len(base64.b64decode(line.event["audio"])) // 2 for line in appends]
    assert list(start) == list(np.cumsum([0, *length[:-1]]))


def test_failed_tool_calls_are_errors() -> None:
    pytest.importorskip("pandas")
    rec, _, _ = replay(load("text_turn"))
    rec.note("tool.call", 50.0, name="get_weather", call_id="c1")
    rec.note("tool.result", 50.1, name="get_weather", call_id="c1", error=None, output="{}")
    rec.note("tool.call", 51.0, name="boom", call_id="c2")
    rec.note("tool.result", 51.2, name="boom", call_id="c2", error="no", error_type="ValueError")
    errors = rec.log.errors()
    assert [e.type for e in errors] == ["tool.result"]
    assert errors[0].payload["call_id"] == "c2"
    rows = rec.log.where(errors=True)
    assert list(rows["error_type"]) == ["ValueError"]
    assert list(rows["error_message"]) == ["boom: no"]
    assert "1 error, last: ValueError (boom: no)" in repr(rec.log)

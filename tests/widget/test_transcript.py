"""Transcript messages (throttled deltas, finals) and the saved rows/HTML."""

from __future__ import annotations

import base64
import json

from realtime_widget.log.recorder import Recorder
from realtime_widget.widget.transcript import TranscriptStream, conversation_html, transcript_rows


def test_deltas_throttled_and_final_replaces() -> None:
    s = TranscriptStream(interval=0.1)
    [first] = s.delta("a", "assistant", "Hel", 1.0)
    assert first == {"type": "transcript", "item_id": "a", "role": "assistant", "delta": "Hel",
                     "final": False}  # fmt: skip
    assert s.delta("a", "assistant", "lo", 1.01) == []
    assert s.delta("a", "assistant", " you", 1.02) == []
    assert s.deadline() == 1.1
    [joined] = s.poll(1.1)
    assert joined["delta"] == "lo you"
    s.delta("a", "assistant", " there", 1.15)
    [final] = s.final("a", "assistant", "Hello you there", 1.16, unheard=" there")
    assert final == {"type": "transcript", "item_id": "a", "role": "assistant",
                     "text": "Hello you there", "final": True, "unheard": " there"}  # fmt: skip
    assert s.deadline() is None  # the held delta was superseded


def _feed(rec: Recorder, t: float, **event: object) -> None:
    rec.receive(json.dumps(event), t)


def test_rows_and_html_with_truncation_and_escaping() -> None:
    rec = Recorder()
    _feed(rec, 0.0, type="session.created", session={})
    user = {"id": "u1", "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "<b>hi</b> & bye"}]}  # fmt: skip
    _feed(rec, 0.1, type="conversation.item.added", item=user, previous_item_id=None)
    _feed(rec, 0.2, type="response.created", response={"id": "r1", "status": "in_progress"})
    asst = {"id": "a1", "type": "message", "role": "assistant", "status": "in_progress",
            "content": []}  # fmt: skip
    _feed(rec, 0.3, type="response.output_item.added", response_id="r1", output_index=0, item=asst)
    _feed(rec, 0.3, type="conversation.item.added", item=asst, previous_item_id="u1")
    pcm = base64.b64encode(b"\0\0" * 24000).decode()  # 1 s of audio per delta
    for i, word in enumerate(["One ", "two ", "three"]):
        _feed(rec, 0.4 + i / 10, type="response.output_audio_transcript.delta", response_id="r1",
              item_id="a1", output_index=0, content_index=0, delta=word)  # fmt: skip
        _feed(rec, 0.41 + i / 10, type="response.output_audio.delta", response_id="r1",
              item_id="a1", output_index=0, content_index=0, delta=pcm)  # fmt: skip
    rows = transcript_rows([rec.conversation])
    assert rows[0] == {"item_id": "u1", "role": "user", "text": "<b>hi</b> & bye", "unheard": "",
                       "status": "completed"}  # fmt: skip
    assert rows[1]["status"] == "in_progress"
    _feed(rec, 1.0, type="conversation.item.truncated", item_id="a1", content_index=0,
          audio_end_ms=1500)  # fmt: skip
    rows = transcript_rows([rec.conversation])
    assert rows[1]["text"] == "One two "
    assert rows[1]["unheard"] == "three"
    assert rows[1]["status"] == "interrupted"
    page = conversation_html(rows)
    assert "&lt;b&gt;hi&lt;/b&gt; &amp; bye" in page
    assert "<b>hi</b>" not in page
    assert "<s" in page and ">three</s>" in page
    assert "(interrupted)" in page
    assert conversation_html([]) == ""


def test_rows_span_earlier_connections() -> None:
    old, new = Recorder(), Recorder()
    for rec, text in ((old, "first"), (new, "second")):
        item = {"id": f"u_{text}", "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": text}]}  # fmt: skip
        _feed(rec, 0.0, type="conversation.item.added", item=item, previous_item_id=None)
    assert [r["text"] for r in transcript_rows([old.conversation, new.conversation])] == [
        "first", "second"]  # fmt: skip


def test_tool_calls_and_results_are_rows() -> None:
    import json

    from realtime_widget.log import Recorder

    rec = Recorder()
    for t, event in enumerate(
        [
            {"type": "conversation.item.added", "item": {
                "id": "u1", "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "weather?"}]}},
            {"type": "conversation.item.added", "item": {
                "id": "c1", "type": "function_call", "name": "get_weather", "call_id": "k",
                "arguments": '{"city": "Paris"}', "status": "completed"}},
            {"type": "conversation.item.added", "item": {
                "id": "o1", "type": "function_call_output", "call_id": "k",
                "output": '{"temp_c": 21}'}},
        ]
    ):  # fmt: skip
        rec.receive(json.dumps(event), float(t))
    rows = transcript_rows([rec.conversation])
    assert [(r["role"], r["text"]) for r in rows] == [
        ("user", "weather?"),
        ("tool", 'get_weather({"city": "Paris"})'),
        ("tool", '→ {"temp_c": 21}'),
    ]
    page = conversation_html(rows)
    assert "<b>Tool:</b> get_weather(" in page

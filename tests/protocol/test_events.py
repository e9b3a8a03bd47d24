"""Tests for realtime_widget.protocol.events (GA names and client-event constructors)."""

from __future__ import annotations

import base64
import typing
from typing import Any

import pytest

from realtime_widget.protocol import events as E
from realtime_widget.protocol.config import default_session, settings_to_session

APPENDIX_CLIENT = {
    "conversation.item.create",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "input_audio_buffer.append",
    "input_audio_buffer.clear",
    "output_audio_buffer.clear",
    "input_audio_buffer.commit",
    "response.cancel",
    "response.create",
    "session.update",
}


def test_name_counts() -> None:
    assert len(E.CLIENT_EVENT_TYPES) == 11
    assert len(E.SERVER_EVENT_TYPES) == 46
    assert E.CLIENT_EVENT_TYPES == APPENDIX_CLIENT
    assert isinstance(E.CLIENT_EVENT_TYPES, frozenset)
    # the GA names, not the beta ones
    for name in (
        "response.output_audio.delta",
        "response.output_audio_transcript.done",
        "response.output_text.delta",
        "conversation.item.added",
        "conversation.item.done",
        "input_audio_buffer.timeout_triggered",
    ):
        assert name in E.SERVER_EVENT_TYPES
    for beta in ("response.audio.delta", "response.text.delta", "transcription_session.updated"):
        assert beta not in E.SERVER_EVENT_TYPES
    # no name is used in both directions
    assert not E.CLIENT_EVENT_TYPES & E.SERVER_EVENT_TYPES


def _union_type_names(union: Any) -> set[str]:
    """The ``type`` Literal values of every member of an SDK event union."""
    args = typing.get_args(union)
    members = typing.get_args(args[0]) if typing.get_origin(union) is typing.Annotated else args
    names: set[str] = set()
    for member in members:
        names.update(typing.get_args(member.model_fields["type"].annotation))
    return names


@pytest.mark.sdk
def test_names_match_sdk_unions() -> None:
    pytest.importorskip("openai")
    try:
        from openai.types.realtime.realtime_client_event import RealtimeClientEvent
        from openai.types.realtime.realtime_server_event import RealtimeServerEvent
    except ImportError:  # pragma: no cover - older SDK without GA types
        pytest.skip("openai SDK without GA realtime types")
    assert _union_type_names(RealtimeClientEvent) == set(E.CLIENT_EVENT_TYPES)
    assert _union_type_names(RealtimeServerEvent) == set(E.SERVER_EVENT_TYPES)


def _all_constructed_events() -> list[dict[str, Any]]:
    return [
        E.session_update(default_session()),
        E.session_update(settings_to_session(voice="marin", silence_duration_ms=500)),
        E.session_update(settings_to_session(type="transcription", transcription="gpt-transcribe")),
        E.input_audio_buffer_append(b"\x00\x01" * 480),
        E.input_audio_buffer_append("AAA=", event_id="evt_1"),
        E.input_audio_buffer_commit(),
        E.input_audio_buffer_commit(event_id="c"),
        E.input_audio_buffer_clear(),
        E.conversation_item_create(E.user_text_item("hello")),
        E.conversation_item_create(E.user_text_item("be brief", role="system")),
        E.conversation_item_create(E.user_audio_item(b"\x00\x00" * 10)),
        E.conversation_item_create(E.user_audio_item("AAAA", transcript="hi")),
        E.conversation_item_create(E.function_call_output_item("call_1", '{"ok": true}')),
        E.conversation_item_create(E.user_text_item("first"), previous_item_id="root"),
        E.conversation_item_retrieve("item_1"),
        E.conversation_item_truncate("item_1", 1500),
        E.conversation_item_truncate("item_1", 0, content_index=0, event_id="t"),
        E.conversation_item_delete("item_1"),
        E.response_create(),
        E.response_create(
            {
                "conversation": "none",
                "instructions": "Classify",
                "output_modalities": ["text"],
                "metadata": {"kind": "classifier"},
                # item_reference is legal here too, but the SDK's pydantic model
                # only knows it in its TypedDict (response_create_event_with_references)
                "input": [E.user_text_item("Is this spam?")],
            }
        ),
        E.response_cancel(),
        E.response_cancel("resp_1"),
        E.output_audio_buffer_clear(),
    ]


def test_constructors_cover_every_client_event() -> None:
    assert {ev["type"] for ev in _all_constructed_events()} == set(E.CLIENT_EVENT_TYPES)


@pytest.mark.sdk
def test_constructors_validate_against_sdk() -> None:
    pytest.importorskip("openai")
    from openai.types.realtime.realtime_client_event import RealtimeClientEvent
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(RealtimeClientEvent)
    for event in _all_constructed_events():
        model = adapter.validate_python(event)
        assert model.type == event["type"]
        dumped = model.model_dump(exclude_unset=True, mode="json")
        assert dumped == event


def test_event_shapes() -> None:
    assert E.input_audio_buffer_commit() == {"type": "input_audio_buffer.commit"}
    assert E.input_audio_buffer_clear(event_id="x") == {
        "type": "input_audio_buffer.clear",
        "event_id": "x",
    }
    assert E.response_create() == {"type": "response.create"}
    assert E.response_create({}) == {"type": "response.create", "response": {}}
    assert E.response_cancel() == {"type": "response.cancel"}
    assert E.response_cancel("r") == {"type": "response.cancel", "response_id": "r"}
    assert E.conversation_item_create({"type": "message"}) == {
        "type": "conversation.item.create",
        "item": {"type": "message"},
    }
    assert E.conversation_item_truncate("i", 10) == {
        "type": "conversation.item.truncate",
        "item_id": "i",
        "content_index": 0,
        "audio_end_ms": 10,
    }
    assert E.user_text_item("hi") == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hi"}],
    }
    assert E.function_call_output_item("c", "o") == {
        "type": "function_call_output",
        "call_id": "c",
        "output": "o",
    }


def test_append_encodes_bytes_once() -> None:
    raw = bytes(range(256)) * 3
    ev = E.input_audio_buffer_append(raw)
    assert ev["audio"] == base64.b64encode(raw).decode("ascii")
    assert E.input_audio_buffer_append(ev["audio"])["audio"] == ev["audio"]  # str passes through
    item = E.user_audio_item(raw)
    assert item["content"][0] == {"type": "input_audio", "audio": ev["audio"]}


def test_payloads_are_copied() -> None:
    session = {"type": "realtime", "instructions": "x"}
    ev = E.session_update(session)
    assert ev["session"] == session
    assert ev["session"] is not session
    item = E.user_text_item("a")
    assert E.conversation_item_create(item)["item"] is not item
    response = {"instructions": "y"}
    assert E.response_create(response)["response"] is not response


def test_truncate_validation() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        E.conversation_item_truncate("item", -1)
    with pytest.raises(ValueError):
        E.conversation_item_truncate("item", -0.5)  # type: ignore[arg-type]
    ev = E.conversation_item_truncate("item", 1234.9)  # type: ignore[arg-type]
    assert ev["audio_end_ms"] == 1234
    assert type(ev["audio_end_ms"]) is int


def test_new_id_unique_and_prefixed() -> None:
    ids = [E.new_id("evt") for _ in range(20000)]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("evt_") for i in ids)
    assert all(len(i) <= 32 for i in ids)
    assert E.new_id("item").startswith("item_")
    assert E.new_id("a") != E.new_id("a")


def test_text_of_content() -> None:
    content = [
        {"type": "output_text", "text": "Hello "},
        {"type": "output_audio", "transcript": "world"},
        {"type": "input_audio", "audio": "AAAA"},
        {"type": "output_text", "text": ""},
    ]
    assert E.text_of_content(content) == "Hello world"
    assert E.text_of_content([]) == ""

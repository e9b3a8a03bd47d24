"""Tests for realtime_widget.protocol.beta (beta → GA translation of server events)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from realtime_widget.protocol.beta import BETA_RENAMES, beta_session_to_ga, to_ga
from realtime_widget.protocol.config import validate_session
from realtime_widget.protocol.events import SERVER_EVENT_TYPES

BETA_SESSION: dict[str, Any] = {
    "id": "sess_1",
    "object": "realtime.session",
    "model": "gpt-4o-realtime-preview",
    "modalities": ["text", "audio"],
    "instructions": "Be nice.",
    "voice": "alloy",
    "speed": 1.1,
    "input_audio_format": "pcm16",
    "output_audio_format": "g711_ulaw",
    "input_audio_transcription": {"model": "whisper-1"},
    "input_audio_noise_reduction": {"type": "near_field"},
    "turn_detection": {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
    },
    "tools": [],
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": "inf",
}


def test_renames_table() -> None:
    assert BETA_RENAMES == {
        "response.text.delta": "response.output_text.delta",
        "response.text.done": "response.output_text.done",
        "response.audio.delta": "response.output_audio.delta",
        "response.audio.done": "response.output_audio.done",
        "response.audio_transcript.delta": "response.output_audio_transcript.delta",
        "response.audio_transcript.done": "response.output_audio_transcript.done",
        "transcription_session.updated": "session.updated",
    }
    for ga in BETA_RENAMES.values():
        assert ga in SERVER_EVENT_TYPES
    for beta in BETA_RENAMES:
        assert beta not in SERVER_EVENT_TYPES


@pytest.mark.parametrize("beta", sorted(set(BETA_RENAMES) - {"transcription_session.updated"}))
def test_rename_keeps_fields(beta: str) -> None:
    event = {
        "type": beta,
        "event_id": "e1",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "content_index": 0,
        "delta": "AAAA",
    }
    before = copy.deepcopy(event)
    [out] = to_ga(event)
    assert out["type"] == BETA_RENAMES[beta]
    assert out["_beta_type"] == beta
    assert {k: v for k, v in out.items() if k not in ("type", "_beta_type")} == {
        k: v for k, v in event.items() if k != "type"
    }
    assert event == before  # input not mutated


def test_item_created_becomes_added_and_done() -> None:
    item = {
        "id": "item_1",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    event = {
        "type": "conversation.item.created",
        "event_id": "e",
        "previous_item_id": "p",
        "item": item,
    }
    added, done = to_ga(event)
    assert added["type"] == "conversation.item.added"
    assert done["type"] == "conversation.item.done"
    for out in (added, done):
        assert out["_beta_type"] == "conversation.item.created"
        assert out["previous_item_id"] == "p"
        assert out["item"] == item
    assert event["type"] == "conversation.item.created"


def test_item_created_in_progress_only_added() -> None:
    item = {
        "id": "item_2",
        "type": "message",
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }
    out = to_ga({"type": "conversation.item.created", "item": item})
    assert [e["type"] for e in out] == ["conversation.item.added"]


def test_item_created_renames_assistant_content() -> None:
    item = {
        "id": "item_3",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [
            {"type": "audio", "transcript": "hi"},
            {"type": "text", "text": "there"},
            {"type": "other"},
            "junk",
        ],
    }
    before = copy.deepcopy(item)
    added, done = to_ga({"type": "conversation.item.created", "item": item})
    types = [p["type"] if isinstance(p, dict) else p for p in added["item"]["content"]]
    assert types == ["output_audio", "output_text", "other", "junk"]
    assert added["item"]["content"][0]["transcript"] == "hi"
    assert done["item"] == added["item"]
    assert item == before


def test_user_content_is_not_renamed() -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "text", "text": "x"}]}
    added, _ = to_ga({"type": "conversation.item.created", "item": item})
    assert added["item"] is item


@pytest.mark.parametrize(
    "type_",
    ["response.output_item.added", "response.output_item.done", "conversation.item.retrieved"],
)
def test_item_events_rename_assistant_parts(type_: str) -> None:
    item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "audio", "transcript": "t"}],
    }
    [out] = to_ga({"type": type_, "response_id": "r", "output_index": 0, "item": item})
    assert out["type"] == type_
    assert out["item"]["content"] == [{"type": "output_audio", "transcript": "t"}]
    assert item["content"][0]["type"] == "audio"


def test_beta_session_to_ga_shape() -> None:
    before = copy.deepcopy(BETA_SESSION)
    ga = beta_session_to_ga(BETA_SESSION)
    assert before == BETA_SESSION
    assert ga == {
        "type": "realtime",
        "id": "sess_1",
        "object": "realtime.session",
        "model": "gpt-4o-realtime-preview",
        "output_modalities": ["audio"],
        "instructions": "Be nice.",
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.8,  # no GA counterpart: kept so nothing is lost
        "max_output_tokens": "inf",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "whisper-1"},
                "noise_reduction": {"type": "near_field"},
                "turn_detection": BETA_SESSION["turn_detection"],
            },
            "output": {"voice": "alloy", "speed": 1.1, "format": {"type": "audio/pcmu"}},
        },
    }
    # apart from the beta-only temperature, the result is a valid GA session
    without = {k: v for k, v in ga.items() if k != "temperature"}
    assert validate_session(without) == without


@pytest.mark.parametrize(
    ("modalities", "expected"),
    [(["text", "audio"], ["audio"]), (["audio"], ["audio"]), (["text"], ["text"]), (None, [])],
)
def test_beta_modalities(modalities: Any, expected: list[str]) -> None:
    assert beta_session_to_ga({"modalities": modalities})["output_modalities"] == expected


def test_beta_session_formats() -> None:
    ga = beta_session_to_ga({"input_audio_format": "g711_alaw", "output_audio_format": "pcm16"})
    assert ga["audio"]["input"]["format"] == {"type": "audio/pcma"}
    assert ga["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    odd = beta_session_to_ga({"input_audio_format": "opus"})
    assert odd["audio"]["input"]["format"] == "opus"  # unknown: kept for the caller to report


def test_ga_session_unchanged() -> None:
    ga = {"type": "realtime", "audio": {"output": {"voice": "marin"}}}
    assert beta_session_to_ga(ga) is ga
    assert beta_session_to_ga({"type": "transcription"}) == {"type": "transcription"}


@pytest.mark.parametrize("type_", ["session.created", "session.updated"])
def test_beta_session_events_converted(type_: str) -> None:
    [out] = to_ga({"type": type_, "event_id": "e", "session": BETA_SESSION})
    assert out["type"] == type_
    assert out["_beta_type"] == type_
    assert out["session"]["type"] == "realtime"
    assert out["session"]["audio"]["output"]["voice"] == "alloy"
    assert "voice" not in out["session"]


def test_transcription_session_updated() -> None:
    beta = {
        "modalities": ["text"],
        "input_audio_format": "pcm16",
        "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "en"},
        "turn_detection": None,
        "include": [],
    }
    [out] = to_ga({"type": "transcription_session.updated", "session": beta})
    assert out["type"] == "session.updated"
    assert out["_beta_type"] == "transcription_session.updated"
    session = out["session"]
    assert session == {
        "type": "transcription",
        "include": [],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                "turn_detection": None,
            }
        },
    }
    assert validate_session(session) == session


GA_EVENTS: list[dict[str, Any]] = [
    {"type": "session.created", "session": {"type": "realtime", "audio": {}}},
    {"type": "session.updated", "session": {"type": "realtime", "output_modalities": ["audio"]}},
    {"type": "response.output_audio.delta", "delta": "AAAA", "item_id": "i"},
    {"type": "response.output_text.done", "text": "x"},
    {
        "type": "conversation.item.added",
        "item": {"type": "message", "role": "assistant", "content": []},
    },
    {"type": "conversation.item.done", "item": {"type": "message", "role": "user", "content": []}},
    {
        "type": "response.output_item.done",
        "item": {"type": "message", "role": "assistant", "content": [{"type": "output_audio"}]},
    },
    {
        "type": "conversation.item.retrieved",
        "item": {"type": "message", "role": "assistant", "content": [{"type": "output_text"}]},
    },
    {"type": "response.output_item.added", "item": {"type": "function_call", "name": "f"}},
    {"type": "response.content_part.added", "part": {"type": "audio"}},
    {"type": "input_audio_buffer.speech_started", "audio_start_ms": 10, "item_id": "i"},
    {"type": "error", "error": {"type": "invalid_request_error", "message": "m"}},
    {"type": "some.future.event", "x": 1},
    {"no_type": True},
]


@pytest.mark.parametrize("event", GA_EVENTS, ids=[str(e.get("type")) for e in GA_EVENTS])
def test_ga_events_pass_through_as_same_object(event: dict[str, Any]) -> None:
    out = to_ga(event)
    assert len(out) == 1
    assert out[0] is event


@pytest.mark.parametrize("type_", ["response.created", "response.done"])
def test_response_output_items_and_modalities_become_ga(type_: str) -> None:
    beta = {
        "type": type_,
        "response": {
            "id": "resp_1",
            "modalities": ["text", "audio"],
            "output": [
                {"id": "i1", "type": "message", "role": "assistant",
                 "content": [{"type": "audio", "transcript": "Hi"}]},
                {"id": "c1", "type": "function_call", "name": "f", "arguments": "{}"},
            ],
            "usage": {"total_tokens": 3},
        },
    }  # fmt: skip
    (ga,) = to_ga(beta)
    response = ga["response"]
    assert response["output_modalities"] == ["audio"]
    assert "modalities" not in response
    assert response["output"][0]["content"][0]["type"] == "output_audio"
    assert response["output"][1] is beta["response"]["output"][1]
    assert response["usage"] == {"total_tokens": 3}
    assert beta["response"]["modalities"] == ["text", "audio"]  # the input is not mutated


def test_ga_response_done_is_returned_as_is() -> None:
    event = {
        "type": "response.done",
        "response": {"id": "r", "output_modalities": ["audio"], "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text"}]}]},
    }  # fmt: skip
    assert to_ga(event)[0] is event

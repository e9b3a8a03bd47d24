"""GA Realtime event names and constructors for client events.

Events travel as plain ``dict`` objects shaped exactly as on the wire: that is
what ``json.loads`` produces, what the server sends, and what the event log
keeps verbatim. Constructors here only build such dicts; they never validate
the ``session`` payload (``config.py`` does that).

The name lists are the members of the GA unions of the ``openai`` SDK 3.54
(``types/realtime/realtime_client_event.py`` and ``realtime_server_event.py``).
Unknown server event types are legal: callers must pass them through.
"""

from __future__ import annotations

import base64
import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "CLIENT_EVENT_TYPES",
    "SERVER_EVENT_TYPES",
    "Event",
    "conversation_item_create",
    "conversation_item_delete",
    "conversation_item_retrieve",
    "conversation_item_truncate",
    "function_call_output_item",
    "input_audio_buffer_append",
    "input_audio_buffer_clear",
    "input_audio_buffer_commit",
    "new_id",
    "output_audio_buffer_clear",
    "response_cancel",
    "response_create",
    "session_update",
    "user_audio_item",
    "user_text_item",
]

Event = dict[str, Any]
"""An event as on the wire: a JSON object with a ``type`` key."""

CLIENT_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "conversation.item.delete",
        "response.create",
        "response.cancel",
        "output_audio_buffer.clear",
    }
)

SERVER_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "conversation.created",
        "conversation.item.created",
        "conversation.item.deleted",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.failed",
        "conversation.item.input_audio_transcription.segment",
        "conversation.item.retrieved",
        "conversation.item.truncated",
        "conversation.item.added",
        "conversation.item.done",
        "error",
        "input_audio_buffer.cleared",
        "input_audio_buffer.committed",
        "input_audio_buffer.dtmf_event_received",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.timeout_triggered",
        "rate_limits.updated",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.created",
        "response.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.added",
        "response.output_item.done",
        "response.output_text.delta",
        "response.output_text.done",
        "session.created",
        "session.updated",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
    }
)

# A process-wide counter plus a random prefix keeps ids unique without the
# cost of uuid4 on the audio path (one append every 20-40 ms).
_ID_PREFIX = base64.b32encode(os.urandom(5)).decode().lower()
_counter = itertools.count(1)


def new_id(prefix: str) -> str:
    """Return a fresh id such as ``evt_ab3k9xq2f1`` (prefix + random + counter)."""
    return f"{prefix}_{_ID_PREFIX}{next(_counter):x}"


def _event(type_: str, event_id: str | None, **fields: Any) -> Event:
    ev: Event = {"type": type_}
    if event_id is not None:
        ev["event_id"] = event_id
    for key, value in fields.items():
        if value is not None:
            ev[key] = value
    return ev


def session_update(session: Mapping[str, Any], *, event_id: str | None = None) -> Event:
    """``session.update``; ``session`` should already be GA-shaped and validated."""
    return _event("session.update", event_id, session=dict(session))


def input_audio_buffer_append(audio: bytes | str, *, event_id: str | None = None) -> Event:
    """``input_audio_buffer.append``; ``audio`` is raw bytes or already base64 text."""
    if not isinstance(audio, str):
        audio = base64.b64encode(audio).decode("ascii")
    return _event("input_audio_buffer.append", event_id, audio=audio)


def input_audio_buffer_commit(*, event_id: str | None = None) -> Event:
    return _event("input_audio_buffer.commit", event_id)


def input_audio_buffer_clear(*, event_id: str | None = None) -> Event:
    return _event("input_audio_buffer.clear", event_id)


def conversation_item_create(
    item: Mapping[str, Any],
    *,
    previous_item_id: str | None = None,
    event_id: str | None = None,
) -> Event:
    """``conversation.item.create``; ``previous_item_id="root"`` inserts at the start."""
    return _event(
        "conversation.item.create", event_id, item=dict(item), previous_item_id=previous_item_id
    )


def conversation_item_retrieve(item_id: str, *, event_id: str | None = None) -> Event:
    return _event("conversation.item.retrieve", event_id, item_id=item_id)


def conversation_item_truncate(
    item_id: str, audio_end_ms: int, *, content_index: int = 0, event_id: str | None = None
) -> Event:
    if audio_end_ms < 0:
        raise ValueError(f"audio_end_ms must be >= 0, got {audio_end_ms}")
    return _event(
        "conversation.item.truncate",
        event_id,
        item_id=item_id,
        content_index=content_index,
        audio_end_ms=int(audio_end_ms),
    )


def conversation_item_delete(item_id: str, *, event_id: str | None = None) -> Event:
    return _event("conversation.item.delete", event_id, item_id=item_id)


def response_create(
    response: Mapping[str, Any] | None = None, *, event_id: str | None = None
) -> Event:
    """``response.create``; ``response`` holds per-response overrides (GA shape)."""
    return _event(
        "response.create", event_id, response=None if response is None else dict(response)
    )


def response_cancel(response_id: str | None = None, *, event_id: str | None = None) -> Event:
    return _event("response.cancel", event_id, response_id=response_id)


def output_audio_buffer_clear(*, event_id: str | None = None) -> Event:
    """WebRTC/SIP only; harmless but pointless over WebSocket."""
    return _event("output_audio_buffer.clear", event_id)


def user_text_item(text: str, *, role: str = "user") -> dict[str, Any]:
    """A message item with one ``input_text`` part (role ``user`` or ``system``)."""
    return {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}


def user_audio_item(audio: bytes | str, transcript: str | None = None) -> dict[str, Any]:
    """A user message item with one ``input_audio`` part (PCM16 24 kHz bytes or base64)."""
    if not isinstance(audio, str):
        audio = base64.b64encode(audio).decode("ascii")
    part: dict[str, Any] = {"type": "input_audio", "audio": audio}
    if transcript is not None:
        part["transcript"] = transcript
    return {"type": "message", "role": "user", "content": [part]}


def function_call_output_item(call_id: str, output: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def text_of_content(content: Sequence[Mapping[str, Any]]) -> str:
    """Join the text or transcript of every content part of an item."""
    out: list[str] = []
    for part in content:
        text = part.get("text")
        if text is None:
            text = part.get("transcript")
        if text:
            out.append(str(text))
    return "".join(out)

"""The ``openai`` SDK's own realtime client against the bundled local server.

Proves the local server is a faithful GA peer: the SDK connects with its usual
URL scheme, completes a text turn and an audio turn, and every event the server
sends validates (strictly, not just constructs) against the SDK's pydantic
models of GA server events.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from tests.signals import speech_like

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.sdk

from openai.types.realtime import RealtimeServerEvent  # noqa: E402
from pydantic import TypeAdapter  # noqa: E402

_server_event = TypeAdapter(RealtimeServerEvent)


@pytest.fixture
def server(burst_server: str) -> str:
    return burst_server


def _base(url: str) -> str:
    # The SDK appends "/realtime" to websocket_base_url.
    return url.split("?", 1)[0].removesuffix("/realtime")


async def _collect_until_done(conn: Any, raw: list[dict[str, Any]]) -> list[Any]:
    # Raw frames, so that validation sees exactly what the server sent.
    events = []
    while True:
        data = await conn.recv_bytes()
        raw.append(json.loads(data))
        event = conn.parse_event(data)
        events.append(event)
        if event.type == "response.done":
            return events


def _validate_all(raw: list[dict[str, Any]]) -> None:
    for ev in raw:
        _server_event.validate_python(ev)


async def test_sdk_text_turn(server: str) -> None:
    client = openai.AsyncOpenAI(api_key="sk-local-not-a-key", websocket_base_url=_base(server))
    raw: list[dict[str, Any]] = []
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(
            session={"type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"]}
        )
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hi SDK"}],
            }
        )
        await conn.response.create()
        events = await _collect_until_done(conn, raw)
    types = [e.type for e in events]
    assert types[0] == "session.created"
    assert "session.updated" in types
    assert "response.output_text.delta" in types
    done = events[-1]
    assert done.response.status == "completed"
    assert done.response.usage.total_tokens > 0
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert "Hi SDK" in text
    _validate_all(raw)


async def test_sdk_audio_turn(server: str) -> None:
    client = openai.AsyncOpenAI(api_key="sk-local-not-a-key", websocket_base_url=_base(server))
    raw: list[dict[str, Any]] = []
    speech = speech_like(1.0, seed=21)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(
            session={
                "type": "realtime",
                "audio": {
                    "input": {
                        "turn_detection": None,
                        "transcription": {"model": "gpt-4o-mini-transcribe"},
                    }
                },
            }
        )
        for i in range(0, len(speech), 960):
            chunk = speech[i : i + 960].astype("<i2").tobytes()
            await conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        await conn.input_audio_buffer.commit()
        await conn.response.create()
        events = await _collect_until_done(conn, raw)
    types = [e.type for e in events]
    assert "input_audio_buffer.committed" in types
    assert "response.output_audio.delta" in types
    assert "response.output_audio_transcript.delta" in types
    reply = b"".join(
        base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
    )
    got = np.frombuffer(reply, "<i2")
    assert len(got) == len(speech)  # the echo engine answers with the user's own audio
    assert events[-1].response.status == "completed"
    _validate_all(raw)

"""The local server over real loopback WebSockets: session, errors, items, responses.

Every server event received is validated against the openai SDK's GA union
(see conftest.Client.next).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from realtime_widget.protocol.audio import ulaw_decode, ulaw_encode
from realtime_widget.server import LocalServer

from .conftest import (
    SR,
    Client,
    b64,
    client,
    corr,
    pcm,
    silence,
    squash,
    text_item,
    tone_burst,
    types,
)

pytestmark = pytest.mark.timeout(30)


# -- connecting and session config ---------------------------------------------------------


async def test_session_created_is_the_full_ga_session(server: LocalServer) -> None:
    async with connect(f"{server.url}?model=gpt-realtime", max_size=None) as ws:
        c = Client(ws)
        created = await c.next()
    assert created["type"] == "session.created"
    s = created["session"]
    assert s["type"] == "realtime"
    assert s["object"] == "realtime.session"
    assert s["id"].startswith("sess_")
    assert isinstance(s["expires_at"], int)
    assert s["model"] == "gpt-realtime"  # from ?model=
    assert (
        "engines: vad=energy, transcriber=placeholder, responder=echo, speaker=echo"
        in s["instructions"]
    )
    td = s["audio"]["input"]["turn_detection"]
    assert td == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }
    assert s["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    # GA servers send session.created only: no conversation.created follows.
    assert not any(e["type"] == "conversation.created" for e in c.events)


@pytest.mark.parametrize("path", ["/openai/v1/realtime?model=dep", "/", "/v1/realtime"])
async def test_paths_and_any_auth_accepted(server: LocalServer, path: str) -> None:
    base = server.url.removesuffix("/v1/realtime")
    headers = {"Authorization": "Bearer sk-whatever", "api-key": "azure-key"}
    async with client(base + path, additional_headers=headers) as c:
        await c.send({"type": "input_audio_buffer.clear"})
        assert (await c.next())["type"] == "input_audio_buffer.cleared"
    assert server.last_connection().headers["api-key"] == "azure-key"


async def test_unknown_path_is_404(server: LocalServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(server.url.replace("/v1/realtime", "/v2/nope")):
            pass
    assert info.value.response.status_code == 404


async def test_beta_header_is_refused_with_4000(server: LocalServer) -> None:
    async with connect(server.url, additional_headers={"OpenAI-Beta": "realtime=v1"}) as ws:
        event = json.loads(await ws.recv())
        assert event["type"] == "error"
        assert event["error"]["type"] == "invalid_request_error"
        assert event["error"]["code"] == "beta_api_shape_disabled"
        assert event["error"]["message"].startswith("Realtime Beta API is no longer supported")
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4000
    assert server.last_connection().refused == "beta_api_shape_disabled"


async def test_browser_subprotocol_selected(server: LocalServer) -> None:
    async with connect(
        server.url,
        subprotocols=["realtime", "openai-insecure-api-key.sk-x"],  # type: ignore[list-item]
    ) as ws:
        assert ws.subprotocol == "realtime"


async def test_session_update_valid(server: LocalServer) -> None:
    async with client(server.url) as c:
        await c.send(
            {
                "type": "session.update",
                "event_id": "evt_1",
                "session": {
                    "type": "realtime",
                    "instructions": "Be brief.",
                    "audio": {
                        "input": {
                            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500}
                        }
                    },
                },
            }
        )
        updated = await c.next()
    assert updated["type"] == "session.updated"
    assert updated["event_id"] != "evt_1"  # session.updated does not echo the client's id
    s = updated["session"]
    assert s["instructions"] == "Be brief."
    td = s["audio"]["input"]["turn_detection"]
    assert td["silence_duration_ms"] == 500
    assert td["threshold"] == 0.5  # merged, not replaced
    assert s["audio"]["output"]["voice"] == "alloy"  # full effective session
    assert s["id"].startswith("sess_")


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        (
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}},
            },
            "invalid_value",
            "session.audio.input.turn_detection.threshold",
        ),
        ({"instructions": "no type"}, "missing_required_parameter", "session.type"),
        ({"type": "realtime", "voice": "marin"}, "unknown_parameter", "session.voice"),
        ({"type": "realtime", "bogus": 1}, "unknown_parameter", "session.bogus"),
        (
            {"type": "realtime", "output_modalities": ["audio", "text"]},
            "invalid_value",
            "session.output_modalities",
        ),
    ],
)
async def test_session_update_invalid(
    server: LocalServer, session: Any, code: str, param: str
) -> None:
    async with client(server.url) as c:
        await c.send({"type": "session.update", "event_id": "evt_bad", "session": session})
        err = await c.next()
        assert err["type"] == "error"
        e = err["error"]
        assert (e["type"], e["code"], e["param"], e["event_id"]) == (
            "invalid_request_error",
            code,
            param,
            "evt_bad",
        )
        assert e["message"]
        # The socket stays open and the config is unchanged.
        updated = await c.update({"instructions": "ok"})
        assert updated["session"]["audio"]["input"]["turn_detection"]["threshold"] == 0.5


async def test_bad_frames_are_errors_not_closes(server: LocalServer) -> None:
    async with client(server.url) as c:
        await c.send("{not json")
        assert (await c.next())["error"]["code"] == "invalid_json"
        await c.send("[1, 2]")
        assert (await c.next())["error"]["code"] == "invalid_json"
        await c.send({"type": "nope.nope", "event_id": "e1"})
        err = (await c.next())["error"]
        assert (err["code"], err["param"], err["event_id"]) == ("invalid_value", "type", "e1")
        assert "Supported values are" in err["message"]
        await c.send({"event_id": "e2"})
        assert (await c.next())["error"]["param"] == "type"
        await c.send({"type": "conversation.item.create", "event_id": "e3"})
        err = (await c.next())["error"]
        assert (err["code"], err["param"]) == ("missing_required_parameter", "item")
        await c.send({"type": "input_audio_buffer.append", "audio": "!!!"})
        assert (await c.next())["error"]["param"] == "audio"
        await c.send({"type": "output_audio_buffer.clear"})
        assert (await c.next())["type"] == "error"
        await c.send({"type": "input_audio_buffer.clear"})
        assert (await c.next())["type"] == "input_audio_buffer.cleared"


# -- turns -------------------------------------------------------------------------------


def _turn_order(audio: bool) -> list[str]:
    body = (
        [
            "response.output_audio_transcript.delta*",
            "response.output_audio.delta*",
            "response.output_audio_transcript.delta*",
            "response.output_audio.delta*",
        ]
        if audio
        else ["response.output_text.delta*"]
    )
    done = (
        ["response.output_audio.done", "response.output_audio_transcript.done"]
        if audio
        else ["response.output_text.done"]
    )
    return [
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        *body,
        *done,
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]


@pytest.mark.parametrize("modality", ["audio", "text"])
async def test_text_turn_event_order(server: LocalServer, modality: str) -> None:
    async with client(server.url) as c:
        if modality == "text":
            await c.update({"output_modalities": ["text"]})
        await c.send({"type": "conversation.item.create", "item": text_item("Hello there")})
        created = await c.until("conversation.item.done")
        assert types(created) == ["conversation.item.added", "conversation.item.done"]
        user_id = created[0]["item"]["id"]
        assert created[0]["previous_item_id"] is None
        await c.send({"type": "response.create"})
        events = await c.until("response.done")
    names = squash(types(events))
    expected = _turn_order(modality == "audio")
    if modality == "audio":
        # Transcript words interleave with audio: compare without run structure, then strictly.
        core = [n for n in names if not n.endswith(".delta*")]
        assert core == [n for n in expected if not n.endswith(".delta*")]
        assert names[5] == "response.output_audio_transcript.delta*"
    else:
        assert names == expected
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["conversation_id"] is not None
    assert events[3]["previous_item_id"] == user_id  # assistant item goes after the user's
    message = done["output"][0]
    assert message["role"] == "assistant"
    assert message["status"] == "completed"
    part = message["content"][0]
    said = part["transcript"] if modality == "audio" else part["text"]
    assert said == 'You said: "Hello there".'
    deltas = "".join(
        e["delta"]
        for e in events
        if e["type"] in ("response.output_audio_transcript.delta", "response.output_text.delta")
    )
    assert deltas == said
    usage = done["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert usage["input_token_details"]["text_tokens"] > 0
    if modality == "audio":
        assert usage["output_token_details"]["audio_tokens"] > 0
        audio = np.concatenate(
            [pcm(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"]
        )
        assert len(audio) > SR // 2  # synthetic speech for a text reply
    else:
        assert not any(e["type"] == "response.output_audio.delta" for e in events)


async def test_server_vad_turn_echoes_the_users_audio(server: LocalServer) -> None:
    speech = tone_burst(1.2)
    audio = np.concatenate([silence(0.5), speech, silence(1.0)])
    async with client(server.url) as c:
        await c.update(
            {
                "audio": {
                    "input": {
                        "turn_detection": {
                            "type": "server_vad",
                            "silence_duration_ms": 400,
                            "prefix_padding_ms": 300,
                        },
                        "transcription": {"model": "whisper-1"},
                    }
                }
            }
        )
        await c.append(audio)
        events = await c.until("response.done")
        # Transcription runs beside the response: it may land before or after response.done.
        if "conversation.item.input_audio_transcription.completed" not in types(events):
            events += await c.until("conversation.item.input_audio_transcription.completed")
    rec = server.last_connection()
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    # Speech begins at 500 ms: start = 500 - 300 padding (± one 20 ms frame).
    assert abs(started["audio_start_ms"] - 200) <= 20
    # Speech ends at 1700 ms; the stop includes the 400 ms of silence.
    assert abs(stopped["audio_end_ms"] - 2100) <= 40
    assert started["item_id"] == stopped["item_id"]
    order = types(events)
    i = order.index("input_audio_buffer.speech_stopped")
    assert order[i : i + 5] == [
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
    ]
    added = events[i + 2]["item"]
    assert added["role"] == "user"
    assert added["content"] == [{"type": "input_audio", "transcript": None}]
    assert events[i + 1]["item_id"] == started["item_id"] == added["id"]
    # The reply is the user's own audio, sample for sample.
    reply = np.concatenate(
        [pcm(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"]
    )
    heard = rec.input_between(started["audio_start_ms"], stopped["audio_end_ms"])
    assert np.array_equal(reply, heard)
    assert corr(reply[(500 - started["audio_start_ms"]) * 24 :], speech) > 0.99
    done = events[[e["type"] for e in events].index("response.done")]["response"]
    assert done["output"][0]["content"][0]["transcript"] == "I heard 1.9 seconds of audio."
    assert done["usage"]["input_token_details"]["audio_tokens"] == 19  # 10 tokens/s of user audio
    completed = next(
        e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    assert completed["item_id"] == added["id"]
    assert completed["transcript"] == "[1.9 s of audio]"
    assert completed["usage"] == {"type": "duration", "seconds": 1.9}
    assert any(e["type"] == "conversation.item.input_audio_transcription.delta" for e in events)


async def test_manual_turn_commit_rules(server: LocalServer) -> None:
    async with client(server.url) as c:
        await c.update({"audio": {"input": {"turn_detection": None}}})
        await c.append(tone_burst(0.05))
        await c.send({"type": "input_audio_buffer.commit", "event_id": "c1"})
        err = (await c.next())["error"]
        assert err["code"] == "input_audio_buffer_commit_empty"
        assert err["event_id"] == "c1"
        assert "buffer too small. Expected at least 100ms of audio" in err["message"]
        assert "50.00ms" in err["message"]
        await c.append(tone_burst(0.45))  # now 500 ms in the buffer: no VAD, no auto-commit
        await c.send({"type": "input_audio_buffer.commit"})
        committed = await c.until("conversation.item.done")
        assert types(committed) == [
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
        ]
        # A manual commit never creates a response by itself.
        assert await c.quiet(0.3) == []
        await c.send({"type": "response.create"})
        events = await c.until("response.done")
    reply = np.concatenate(
        [pcm(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"]
    )
    assert len(reply) == int(0.5 * SR)  # echo of the whole committed buffer


async def test_barge_in_cancels_a_paced_response(rt_server: LocalServer) -> None:
    async with client(rt_server.url) as c:
        await c.update(
            {
                "audio": {
                    "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}}
                }
            }
        )
        await c.append(np.concatenate([tone_burst(2.5), silence(0.4)]))
        first = await c.until("response.output_audio.delta", timeout=10)
        response_id = first[-1]["response_id"]
        await asyncio.sleep(0.4)
        # The user talks over the reply.
        await c.append(tone_burst(0.3))
        events = await c.until(
            "response.done", lambda e: e["response"]["id"] == response_id, timeout=10
        )
        after = await c.quiet(0.3)
    order = types(events)
    assert "input_audio_buffer.speech_started" in order
    assert order.index("input_audio_buffer.speech_started") < len(order) - 1
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert done["output"][0]["status"] == "incomplete"
    # Deltas stop at once: none of the cancelled response after its done.
    assert not [e for e in after if e.get("response_id") == response_id]
    sent_ms = (
        sum(
            len(pcm(e["delta"]))
            for e in first + events
            if e["type"] == "response.output_audio.delta"
        )
        / 24
    )
    assert 300 < sent_ms < 2000  # some of the ~2.9 s echo, not all of it


async def test_truncate(server: LocalServer) -> None:
    async with client(server.url) as c:
        await c.update({"audio": {"input": {"turn_detection": None}}})
        await c.append(tone_burst(1.0))
        await c.send({"type": "input_audio_buffer.commit"})
        await c.send({"type": "response.create"})
        events = await c.until("response.done")
        item = events[-1]["response"]["output"][0]
        assert item["content"][0]["transcript"] == "I heard 1.0 seconds of audio."
        await c.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item["id"],
                "content_index": 0,
                "audio_end_ms": 400,
            }
        )
        truncated = await c.next()
        assert truncated == {
            **truncated,
            "type": "conversation.item.truncated",
            "item_id": item["id"],
            "audio_end_ms": 400,
        }
        await c.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
        got = (await c.next())["item"]
        assert len(pcm(got["content"][0]["audio"])) == int(0.4 * SR)
        # Proportional cut: the words that started within the first 40 % remain.
        assert got["content"][0]["transcript"] == "I heard 1.0"
        await c.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item["id"],
                "content_index": 0,
                "audio_end_ms": 5000,
                "event_id": "t2",
            }
        )
        err = (await c.next())["error"]
        assert (err["code"], err["param"], err["event_id"]) == (
            "invalid_value",
            "audio_end_ms",
            "t2",
        )
        assert "audio_end_ms is longer than the audio" in err["message"]
        await c.send(
            {
                "type": "conversation.item.truncate",
                "item_id": "item_nope",
                "content_index": 0,
                "audio_end_ms": 0,
            }
        )
        err = (await c.next())["error"]
        assert err["code"] == "item_truncate_invalid_item_id"
        user_id = events[0]["item_id"]  # input_audio_buffer.committed
        await c.send(
            {
                "type": "conversation.item.truncate",
                "item_id": user_id,
                "content_index": 0,
                "audio_end_ms": 0,
            }
        )
        assert (await c.next())["error"]["code"] == "invalid_value"


async def test_item_create_retrieve_delete(server: LocalServer) -> None:
    big = tone_burst(20.0, freq=220)  # 960 kB of PCM, 1.3 MB of base64 both ways
    async with client(server.url) as c:
        await c.send({"type": "conversation.item.create", "item": text_item("first")})
        first = (await c.until("conversation.item.done"))[-1]["item"]["id"]
        audio_item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": b64(big)}],
        }
        await c.send(
            {"type": "conversation.item.create", "previous_item_id": "root", "item": audio_item}
        )
        added = await c.next()
        assert added["previous_item_id"] is None  # inserted at the start
        assert "audio" not in added["item"]["content"][0]  # no audio bytes in added/done
        audio_id = added["item"]["id"]
        await c.next()
        await c.send(
            {
                "type": "conversation.item.create",
                "previous_item_id": audio_id,
                "item": text_item("sys", "system"),
            }
        )
        mid = await c.next()
        assert mid["previous_item_id"] == audio_id
        await c.next()
        await c.send(
            {
                "type": "conversation.item.create",
                "previous_item_id": "item_nope",
                "item": text_item("x"),
                "event_id": "p1",
            }
        )
        err = (await c.next())["error"]
        assert (err["param"], err["event_id"]) == ("previous_item_id", "p1")
        await c.send(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "robot", "content": []},
            }
        )
        assert (await c.next())["error"]["param"] == "item.role"
        await c.send({"type": "conversation.item.retrieve", "item_id": audio_id})
        got = await c.next()
        assert got["type"] == "conversation.item.retrieved"
        assert np.array_equal(pcm(got["item"]["content"][0]["audio"]), big)
        await c.send({"type": "conversation.item.delete", "item_id": first})
        assert await c.next() == {
            **c.events[-1],
            "type": "conversation.item.deleted",
            "item_id": first,
        }
        await c.send({"type": "conversation.item.delete", "item_id": first})
        assert (await c.next())["error"]["code"] == "item_delete_invalid_item_id"
        await c.send({"type": "conversation.item.retrieve", "item_id": first})
        assert (await c.next())["error"]["code"] == "item_retrieve_invalid_item_id"


WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


async def test_function_call_round_trip(server: LocalServer) -> None:
    async with client(server.url) as c:
        await c.update({"tools": [WEATHER], "output_modalities": ["text"]})
        await c.send(
            {
                "type": "conversation.item.create",
                "item": text_item('call get_weather {"city": "Paris"}'),
            }
        )
        await c.until("conversation.item.done")
        await c.send({"type": "response.create"})
        events = await c.until("response.done")
        assert squash(types(events)) == [
            "response.created",
            "rate_limits.updated",
            "response.output_item.added",
            "conversation.item.added",
            "response.function_call_arguments.delta*",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "conversation.item.done",
            "response.done",
        ]
        added = events[2]["item"]
        assert (added["type"], added["name"], added["arguments"], added["status"]) == (
            "function_call",
            "get_weather",
            "",
            "in_progress",
        )
        done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert json.loads(done["arguments"]) == {"city": "Paris"}
        assert (
            "".join(e["delta"] for e in events if e["type"].endswith("arguments.delta"))
            == done["arguments"]
        )
        call_id = done["call_id"]
        assert call_id == added["call_id"]
        await c.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call_id,
                    "output": '{"temp_c": 21}',
                },
            }
        )
        await c.until("conversation.item.done")
        await c.send({"type": "response.create"})
        answer = (await c.until("response.done"))[-1]["response"]
    assert (
        answer["output"][0]["content"][0]["text"]
        == 'The get_weather tool returned: {"temp_c": 21}.'
    )


async def test_tool_mentioned_by_name_gets_schema_arguments(server: LocalServer) -> None:
    async with client(server.url) as c:
        await c.update({"tools": [WEATHER], "output_modalities": ["text"]})
        await c.send(
            {
                "type": "conversation.item.create",
                "item": text_item("What is the weather? Use get weather."),
            }
        )
        await c.send({"type": "response.create"})
        done = (await c.until("response.done"))[-1]["response"]
    call = done["output"][0]
    assert call["type"] == "function_call"
    assert json.loads(call["arguments"]) == {"city": "example"}


async def test_out_of_band_response_runs_in_parallel(rt_server: LocalServer) -> None:
    async with client(rt_server.url) as c:
        await c.send(
            {
                "type": "conversation.item.create",
                "item": text_item("a sentence to speak for a while"),
            }
        )
        await c.until("conversation.item.done")
        await c.send({"type": "response.create"})
        first = await c.until("response.output_audio.delta")
        main_id = first[0]["response"]["id"]
        await c.send(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "output_modalities": ["text"],
                    "metadata": {"topic": "summary"},
                    "input": [text_item("summarise please")],
                },
            }
        )
        events = await c.until("response.done", lambda e: e["response"]["id"] != main_id)
        rest = await c.until("response.done", lambda e: e["response"]["id"] == main_id)
    oob = events[-1]["response"]
    assert oob["conversation_id"] is None
    assert oob["metadata"] == {"topic": "summary"}
    assert oob["output"][0]["content"][0]["text"] == 'You said: "summarise please".'
    oob_item = oob["output"][0]["id"]
    assert not [
        e
        for e in events + rest
        if e["type"].startswith("conversation.item") and e["item"]["id"] == oob_item
    ]
    # The default response was still streaming while the out-of-band one completed.
    assert rest[-1]["response"]["status"] == "completed"
    assert any(e["type"] == "response.output_audio.delta" for e in rest)


async def test_active_response_conflict_and_cancel(rt_server: LocalServer) -> None:
    async with client(rt_server.url) as c:
        await c.send(
            {
                "type": "conversation.item.create",
                "item": text_item("talk to me for a little while please"),
            }
        )
        await c.send({"type": "response.create"})
        created = (await c.until("response.created"))[-1]["response"]
        await c.send({"type": "response.create", "event_id": "again"})
        err = (await c.until("error"))[-1]["error"]
        assert (err["code"], err["event_id"]) == (
            "conversation_already_has_active_response",
            "again",
        )
        await c.until("response.output_audio.delta")
        await c.send({"type": "response.cancel"})
        done = (await c.until("response.done"))[-1]["response"]
        assert done["id"] == created["id"]
        assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        await c.send({"type": "response.cancel", "event_id": "late"})
        err = (await c.until("error"))[-1]["error"]
        assert (err["code"], err["event_id"]) == ("response_cancel_not_active", "late")
        # The conversation is free again.
        await c.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        assert (await c.until("response.done"))[-1]["response"]["status"] == "completed"


async def test_voice_is_fixed_after_audio(server: LocalServer) -> None:
    async with client(server.url) as c:
        await c.update({"audio": {"output": {"voice": "marin"}}})  # fine before any audio
        await c.send({"type": "conversation.item.create", "item": text_item("hi")})
        await c.send({"type": "response.create"})
        await c.until("response.done")
        await c.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": "cedar"}}},
            }
        )
        err = (await c.next())["error"]
        assert (err["code"], err["param"]) == ("cannot_update_voice", "session.audio.output.voice")
        await c.update({"audio": {"output": {"voice": "marin"}}})  # same voice: allowed


async def test_g711_mulaw_in_and_out(server: LocalServer) -> None:
    speech = tone_burst(0.8)
    narrow = speech[::3]  # 8 kHz version of a 300 Hz tone (no energy above 4 kHz)
    mulaw = ulaw_encode(narrow)
    async with client(server.url) as c:
        await c.update(
            {
                "audio": {
                    "input": {"format": {"type": "audio/pcmu"}, "turn_detection": None},
                    "output": {"format": {"type": "audio/pcmu"}},
                }
            }
        )
        for i in range(0, len(mulaw), 160):  # 20 ms of µ-law
            await c.send({"type": "input_audio_buffer.append", "audio": b64(mulaw[i : i + 160])})
        await c.send({"type": "input_audio_buffer.commit"})
        await c.send({"type": "response.create"})
        events = await c.until("response.done")
    deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
    out = b"".join(__import__("base64").b64decode(e["delta"]) for e in deltas)
    assert len(out) == pytest.approx(len(mulaw), abs=8)  # 8 bytes per ms, 800 ms
    assert corr(ulaw_decode(out).astype(float), narrow.astype(float)) > 0.98
    rec = server.last_connection()
    assert bytes(rec.raw_input_audio) == mulaw
    assert corr(rec.input_samples(), speech) > 0.98  # decoded to 24 kHz internally


async def test_pacing_realtime_vs_burst() -> None:
    clip = tone_burst(2.0)
    elapsed = {}
    for pace in ("realtime", "burst"):
        async with LocalServer(pace=pace) as srv, client(srv.url) as c:
            item = {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "audio": b64(clip)}],
            }
            await c.send({"type": "conversation.item.create", "item": item})
            await c.until("conversation.item.done")
            await c.send({"type": "response.create"})
            await c.until("response.output_audio.delta")
            t0 = asyncio.get_running_loop().time()
            await c.until("response.done")
            elapsed[pace] = asyncio.get_running_loop().time() - t0
    assert elapsed["realtime"] >= 1.8
    assert elapsed["burst"] < 1.0


async def test_idle_timeout_prompts_the_user() -> None:
    async with LocalServer(pace="burst", idle_timeout_scale=0.1) as srv, client(srv.url) as c:
        await c.update(
            {
                "output_modalities": ["text"],
                "audio": {
                    "input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}
                },
            }
        )
        await c.send({"type": "conversation.item.create", "item": text_item("hello")})
        await c.send({"type": "response.create"})
        await c.until("response.done")
        await c.append(silence(0.3))  # the mic keeps streaming silence
        events = await c.until("response.done", timeout=5)
    order = types(events)
    i = order.index("input_audio_buffer.timeout_triggered")
    assert order[i + 1 : i + 5] == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
    ]
    trig = events[i]
    assert trig["audio_end_ms"] == 300
    assert trig["audio_start_ms"] == 0
    assert trig["item_id"] == events[i + 1]["item_id"]
    assert events[-1]["response"]["output"][0]["content"][0]["text"].startswith(
        "I heard 0.3 seconds"
    )


async def test_client_disconnect_mid_response_leaves_server_healthy(rt_server: LocalServer) -> None:
    async with client(rt_server.url) as c:
        await c.send(
            {
                "type": "conversation.item.create",
                "item": text_item("a reply that takes a few seconds to say"),
            }
        )
        await c.send({"type": "response.create"})
        await c.until("response.output_audio.delta")
    for _ in range(100):
        if rt_server.active_connections == 0:
            break
        await asyncio.sleep(0.01)
    assert rt_server.active_connections == 0
    for _ in range(3):  # many sequential connections are fine
        async with client(rt_server.url) as c:
            await c.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
            assert (await c.until("response.done"))[-1]["response"]["status"] == "completed"
    assert rt_server.stats["connections"] == 4


async def test_fault_drops_connection_mid_response(server: LocalServer) -> None:
    server.drop_connections_after(3)
    async with client(server.url) as c:
        await c.send(
            {
                "type": "conversation.item.create",
                "item": text_item("long enough to need many deltas"),
            }
        )
        await c.send({"type": "response.create"})
        with pytest.raises(ConnectionClosed) as info:
            await c.until("response.done")
        assert sum(e["type"] == "response.output_audio.delta" for e in c.events) == 3
    assert info.value.rcvd is None  # no close frame: an abrupt drop (1006)
    assert server.connections[0].dropped
    async with client(server.url) as c:  # the fault fired once; the next connection is normal
        await c.send({"type": "response.create"})
        assert (await c.until("response.done"))[-1]["response"]["status"] == "completed"


async def test_drop_connections_now(rt_server: LocalServer) -> None:
    async with client(rt_server.url) as c:
        await c.send({"type": "response.create"})
        await c.until("response.output_audio.delta")
        rt_server.drop_connections()
        with pytest.raises(ConnectionClosed):
            await c.until("response.done")


def test_start_in_thread_with_a_sync_client() -> None:
    from websockets.sync.client import connect as sync_connect

    srv = LocalServer(pace="burst")
    url = srv.start_in_thread()
    try:
        with sync_connect(url, max_size=None) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
            ws.send(
                json.dumps({"type": "response.create", "response": {"output_modalities": ["text"]}})
            )
            while json.loads(ws.recv(timeout=5))["type"] != "response.done":
                pass
    finally:
        srv.stop_thread()
    assert srv.active_connections == 0
    srv.stop_thread()  # idempotent


async def test_server_options_conversation_created_expiry_and_records() -> None:
    async with LocalServer(
        pace="burst", emit_conversation_created=True, session_max_s=0.3, record_limit_mb=0.01
    ) as srv:
        base = srv.url.removesuffix("/v1/realtime")
        async with connect(f"{base}/openai/realtime?deployment=my-dep", max_size=None) as ws:
            c = Client(ws)
            created = await c.next()
            assert created["session"]["model"] == "my-dep"
            conv = await c.next()
            assert conv["type"] == "conversation.created"
            assert conv["conversation"]["object"] == "realtime.conversation"
            await c.append(silence(0.5))  # 24 kB of audio: over the 10 kB record limit
            with pytest.raises(ConnectionClosed) as info:
                await c.next(timeout=5)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1001  # like OpenAI's 60-minute limit
        rec = srv.last_connection()
        assert rec.truncated
        assert len(rec.input_audio) < 10_300


async def test_max_output_tokens_makes_an_incomplete_response(server: LocalServer) -> None:
    async with client(server.url) as c:
        await c.send(
            {
                "type": "conversation.item.create",
                "item": text_item("a reply with quite a few words in it"),
            }
        )
        await c.send({"type": "response.create", "response": {"max_output_tokens": 20}})
        done = (await c.until("response.done"))[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert done["output"][0]["status"] == "incomplete"
    assert done["usage"]["output_tokens"] <= 20


async def test_switch_to_transcription_session_and_back(server: LocalServer) -> None:
    async with client(server.url) as c:
        await c.send(
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"transcription": {"model": "whisper-1"}}},
                },
            }
        )
        s = (await c.next())["session"]
        assert s["type"] == "transcription"
        assert "instructions" not in s
        assert s["audio"]["input"]["transcription"] == {"model": "whisper-1"}
        await c.append(np.concatenate([tone_burst(0.6), silence(0.6)]))
        events = await c.until("conversation.item.input_audio_transcription.completed")
        assert "response.created" not in types(events)  # transcription sessions never respond
        s = await c.update({"instructions": "back"})
        assert s["session"]["type"] == "realtime"
        assert s["session"]["audio"]["input"]["transcription"] == {"model": "whisper-1"}

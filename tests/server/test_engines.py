"""Engines, VAD turn logic, codecs and responders: pure units, plus custom engines
plugged into a running server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest

from realtime_widget.protocol.audio import resample
from realtime_widget.server import (
    ContextItem,
    EchoResponder,
    EnergyVad,
    Engines,
    FunctionCall,
    LocalServer,
    Reply,
    ResponderContext,
    SpeechRequest,
    ToneSpeaker,
    TurnConfig,
    TurnDetector,
    arguments_from_schema,
)
from realtime_widget.server.codec import StreamResampler
from realtime_widget.server.conversation import Item
from realtime_widget.server.responses import split_words, transcript_until
from realtime_widget.server.usage import context_cost
from realtime_widget.server.vad import dbfs, threshold_to_dbfs

from .conftest import SR, b64, client, silence, text_item, tone_burst

pytestmark = pytest.mark.timeout(30)


# -- VAD ---------------------------------------------------------------------------------


def test_energy_vad_threshold_mapping() -> None:
    vad = EnergyVad()
    assert threshold_to_dbfs(0.5) == -35.0
    assert threshold_to_dbfs(0.0) == -60.0
    assert vad.speech_probability(silence(0.02)) == 0.0
    loud = tone_burst(0.02)
    assert dbfs(loud) > -20
    assert vad.speech_probability(loud) > 0.8
    quiet = (tone_burst(0.02).astype(float) * 0.003).astype(np.int16)  # ≈ -65 dBFS
    assert vad.speech_probability(quiet) == 0.0


@pytest.mark.parametrize("chunk", [480, 333, 4800])
def test_turn_detector_edges_do_not_depend_on_chunking(chunk: int) -> None:
    cfg = TurnConfig(silence_duration_ms=400, prefix_padding_ms=300)
    det = TurnDetector(EnergyVad(), cfg)
    audio = np.concatenate([silence(0.5), tone_burst(1.2), silence(1.0)])
    events = []
    for i in range(0, len(audio), chunk):
        events += det.feed(audio[i : i + chunk])
    assert [(e.kind, e.ms) for e in events] == [("start", 200), ("stop", 2100)]
    assert events[0].sample == 200 * 24


def test_turn_detector_ignores_clicks_and_respects_threshold() -> None:
    det = TurnDetector(EnergyVad(), TurnConfig())
    click = np.concatenate([silence(0.3), tone_burst(0.02), silence(0.5)])
    assert det.feed(click) == []
    strict = TurnDetector(EnergyVad(), TurnConfig(threshold=0.95))
    assert strict.feed(np.concatenate([tone_burst(0.5, level=0.05), silence(0.5)])) == []


def test_turn_detector_floor_limits_padding() -> None:
    det = TurnDetector(EnergyVad(), TurnConfig(prefix_padding_ms=300))
    det.set_floor(100 * 24)  # the input buffer starts at 100 ms
    events = det.feed(np.concatenate([silence(0.2), tone_burst(0.5)]))
    assert events[0].ms == 100


def test_semantic_vad_eagerness() -> None:
    low = TurnConfig.from_session({"type": "semantic_vad", "eagerness": "low"})
    auto = TurnConfig.from_session({"type": "semantic_vad"})
    high = TurnConfig.from_session(
        {"type": "semantic_vad", "eagerness": "high", "create_response": False}
    )
    assert low is not None and auto is not None and high is not None
    assert (low.silence_duration_ms, auto.silence_duration_ms, high.silence_duration_ms) == (
        1200,
        800,
        500,
    )
    assert high.create_response is False
    assert TurnConfig.from_session(None) is None


# -- codec -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("src", "dst"), [(8000, 24000), (24000, 8000)])
def test_stream_resampler_matches_whole_signal(src: int, dst: int) -> None:
    t = np.arange(src) / src
    x = (np.sin(2 * np.pi * 440 * t) * 10000).astype(np.int16)
    rs = StreamResampler(src, dst)
    out = np.concatenate([rs.feed(x[i : i + 157]) for i in range(0, len(x), 157)] + [rs.flush()])
    whole = resample(x, src, dst)
    assert len(out) == len(whole)
    assert np.max(np.abs(out.astype(int) - whole.astype(int))) <= 2


# -- responder ---------------------------------------------------------------------------------

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["c", "f"]},
            "days": {"type": "integer", "minimum": 3},
        },
        "required": ["city", "unit", "days"],
    },
}


def _ctx(*items: ContextItem, tools: Any = (), tool_choice: Any = "auto") -> ResponderContext:
    return ResponderContext(items=list(items), tools=tools, tool_choice=tool_choice)


def _user(text: str | None = None, audio_s: float = 0.0) -> ContextItem:
    audio = tone_burst(audio_s) if audio_s else None
    return ContextItem(id="u", type="message", role="user", text=text, audio=audio)


def test_echo_responder_rules() -> None:
    r = EchoResponder()
    assert r.respond(_ctx(_user("hi"))) == Reply(text='You said: "hi".')
    assert r.respond(_ctx(_user(audio_s=1.23))) == Reply(text="I heard 1.2 seconds of audio.")
    assert r.respond(_ctx()).text == "Are you still there? I am listening."
    call = r.respond(
        _ctx(_user('call get_weather {"city": "Oslo"}'), tools=[WEATHER])
    ).function_call
    assert call is not None
    assert (call.name, json.loads(str(call.arguments))) == ("get_weather", {"city": "Oslo"})
    call = r.respond(_ctx(_user("weather? get_weather please"), tools=[WEATHER])).function_call
    assert call is not None
    assert json.loads(str(call.arguments)) == {"city": "example", "unit": "c", "days": 3}
    assert r.respond(_ctx(_user("hello"), tools=[WEATHER])).text == 'You said: "hello".'
    assert r.respond(_ctx(_user("hello"), tools=[WEATHER], tool_choice="required")).function_call
    forced = {"type": "function", "name": "get_weather"}
    assert r.respond(_ctx(_user("hello"), tools=[WEATHER], tool_choice=forced)).function_call
    assert r.respond(_ctx(_user("get_weather"), tools=[WEATHER], tool_choice="none")).text
    fc = ContextItem(
        id="c", type="function_call", name="get_weather", call_id="call_1", arguments="{}"
    )
    out = ContextItem(id="o", type="function_call_output", call_id="call_1", output="sunny")
    assert (
        r.respond(_ctx(_user("weather"), fc, out, tools=[WEATHER])).text
        == "The get_weather tool returned: sunny."
    )


def test_arguments_from_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "number"},
            "flag": {"type": "boolean", "default": False},
            "where": {"type": "object", "properties": {"lat": {"type": "number", "minimum": -90}}},
            "tags": {"type": ["array", "null"]},
        },
    }
    assert arguments_from_schema(schema) == {
        "n": 1.0,
        "flag": False,
        "where": {"lat": -90},
        "tags": [],
    }
    assert arguments_from_schema(None) == {}


def test_reply_needs_exactly_one_kind() -> None:
    with pytest.raises(ValueError):
        Reply()
    with pytest.raises(ValueError):
        Reply(text="x", function_call=FunctionCall("f"))


def test_transcript_positions() -> None:
    text = "one two three four"
    assert "".join(split_words(text)) == text
    assert transcript_until(text, 0, 1000) == ""
    assert transcript_until(text, 1, 1000) == "one"
    assert transcript_until(text, 500, 1000) == "one two three"
    assert transcript_until(text, 1000, 1000) == text


# -- speaker, usage, describe ---------------------------------------------------------------------


def test_tone_speaker_duration_and_voice() -> None:
    sp = ToneSpeaker()
    req = SpeechRequest(text="Hello there, how are you?", voice="alloy")
    audio = np.concatenate(list(sp.synthesize(req)))
    assert len(audio) * 1000 / SR == pytest.approx(sp.estimate_ms(req), abs=1)
    assert 1.5 < len(audio) / SR < 3.0  # ≈ speaking rate
    assert dbfs(audio) > -30
    other = np.concatenate(list(sp.synthesize(SpeechRequest(text=req.text, voice="marin"))))
    assert not np.array_equal(audio, other)
    fast = np.concatenate(list(sp.synthesize(SpeechRequest(text=req.text, speed=1.5))))
    assert len(fast) < len(audio)


def test_cached_tokens_follow_an_unchanged_prefix() -> None:
    long_audio = Item(id="a", type="message", role="user", audio={0: np.zeros(120 * SR, np.int16)})
    first = context_cost("be brief", [], [long_audio])
    assert first.audio == 1200
    second = context_cost("be brief", [], [long_audio, Item(id="b", type="message", role="user")])
    text, audio = second.cached(first)
    assert text + audio == (first.text + first.audio) // 64 * 64
    assert context_cost("other", [], [long_audio]).cached(first) == (0, 0)


def test_engines_describe() -> None:
    assert (
        Engines().describe() == "vad=energy, transcriber=placeholder, responder=echo, speaker=echo"
    )

    def my_bot(ctx: ResponderContext) -> str:
        return "hi"

    assert "responder=my_bot" in Engines().with_responder(my_bot).describe()


# -- custom engines in a running server -----------------------------------------------------


async def test_async_callable_responder_and_tool_call() -> None:
    seen: list[ResponderContext] = []

    async def bot(ctx: ResponderContext) -> Reply | str:
        seen.append(ctx)
        await asyncio.sleep(0)
        if ctx.last_item is not None and ctx.last_item.type == "function_call_output":
            return f"done: {ctx.last_item.output}"
        return Reply(function_call=FunctionCall("lookup", {"q": "x"}, call_id="call_fixed"))

    engines = Engines().with_responder(bot)
    async with LocalServer(pace="burst", engines=engines) as srv, client(srv.url) as c:
        await c.update(
            {
                "output_modalities": ["text"],
                "instructions": "custom",
                "tools": [{"type": "function", "name": "lookup"}],
            }
        )
        await c.send({"type": "conversation.item.create", "item": text_item("go")})
        await c.send({"type": "response.create"})
        events = await c.until("response.done")
        done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert (done["call_id"], json.loads(done["arguments"])) == ("call_fixed", {"q": "x"})
        out = {"type": "function_call_output", "call_id": "call_fixed", "output": "42"}
        await c.send({"type": "conversation.item.create", "item": out})
        await c.send({"type": "response.create"})
        final = (await c.until("response.done"))[-1]["response"]
    assert final["output"][0]["content"][0]["text"] == "done: 42"
    assert seen[0].instructions == "custom"
    assert [t["name"] for t in seen[0].tools] == ["lookup"]
    assert [i.type for i in seen[1].items] == ["message", "function_call", "function_call_output"]


async def test_failing_engine_fails_the_response_not_the_server() -> None:
    def broken(ctx: ResponderContext) -> str:
        raise RuntimeError("engine exploded")

    async with (
        LocalServer(pace="burst", engines=Engines().with_responder(broken)) as srv,
        client(srv.url) as c,
    ):
        await c.send({"type": "response.create"})
        done = (await c.until("response.done"))[-1]["response"]
        assert done["status"] == "failed"
        assert "engine exploded" in done["status_details"]["error"]["message"]
        await c.send({"type": "input_audio_buffer.clear"})
        assert (await c.next())["type"] == "input_audio_buffer.cleared"


class _TranscriptBot:
    """An STT→LLM-style responder: waits for transcripts of the user's audio."""

    name = "transcript-bot"
    uses_transcripts = True

    def respond(self, context: ResponderContext) -> Reply:
        user = context.last_user_item()
        return Reply(text=f"transcript was {user.transcript if user else None}")


async def test_responder_can_wait_for_transcripts() -> None:
    engines = Engines(responder=_TranscriptBot)
    async with (
        LocalServer(pace="burst", engines=engines, transcription_delay_s=0.2) as srv,
        client(srv.url) as c,
    ):
        await c.update(
            {
                "output_modalities": ["text"],
                "audio": {
                    "input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}
                },
            }
        )
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": b64(tone_burst(0.6))}],
        }
        await c.send({"type": "conversation.item.create", "item": item})
        await c.append(tone_burst(0.5))
        await c.send({"type": "input_audio_buffer.commit"})
        await c.send({"type": "response.create"})
        events = await c.until("response.done")
    assert "conversation.item.input_audio_transcription.completed" in [e["type"] for e in events]
    assert (
        events[-1]["response"]["output"][0]["content"][0]["text"]
        == "transcript was [0.5 s of audio]"
    )


async def test_cli_serve_forever_prints_url(capsys: pytest.CaptureFixture[str]) -> None:
    from realtime_widget.server.__main__ import build_parser, serve_forever

    assert build_parser().parse_args(["--port", "0", "--pace", "burst"]).pace == "burst"
    ready = asyncio.Event()
    task = asyncio.create_task(serve_forever("127.0.0.1", 0, "burst", ready=ready))
    await asyncio.wait_for(ready.wait(), 5)
    url = capsys.readouterr().out.split("listening on ")[1].split()[0]
    async with client(url) as c:
        await c.send({"type": "input_audio_buffer.clear"})
        assert (await c.next())["type"] == "input_audio_buffer.cleared"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

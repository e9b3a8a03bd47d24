"""The local server on the offline engines, over real WebSockets on loopback:
spoken replies that transcribe back to their text, input transcription events,
sentence streaming with a paced transcript, barge-in, a chat-completions
endpoint as responder, and the fallback when the extra is missing."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest

from realtime_widget.server import Engines, LocalServer, SpeechRequest
from realtime_widget.server.interfaces import TranscriptionRequest

from .conftest import client, pcm, text_item, types
from .offline_support import SR, espeak, needs_espeak, needs_offline, wer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LONG_REPLY = (
    "Here is the first sentence of my answer. The second sentence follows it. "
    "And the third sentence closes the reply."
)


@pytest.fixture(scope="module")
def offline() -> Engines:
    if os.environ.get("REALTIME_WIDGET_SKIP_OFFLINE"):
        pytest.skip("REALTIME_WIDGET_SKIP_OFFLINE is set")
    from realtime_widget.server.offline import missing_modules

    if missing_modules():
        pytest.skip("offline engines not installed: pip install -e '.[local]'")
    engines = Engines.offline()
    assert engines.warmup is not None
    engines.warmup()  # models load once for the module
    return engines


def _transcribe(audio: np.ndarray) -> str:
    from realtime_widget.server.offline.whisper import WhisperTranscriber

    return WhisperTranscriber().transcribe(TranscriptionRequest(audio=audio))


def _audio(events: list[dict[str, Any]]) -> np.ndarray:
    chunks = [pcm(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


@needs_offline
async def test_spoken_reply_transcribes_back_to_its_text(offline: Engines) -> None:
    """Three deterministic replies (no joke: which one comes depends on the order of the
    tests), spoken by Piper and heard back by Whisper: word error over all of them."""
    said: list[str] = []
    heard: list[str] = []
    async with LocalServer(pace="burst", engines=offline) as srv, client(srv.url) as c:
        await c.update({"audio": {"input": {"turn_detection": None}}})
        for prompt in ("What is the weather like?", "Who are you?", "Thank you!"):
            await c.send({"type": "conversation.item.create", "item": text_item(prompt)})
            await c.send({"type": "response.create"})
            events = await c.until("response.done", timeout=60)
            done = events[-1]["response"]
            assert done["status"] == "completed"
            text = next(e for e in events if e["type"] == "response.output_audio_transcript.done")[
                "transcript"
            ]
            said.append(text)
            heard.append(_transcribe(_audio(events)))
    assert len(set(said)) == 3
    assert wer(said, heard) <= 0.10, list(zip(said, heard, strict=True))


@needs_offline
@needs_espeak
async def test_input_transcription_events_then_a_relevant_reply(offline: Engines) -> None:
    spoken = "what is the weather like in paris today"
    audio = np.concatenate([np.zeros(SR // 2, np.int16), espeak(spoken), np.zeros(SR, np.int16)])
    async with LocalServer(pace="burst", engines=offline) as srv, client(srv.url) as c:
        await c.update(
            {
                "audio": {
                    "input": {
                        "transcription": {"model": "whisper-1", "language": "en"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                    }
                }
            }
        )
        await c.append(audio)
        events = await c.until("response.done", timeout=60)
    names = types(events)
    item_id = next(e for e in events if e["type"] == "input_audio_buffer.committed")["item_id"]
    deltas = [e for e in events if e["type"].endswith("input_audio_transcription.delta")]
    completed = next(e for e in events if e["type"].endswith("input_audio_transcription.completed"))
    assert deltas and all(d["item_id"] == item_id and d["content_index"] == 0 for d in deltas)
    assert "".join(d["delta"] for d in deltas) == completed["transcript"]
    assert wer([spoken], [completed["transcript"]]) <= 0.10, completed["transcript"]
    assert completed["usage"]["type"] == "duration"
    # speech_started < speech_stopped < committed < deltas < completed < the reply's audio
    order = [
        names.index("input_audio_buffer.speech_started"),
        names.index("input_audio_buffer.speech_stopped"),
        names.index("input_audio_buffer.committed"),
        names.index("conversation.item.input_audio_transcription.delta"),
        names.index("conversation.item.input_audio_transcription.completed"),
        names.index("response.output_audio.delta"),
    ]
    assert order == sorted(order)
    reply = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    assert "weather" in reply["transcript"]


@needs_offline
@needs_espeak
@pytest.mark.parametrize("transcription", [True, False])
async def test_turn_is_transcribed_once_during_the_silence_window(
    offline: Engines, transcription: bool
) -> None:
    from realtime_widget.server.offline.whisper import WhisperTranscriber

    calls: list[float] = []

    class Counting(WhisperTranscriber):
        def transcribe(self, request: TranscriptionRequest) -> str:
            calls.append(request.duration_s)
            return super().transcribe(request)

    engines = Engines.offline()
    engines.transcriber = Counting
    audio = np.concatenate(
        [np.zeros(SR // 2, np.int16), espeak("what is the weather like"), np.zeros(SR, np.int16)]
    )
    cfg: dict[str, Any] = {"turn_detection": {"type": "server_vad", "silence_duration_ms": 600}}
    if transcription:
        cfg["transcription"] = {"model": "whisper-1"}
    async with LocalServer(pace="burst", engines=engines) as srv, client(srv.url) as c:
        await c.update({"audio": {"input": cfg}})
        await c.append(audio)
        events = await c.until("response.done", timeout=60)
    # the early pass (at 200 ms of silence) is the turn's only decode; the reply used it
    assert len(calls) == 1, calls
    reply = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    assert "weather" in reply["transcript"]


@needs_offline
async def test_transcription_failure_is_reported(tmp_path: Any) -> None:
    engines = Engines.offline(whisper_model=str(tmp_path / "missing-model"))
    audio = np.concatenate(
        [np.zeros(SR // 4, np.int16), (np.ones(SR // 2) * 3000).astype(np.int16)]
    )
    async with LocalServer(pace="burst", engines=engines) as srv, client(srv.url) as c:
        await c.update(
            {"audio": {"input": {"transcription": {"model": "whisper-1"}, "turn_detection": None}}}
        )
        await c.append(audio)
        await c.send({"type": "input_audio_buffer.commit"})
        events = await c.until("conversation.item.input_audio_transcription.failed", timeout=30)
    failed = events[-1]
    assert "not found" in failed["error"]["message"]
    assert not any(e["type"].endswith("transcription.completed") for e in events)


@needs_offline
async def test_first_audio_goes_out_after_one_sentence_and_transcript_keeps_pace(
    offline: Engines,
) -> None:
    from realtime_widget.server.offline.speech import PiperSpeaker

    synthesised: list[str] = []

    class Recording(PiperSpeaker):
        def synthesize(self, request: SpeechRequest) -> Iterator[Any]:
            for segment in super().synthesize(request):
                synthesised.append(segment.text)
                yield segment

    engines = offline.with_responder(lambda ctx: LONG_REPLY, "long")
    engines.speaker = Recording
    async with LocalServer(pace="realtime", engines=engines) as srv, client(srv.url) as c:
        await c.update({"audio": {"input": {"turn_detection": None}}})
        await c.send({"type": "conversation.item.create", "item": text_item("Talk to me.")})
        await c.send({"type": "response.create"})
        before = await c.until("response.output_audio.delta", timeout=60)
        sentences_at_first_audio = len(synthesised)
        rest = await c.until("response.done", timeout=60)
    # sentence streaming: the first audio left when only the first sentence was synthesised
    assert sentences_at_first_audio == 1
    assert len(synthesised) == 3
    # the transcript keeps pace: before the first audio, only words of sentence one;
    # each sentence's words arrive with that sentence's audio, not all at once.
    events = before + rest
    said = ""
    audio_ms = 0.0
    first_sentence = "Here is the first sentence of my answer. "
    for e in events:
        if e["type"] == "response.output_audio_transcript.delta":
            said += e["delta"]
            if audio_ms == 0:
                assert first_sentence.startswith(said)
        elif e["type"] == "response.output_audio.delta":
            audio_ms += pcm(e["delta"]).size * 1000 / SR
            if audio_ms < 1000:
                assert len(said) <= len(first_sentence)
    assert said == LONG_REPLY
    assert events[-1]["response"]["status"] == "completed"


async def _reply_then_interrupt(
    engines: Engines, interrupt: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with LocalServer(pace="realtime", engines=engines) as srv, client(srv.url) as c:
        await c.update({"audio": {"input": {"turn_detection": {"type": "server_vad"}}}})
        await c.send({"type": "conversation.item.create", "item": text_item("Talk to me.")})
        await c.send({"type": "response.create"})
        before = await c.until("response.output_audio.delta", timeout=60)
        if interrupt == "speech":
            speech = espeak("wait, stop please")
            await c.append(np.concatenate([np.zeros(SR // 10, np.int16), speech]))
        else:
            await c.send({"type": "response.cancel"})
        after = await c.until("response.done", timeout=10)
        late = await c.quiet(0.6)
    return before + after, late


@needs_offline
@needs_espeak
@pytest.mark.parametrize("interrupt", ["speech", "cancel"])
async def test_barge_in_cancels_the_spoken_reply_at_once(offline: Engines, interrupt: str) -> None:
    engines = offline.with_responder(lambda ctx: LONG_REPLY, "long")
    events, late = await _reply_then_interrupt(engines, interrupt)
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    reason = "turn_detected" if interrupt == "speech" else "client_cancelled"
    assert done["status_details"]["reason"] == reason
    # audio stops: nothing of the response after response.done, and far less than the reply
    assert not [e for e in late if e.get("response_id") == done["id"]]
    sent_ms = _audio(events).size * 1000 / SR
    assert sent_ms < 2500  # the whole reply is ~7 s of speech
    if interrupt == "speech":
        started = types(events).index("input_audio_buffer.speech_started")
        assert types(events)[started + 1 :].count("response.output_audio.delta") <= 3


# -- chat-completions endpoint ------------------------------------------------------------


class _ChatHandler(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, dict[str, Any]]]] = []
    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        status, answer = type(self).answers.pop(0)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def chat_server() -> Iterator[tuple[str, type[_ChatHandler]]]:
    handler = type("Handler", (_ChatHandler,), {"answers": [], "requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def _completion(content: str | None = None, tool_calls: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


@needs_offline
async def test_chat_endpoint_replies_and_calls_tools(chat_server: Any) -> None:
    url, handler = chat_server
    handler.answers += [
        (200, _completion("Paris is lovely in spring.")),
        (
            200,
            _completion(
                tool_calls=[
                    {
                        "id": "call_7",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ]
            ),
        ),
        (500, {"error": "boom"}),
    ]
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    async with LocalServer(
        pace="burst", engines="offline", responder_url=url, responder_model="tiny"
    ) as srv:
        assert "chat:tiny@" in srv.engines.describe()
        async with client(srv.url) as c:
            await c.update(
                {
                    "output_modalities": ["text"],
                    "instructions": "Be brief.",
                    "audio": {"input": {"turn_detection": None}},
                }
            )
            await c.send(
                {"type": "conversation.item.create", "item": text_item("Tell me about Paris.")}
            )
            await c.send({"type": "response.create"})
            first = await c.until("response.done", timeout=30)
            await c.update({"tools": [tool]})
            await c.send({"type": "conversation.item.create", "item": text_item("Weather?")})
            await c.send({"type": "response.create"})
            second = await c.until("response.done", timeout=30)
            await c.send({"type": "response.create"})
            third = await c.until("response.done", timeout=30)
    text = next(e for e in first if e["type"] == "response.output_text.done")["text"]
    assert text == "Paris is lovely in spring."
    body = handler.requests[0]["body"]
    assert handler.requests[0]["path"] == "/v1/chat/completions"
    assert body["model"] == "tiny"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Tell me about Paris."},
    ]
    call = next(e for e in second if e["type"] == "response.function_call_arguments.done")
    assert (call["name"], call["call_id"], json.loads(call["arguments"])) == (
        "get_weather",
        "call_7",
        {"city": "Paris"},
    )
    sent = handler.requests[1]["body"]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["messages"][2] == {"role": "assistant", "content": "Paris is lovely in spring."}
    failed = third[-1]["response"]
    assert failed["status"] == "failed"
    assert "HTTP 500" in failed["status_details"]["error"]["message"]


# -- selection and fallback ----------------------------------------------------------------

_BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("faster_whisper", "piper"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
"""

_PROBE = """
import asyncio, json, logging
logging.basicConfig(level=logging.WARNING)
from websockets.asyncio.client import connect
from realtime_widget.server import Engines, LocalServer
from realtime_widget.session import Session

async def main():
    async with LocalServer() as srv:
        async with connect(srv.url) as ws:
            created = json.loads(await ws.recv())
    async with Session("local") as s:
        kind = s.server.engines.kind
    try:
        Engines.select("offline")
        forced = "ok"
    except ImportError as exc:
        forced = str(exc)
    print(json.dumps({"kind": srv.engines.kind, "session_kind": kind, "forced": forced,
                      "instructions": created["session"]["instructions"]}))
asyncio.run(main())
"""


def _probe(block: bool) -> tuple[dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if k != "REALTIME_WIDGET_ENGINES"}
    code = (_BLOCKER if block else "") + textwrap.dedent(_PROBE)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_missing_extra_falls_back_to_echo_with_a_clear_message() -> None:
    result, log = _probe(block=True)
    assert result["kind"] == "echo" and result["session_kind"] == "echo"
    for text in (result["instructions"], log, result["forced"]):
        assert "faster-whisper" in text and "piper-tts" in text
        assert "pip install 'realtime-widget[local]'" in text
    assert "engines: vad=energy, transcriber=placeholder" in result["instructions"]


@needs_offline
def test_default_server_and_session_use_the_offline_engines() -> None:
    result, _ = _probe(block=False)
    assert result["kind"] == "offline" and result["session_kind"] == "offline"
    assert result["forced"] == "ok"
    assert "transcriber=whisper-tiny.en" in result["instructions"]
    assert "Piper speech" in result["instructions"]


def test_engine_choice_by_name_and_cli_flag() -> None:
    from realtime_widget.server.__main__ import build_parser

    assert Engines.select("echo").kind == "echo"
    with pytest.raises(ValueError, match="engines must be one of"):
        Engines.select("fancy")
    args = build_parser().parse_args(["--engines", "echo", "--responder-url", "http://x/v1"])
    assert (args.engines, args.responder_url) == ("echo", "http://x/v1")

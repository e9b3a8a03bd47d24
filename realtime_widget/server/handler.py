"""Per-connection protocol state: one Realtime session over one WebSocket.

:class:`ConnectionHandler` is fed client events one at a time and emits
server events through a synchronous ``send`` callable (the connection's
outbox). Event handlers never await, so each client event is processed
atomically and the order of emitted events is exactly the order of the code.
Work that takes time (responses, input transcription, the idle timer) runs in
tasks and timers that emit later; engine calls that burn CPU go to a thread
pool.

Error events follow OpenAI: ``{"type": "error", "error": {type, code,
message, param, event_id}}`` where ``event_id`` echoes the client event's id,
and the socket always stays open.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from typing import Any

import numpy as np

from realtime_widget.errors import ConfigError
from realtime_widget.protocol.audio import SAMPLE_RATE, Int16Array
from realtime_widget.protocol.config import (
    default_session,
    merge_session,
    unknown_fields,
    unknown_response_fields,
    validate_response_params,
    validate_session,
)
from realtime_widget.protocol.events import CLIENT_EVENT_TYPES, Event, new_id

from .codec import AudioDecoder, AudioEncoder, decode_all
from .conversation import Conversation, Item, ItemError, item_from_client
from .engines import Engines
from .interfaces import TranscriptionRequest
from .options import ServerOptions
from .records import ConnectionRecord
from .responses import ResponseRun, split_words, transcript_until
from .usage import ContextCost
from .vad import TurnConfig, TurnDetector, TurnEvent

__all__ = ["ClientError", "ConnectionHandler", "InputBuffer"]

log = logging.getLogger("realtime_widget.server")

_MIN_COMMIT_MS = 100
_SESSION_SECONDS = 3600
_READ_ONLY = ("id", "object", "expires_at")
_KEEP_MARGIN_MS = 1000


class ClientError(Exception):
    """A client event is refused: becomes an ``error`` event, the socket stays open."""

    def __init__(
        self,
        code: str,
        message: str,
        param: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.type = type_


def config_error(exc: ConfigError, prefix: str) -> ClientError:
    """Map a :class:`ConfigError` to OpenAI's error codes, with ``prefix.`` on the path."""
    param = f"{prefix}.{exc.param}" if exc.param and exc.param != prefix else prefix
    text = str(exc)
    detail = text[len(exc.param) + 2 :] if text.startswith(f"{exc.param}: ") else text
    if detail.startswith("is required"):
        return ClientError(
            "missing_required_parameter", f"Missing required parameter: '{param}'.", param
        )
    if "beta" in detail or "is not allowed" in detail:
        return ClientError("unknown_parameter", f"Unknown parameter: '{param}'. {detail}", param)
    return ClientError("invalid_value", f"Invalid value for '{param}': {detail}", param)


def _missing(param: str) -> ClientError:
    return ClientError(
        "missing_required_parameter", f"Missing required parameter: '{param}'.", param
    )


def _item_error(exc: ItemError, prefix: str = "item") -> ClientError:
    param = exc.param
    if param is not None and prefix != "item" and param.startswith("item"):
        param = prefix + param[4:]
    message = str(exc).replace("'item", f"'{prefix}") if prefix != "item" else str(exc)
    return ClientError(exc.code, message, param)


class InputBuffer:
    """The uncommitted input audio, positioned on the session timeline (samples)."""

    def __init__(self) -> None:
        self.start = 0
        self._chunks: list[Int16Array] = []
        self.size = 0

    @property
    def end(self) -> int:
        return self.start + self.size

    def append(self, samples: Int16Array) -> None:
        if samples.size:
            self._chunks.append(samples)
            self.size += samples.size

    def _array(self) -> Int16Array:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        if not self._chunks:
            return np.zeros(0, dtype=np.int16)
        first: Int16Array = self._chunks[0]
        return first

    def take(self, begin: int, end: int) -> Int16Array:
        """Samples [begin, end) of the timeline; everything before ``end`` is dropped."""
        data = self._array()
        lo = min(max(begin - self.start, 0), data.size)
        hi = min(max(end - self.start, lo), data.size)
        out: Int16Array = data[lo:hi].copy()
        rest = data[hi:]
        self._chunks = [rest] if rest.size else []
        self.start += hi
        self.size = rest.size
        return out

    def peek(self, begin: int, end: int) -> Int16Array:
        """A copy of samples [begin, end) of the timeline, leaving the buffer as it is."""
        data = self._array()
        lo = min(max(begin - self.start, 0), data.size)
        hi = min(max(end - self.start, lo), data.size)
        out: Int16Array = data[lo:hi].copy()
        return out

    def keep_last(self, samples: int, slack: int = 0) -> None:
        """Drop all but the last ``samples``, once the excess exceeds ``slack`` (amortised)."""
        if self.size > samples + slack:
            self.take(self.end - samples, self.end - samples)

    def clear(self) -> None:
        self.start, self._chunks, self.size = self.end, [], 0


def _set_heard(item: Item, task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is None and task.result() is not None:
        item.heard = str(task.result())


def _ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE


def _samples(ms: float) -> int:
    return int(ms * SAMPLE_RATE / 1000)


def _voice(session: Mapping[str, Any]) -> Any:
    return ((session.get("audio") or {}).get("output") or {}).get("voice")


class ConnectionHandler:
    """The protocol state machine of one connection (see module docstring)."""

    def __init__(
        self,
        *,
        options: ServerOptions,
        engines: Engines,
        executor: Executor,
        send: Callable[[Event], None],
        backpressure: Callable[[], Awaitable[None]],
        model: str | None = None,
        record: ConnectionRecord | None = None,
    ) -> None:
        self.options = options
        self.engines = engines
        self._executor = executor
        self._send = send
        self._backpressure = backpressure
        self.record = record
        self.vad = engines.vad()
        self.transcriber = engines.transcriber()
        self.responder = engines.responder()
        self.speaker = engines.speaker()
        instructions = engines.instructions()
        self.session: dict[str, Any] = default_session(
            model or options.model, instructions=instructions
        )
        self.session["id"] = new_id("sess")
        self.session["object"] = "realtime.session"
        self.session["expires_at"] = int(time.time()) + int(
            options.session_max_s or _SESSION_SECONDS
        )
        self.conversation = Conversation()
        self.buffer = InputBuffer()
        self.timeline = 0
        self.decoder = AudioDecoder(self._input_format())
        self.turn: TurnConfig | None = TurnConfig.from_session(self._turn_detection())
        # A transcriber with real words can judge semantic_vad turn ends (vad.py).
        self._judged = bool(getattr(self.transcriber, "partials", False))
        self.detector: TurnDetector | None = (
            TurnDetector(self.vad, self.turn, judged=self._judged) if self.turn else None
        )
        self._speech_item: str | None = None
        self._speech_start = 0
        self._early: tuple[int, int, asyncio.Task[Any]] | None = None
        self._early_gen = 0
        self.responses: dict[str, ResponseRun] = {}
        self.active: ResponseRun | None = None
        self._pending_vad_response = False
        self.audio_seen = False
        self._last_cost: ContextCost | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._transcriptions: dict[str, asyncio.Task[Any]] = {}
        self._idle: asyncio.TimerHandle | None = None
        self.closed = False
        self._dispatch: dict[str, Callable[[Event], None]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.delete": self._item_delete,
            "conversation.item.truncate": self._item_truncate,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._output_audio_buffer_clear,
        }

    # -- plumbing --------------------------------------------------------------

    def emit(self, event: Event) -> None:
        if self.closed:
            return
        self._send({"event_id": new_id("event"), **event})

    def error(
        self,
        code: str | None,
        message: str,
        *,
        param: str | None = None,
        event_id: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        self.emit(
            {
                "type": "error",
                "error": {
                    "type": type_,
                    "code": code,
                    "message": message,
                    "param": param,
                    "event_id": event_id,
                },
            }
        )

    def run_sync(self, fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        return asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def backpressure(self) -> None:
        await self._backpressure()

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("server task %s failed", task.get_name(), exc_info=task.exception())

    def open(self) -> None:
        """Send the opening events."""
        self.emit({"type": "session.created", "session": self.session})
        if self.options.emit_conversation_created:
            self.emit(
                {
                    "type": "conversation.created",
                    "conversation": {"id": self.conversation.id, "object": "realtime.conversation"},
                }
            )

    def close(self) -> None:
        """The socket is gone: stop everything, emit nothing more."""
        self.closed = True
        self._cancel_idle()
        for run in list(self.responses.values()):
            run.abandon()
        self.responses.clear()
        self.active = None
        for task in list(self._tasks):
            task.cancel()

    # -- input frames ------------------------------------------------------------

    def handle_frame(self, message: str | bytes) -> Event | None:
        """Parse one WebSocket frame and handle it; returns the parsed event (for records)."""
        try:
            text = message.decode("utf-8") if isinstance(message, bytes) else message
            event = json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            self.error("invalid_json", f"The server could not parse the event as JSON: {exc}")
            return None
        if not isinstance(event, dict):
            self.error(
                "invalid_json", "Expected an event object, got JSON " + type(event).__name__ + "."
            )
            return None
        self.handle(event)
        return event

    def handle(self, event: Event) -> None:
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        kind = event.get("type")
        try:
            if not isinstance(kind, str):
                raise _missing("type")
            handler = self._dispatch.get(kind)
            if handler is None:
                supported = ", ".join(f"'{t}'" for t in sorted(CLIENT_EVENT_TYPES))
                raise ClientError(
                    "invalid_value",
                    f"Invalid value: '{kind}'. Supported values are: {supported}.",
                    "type",
                )
            handler(event)
        except ClientError as exc:
            self.error(exc.code, exc.message, param=exc.param, event_id=event_id, type_=exc.type)
        except Exception as exc:  # a server bug must not take the connection down
            log.exception("error handling %s", kind)
            self.error(
                "internal_error",
                f"The local server failed: {type(exc).__name__}: {exc}",
                event_id=event_id,
                type_="server_error",
            )

    # -- session -------------------------------------------------------------------

    def _input_format(self) -> Any:
        return ((self.session.get("audio") or {}).get("input") or {}).get("format")

    def _output_format(self) -> Any:
        return ((self.session.get("audio") or {}).get("output") or {}).get("format")

    def _turn_detection(self) -> Any:
        return ((self.session.get("audio") or {}).get("input") or {}).get("turn_detection")

    def _transcription(self) -> Any:
        return ((self.session.get("audio") or {}).get("input") or {}).get("transcription")

    def _session_update(self, event: Event) -> None:
        update = event.get("session")
        if not isinstance(update, Mapping):
            raise _missing("session")
        if "type" not in update:
            raise _missing("session.type")
        unknown = unknown_fields(update)
        if unknown:
            raise ClientError(
                "unknown_parameter",
                f"Unknown parameter: 'session.{unknown[0]}'.",
                f"session.{unknown[0]}",
            )
        try:
            clean = validate_session(update)
        except ConfigError as exc:
            raise config_error(exc, "session") from None
        for key in _READ_ONLY:
            clean.pop(key, None)
        merged = merge_session(self._rebased(str(clean["type"])), clean)
        if self.audio_seen and _voice(merged) != _voice(self.session):
            raise ClientError(
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
                "session.audio.output.voice",
            )
        try:
            validate_session(merged)  # cross-field rules (a forced tool_choice needs its tool)
        except ConfigError as exc:
            raise config_error(exc, "session") from None
        self._apply_session(merged)
        self.emit({"type": "session.updated", "session": self.session})

    def _rebased(self, new_type: str) -> dict[str, Any]:
        """The base an update merges onto: switching session type keeps only shared fields."""
        if new_type == self.session.get("type"):
            return self.session
        keep = {k: self.session[k] for k in _READ_ONLY if k in self.session}
        audio_in = (self.session.get("audio") or {}).get("input") or {}
        if new_type == "transcription":
            return {
                "type": "transcription",
                **keep,
                "audio": {"input": dict(audio_in)},
                "include": None,
            }
        base = default_session(str(self.session.get("model") or self.options.model))
        base["audio"]["input"] = dict(audio_in)
        return {**base, **keep}

    def _apply_session(self, new: dict[str, Any]) -> None:
        old_in = self._input_format()
        old_td = self._turn_detection()
        self.session = new
        if self._input_format() != old_in:
            self._ingest(self.decoder.flush())
            self.decoder = AudioDecoder(self._input_format())
        td = self._turn_detection()
        if td == old_td:
            return
        self._cancel_idle()
        turn = TurnConfig.from_session(td)
        if turn is None:
            self.detector = None
            self._speech_item = None
        elif self.detector is None or self.turn is None or self.turn.type != turn.type:
            self.detector = TurnDetector(self.vad, turn, judged=self._judged)
            self.detector.resync(self.timeline)
            self.detector.set_floor(self.buffer.start)
            self._speech_item = None
        else:
            self.detector.reconfigure(turn)
        self.turn = turn

    # -- input audio buffer ------------------------------------------------------------

    def _append(self, event: Event) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise _missing("audio")
        try:
            raw = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise ClientError(
                "invalid_value", "Invalid 'audio': expected base64-encoded audio.", "audio"
            ) from None
        try:
            samples = self.decoder.decode(raw)
        except ValueError as exc:
            raise ClientError("invalid_value", f"Invalid 'audio': {exc}.", "audio") from None
        if self.record is not None and self.record.allow(len(raw)):
            self.record.raw_input_audio += raw
        self._ingest(samples)

    def _ingest(self, samples: Int16Array) -> None:
        if not samples.size:
            return
        if self.record is not None and self.record.allow(samples.size * 2):
            self.record.input_audio += samples.astype("<i2", copy=False).tobytes()
        self.buffer.append(samples)
        self.timeline += samples.size
        if self.detector is None or self.turn is None:
            return
        for turn_event in self.detector.feed(samples):
            self._on_turn(turn_event)
            if self.closed:
                return
        if not self.detector.in_speech:
            keep = self.turn.prefix_padding_ms + _KEEP_MARGIN_MS
            if self.turn.idle_timeout_ms is not None:
                keep += int(self.turn.idle_timeout_ms * self.options.idle_timeout_scale)
            self.buffer.keep_last(_samples(keep), slack=SAMPLE_RATE)
            self.detector.set_floor(self.buffer.start)

    def _on_turn(self, ev: TurnEvent) -> None:
        assert self.turn is not None
        assert self.detector is not None
        if ev.kind == "pause":
            # Transcribe the turn so far while the silence window runs: if the turn ends
            # at this pause, its transcript is (nearly) ready when speech_stopped is sent.
            # (with the silence so far: Whisper hears word endings better with it).
            audio = self.buffer.peek(self._speech_start, self.buffer.end)
            task = self._spawn(self._partial(audio, ev.sample), "early transcript")
            self._early = (self._speech_start, ev.sample, task)
            return
        if ev.kind == "start":
            self._early = None
            self._early_gen += 1  # an early pass still queued is of no use now
            self._speech_item = new_id("item")
            self._speech_start = ev.sample
            self._cancel_idle()
            self.emit(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": ev.ms,
                    "item_id": self._speech_item,
                }
            )
            if self.turn.interrupt_response and self.active is not None:
                self.active.cancel("turn_detected")
            return
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        self.emit(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": ev.ms, "item_id": item_id}
        )
        audio = self.buffer.take(self._speech_start, ev.sample)
        self.detector.set_floor(ev.sample)
        early, self._early = self._early, None
        heard: asyncio.Task[Any] | None = None
        if early is not None and early[0] == self._speech_start:
            heard = early[2]  # the last pause of this turn: its transcript is the turn's
        self._commit_audio(item_id, audio, heard)
        if self.turn.create_response and self.session.get("type") != "transcription":
            if self.active is not None:
                self._pending_vad_response = True  # answered when the active response ends
            else:
                self._start_response({}, list(self.conversation))

    def _commit(self, event: Event) -> None:
        self._ingest(self.decoder.flush())
        ms = self.buffer.size * 1000 / SAMPLE_RATE
        if ms < _MIN_COMMIT_MS:
            raise ClientError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"100ms of audio, but buffer only has {ms:.2f}ms of audio.",
            )
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        audio = self.buffer.take(self.buffer.start, self.buffer.end)
        if self.detector is not None:
            self.detector.resync(self.timeline)
        self._commit_audio(item_id, audio)

    def _commit_audio(
        self, item_id: str, audio: Int16Array, heard: asyncio.Task[Any] | None = None
    ) -> None:
        item = Item(
            id=item_id,
            type="message",
            role="user",
            content=[{"type": "input_audio", "transcript": None}],
            audio={0: audio},
        )
        prev = self.conversation.insert(item)
        self.emit(
            {"type": "input_audio_buffer.committed", "previous_item_id": prev, "item_id": item_id}
        )
        self.emit(
            {"type": "conversation.item.added", "previous_item_id": prev, "item": item.wire()}
        )
        self.emit({"type": "conversation.item.done", "previous_item_id": prev, "item": item.wire()})
        cfg = self._transcription()
        if heard is not None:
            heard.add_done_callback(lambda t: _set_heard(item, t))
            if not cfg:
                self._transcriptions[item_id] = heard  # responders that need words wait for it
                heard.add_done_callback(lambda _t: self._transcriptions.pop(item_id, None))
        if cfg:
            task = self._spawn(
                self._transcribe(item, audio, dict(cfg), heard), f"transcribe {item_id}"
            )
            self._transcriptions[item_id] = task

    def _clear(self, event: Event) -> None:
        self.decoder.flush()
        self.buffer.clear()
        self._speech_item = None
        if self.detector is not None:
            self.detector.resync(self.timeline)
            self.detector.set_floor(self.buffer.start)
        self.emit({"type": "input_audio_buffer.cleared"})

    async def _transcribe(
        self,
        item: Item,
        audio: Int16Array,
        cfg: dict[str, Any],
        heard: asyncio.Task[Any] | None = None,
    ) -> None:
        try:
            if not self.responder.uses_transcripts:
                # Beside the response, as on OpenAI; a responder that needs the words waits.
                await asyncio.sleep(self.options.transcription_delay_s)
            request = TranscriptionRequest(
                audio=audio,
                model=cfg.get("model"),
                language=cfg.get("language"),
                prompt=cfg.get("prompt"),
            )
            early: str | None = None
            if heard is not None:
                early = await asyncio.shield(heard)  # the early pass heard exactly this turn
            try:
                if early is not None:
                    text = early
                else:
                    text = str(await self.run_sync(self.transcriber.transcribe, request))
            except Exception as exc:
                log.warning("transcription of %s failed: %s", item.id, exc)
                self.emit(
                    {
                        "type": "conversation.item.input_audio_transcription.failed",
                        "item_id": item.id,
                        "content_index": 0,
                        "error": {
                            "type": "transcription_error",
                            "code": "engine_error",
                            "message": str(exc),
                            "param": None,
                        },
                    }
                )
                return
            if self.conversation.get(item.id) is not item:
                return  # deleted meanwhile
            for piece in split_words(text) or [text]:
                self.emit(
                    {
                        "type": "conversation.item.input_audio_transcription.delta",
                        "item_id": item.id,
                        "content_index": 0,
                        "delta": piece,
                    }
                )
            item.content[0]["transcript"] = text
            self.emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item.id,
                    "content_index": 0,
                    "transcript": text,
                    "usage": {"type": "duration", "seconds": round(audio.size / SAMPLE_RATE, 3)},
                }
            )
        finally:
            self._transcriptions.pop(item.id, None)

    async def _partial(self, audio: Int16Array, silence_start: int) -> str | None:
        """Transcribe the turn up to a pause (early transcript; semantic_vad's judgement)."""
        cfg = self._transcription() or {}
        request = TranscriptionRequest(
            audio=audio,
            model=cfg.get("model"),
            language=cfg.get("language"),
            prompt=cfg.get("prompt"),
        )
        self._early_gen += 1
        gen = self._early_gen

        def run() -> str | None:
            if gen != self._early_gen:
                return None  # a later pause superseded this one before it started
            return str(self.transcriber.transcribe(request))

        try:
            result = await self.run_sync(run)
        except Exception as exc:
            log.debug("early transcription failed: %s", exc)
            return None
        if result is None:
            return None
        text = str(result)
        if self.detector is not None:
            self.detector.set_partial(text, silence_start)
        return text

    async def wait_transcripts(self, item_ids: list[str]) -> None:
        tasks = [self._transcriptions[i] for i in item_ids if i in self._transcriptions]
        if tasks:
            await asyncio.wait(tasks, timeout=30)

    # -- conversation items -------------------------------------------------------------

    def _decode_b64(self, b64: str) -> Int16Array:
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("expected base64-encoded audio") from None
        return decode_all(raw, self._input_format())

    def _item_create(self, event: Event) -> None:
        if "item" not in event:
            raise _missing("item")
        try:
            item = item_from_client(event["item"], self._decode_b64)
            prev = self.conversation.insert(item, event.get("previous_item_id"))
        except ItemError as exc:
            raise _item_error(exc) from None
        self.emit(
            {"type": "conversation.item.added", "previous_item_id": prev, "item": item.wire()}
        )
        self.emit({"type": "conversation.item.done", "previous_item_id": prev, "item": item.wire()})

    def _item_retrieve(self, event: Event) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            raise _missing("item_id")
        item = self.conversation.get(item_id)
        if item is None:
            raise ClientError(
                "item_retrieve_invalid_item_id",
                f"Error retrieving item: the item with id '{item_id}' does not exist.",
                "item_id",
            )
        fmt = self._output_format() if item.role == "assistant" else self._input_format()
        encoder = AudioEncoder(fmt)
        audio = {
            i: base64.b64encode(encoder.encode_all(a)).decode("ascii")
            for i, a in item.audio.items()
        }
        self.emit({"type": "conversation.item.retrieved", "item": item.wire(audio=audio)})

    def _item_delete(self, event: Event) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            raise _missing("item_id")
        if not self.conversation.delete(item_id):
            raise ClientError(
                "item_delete_invalid_item_id",
                f"Error deleting item: the item with id '{item_id}' does not exist.",
                "item_id",
            )
        task = self._transcriptions.pop(item_id, None)
        if task is not None:
            task.cancel()
        self.emit({"type": "conversation.item.deleted", "item_id": item_id})

    def _item_truncate(self, event: Event) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            raise _missing("item_id")
        end_ms = event.get("audio_end_ms")
        if end_ms is None:
            raise _missing("audio_end_ms")
        index = event.get("content_index", 0)
        item = self.conversation.get(item_id)
        if item is None:
            raise ClientError(
                "item_truncate_invalid_item_id",
                f"Error truncating item: the item with id '{item_id}' does not exist.",
                "item_id",
            )
        if not isinstance(end_ms, int) or isinstance(end_ms, bool) or end_ms < 0:
            raise ClientError(
                "invalid_value", "Invalid 'audio_end_ms': expected an integer >= 0.", "audio_end_ms"
            )
        if item.role != "assistant" or item.type != "message":
            raise ClientError(
                "invalid_value", "Only assistant messages with audio can be truncated.", "item_id"
            )
        if (
            not isinstance(index, int)
            or not 0 <= index < len(item.content)
            or item.content[index].get("type") != "output_audio"
        ):
            raise ClientError(
                "invalid_value",
                "Invalid 'content_index': the part is not output_audio.",
                "content_index",
            )
        for run in list(self.responses.values()):
            if any(o is item for o in run.output) and item.status == "in_progress":
                run.cancel("client_cancelled")  # audio still streaming: stop it so the cut holds
        audio = item.audio.get(index)
        total_ms = item.audio_ms(index)
        if end_ms > total_ms + 0.5:
            raise ClientError(
                "invalid_value",
                "Invalid 'audio_end_ms': audio_end_ms is longer than the audio "
                f"({end_ms} ms > {total_ms:.0f} ms).",
                "audio_end_ms",
            )
        if audio is not None:
            item.audio[index] = audio[: _samples(end_ms)].copy()
        transcript = str(item.content[index].get("transcript") or "")
        item.content[index]["transcript"] = transcript_until(transcript, end_ms, total_ms)
        self.emit(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": index,
                "audio_end_ms": end_ms,
            }
        )

    # -- responses ----------------------------------------------------------------------

    def _response_create(self, event: Event) -> None:
        raw = event.get("response")
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ClientError(
                "invalid_value", "Invalid 'response': expected an object.", "response"
            )
        unknown = unknown_response_fields(raw)
        if unknown:
            raise ClientError(
                "unknown_parameter",
                f"Unknown parameter: 'response.{unknown[0]}'.",
                f"response.{unknown[0]}",
            )
        try:
            params = validate_response_params(raw)
        except ConfigError as exc:
            raise config_error(exc, "response") from None
        if params.get("conversation", "auto") != "none" and self.active is not None:
            raise ClientError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        self._start_response(params, self._context(params.get("input")))

    def _context(self, entries: Any) -> list[Item]:
        if entries is None:
            return list(self.conversation)
        items: list[Item] = []
        for i, entry in enumerate(entries):
            prefix = f"response.input[{i}]"
            if entry.get("type") == "item_reference":
                ref = self.conversation.get(str(entry.get("id")))
                if ref is None:
                    raise ClientError(
                        "invalid_value",
                        f"Item with id '{entry.get('id')}' does not exist.",
                        f"{prefix}.id",
                    )
                items.append(ref)
                continue
            try:
                items.append(item_from_client(entry, self._decode_b64))
            except ItemError as exc:
                raise _item_error(exc, prefix) from None
        return items

    def _start_response(self, params: Mapping[str, Any], context: list[Item]) -> ResponseRun:
        run = ResponseRun(self, self.session, params, context)
        self.responses[run.id] = run
        if run.in_conversation:
            self.active = run
            self._pending_vad_response = False
            self._cancel_idle()
        run.start()
        if run.in_conversation:
            self._last_cost = run.cost
        return run

    def _response_cancel(self, event: Event) -> None:
        response_id = event.get("response_id")
        run: ResponseRun | None
        if response_id is not None:
            run = self.responses.get(str(response_id))
        else:
            run = self.active or next(reversed(self.responses.values()), None)
        if run is None or run.finished:
            raise ClientError(
                "response_cancel_not_active", "Cancellation failed: no active response found"
            )
        run.cancel("client_cancelled")

    def _output_audio_buffer_clear(self, event: Event) -> None:
        raise ClientError(
            "invalid_value",
            "output_audio_buffer.clear is only supported for WebRTC and SIP connections; over "
            "WebSocket stop playback locally and send conversation.item.truncate.",
            "type",
        )

    # -- ResponseHost callbacks -----------------------------------------------------------

    def audio_emitted(self) -> None:
        self.audio_seen = True

    def previous_cost(self) -> ContextCost | None:
        return self._last_cost

    def response_finished(self, run: ResponseRun) -> None:
        self.responses.pop(run.id, None)
        if run is not self.active:
            return
        self.active = None
        if self.closed:
            return
        if self._pending_vad_response:
            self._pending_vad_response = False
            self._start_response({}, list(self.conversation))
        elif run.cancel_reason != "turn_detected":
            self._schedule_idle(run)

    # -- idle timeout -----------------------------------------------------------------------

    def _cancel_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _idle_ms(self) -> int | None:
        if self.turn is None or self.turn.type != "server_vad" or self.turn.idle_timeout_ms is None:
            return None
        return int(self.turn.idle_timeout_ms * self.options.idle_timeout_scale)

    def _schedule_idle(self, run: ResponseRun) -> None:
        idle = self._idle_ms()
        if idle is None:
            return
        self._cancel_idle()
        loop = asyncio.get_running_loop()
        now = loop.time()
        # The timer starts when the reply's audio has finished *playing* on the client,
        # which began with the first delta.
        played = run.first_audio_at + run.audio_ms / 1000 if run.first_audio_at is not None else now
        self._idle = loop.call_later(max(played, now) - now + idle / 1000, self._idle_fire)

    def _idle_fire(self) -> None:
        self._idle = None
        idle = self._idle_ms()
        if self.closed or idle is None or self.active is not None:
            return
        if self.detector is not None and self.detector.in_speech:
            return
        end = self.timeline
        start = max(self.buffer.start, end - _samples(idle))
        item_id = new_id("item")
        self.emit(
            {
                "type": "input_audio_buffer.timeout_triggered",
                "audio_start_ms": _ms(start),
                "audio_end_ms": _ms(end),
                "item_id": item_id,
            }
        )
        audio = self.buffer.take(start, end)
        if self.detector is not None:
            self.detector.resync(self.timeline)
            self.detector.set_floor(self.buffer.start)
        self._commit_audio(item_id, audio)
        self._start_response({}, list(self.conversation))

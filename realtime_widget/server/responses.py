"""One response: from ``response.created`` to ``response.done``.

Event order (reference §1.9), for a message::

    response.created → rate_limits.updated → response.output_item.added
    → conversation.item.added (default conversation only) → response.content_part.added
    → (response.output_audio_transcript.delta | response.output_audio.delta)*   [audio]
      or response.output_text.delta*                                           [text]
    → response.output_audio.done + response.output_audio_transcript.done | response.output_text.done
    → response.content_part.done → response.output_item.done
    → conversation.item.done (default conversation only) → response.done

and for a function call ``output_item.added → conversation.item.added →
function_call_arguments.delta* → .done → output_item.done →
conversation.item.done → response.done``.

Cancellation is synchronous (:meth:`ResponseRun.cancel`): it cancels the task,
closes whatever part/item is open with status ``incomplete`` and sends
``response.done`` at once, so nothing of the response can follow it.

Transcript deltas are positioned in time proportionally to character offsets
over the expected audio duration: word *i* is sent just before the audio delta
covering ``duration · offset_i / len(text)``. Truncation uses the same mapping
(:func:`transcript_until`), so what survives a truncate is what was "said".
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, Protocol

import numpy as np

from realtime_widget.protocol.audio import SAMPLE_RATE, Int16Array, as_int16
from realtime_widget.protocol.events import Event, new_id

from .codec import AudioEncoder
from .conversation import Conversation, Item, estimate_text_tokens
from .interfaces import (
    Reply,
    Responder,
    ResponderContext,
    Speaker,
    SpeechRequest,
    SpeechSegment,
)
from .options import ServerOptions
from .responder import call_responder
from .usage import ContextCost, Usage, audio_output_tokens, context_cost

__all__ = ["ResponseHost", "ResponseRun", "split_words", "transcript_until"]

log = logging.getLogger("realtime_widget.server")

_WORD_RE = re.compile(r"\s*\S+\s*|\s+")
_TEXT_DELTA_S = 0.02  # text deltas in realtime pace: ~50 words/s, like a fast model


def split_words(text: str) -> list[str]:
    """Pieces that concatenate back to ``text``: each word with its trailing space."""
    return _WORD_RE.findall(text)


def _placed(text: str, start_ms: float, span_ms: float) -> list[tuple[float, str]]:
    """Words of ``text`` with start times spread over ``span_ms`` by character offset."""
    out, offset = [], 0
    for piece in split_words(text):
        out.append((start_ms + offset * span_ms / max(len(text), 1), piece))
        offset += len(piece)
    return out


class _Pull:
    """Pulls a speaker's chunks one at a time (in the pool); closable from the loop.

    :meth:`close` never blocks: when a pull is running in a worker, that pull
    closes the iterator as soon as its chunk is ready, so at most the chunk
    being computed is wasted.
    """

    def __init__(self, iterator: Iterator[Any]) -> None:
        self._it = iterator
        self._lock = threading.Lock()
        self._closed = False

    def next(self) -> Any:
        with self._lock:
            item = None if self._closed else next(self._it, None)
        if self._closed:
            self._close_now()
            return None
        return item

    def close(self) -> None:
        self._closed = True
        self._close_now()

    def _close_now(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # a pull is running: it closes after its chunk
        try:
            close = getattr(self._it, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # a speaker's cleanup must not break the response
                    log.debug("closing a speaker iterator failed", exc_info=True)
            self._it = iter(())
        finally:
            self._lock.release()


def transcript_until(text: str, ms: float, total_ms: float) -> str:
    """The words of ``text`` whose start lies before ``ms`` of ``total_ms``."""
    if total_ms <= 0 or ms >= total_ms:
        return text
    out, offset = [], 0
    for piece in split_words(text):
        if offset * total_ms / max(len(text), 1) >= ms:
            break
        out.append(piece)
        offset += len(piece)
    return "".join(out).rstrip()


class ResponseHost(Protocol):
    """What a response needs from its connection (implemented by the handler)."""

    options: ServerOptions
    conversation: Conversation
    responder: Responder
    speaker: Speaker

    def emit(self, event: Event) -> None: ...

    def run_sync(self, fn: Callable[..., Any], *args: Any) -> Awaitable[Any]: ...

    async def backpressure(self) -> None: ...

    async def wait_transcripts(self, item_ids: list[str]) -> None: ...

    def audio_emitted(self) -> None: ...

    def response_finished(self, run: ResponseRun) -> None: ...

    def previous_cost(self) -> ContextCost | None: ...


class ResponseRun:
    """State and task of one response (default conversation or out-of-band)."""

    def __init__(
        self,
        host: ResponseHost,
        session: Mapping[str, Any],
        params: Mapping[str, Any],
        context_items: list[Item],
    ) -> None:
        self.host = host
        self.id = new_id("resp")
        self.params = dict(params)
        self.in_conversation = params.get("conversation", "auto") != "none"
        self.instructions = str(params.get("instructions", session.get("instructions") or ""))
        self.modalities = list(
            params.get("output_modalities") or session.get("output_modalities") or ["audio"]
        )
        out_cfg = dict((session.get("audio") or {}).get("output") or {})
        p_out = dict((params.get("audio") or {}).get("output") or {})
        self.format = (
            p_out.get("format")
            or out_cfg.get("format")
            or {"type": "audio/pcm", "rate": SAMPLE_RATE}
        )
        self.voice = p_out.get("voice") or out_cfg.get("voice") or "alloy"
        self.speed = float(out_cfg.get("speed") or 1.0)
        self.tools = list(params["tools"] if "tools" in params else session.get("tools") or [])
        self.tool_choice = params.get("tool_choice", session.get("tool_choice", "auto"))
        self.max_output_tokens = params.get(
            "max_output_tokens", session.get("max_output_tokens", "inf")
        )
        self.metadata = params.get("metadata")
        self.context_items = context_items
        self.status = "in_progress"
        self.status_details: dict[str, Any] | None = None
        self.output: list[Item] = []
        self.usage = Usage()
        self.cost = context_cost(self.instructions, self.tools, context_items)
        self.finished = False
        self.cancel_reason: str | None = None
        self.first_audio_at: float | None = None
        self.audio_ms = 0.0
        self._task: asyncio.Task[None] | None = None
        # The open message part, if any (closed by _close_open on any ending).
        self._open: Item | None = None
        self._open_index = 0
        self._open_kind = "audio"
        self._open_text = ""
        self._open_audio: list[Int16Array] = []
        self._encoder: AudioEncoder | None = None

    # -- wire ----------------------------------------------------------------

    @property
    def voice_name(self) -> str:
        return self.voice if isinstance(self.voice, str) else str(self.voice.get("id", "custom"))

    def wire(self, *, usage: bool = False) -> dict[str, Any]:
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": self.status,
            "status_details": self.status_details,
            "output": [item.wire() for item in self.output],
            "conversation_id": self.host.conversation.id if self.in_conversation else None,
            "output_modalities": self.modalities,
            "max_output_tokens": self.max_output_tokens,
            "audio": {"output": {"format": self.format, "voice": self.voice}},
            "usage": self.usage.wire() if usage else None,
            "metadata": self.metadata,
        }

    def _emit(self, type_: str, **fields: Any) -> None:
        self.host.emit({"type": type_, **fields})

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Send ``response.created`` (+ rate limits) and start producing output."""
        cached_text, cached_audio = self.cost.cached(
            self.host.previous_cost() if self.in_conversation else None
        )
        self.usage.input_text, self.usage.input_audio = self.cost.text, self.cost.audio
        self.usage.cached_text, self.usage.cached_audio = cached_text, cached_audio
        self._emit("response.created", response=self.wire())
        used = self.cost.text + self.cost.audio
        self._emit(
            "rate_limits.updated",
            rate_limits=[
                {"name": "requests", "limit": 20000, "remaining": 19999, "reset_seconds": 0.003},
                {
                    "name": "tokens",
                    "limit": 15_000_000,
                    "remaining": 15_000_000 - used,
                    "reset_seconds": round(used * 60 / 15_000_000, 3),
                },
            ],
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"response {self.id}")

    def cancel(self, reason: str) -> bool:
        """Stop now: ``response.done`` (cancelled) is emitted before this returns."""
        if self.finished:
            return False
        self.cancel_reason = reason
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self._finish("cancelled", {"type": "cancelled", "reason": reason})
        return True

    def abandon(self) -> None:
        """The connection is gone: stop without emitting anything."""
        self.finished = True
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        try:
            if self.host.responder.uses_transcripts:
                await self.host.wait_transcripts([i.id for i in self.context_items])
            context = self._responder_context()  # after the wait: it snapshots transcripts
            reply: Reply = await call_responder(self.host.responder, context, self.host.run_sync)
            if self.finished:
                return
            if reply.function_call is not None:
                self._function_call(reply)
                self._finish("completed", None)
            else:
                complete = await self._message(reply.text or "", context)
                if complete:
                    self._finish("completed", None)
                else:
                    self._finish(
                        "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}
                    )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an engine failed: report it like a server error, keep the socket
            log.exception("response %s failed", self.id)
            if not self.finished:
                error = {
                    "type": "server_error",
                    "code": "engine_error",
                    "message": f"{type(exc).__name__}: {exc}",
                }
                self._finish("failed", {"type": "failed", "error": error})

    def _responder_context(self) -> ResponderContext:
        return ResponderContext(
            items=[item.to_context() for item in self.context_items],
            instructions=self.instructions,
            tools=self.tools,
            tool_choice=self.tool_choice,
            output_modalities=self.modalities,
            metadata=self.metadata,
            out_of_band=not self.in_conversation,
        )

    def _finish(self, status: str, details: dict[str, Any] | None) -> None:
        if self.finished:
            return
        self._close_open("completed" if status == "completed" else "incomplete")
        self.finished = True
        self.status = status
        self.status_details = details
        self._emit("response.done", response=self.wire(usage=True))
        self.host.response_finished(self)

    # -- output items ------------------------------------------------------------

    def _add_item(self, item: Item) -> int:
        index = len(self.output)
        self.output.append(item)
        self._emit(
            "response.output_item.added", response_id=self.id, output_index=index, item=item.wire()
        )
        if self.in_conversation:
            prev = self.host.conversation.insert(item)
            self._emit("conversation.item.added", previous_item_id=prev, item=item.wire())
        return index

    def _done_item(self, item: Item, index: int) -> None:
        self._emit(
            "response.output_item.done", response_id=self.id, output_index=index, item=item.wire()
        )
        if self.in_conversation and self.host.conversation.get(item.id) is item:
            prev = self.host.conversation.previous_id(item.id)
            self._emit("conversation.item.done", previous_item_id=prev, item=item.wire())

    def _function_call(self, reply: Reply) -> None:
        call = reply.function_call
        assert call is not None
        args = (
            call.arguments if isinstance(call.arguments, str) else json.dumps(dict(call.arguments))
        )
        item = Item(
            id=new_id("item"),
            type="function_call",
            status="in_progress",
            name=call.name,
            call_id=call.call_id or new_id("call"),
            arguments="",
        )
        index = self._add_item(item)
        ids = {
            "response_id": self.id,
            "item_id": item.id,
            "output_index": index,
            "call_id": item.call_id,
        }
        step = 24  # a few deltas, like a model streaming JSON
        for start in range(0, len(args), step):
            self._emit(
                "response.function_call_arguments.delta", **ids, delta=args[start : start + step]
            )
        item.arguments = args
        self._emit("response.function_call_arguments.done", **ids, name=call.name, arguments=args)
        item.status = "completed"
        self.usage.output_text += estimate_text_tokens(args) + estimate_text_tokens(call.name)
        self._done_item(item, index)

    async def _message(self, text: str, context: ResponderContext) -> bool:
        """Stream one assistant message; False if ``max_output_tokens`` cut it short."""
        item = Item(id=new_id("item"), type="message", role="assistant", status="in_progress")
        index = self._add_item(item)
        audio = "audio" in self.modalities
        self._open, self._open_index, self._open_kind, self._open_text = (
            item,
            index,
            "audio" if audio else "text",
            "",
        )
        item.content.append(
            {"type": "output_audio", "transcript": ""}
            if audio
            else {"type": "output_text", "text": ""}
        )
        part = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        self._emit(
            "response.content_part.added",
            response_id=self.id,
            item_id=item.id,
            output_index=index,
            content_index=0,
            part=part,
        )
        budget = self.max_output_tokens if isinstance(self.max_output_tokens, int) else None
        if audio:
            return await self._stream_audio(text, context, budget)
        return await self._stream_text(text, budget)

    def _ids(self) -> dict[str, Any]:
        assert self._open is not None
        return {
            "response_id": self.id,
            "item_id": self._open.id,
            "output_index": self._open_index,
            "content_index": 0,
        }

    def _say(self, piece: str) -> None:
        """Append ``piece`` to the open part and send its delta."""
        assert self._open is not None
        self._open_text += piece
        if self._open_kind == "audio":
            self._open.content[0]["transcript"] = self._open_text
            self._emit("response.output_audio_transcript.delta", **self._ids(), delta=piece)
        else:
            self._open.content[0]["text"] = self._open_text
            self._emit("response.output_text.delta", **self._ids(), delta=piece)

    async def _stream_text(self, text: str, budget: int | None) -> bool:
        for piece in split_words(text):
            if budget is not None and estimate_text_tokens(self._open_text + piece) > budget:
                return False
            if self.host.options.pace == "realtime":
                await asyncio.sleep(_TEXT_DELTA_S)
            else:
                await self.host.backpressure()
            self._say(piece)
        return True

    async def _stream_audio(self, text: str, context: ResponderContext, budget: int | None) -> bool:
        host, opts = self.host, self.host.options
        loop = asyncio.get_running_loop()
        last = context.last_item
        source = last.audio if last is not None and last.role == "user" else None
        request = SpeechRequest(
            text=text, voice=self.voice_name, speed=self.speed, source_audio=source
        )
        estimate = host.speaker.estimate_ms(request)
        total_ms = float(estimate) if estimate else max(300.0, len(text) * 65.0)
        # Transcript pieces with their start on the audio timeline (ms), in order.
        schedule: collections.deque[tuple[float, str]] = collections.deque(
            _placed(text, 0.0, total_ms)
        )
        segmented = False  # the speaker yields SpeechSegments: words placed per segment
        synthesized = 0  # samples received from the speaker
        self._encoder = AudioEncoder(self.format)
        chunk = max(1, opts.chunk_ms * SAMPLE_RATE // 1000)
        pull = _Pull(iter(await host.run_sync(host.speaker.synthesize, request)))
        pending = np.zeros(0, dtype=np.int16)
        exhausted = False
        sent = 0
        t0: float | None = None
        try:
            while True:
                if pending.size < chunk and not exhausted:
                    nxt = await host.run_sync(pull.next)
                    if nxt is None:
                        exhausted = True
                        continue
                    if isinstance(nxt, SpeechSegment):
                        if not segmented:
                            segmented = True
                            schedule.clear()
                        samples = as_int16(nxt.audio)
                        seg_ms = samples.size * 1000 / SAMPLE_RATE
                        schedule.extend(_placed(nxt.text, synthesized * 1000 / SAMPLE_RATE, seg_ms))
                    else:
                        samples = as_int16(nxt)
                    synthesized += samples.size
                    pending = np.concatenate([pending, samples]) if pending.size else samples
                    continue
                if pending.size == 0:
                    break
                piece_audio, pending = pending[:chunk], pending[chunk:]
                start_ms = sent * 1000 / SAMPLE_RATE
                end_ms = (sent + piece_audio.size) * 1000 / SAMPLE_RATE
                if budget is not None:
                    tokens = audio_output_tokens(end_ms) + estimate_text_tokens(self._open_text)
                    if tokens > budget:
                        return False
                if t0 is None:
                    t0 = loop.time()
                if opts.pace == "realtime":
                    delay = t0 + (start_ms - opts.lead_ms) / 1000 - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                else:
                    await host.backpressure()
                while schedule and schedule[0][0] < end_ms:
                    self._say(schedule.popleft()[1])
                data = self._encoder.encode(piece_audio)
                if self.first_audio_at is None:
                    self.first_audio_at = loop.time()
                    host.audio_emitted()
                self._open_audio.append(piece_audio)
                sent += piece_audio.size
                self.audio_ms = sent * 1000 / SAMPLE_RATE
                if data:
                    self._emit(
                        "response.output_audio.delta",
                        **self._ids(),
                        delta=base64.b64encode(data).decode("ascii"),
                    )
        finally:
            pull.close()  # barge-in / cancel: no further sentence is synthesised
        tail = self._encoder.encode(np.zeros(0, dtype=np.int16), final=True)
        if tail:
            self._emit(
                "response.output_audio.delta",
                **self._ids(),
                delta=base64.b64encode(tail).decode("ascii"),
            )
        while schedule:
            self._say(schedule.popleft()[1])
        if self._open_text != text and text.startswith(self._open_text):
            for piece in split_words(text[len(self._open_text) :]):
                self._say(piece)  # a segmenting speaker left words unspoken
        return True

    def _close_open(self, status: str) -> None:
        item = self._open
        if item is None:
            return
        self._open = None
        ids = {
            "response_id": self.id,
            "item_id": item.id,
            "output_index": self._open_index,
            "content_index": 0,
        }
        text = self._open_text
        if self._open_kind == "audio":
            if self._open_audio:
                item.audio[0] = np.concatenate(self._open_audio)
            self._open_audio = []
            self.usage.output_audio += audio_output_tokens(self.audio_ms)
            self._emit("response.output_audio.done", **ids)
            self._emit("response.output_audio_transcript.done", **ids, transcript=text)
            part = {"type": "audio", "transcript": text}
        else:
            self._emit("response.output_text.done", **ids, text=text)
            part = {"type": "text", "text": text}
        self.usage.output_text += estimate_text_tokens(text)
        self._emit("response.content_part.done", **ids, part=part)
        item.status = status
        self._done_item(item, self._open_index)

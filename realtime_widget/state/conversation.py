"""Layer 2: the conversation state of one Realtime session, sans-I/O.

Rules
=====

Rule 1. Everything that changes the conversation state lives in this file. The
session layer feeds events in; it never edits the objects handed out.

Rule 2. :class:`Conversation` does no I/O and knows no clock: every call carries
``t``, the kernel's monotonic time in seconds when the event crossed the socket.
It is fed in socket order: :meth:`Conversation.feed_client` when a client event
is sent, :meth:`Conversation.feed_server` when a server event is received, both
with GA-shaped events (beta servers are translated by ``protocol.beta`` first).

Rule 3. Feeding never raises. Unknown server event types are kept in
:attr:`Conversation.unknown`; a known event with missing or mistyped fields is
recorded in :attr:`Conversation.anomalies` and otherwise ignored. Known events
with nothing to track over a WebSocket (``output_audio_buffer.*``, MCP
progress, DTMF) are ignored; client events other than those below too (the
log keeps them all).

Rule 4. Audio is stored once, as PCM16 bytes in :class:`AudioTrack` blocks. The
caller decodes base64 once (``audio=`` argument) and passes the raw PCM; only if
it does not is the event's base64 decoded here. No event dict is retained for
the two audio event types. (:meth:`Conversation.feed_audio_delta` and
:meth:`Conversation.feed_append` are the same handlers without the dispatch,
for the receive/send hot path.)

Theory of operation
===================

What moves what (server events unless marked *client*)::

    client input_audio_buffer.append          PCM appended to the "input" timeline
    client input_audio_buffer.commit/.clear   marks a timeline position (manual turns)
    client conversation.item.create (+audio)  its input audio gets a track of its own
    client conversation.item.truncate         Item.truncate_requested_ms
    client response.create conversation=none  an out-of-band response is expected
    client response.cancel                    Response.t_cancel_requested
    input_audio_buffer.speech_started         new Turn (source "speech")
    input_audio_buffer.speech_stopped         the turn's end time and audio_end_ms
    input_audio_buffer.timeout_triggered      new Turn (source "timeout")
    input_audio_buffer.committed              binds the user item's slice of the input
    input_audio_buffer.cleared                the next manual turn starts here
    conversation.item.added/.done/.retrieved  item upserted and placed
    conversation.item.deleted                 item leaves `items`, joins `deleted`
    conversation.item.truncated               Item.truncated_ms; the turn is interrupted
    conversation.item.input_audio_transcription.*   Item.transcript of the user item
    response.created / response.done          Response; active_response_id; usage
    response.output_item.added/.done          item upserted, linked to its response
    response.output_audio.delta/.done         the assistant item's audio track
    response.output_audio_transcript.*        the assistant item's text (+ split marks)
    response.output_text.*                    the assistant item's text
    response.function_call_arguments.*        Item.arguments (name, call_id)
    error                                     Conversation.errors

Item order follows ``previous_item_id``: absent or None appends, ``"root"``
inserts first, an id inserts right after that item (an unknown id appends and
is noted as an anomaly). A repeated event for a placed item moves it only if it
names a different predecessor. Items of a response that is in the default
conversation are appended as soon as ``response.output_item.added`` announces
them, then placed exactly by ``conversation.item.added``.

Words
=====

done
    An item is done at ``conversation.item.done`` (its ``status`` is then the
    server's). A response is done at ``response.done``; ``Response.status``
    (``completed``/``cancelled``/``failed``/``incomplete``) tells how it ended.
    ``active_response_id`` is the in-conversation response between
    ``response.created`` and its ``response.done``.
out-of-band
    A response created by a client ``response.create`` with
    ``conversation: "none"``: OpenAI reports it with ``conversation_id: null``,
    and ``metadata`` tells parallel ones apart. A response counts as
    out-of-band only if such a request is pending and the server's response
    matches it (same metadata, or a null ``conversation_id``): compatible servers
    that always send a null ``conversation_id`` do not lose their conversation.
    Out-of-band items are reachable with :meth:`Conversation.item` but are not
    in :attr:`Conversation.items`, and their responses have no turn.
truncated
    The server confirmed ``conversation.item.truncated``: only the first
    ``truncated_ms`` of the item's audio stay in the model's context. The
    generated audio and text are kept whole; :meth:`Conversation.heard_audio`
    and ``Item.heard_text``/``unheard_text`` split them.
interrupted
    A turn is interrupted when one of its responses ends ``cancelled`` (any
    reason: ``turn_detected`` for a server VAD barge-in, ``client_cancelled``)
    or one of its output items is truncated (playback was cut by the user).

Turns
=====

One :class:`Turn` per user turn, created by the first of: ``speech_started``
(VAD), ``timeout_triggered`` (idle timeout), ``committed`` of an item with no
speech events (manual commit), ``conversation.item.added`` of a user message no
turn claims yet (a typed message), or ``response.created`` when there is no
turn at all. A response attaches to the newest committed turn; further
responses of that turn (after a function call) are appended to
``Turn.response_ids``. ``Turn.response_id`` and ``t_response_created`` are the
first response's; ``t_first_audio``/``t_first_text`` are the first deltas of
any of its responses; ``t_response_done`` is the last ``response.done``.

User audio
==========

The input is one timeline: everything the client appended, in order. The
server counts milliseconds on the same timeline (ms of audio appended since
the session started), so a VAD user item's audio is the slice
``[audio_start_ms, audio_end_ms]`` from its ``speech_started``/``speech_stopped``
(or ``timeout_triggered``). Note: ``input_audio_buffer.cleared`` does *not*
reset that count on OpenAI, so a clear never shifts the timeline here either;
and a reconnect is a new server session, so a new :class:`Conversation`.

A manual turn (no speech events) gets what the client appended between the
previous commit (or clear) and its own ``input_audio_buffer.commit``. The
client's commits and clears are matched to the server's ``committed``/
``cleared`` in order; a commit answered by an ``error`` (correlated through
``event_id``, or ``input_audio_buffer_commit_empty``) is dropped. An item created
with ``conversation.item.create`` and ``input_audio`` keeps that audio in a
track of its own, bound by id, or in order when the client gave no id.

Transcript split on truncation
==============================

Transcript deltas interleave with audio deltas (OpenAI sends the words a
little ahead of their sound). For each transcript delta we record how many
audio samples of the item had been received at that moment. Text that arrived
while X ms of audio had been received is counted as spoken at X ms, so
truncating at ``audio_end_ms`` keeps the text of the deltas received before
that much audio had arrived. It is an approximation (the model's text and
audio are not aligned word by word) and errs towards "heard". With no delta
marks (text only from ``.done``), the split is proportional to audio time.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from realtime_widget.protocol.audio import SAMPLE_RATE, Int16Array, audio_player, write_wav
from realtime_widget.protocol.events import Event, conversation_item_truncate, new_id

from .audio_store import INPUT_TRACK, AudioRef, AudioTrack

__all__ = [
    "Anomaly",
    "AudioRef",
    "Conversation",
    "ErrorRecord",
    "Item",
    "Response",
    "Turn",
    "strip_audio",
]

_SAMPLES_PER_MS = SAMPLE_RATE // 1000
# NamedTuple.__new__ is a Python function: tuple.__new__ skips that frame on the audio path.
_new_ref: Callable[[type[AudioRef], tuple[str, int, int]], AudioRef] = tuple.__new__
_EMPTY = np.zeros(0, dtype=np.int16)
_EMPTY.flags.writeable = False

_Handler = Callable[[Event, float, "bytes | None"], "AudioRef | None"]


# -- views ------------------------------------------------------------------------------


def _marks() -> array[int]:
    return array("q")


@dataclass(slots=True, eq=False)
class Item:
    """One conversation item. A read-only view: the :class:`Conversation` updates it.

    ``text`` joins the text/transcript of the item's content parts (for an
    assistant item: its audio transcript or output text as it streams in).
    ``transcript`` is the *input* transcription of a user audio item, which
    arrives separately and possibly late.
    """

    id: str
    type: str = "message"
    """``message``, ``function_call``, ``function_call_output`` or any other type, verbatim."""
    role: str | None = None
    status: str | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    """The latest item dict from the server (or client), without audio payloads."""
    response_id: str | None = None
    previous_item_id: str | None = None
    in_conversation: bool = False
    deleted: bool = False
    transcript: str | None = None
    transcript_status: str | None = None
    """``in_progress`` while deltas arrive, then ``completed`` or ``failed``."""
    transcript_error: dict[str, Any] | None = None
    transcription_usage: dict[str, Any] | None = None
    segments: list[Event] | None = None
    audio_samples: int = 0
    """Samples of audio generated for (assistant) or attached to (client-created) the item."""
    audio_done: bool = False
    input_span: tuple[int, int] | None = None
    """For a committed user item: its ``[start, stop)`` samples on the input timeline."""
    truncated_ms: int | None = None
    truncate_requested_ms: int | None = None
    t_added: float | None = None
    t_done: float | None = None
    t_first_audio: float | None = None
    t_last_audio: float | None = None
    t_truncated: float | None = None
    _parts: list[str] = field(default_factory=list, repr=False)
    _mark_chars: array[int] = field(default_factory=_marks, repr=False)
    _mark_samples: array[int] = field(default_factory=_marks, repr=False)
    _track: str | None = field(default=None, repr=False)
    _conversation: Conversation | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        parts = self._parts
        return parts[0] if len(parts) == 1 else "".join(parts)

    @property
    def audio_ms(self) -> float:
        """Duration of the item's audio (user items: their slice of the input)."""
        if self.input_span is not None and not self.audio_samples:
            return (self.input_span[1] - self.input_span[0]) / _SAMPLES_PER_MS
        return self.audio_samples / _SAMPLES_PER_MS

    @property
    def truncated(self) -> bool:
        return self.truncated_ms is not None

    @property
    def heard_ms(self) -> float:
        """Audio the user heard: ``truncated_ms`` if truncated, else all of it."""
        if self.truncated_ms is None:
            return self.audio_ms
        return min(float(self.truncated_ms), self.audio_ms)

    @property
    def heard_text(self) -> str:
        return self.text[: self._heard_chars()]

    @property
    def unheard_text(self) -> str:
        return self.text[self._heard_chars() :]

    @property
    def audio(self) -> Int16Array:
        """The item's audio, int16 24 kHz, read-only: for an assistant item everything
        generated (even past a truncation), for a user item its slice of the input."""
        conv = self._conversation
        if conv is None or self.id not in conv._items:
            return _EMPTY
        return conv.item_audio(self.id)

    @property
    def heard_audio(self) -> Int16Array:
        """The part of :attr:`audio` the user heard: the first ``truncated_ms`` if truncated."""
        audio = self.audio
        ms = self.truncated_ms
        return audio if ms is None else audio[: ms * _SAMPLES_PER_MS]

    def play(self, *, heard: bool = False) -> Any:
        """An ``IPython.display.Audio`` of the item's audio (``heard=True``: the heard part)."""
        samples = self.heard_audio if heard else self.audio
        if not len(samples):
            raise ValueError(f"item {self.id} ({self.role or self.type}) has no audio")
        return audio_player(samples)

    def to_wav(self, path: str | os.PathLike[str], *, heard: bool = False) -> Path:
        """Write the item's audio (or its heard part) as a 24 kHz PCM16 WAV; return the path."""
        out = Path(path)
        write_wav(out, self.heard_audio if heard else self.audio)
        return out

    def _heard_chars(self) -> int:
        text_len = sum(len(p) for p in self._parts)
        if self.truncated_ms is None:
            return text_len
        end = self.truncated_ms * _SAMPLES_PER_MS
        total = self.audio_samples
        if total and end >= total:
            return text_len
        if self._mark_samples:
            # Deltas received while fewer than `end` samples had arrived count as heard.
            i = bisect_left(self._mark_samples, end)
            return min(text_len, self._mark_chars[i - 1]) if i else 0
        if not total:
            return 0
        return round(text_len * end / total)


@dataclass(slots=True, eq=False)
class Response:
    """One response (read-only view). ``usage`` is the raw dict of ``response.done``."""

    id: str
    status: str | None = "in_progress"
    status_details: dict[str, Any] | None = None
    output_item_ids: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    conversation_id: str | None = None
    out_of_band: bool = False
    metadata: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    turn: int | None = None
    """Index in :attr:`Conversation.turns`, None for out-of-band responses."""
    t_created: float | None = None
    t_first_audio: float | None = None
    t_first_text: float | None = None
    t_done: float | None = None
    t_cancel_requested: float | None = None

    @property
    def reason(self) -> str | None:
        """``status_details.reason``: turn_detected, client_cancelled, max_output_tokens..."""
        details = self.status_details
        return details.get("reason") if isinstance(details, dict) else None


@dataclass(slots=True, eq=False)
class Turn:
    """One user turn and the timings of its answer (read-only view).

    ``source`` says what opened it: ``speech`` (VAD), ``timeout`` (idle
    timeout), ``commit`` (manual commit), ``item`` (a user message created by
    the client) or ``response`` (a response with no user turn before it).
    """

    index: int
    source: str
    item_id: str | None = None
    t_speech_started: float | None = None
    audio_start_ms: int | None = None
    t_speech_stopped: float | None = None
    audio_end_ms: int | None = None
    t_committed: float | None = None
    response_id: str | None = None
    response_ids: list[str] = field(default_factory=list)
    t_response_created: float | None = None
    t_first_audio: float | None = None
    t_first_text: float | None = None
    t_response_done: float | None = None
    interrupted: bool = False
    truncated_ms: int | None = None

    @property
    def latency(self) -> float | None:
        """Seconds from end of user speech (or commit) to the first audio delta."""
        end = self.t_speech_stopped if self.t_speech_stopped is not None else self.t_committed
        if end is None or self.t_first_audio is None:
            return None
        return self.t_first_audio - end


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """An ``error`` event; ``client_event_type`` is the type of the client event it answers."""

    t: float
    type: str | None
    code: str | None
    message: str | None
    param: str | None
    event_id: str | None
    client_event_type: str | None
    event: Event


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A known event that could not be applied (missing fields, unknown item...)."""

    t: float
    direction: str
    type: str | None
    event_id: str | None
    message: str


# -- helpers ----------------------------------------------------------------------------


def _strip_content(content: Any) -> Any:
    if not isinstance(content, list):
        return content
    if not any(isinstance(p, dict) and isinstance(p.get("audio"), str) for p in content):
        return content
    return [
        {k: v for k, v in p.items() if k != "audio"}
        if isinstance(p, dict) and isinstance(p.get("audio"), str)
        else p
        for p in content
    ]


def _strip_item(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    content = item.get("content")
    stripped = _strip_content(content)
    if stripped is content:
        return item
    return {**item, "content": stripped}


def strip_audio(event: Event) -> Event:
    """``event`` without base64 audio inside items, parts or response output.

    Returns ``event`` itself when there is nothing to strip (the usual case),
    else a shallow copy. The top-level ``delta``/``audio`` of the two audio
    event types are the event log's business, not handled here.
    """
    out = event
    item = event.get("item")
    if isinstance(item, dict):
        new_item = _strip_item(item)
        if new_item is not item:
            out = {**out, "item": new_item}
    part = event.get("part")
    if isinstance(part, dict) and isinstance(part.get("audio"), str):
        out = {**out, "part": {k: v for k, v in part.items() if k != "audio"}}
    resp = event.get("response")
    if isinstance(resp, dict) and isinstance(resp.get("output"), list):
        output = resp["output"]
        new_output = [_strip_item(i) for i in output]
        if any(a is not b for a, b in zip(new_output, output, strict=True)):
            out = {**out, "response": {**resp, "output": new_output}}
    return out


def _decode_audio_parts(content: Any) -> bytes | None:
    """PCM of the base64 ``audio`` of ``input_audio`` parts (None if there is none)."""
    if not isinstance(content, list):
        return None
    chunks = [
        base64.b64decode(p["audio"])
        for p in content
        if isinstance(p, dict)
        and p.get("type") == "input_audio"
        and isinstance(p.get("audio"), str)
    ]
    return b"".join(chunks) if chunks else None


def _has_input_audio(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") == "input_audio" for p in content
    )


def _part_text(part: Any) -> str | None:
    if not isinstance(part, dict):
        return None
    text = part.get("text")
    if text is None:
        text = part.get("transcript")
    return text if isinstance(text, str) else None


def _add_usage(totals: dict[str, int], usage: Mapping[str, Any], prefix: str = "") -> None:
    for key, value in usage.items():
        if type(value) is int:
            name = prefix + key
            totals[name] = totals.get(name, 0) + value
        elif isinstance(value, Mapping):
            _add_usage(totals, value, f"{prefix}{key}.")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


_IGNORED_SERVER = frozenset(
    {
        # WebRTC/SIP playback buffer: nothing to track over a WebSocket.
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        "input_audio_buffer.dtmf_event_received",
        # MCP progress: the items themselves come through output_item events.
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

_CLIENT_EVENT_MEMORY = 4096
"""How many client event ids are remembered to name the event an error answers."""


# -- the state machine ---------------------------------------------------------------------


class Conversation:
    """The state of one Realtime session's conversation. See the module docstring."""

    def __init__(self) -> None:
        self._items: dict[str, Item] = {}
        self._order: list[str] = []
        self.deleted: list[Item] = []
        """Items removed by ``conversation.item.deleted``, in deletion order."""
        self.responses: dict[str, Response] = {}
        """Responses by id, in creation order."""
        self.turns: list[Turn] = []
        self.active_response_id: str | None = None
        self.usage: dict[str, int] = {}
        """Sums of the integer fields of every ``response.done`` usage, nested keys
        dotted: ``total_tokens``, ``input_tokens``, ``output_tokens``,
        ``input_token_details.cached_tokens``, ``input_token_details.audio_tokens``,
        ``input_token_details.cached_tokens_details.audio_tokens``,
        ``output_token_details.text_tokens``... (out-of-band responses included)."""
        self.errors: list[ErrorRecord] = []
        self.anomalies: list[Anomaly] = []
        self.unknown: list[Event] = []
        """Server events of unknown type, as received."""
        self.session: dict[str, Any] | None = None
        """The effective session from the last ``session.created``/``updated``."""
        self.session_requested: dict[str, Any] | None = None
        """The ``session`` of the last client ``session.update``."""
        self.conversation_id: str | None = None
        self.rate_limits: list[Any] | None = None

        self._input = AudioTrack()
        self._tracks: dict[str, AudioTrack] = {}
        self._last_audio_item: str | None = None
        # Manual-turn bookkeeping on the input timeline (module docstring, "User audio").
        self._buffer_start = 0
        self._marks: deque[tuple[str, int, str | None]] = deque()
        self._turn_by_item: dict[str, Turn] = {}
        self._turn_by_response: dict[str, Turn] = {}
        self._client_audio_by_id: dict[str, str] = {}
        self._client_audio_fifo: deque[str] = deque()
        self._client_tracks = 0
        self._oob_requests: list[dict[str, Any] | None] = []
        self._client_event_types: dict[str, str] = {}

        self._server: dict[str, _Handler] = {
            "response.output_audio.delta": self.feed_audio_delta,
            "response.output_audio_transcript.delta": self._text_delta,
            "response.output_text.delta": self._text_delta,
            "response.function_call_arguments.delta": self._arguments_delta,
            "response.output_audio.done": self._audio_done,
            "response.output_audio_transcript.done": self._text_done,
            "response.output_text.done": self._text_done,
            "response.function_call_arguments.done": self._arguments_done,
            "response.content_part.added": self._content_part,
            "response.content_part.done": self._content_part,
            "response.output_item.added": self._output_item,
            "response.output_item.done": self._output_item,
            "response.created": self._response_created,
            "response.done": self._response_done,
            "conversation.item.added": self._item_added,
            "conversation.item.created": self._item_added,
            "conversation.item.done": self._item_added,
            "conversation.item.retrieved": self._item_added,
            "conversation.item.deleted": self._item_deleted,
            "conversation.item.truncated": self._item_truncated,
            "conversation.item.input_audio_transcription.delta": self._transcription,
            "conversation.item.input_audio_transcription.completed": self._transcription,
            "conversation.item.input_audio_transcription.failed": self._transcription,
            "conversation.item.input_audio_transcription.segment": self._transcription,
            "input_audio_buffer.speech_started": self._speech_started,
            "input_audio_buffer.speech_stopped": self._speech_stopped,
            "input_audio_buffer.timeout_triggered": self._timeout_triggered,
            "input_audio_buffer.committed": self._committed,
            "input_audio_buffer.cleared": self._cleared,
            "session.created": self._session,
            "session.updated": self._session,
            "conversation.created": self._conversation_created,
            "rate_limits.updated": self._rate_limits,
            "error": self._error,
        }
        self._client: dict[str, _Handler] = {
            "input_audio_buffer.append": self.feed_append,
            "input_audio_buffer.commit": self._client_commit,
            "input_audio_buffer.clear": self._client_clear,
            "conversation.item.create": self._client_item_create,
            "conversation.item.truncate": self._client_truncate,
            "response.create": self._client_response_create,
            "response.cancel": self._client_response_cancel,
            "session.update": self._client_session_update,
        }

    # -- feeding ---------------------------------------------------------------------------

    def feed_server(self, event: Event, t: float, audio: bytes | None = None) -> AudioRef | None:
        """Apply one server event received at ``t``.

        ``audio``: for ``response.output_audio.delta``, the already decoded PCM
        of ``delta`` (else it is decoded here). Returns where that audio was
        stored, or None for every other event.
        """
        type_ = event.get("type")
        handler = self._server.get(type_) if isinstance(type_, str) else None
        if handler is None:
            if type_ not in _IGNORED_SERVER:
                self.unknown.append(event)
            return None
        try:
            return handler(event, t, audio)
        except Exception as exc:  # Rule 3: a malformed event must not kill the socket loop
            self._anomaly(t, "server", event, f"{type(exc).__name__}: {exc}")
            return None

    def feed_client(self, event: Event, t: float, audio: bytes | None = None) -> AudioRef | None:
        """Apply one client event sent at ``t``.

        ``audio``: the PCM of ``input_audio_buffer.append`` or of the
        ``input_audio`` part of ``conversation.item.create`` (else decoded from
        the event's base64). Returns where that audio was stored.
        """
        type_ = event.get("type")
        event_id = event.get("event_id")
        if isinstance(event_id, str) and isinstance(type_, str):
            self._remember_client_event(event_id, type_)
        handler = self._client.get(type_) if isinstance(type_, str) else None
        if handler is None:
            return None  # other client events change nothing here; the log keeps them
        try:
            return handler(event, t, audio)
        except Exception as exc:
            self._anomaly(t, "client", event, f"{type(exc).__name__}: {exc}")
            return None

    # -- reading ------------------------------------------------------------------------------

    @property
    def items(self) -> list[Item]:
        """Items in conversation order (without deleted or out-of-band items)."""
        items = self._items
        return [items[i] for i in self._order]

    def item(self, item_id: str) -> Item:
        """The item with this id (also deleted and out-of-band ones); KeyError if unknown."""
        return self._items[item_id]

    def turn_output(self, turn: Turn) -> list[Item]:
        """The output items of every response of ``turn``, in order (unknown ids skipped)."""
        out: list[Item] = []
        for rid in turn.response_ids:
            response = self.responses.get(rid)
            if response is not None:
                out.extend(self._items[i] for i in response.output_item_ids if i in self._items)
        return out

    def input_audio(self) -> Int16Array:
        """Everything the client appended, int16 24 kHz (read-only; a copy of the blocks)."""
        return self._input.array()

    @property
    def input_track(self) -> AudioTrack:
        """The input timeline's storage (read it; never append to it)."""
        return self._input

    @property
    def tracks(self) -> Mapping[str, AudioTrack]:
        """Every other track by name (assistant item ids, client-created audio items),
        in creation order. Read-only view: never append to them."""
        return MappingProxyType(self._tracks)

    @property
    def input_samples(self) -> int:
        return len(self._input)

    def item_audio(self, item_id: str) -> Int16Array:
        """The item's audio, int16 24 kHz (read-only); KeyError if the item is unknown.

        User items: their slice of the input timeline (or the audio the client
        created them with). Assistant items: everything generated, even past a
        truncation (see :meth:`heard_audio`).
        """
        item = self._items[item_id]
        if item._track is not None:
            track = self._tracks.get(item._track)
            return track.array() if track is not None else _EMPTY
        if item.input_span is not None:
            return self._input.array(*item.input_span)
        return _EMPTY

    def heard_audio(self, item_id: str) -> Int16Array:
        """The part of the item's audio the user heard (first ``truncated_ms``)."""
        audio = self.item_audio(item_id)
        ms = self._items[item_id].truncated_ms
        return audio if ms is None else audio[: ms * _SAMPLES_PER_MS]

    def audio(self, ref: AudioRef) -> Int16Array:
        """The samples an :class:`AudioRef` points at (read-only)."""
        track = self._input if ref.track == INPUT_TRACK else self._tracks.get(ref.track)
        if track is None:
            return _EMPTY
        return track.array(ref.start, ref.start + ref.length)

    def last_assistant_audio_item(self) -> str | None:
        """The in-conversation assistant item that most recently received audio."""
        return self._last_audio_item

    def truncate_event(
        self, item_id: str, played_ms: float, content_index: int = 0
    ) -> Event | None:
        """The ``conversation.item.truncate`` for a barge-in after ``played_ms`` of playback.

        ``audio_end_ms`` is ``floor(played_ms)`` clamped to ``[0, audio received]``
        (the server rejects more than it generated). None if the item is
        unknown, not an assistant item, or has no audio.
        """
        item = self._items.get(item_id)
        if item is None or item.role != "assistant" or not item.audio_samples:
            return None
        received_ms = item.audio_samples * 1000 // SAMPLE_RATE
        if math.isnan(played_ms):  # nothing known to be played
            end = 0
        elif played_ms >= received_ms:
            end = received_ms
        else:
            end = max(0, math.floor(played_ms))
        return conversation_item_truncate(
            item_id, end, content_index=content_index, event_id=new_id("evt")
        )

    def __repr__(self) -> str:
        return (
            f"<Conversation items={len(self._order)} responses={len(self.responses)} "
            f"turns={len(self.turns)} input={len(self._input) / SAMPLE_RATE:.1f}s "
            f"active={self.active_response_id!r} errors={len(self.errors)}>"
        )

    # -- internals: bookkeeping ------------------------------------------------------------

    def _anomaly(self, t: float, direction: str, event: Event, message: str) -> None:
        type_ = event.get("type")
        event_id = event.get("event_id")
        self.anomalies.append(
            Anomaly(
                t,
                direction,
                type_ if isinstance(type_, str) else None,
                event_id if isinstance(event_id, str) else None,
                message,
            )
        )

    def _remember_client_event(self, event_id: str, type_: str) -> None:
        memory = self._client_event_types
        memory[event_id] = type_
        if len(memory) > _CLIENT_EVENT_MEMORY:
            del memory[next(iter(memory))]

    def _place(self, item: Item, event: Event) -> None:
        """Put ``item`` in conversation order after ``event['previous_item_id']``."""
        has_prev = "previous_item_id" in event
        prev = event.get("previous_item_id")
        order = self._order
        if item.in_conversation:
            if not has_prev or prev == item.previous_item_id:
                return
            order.remove(item.id)
        if prev is None:
            order.append(item.id)
        elif prev == "root":
            order.insert(0, item.id)
        elif isinstance(prev, str) and prev in self._items and self._items[prev].in_conversation:
            order.insert(order.index(prev) + 1, item.id)
        else:
            order.append(item.id)
            self._anomaly(
                item.t_added or 0.0, "server", event, f"previous_item_id {prev!r} unknown"
            )
        item.in_conversation = True
        if has_prev:
            item.previous_item_id = prev if isinstance(prev, str) else None

    def _get_or_stub(self, item_id: str, role: str | None, t: float) -> Item:
        item = self._items.get(item_id)
        if item is None:
            item = Item(id=item_id, role=role, t_added=t, _conversation=self)
            self._items[item_id] = item
        return item

    def _upsert(self, raw: Any, t: float, event: Event) -> Item | None:
        """Create or update an item from a server/client item dict."""
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            self._anomaly(t, "server", event, "item without an id")
            return None
        raw = _strip_item(raw)
        item_id: str = raw["id"]
        item = self._items.get(item_id)
        if item is None:
            item = Item(id=item_id, t_added=t, _conversation=self)
            self._items[item_id] = item
        item.raw = raw
        type_ = raw.get("type")
        if isinstance(type_, str):
            item.type = type_
        role = raw.get("role")
        if isinstance(role, str):
            item.role = role
        status = raw.get("status")
        if isinstance(status, str):
            item.status = status
        for key in ("call_id", "name", "arguments", "output"):
            value = raw.get(key)
            if isinstance(value, str):
                setattr(item, key, value)
        content = raw.get("content")
        if isinstance(content, list) and item.truncated_ms is None:
            # The server's text is final; a truncated item keeps the text it generated.
            for i, part in enumerate(content):
                text = _part_text(part)
                if text:
                    self._set_part(item, i, text)
        return item

    @staticmethod
    def _set_part(item: Item, index: int, text: str) -> None:
        parts = item._parts
        if index >= len(parts):
            parts.extend([""] * (index + 1 - len(parts)))
        parts[index] = text

    def _item_for_delta(self, event: Event, t: float) -> Item | None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            self._anomaly(t, "server", event, "no item_id")
            return None
        item = self._items.get(item_id)
        if item is None:
            # Never announced by response.output_item.added: make the item from the delta,
            # linked to its response if that is known.
            item = self._get_or_stub(item_id, "assistant", t)
            response_id = event.get("response_id")
            if isinstance(response_id, str) and response_id in self.responses:
                self._link_output(item, response_id, t, event)
            else:
                self._anomaly(t, "server", event, f"delta for unannounced item {item_id!r}")
        return item

    def _link_output(self, item: Item, response_id: str, t: float, event: Event) -> None:
        item.response_id = response_id
        response = self.responses.get(response_id)
        if response is None:
            return
        if item.id not in response.output_item_ids:
            response.output_item_ids.append(item.id)
        if not response.out_of_band and not item.in_conversation:
            self._place(item, {})

    def _turn_of_response(self, response_id: Any) -> Turn | None:
        return self._turn_by_response.get(response_id) if isinstance(response_id, str) else None

    def _new_turn(self, source: str, item_id: str | None) -> Turn:
        turn = Turn(index=len(self.turns), source=source, item_id=item_id)
        self.turns.append(turn)
        if item_id is not None:
            self._turn_by_item[item_id] = turn
        return turn

    # -- internals: client events ---------------------------------------------------------

    def feed_append(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        """``feed_client`` for an ``input_audio_buffer.append``, without the dispatch."""
        audio = self._audio_bytes(
            t, "client", event, audio, key="audio", missing="append without audio"
        )
        if audio is None:
            return None
        return _new_ref(AudioRef, (INPUT_TRACK, self._input.append(audio), len(audio) >> 1))

    def _audio_bytes(
        self, t: float, side: str, event: Event, audio: Any, *, key: str, missing: str
    ) -> bytes | None:
        """The event's audio as bytes: ``audio`` if the caller decoded it, else the
        base64 in ``event[key]``; None (and an anomaly) if there is none to be had."""
        if audio is None:
            data = event.get(key)
            if not isinstance(data, str):
                self._anomaly(t, side, event, missing)
                return None
            try:
                return binascii.a2b_base64(data)
            except (binascii.Error, ValueError) as exc:
                self._anomaly(t, side, event, f"bad base64: {exc}")
                return None
        if type(audio) is not bytes:
            return bytes(audio)  # a memoryview's owner may reuse its buffer
        return audio

    def _client_commit(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        event_id = event.get("event_id")
        self._marks.append(
            ("commit", len(self._input), event_id if isinstance(event_id, str) else None)
        )
        return None

    def _client_clear(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        event_id = event.get("event_id")
        self._marks.append(
            ("clear", len(self._input), event_id if isinstance(event_id, str) else None)
        )
        return None

    def _pop_mark(self, kind: str) -> int | None:
        """The oldest pending client mark of ``kind``, dropping older ones of the other kind.

        Older marks of the other kind were either answered already (matched in
        order) or failed without a correlatable error.
        """
        marks = self._marks
        while marks:
            mark_kind, pos, _ = marks.popleft()
            if mark_kind == kind:
                return pos
        return None

    def _client_item_create(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        raw = event.get("item")
        if not isinstance(raw, dict):
            self._anomaly(t, "client", event, "conversation.item.create without item")
            return None
        content = raw.get("content")
        if audio is None:
            audio = _decode_audio_parts(content)
        if audio is None:
            return None
        item_id = raw.get("id")
        if isinstance(item_id, str):
            name = item_id
            self._client_audio_by_id[item_id] = name
        else:
            self._client_tracks += 1
            name = f"client:{self._client_tracks}"
            self._client_audio_fifo.append(name)
        track = self._tracks[name] = AudioTrack()
        track.append(audio)
        track.seal()
        return AudioRef(name, 0, len(track))

    def _client_truncate(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item = self._items.get(event.get("item_id"))  # type: ignore[arg-type]
        ms = _int_or_none(event.get("audio_end_ms"))
        if item is not None and ms is not None:
            item.truncate_requested_ms = ms
        return None

    def _client_response_create(
        self, event: Event, t: float, audio: bytes | None
    ) -> AudioRef | None:
        params = event.get("response")
        if isinstance(params, dict) and params.get("conversation") == "none":
            metadata = params.get("metadata")
            self._oob_requests.append(metadata if isinstance(metadata, dict) else None)
        return None

    def _client_response_cancel(
        self, event: Event, t: float, audio: bytes | None
    ) -> AudioRef | None:
        response_id = event.get("response_id")
        if not isinstance(response_id, str):
            response_id = self.active_response_id
        response = self.responses.get(response_id) if response_id else None
        if response is not None and response.t_cancel_requested is None:
            response.t_cancel_requested = t
        return None

    def _client_session_update(
        self, event: Event, t: float, audio: bytes | None
    ) -> AudioRef | None:
        session = event.get("session")
        if isinstance(session, dict):
            self.session_requested = session
        return None

    # -- internals: server events, hot path first --------------------------------------------

    def feed_audio_delta(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        """``feed_server`` for a ``response.output_audio.delta``, without the dispatch.

        The receive hot path calls this directly. Unlike :meth:`feed_server` it
        lets an exception through (the caller guards); it raises none on
        malformed events, only on bugs.
        """
        item_id = event.get("item_id")
        item = self._items.get(item_id) if type(item_id) is str else None
        if item is None:
            item = self._item_for_delta(event, t)
            if item is None:
                return None
        audio = self._audio_bytes(
            t, "server", event, audio, key="delta", missing="audio delta without delta"
        )
        if audio is None:
            return None
        track = self._tracks.get(item.id)
        if track is None:
            track = self._tracks[item.id] = AudioTrack()
            item._track = item.id
        start = track.append(audio)
        length = len(audio) >> 1
        item.audio_samples += length
        item.t_last_audio = t
        if item.t_first_audio is None:
            self._first_audio(item, t)
        if item.in_conversation:
            self._last_audio_item = item.id
        return _new_ref(AudioRef, (item.id, start, length))

    def _first_audio(self, item: Item, t: float) -> None:
        item.t_first_audio = t
        response = self.responses.get(item.response_id) if item.response_id else None
        if response is not None and response.t_first_audio is None:
            response.t_first_audio = t
        turn = self._turn_of_response(item.response_id)
        if turn is not None and turn.t_first_audio is None:
            turn.t_first_audio = t

    def _text_delta(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item = self._item_for_delta(event, t)
        delta = event.get("delta")
        if item is None or not isinstance(delta, str):
            if item is not None:
                self._anomaly(t, "server", event, "text delta without delta")
            return None
        index = event.get("content_index")
        index = index if isinstance(index, int) and 0 <= index < 64 else 0
        parts = item._parts
        if index >= len(parts):
            parts.extend([""] * (index + 1 - len(parts)))
        parts[index] += delta
        item._mark_chars.append(sum(len(p) for p in parts) if len(parts) > 1 else len(parts[0]))
        item._mark_samples.append(item.audio_samples)
        if item.response_id is not None:
            response = self.responses.get(item.response_id)
            if response is not None and response.t_first_text is None:
                response.t_first_text = t
                turn = self._turn_of_response(item.response_id)
                if turn is not None and turn.t_first_text is None:
                    turn.t_first_text = t
        return None

    def _arguments_delta(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item = self._item_for_delta(event, t)
        delta = event.get("delta")
        if item is not None and isinstance(delta, str):
            item.arguments = (item.arguments or "") + delta
            if item.type == "message" and not item.raw:
                item.type = "function_call"
        return None

    def _audio_done(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item = self._item_for_delta(event, t)
        if item is not None:
            item.audio_done = True
            self._seal(item)
        return None

    def _seal(self, item: Item) -> None:
        track = self._tracks.get(item.id)
        if track is not None:
            track.seal()

    def _text_done(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item = self._item_for_delta(event, t)
        if item is None:
            return None
        key = (
            "transcript" if event.get("type") == "response.output_audio_transcript.done" else "text"
        )
        text = event.get(key)
        index = event.get("content_index")
        if isinstance(text, str) and item.truncated_ms is None:
            self._set_part(item, index if isinstance(index, int) and 0 <= index < 64 else 0, text)
        return None

    def _arguments_done(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item = self._item_for_delta(event, t)
        if item is None:
            return None
        for key in ("arguments", "name", "call_id"):
            value = event.get(key)
            if isinstance(value, str):
                setattr(item, key, value)
        if item.type == "message" and not item.raw:
            item.type = "function_call"
        return None

    def _content_part(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item = self._item_for_delta(event, t)
        text = _part_text(event.get("part"))
        index = event.get("content_index")
        if item is not None and text and item.truncated_ms is None:
            self._set_part(item, index if isinstance(index, int) and 0 <= index < 64 else 0, text)
        return None

    def _output_item(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item = self._upsert(event.get("item"), t, event)
        if item is None:
            return None
        response_id = event.get("response_id")
        if isinstance(response_id, str):
            self._link_output(item, response_id, t, event)
        if event.get("type") == "response.output_item.done":
            item.t_done = item.t_done or t
            self._seal(item)
        return None

    def _response_created(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        raw = event.get("response")
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            self._anomaly(t, "server", event, "response without an id")
            return None
        response_id: str = raw["id"]
        response = self.responses.get(response_id)
        if response is None:
            response = self.responses[response_id] = Response(id=response_id)
        response.raw = raw
        response.t_created = t
        status = raw.get("status")
        if isinstance(status, str):
            response.status = status
        conversation_id = raw.get("conversation_id")
        response.conversation_id = conversation_id if isinstance(conversation_id, str) else None
        metadata = raw.get("metadata")
        response.metadata = metadata if isinstance(metadata, dict) else None
        response.out_of_band = self._match_oob(raw)
        if response.out_of_band:
            return None
        self.active_response_id = response_id
        turn = self._turn_for_response()
        response.turn = turn.index
        self._turn_by_response[response_id] = turn
        turn.response_ids.append(response_id)
        if turn.response_id is None:
            turn.response_id = response_id
            turn.t_response_created = t
        return None

    def _match_oob(self, raw: dict[str, Any]) -> bool:
        requests = self._oob_requests
        if not requests:
            return False
        metadata = raw.get("metadata")
        if isinstance(metadata, dict) and metadata in requests:
            requests.remove(metadata)
            return True
        if "conversation_id" in raw and raw["conversation_id"] is None:
            requests.pop(0)
            return True
        return False

    def _turn_for_response(self) -> Turn:
        for turn in reversed(self.turns):
            # A turn still being spoken (speech_started, not committed) is not answered yet.
            if turn.t_committed is not None or turn.source in ("item", "response"):
                return turn
        return self._new_turn("response", None)

    def _response_done(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        raw = event.get("response")
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            self._anomaly(t, "server", event, "response without an id")
            return None
        response_id: str = raw["id"]
        response = self.responses.get(response_id)
        if response is None:  # done without created: keep what we can
            response = self.responses[response_id] = Response(id=response_id)
            response.out_of_band = self._match_oob(raw)
        raw = strip_audio(event)["response"]
        response.raw = raw
        response.t_done = t
        status = raw.get("status")
        if isinstance(status, str):
            response.status = status
        details = raw.get("status_details")
        response.status_details = details if isinstance(details, dict) else None
        usage = raw.get("usage")
        if isinstance(usage, dict):
            response.usage = usage
            _add_usage(self.usage, usage)
        output = raw.get("output")
        if isinstance(output, list):
            for entry in output:
                item = self._upsert(entry, t, event) if isinstance(entry, dict) else None
                if item is not None:
                    self._link_output(item, response_id, t, event)
                    self._seal(item)
        if self.active_response_id == response_id:
            self.active_response_id = None
        turn = self._turn_by_response.get(response_id)
        if turn is not None:
            turn.t_response_done = t
            if response.status == "cancelled":
                turn.interrupted = True
        return None

    def _item_added(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item = self._upsert(event.get("item"), t, event)
        if item is None:
            return None
        type_ = event.get("type")
        if type_ == "conversation.item.retrieved":
            if not item.in_conversation:
                self._place(item, {})
            return None
        self._place(item, event)
        if type_ == "conversation.item.done":
            item.t_done = t
            self._seal(item)
        if item.role == "user" and item.type == "message":
            self._bind_user_item(item, t)
        return None

    def _bind_user_item(self, item: Item, t: float) -> None:
        if (
            item._track is None
            and item.input_span is None
            and _has_input_audio(item.raw.get("content"))
        ):
            name = self._client_audio_by_id.pop(item.id, None)
            if name is None and self._client_audio_fifo:
                name = self._client_audio_fifo.popleft()
            if name is not None:
                item._track = name
                item.audio_samples = len(self._tracks[name])
        if item.id not in self._turn_by_item:
            self._new_turn("item", item.id).t_committed = t

    def _item_deleted(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item_id = event.get("item_id")
        item = self._items.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            self._anomaly(t, "server", event, f"deleted unknown item {item_id!r}")
            return None
        if item.in_conversation:
            self._order.remove(item.id)
            item.in_conversation = False
        item.deleted = True
        self.deleted.append(item)
        if self._last_audio_item == item.id:
            self._last_audio_item = None
        return None

    def _item_truncated(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item_id = event.get("item_id")
        item = self._items.get(item_id) if isinstance(item_id, str) else None
        ms = _int_or_none(event.get("audio_end_ms"))
        if item is None or ms is None:
            self._anomaly(t, "server", event, "truncated: unknown item or no audio_end_ms")
            return None
        item.truncated_ms = ms
        item.t_truncated = t
        turn = self._turn_of_response(item.response_id)
        if turn is not None:
            turn.interrupted = True
            turn.truncated_ms = ms
        return None

    def _transcription(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            self._anomaly(t, "server", event, "no item_id")
            return None
        # May arrive before (rarely) or long after the item: stub it if needed.
        item = self._get_or_stub(item_id, "user", t)
        kind = event["type"].rsplit(".", 1)[1]
        if kind == "delta":
            delta = event.get("delta")
            if isinstance(delta, str):
                item.transcript = (item.transcript or "") + delta
                item.transcript_status = "in_progress"
        elif kind == "completed":
            text = event.get("transcript")
            if isinstance(text, str):
                item.transcript = text
            item.transcript_status = "completed"
            usage = event.get("usage")
            item.transcription_usage = usage if isinstance(usage, dict) else None
        elif kind == "failed":
            error = event.get("error")
            item.transcript_status = "failed"
            item.transcript_error = error if isinstance(error, dict) else {"error": error}
        else:  # segment (diarization)
            if item.segments is None:
                item.segments = []
            item.segments.append(event)
        return None

    def _speech_started(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            self._anomaly(t, "server", event, "speech_started without item_id")
            item_id = None
        turn = self._turn_by_item.get(item_id) if item_id else None
        if turn is None:
            turn = self._new_turn("speech", item_id)
        turn.t_speech_started = t
        turn.audio_start_ms = _int_or_none(event.get("audio_start_ms"))
        return None

    def _speech_stopped(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item_id = event.get("item_id")
        turn = self._turn_by_item.get(item_id) if isinstance(item_id, str) else None
        if turn is None:
            self._anomaly(t, "server", event, "speech_stopped without speech_started")
            turn = self._new_turn("speech", item_id if isinstance(item_id, str) else None)
        turn.t_speech_stopped = t
        turn.audio_end_ms = _int_or_none(event.get("audio_end_ms"))
        return None

    def _timeout_triggered(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item_id = event.get("item_id")
        turn = self._turn_by_item.get(item_id) if isinstance(item_id, str) else None
        if turn is None:
            turn = self._new_turn("timeout", item_id if isinstance(item_id, str) else None)
        turn.audio_start_ms = _int_or_none(event.get("audio_start_ms"))
        turn.audio_end_ms = _int_or_none(event.get("audio_end_ms"))
        turn.t_speech_stopped = t
        return None

    def _committed(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            self._anomaly(t, "server", event, "committed without item_id")
            return None
        turn = self._turn_by_item.get(item_id)
        total = len(self._input)
        if turn is not None and turn.audio_end_ms is not None:
            # VAD (or idle timeout): the server's own milliseconds on the input timeline.
            start = (turn.audio_start_ms or 0) * _SAMPLES_PER_MS
            stop = turn.audio_end_ms * _SAMPLES_PER_MS
        else:
            mark = self._pop_mark("commit")
            stop = total if mark is None else mark
            if turn is not None and turn.audio_start_ms is not None:
                start = turn.audio_start_ms * _SAMPLES_PER_MS  # committed while speaking
            else:
                start = self._buffer_start
            if turn is None:
                turn = self._new_turn("commit", item_id)
        start, stop = max(0, min(start, total)), max(0, min(stop, total))
        self._buffer_start = max(self._buffer_start, stop)
        turn.t_committed = t
        item = self._get_or_stub(item_id, "user", t)
        item.input_span = (start, max(start, stop))
        return None

    def _cleared(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        mark = self._pop_mark("clear")
        self._buffer_start = len(self._input) if mark is None else mark
        return None

    def _session(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        session = event.get("session")
        if isinstance(session, dict):
            self.session = session
        else:
            self._anomaly(t, "server", event, "no session object")
        return None

    def _conversation_created(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        conversation = event.get("conversation")
        if isinstance(conversation, dict) and isinstance(conversation.get("id"), str):
            self.conversation_id = conversation["id"]
        return None

    def _rate_limits(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        limits = event.get("rate_limits")
        self.rate_limits = limits if isinstance(limits, list) else None
        return None

    def _error(self, event: Event, t: float, audio: bytes | None) -> AudioRef | None:
        error = event.get("error")
        if not isinstance(error, dict):
            error = {}
            self._anomaly(t, "server", event, "error event without error object")

        def text(key: str) -> str | None:
            value = error.get(key)
            return value if isinstance(value, str) else None

        event_id, code = text("event_id"), text("code")
        client_type = self._client_event_types.get(event_id) if event_id else None
        self.errors.append(
            ErrorRecord(
                t, text("type"), code, text("message"), text("param"), event_id, client_type, event
            )
        )
        # A failed commit or clear never gets its committed/cleared: forget its mark.
        if event_id is not None:
            for mark in self._marks:
                if mark[2] == event_id:
                    self._marks.remove(mark)
                    break
        elif code == "input_audio_buffer_commit_empty":
            self._pop_mark("commit")
        return None

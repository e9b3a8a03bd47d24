"""Layer 3: the receive/send path between the socket and the state, sans-I/O.

The session's socket loop calls :meth:`Recorder.receive` for every frame read
and :meth:`Recorder.send` for every client event before writing the returned
text. Each call parses or serialises once, decodes or encodes base64 once,
feeds the :class:`Conversation` and records the :class:`EventLog` entry. It is
the hot path: ~50 microphone chunks and ~25 audio deltas per second of
full-duplex speech, so audio events skip everything they do not need (no beta
translation, no dict copies, compact log rows).

``receive`` returns a list of :class:`Received` ``(event, audio)`` pairs: the
GA event dict (usually one; a beta ``conversation.item.created`` gives two) and,
for ``response.output_audio.delta``, its PCM already decoded so that the
caller can forward it without decoding again. ``receive`` never raises: a
frame that is not a JSON object with a string ``type`` is logged as a
``server`` event of type ``invalid_frame`` (carrying the
:class:`~realtime_widget.errors.ProtocolError` text and the first 200
characters of the frame) and yields nothing; a bug below it is recorded in
``conversation.anomalies`` and the event is still returned.

Events the log keeps as dicts (everything but appends and deltas) are passed
through :func:`~realtime_widget.log.event_log.compact_event` first, so the
log, the conversation and the caller share one copy with shared key strings.
Neither the recorder nor the log copies client events: do not mutate an event
after sending it.
"""

from __future__ import annotations

import binascii
import json
from base64 import b64encode
from binascii import a2b_base64, b2a_base64
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from realtime_widget.errors import ProtocolError
from realtime_widget.protocol.audio import (
    SAMPLE_RATE,
    Int16Array,
    StreamResampler,
    alaw_decode,
    alaw_encode,
    resample,
    ulaw_decode,
    ulaw_encode,
)
from realtime_widget.protocol.beta import BETA_RENAMES, to_ga
from realtime_widget.protocol.events import Event
from realtime_widget.state.audio_store import AudioRef
from realtime_widget.state.conversation import Anomaly, Conversation

from .event_log import APPEND, AUDIO_DELTA, DELTA_TYPES, EventLog, LoggedEvent, compact_event

__all__ = ["INVALID_FRAME", "Received", "Recorder"]

PCM, PCMU = "audio/pcm", "audio/pcmu"

INVALID_FRAME = "invalid_frame"
"""Log type of a received frame that is not a JSON object with a ``type``."""

# Only these server types can differ between beta and GA (protocol.beta.to_ga);
# every other event, the deltas above all, skips the translation call.
_TO_GA = frozenset(
    {
        *BETA_RENAMES,
        "conversation.item.created",
        "conversation.item.retrieved",
        "session.created",
        "session.updated",
        "response.output_item.added",
        "response.output_item.done",
        "response.created",
        "response.done",
    }
)

# Stored by the log as table rows, not dicts: nothing to compact.
_ROWS = frozenset(DELTA_TYPES)

_loads = json.loads
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_APPEND_PREFIX = '{"type":"input_audio_buffer.append","audio":"'
_NO_AUDIO = AudioRef("", 0, 0)
# NamedTuple.__new__ is a Python function; tuple.__new__ builds the same object without
# that extra frame on the per-delta path.
_new_received: Callable[[type[Received], tuple[Event, bytes | None]], Received] = tuple.__new__


class Received(NamedTuple):
    """One GA event from :meth:`Recorder.receive`.

    ``event`` is the dict as received (a beta event: its GA translation). For
    ``response.output_audio.delta`` it still carries its base64 ``delta`` and
    ``audio`` is the decoded PCM16 (24 kHz mono bytes), ready to forward to the
    player without decoding again; None for every other event.
    """

    event: Event
    audio: bytes | None


class Recorder:
    """Owns the :attr:`conversation` and the :attr:`log`; turns frames into both."""

    def __init__(self, conversation: Conversation | None = None, log: EventLog | None = None):
        self.conversation = conversation if conversation is not None else Conversation()
        self.log = log if log is not None else EventLog()
        self.info: dict[str, Any] = {}
        """What the session knew of the connection: target, provider, URL without its
        query, model, start time (saved with a recording; never a key)."""
        # Bound once: the audio paths run up to ~75 times per second of duplex speech.
        self._feed_audio_delta = self.conversation.feed_audio_delta
        self._feed_append = self.conversation.feed_append
        self._record_delta = self.log.record_delta
        self._record_append = self.log.record_append
        # Wire formats from session.created/updated. State and Received.audio are
        # always PCM16 24 kHz; G.711 (8 kHz) is converted here, at the wire.
        self.input_format = PCM
        self.output_format = PCM
        self._to_wire: StreamResampler | None = None
        self._from_wire: dict[str, StreamResampler] = {}

    def set_formats(self, session: Any) -> None:
        """Take the wire audio formats from a ``session`` object (created/updated)."""
        audio = session.get("audio") if isinstance(session, dict) else None
        if not isinstance(audio, dict):
            return
        for side in ("input", "output"):
            fmt = (audio.get(side) or {}).get("format")
            if isinstance(fmt, dict) and isinstance(fmt.get("type"), str):
                if side == "input" and fmt["type"] != self.input_format:
                    self.input_format = fmt["type"]
                    self._to_wire = (
                        None if fmt["type"] == PCM else StreamResampler(SAMPLE_RATE, 8000)
                    )
                elif side == "output":
                    self.output_format = fmt["type"]

    def _pcm_from_wire(self, item_id: Any, data: bytes) -> bytes:
        """G.711 bytes of one delta → PCM16 24 kHz, resampled seamlessly per item."""
        narrow = ulaw_decode(data) if self.output_format == PCMU else alaw_decode(data)
        key = item_id if isinstance(item_id, str) else ""
        rs = self._from_wire.get(key)
        if rs is None:
            if len(self._from_wire) > 64:  # finished items' resamplers are not needed
                self._from_wire.clear()
            rs = self._from_wire[key] = StreamResampler(8000, SAMPLE_RATE)
        return rs.process(narrow).astype("<i2").tobytes()

    def _wire_from_pcm(self, pcm: bytes) -> bytes:
        """PCM16 24 kHz → the session's input format (G.711 at 8 kHz, seamless)."""
        if self._to_wire is None:
            return pcm
        narrow = self._to_wire.process(np.frombuffer(pcm, "<i2"))
        return ulaw_encode(narrow) if self.input_format == PCMU else alaw_encode(narrow)

    def _item_wire_from_pcm(self, pcm: bytes) -> bytes:
        """A whole item's PCM16 24 kHz → the input format (one-shot, not the mic stream's)."""
        if self.input_format == PCM:
            return pcm
        narrow = resample(np.frombuffer(pcm, "<i2"), SAMPLE_RATE, 8000)
        return ulaw_encode(narrow) if self.input_format == PCMU else alaw_encode(narrow)

    def _item_pcm_from_wire(self, data: bytes) -> bytes:
        """A whole item's G.711 (input format) → PCM16 24 kHz."""
        narrow = ulaw_decode(data) if self.input_format == PCMU else alaw_decode(data)
        return resample(narrow, 8000, SAMPLE_RATE).astype("<i2").tobytes()

    # -- receive -------------------------------------------------------------------------

    def receive(self, frame: str | bytes | bytearray | memoryview, t: float) -> list[Received]:
        """Parse one WebSocket frame received at ``t``; return its GA event(s). Never raises."""
        try:
            event = _loads(frame if not isinstance(frame, memoryview) else bytes(frame))
        except (ValueError, TypeError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, [[[[
            return self._invalid(frame, t, f"frame is not JSON: {exc}")
        if type(event) is not dict:
            return self._invalid(frame, t, f"frame is a JSON {type(event).__name__}, not an object")
        type_ = event.get("type")
        if type(type_) is not str:
            return self._invalid(frame, t, "event has no string 'type'")
        try:
            if type_ == AUDIO_DELTA:
                return [self._audio_delta(event, t)]
            if type_ in _TO_GA:
                return [self._dispatch(ev, t) for ev in to_ga(event)]
            if type_ not in _ROWS:
                # Kept as a dict by the log and partly by the conversation: share strings.
                event = compact_event(event)
            ref = self.conversation.feed_server(event, t)
            self.log.record("server", event, t, audio=ref)
            return [Received(event, None)]
        except Exception as exc:  # a bug here must not take the socket loop down
            self._internal_error(event, t, exc)
            return [Received(event, None)]

    def _dispatch(self, event: Event, t: float) -> Received:
        type_ = event.get("type")
        if type_ == AUDIO_DELTA:  # a renamed beta response.audio.delta
            return self._audio_delta(event, t)
        if type_ in ("session.created", "session.updated"):
            self.set_formats(event.get("session"))
        if type_ not in _ROWS:
            event = compact_event(event)
        ref = self.conversation.feed_server(event, t)
        self.log.record("server", event, t, audio=ref)
        return Received(event, None)

    def _audio_delta(self, event: Event, t: float) -> Received:
        delta = event.get("delta")
        pcm: bytes | None = None
        if type(delta) is str:
            try:
                pcm = a2b_base64(delta)  # base64.b64decode minus its wrapper's str copy
            except (binascii.Error, ValueError):
                pcm = None  # the conversation tries again and records the anomaly
            if pcm is not None and self.output_format != PCM:
                pcm = self._pcm_from_wire(event.get("item_id"), pcm)
        ref = self._feed_audio_delta(event, t, pcm)
        if ref is None or self._record_delta(event, t, ref) < 0:
            self.log.record("server", event, t, audio=ref)
        return _new_received(Received, (event, pcm))

    def _invalid(self, frame: Any, t: float, message: str) -> list[Received]:
        error = ProtocolError(message)
        if isinstance(frame, (bytes, bytearray, memoryview)):
            preview = bytes(frame[:200]).decode("utf-8", "replace")
        else:
            preview = str(frame)[:200]
        self.log.record("server", {"type": INVALID_FRAME, "error": str(error), "frame": preview}, t)
        return []

    def _internal_error(self, event: Event, t: float, exc: Exception) -> None:
        type_ = event.get("type")
        event_id = event.get("event_id")
        self.conversation.anomalies.append(
            Anomaly(
                t,
                "server",
                type_ if isinstance(type_, str) else None,
                event_id if isinstance(event_id, str) else None,
                f"recorder: {type(exc).__name__}: {exc}",
            )
        )

    # -- send ----------------------------------------------------------------------------

    def send(
        self, event: Event, t: float, audio: bytes | bytearray | memoryview | None = None
    ) -> str:
        """Record a client event sent at ``t``; return the JSON text for the socket.

        ``audio``: raw PCM16 for ``input_audio_buffer.append`` (then the event
        needs no ``audio`` key; base64 is encoded here, once) or for the
        ``input_audio`` part of a ``conversation.item.create`` (injected into
        the part if it has no ``audio``). Append audio is always PCM16 24 kHz
        here; when the session's input format is G.711 it is converted for the
        wire (the state keeps the PCM16). The text equals
        ``json.dumps(full_event, separators=(",", ":"))``. Raises ``TypeError``/
        ``ValueError`` only if the event cannot be serialised (then nothing is
        recorded).
        """
        type_ = event.get("type")
        if audio is not None and type(audio) is not bytes:
            audio = bytes(audio)
        if type_ == APPEND:
            return self._send_append(event, t, audio)
        wire = event
        if type_ == "conversation.item.create":
            if audio is not None:
                wire = _with_item_audio(event, self._item_wire_from_pcm(audio))
            elif self.input_format != PCM:
                # The parts carry the session's G.711: the state keeps PCM16 24 kHz.
                data = _item_audio_bytes(event)
                if data is not None:
                    audio = self._item_pcm_from_wire(data)
        text = _dumps(wire)
        ref = self.conversation.feed_client(event, t, audio)
        self.log.record("client", event, t, audio=ref)
        return text

    def _send_append(self, event: Event, t: float, audio: bytes | None) -> str:
        if audio is None:
            text = _dumps(event)
            data = event.get("audio")
            if type(data) is str:
                try:
                    audio = a2b_base64(data)
                except (binascii.Error, ValueError):
                    audio = None  # the conversation records the anomaly
                if audio is not None and self.input_format != PCM:
                    narrow = (ulaw_decode if self.input_format == PCMU else alaw_decode)(audio)
                    audio = resample(narrow, 8000, SAMPLE_RATE).astype("<i2").tobytes()
        else:
            wire = audio if self._to_wire is None else self._wire_from_pcm(audio)
            b64 = b2a_base64(wire, newline=False).decode("ascii")
            n = len(event)
            if n == 1 or (n == 2 and "audio" in event and next(iter(event)) == "type"):
                # {"type": ...} or {"type": ..., "audio": ...}: the JSON is fixed but for the data.
                text = _APPEND_PREFIX + b64 + '"}'
            elif "audio" not in event or next(reversed(event)) == "audio":
                head = _dumps({k: v for k, v in event.items() if k != "audio"})
                text = head[:-1] + ',"audio":"' + b64 + '"}'
            else:
                text = _dumps({**event, "audio": b64})
        ref = self._feed_append(event, t, audio)
        if ref is None or self._record_append(event, t, ref) < 0:
            self.log.record("client", event, t, audio=ref)
        return text

    # -- widget-side events --------------------------------------------------------------

    def note(self, type: str, t: float, *, t_browser: float | None = None, **fields: Any) -> int:
        """Log a ``widget`` event (mic on/off, playback started...); return its index."""
        return self.log.record("widget", {"type": type, **fields}, t, t_browser=t_browser)

    def audio(self, entry: LoggedEvent) -> Int16Array:
        """The samples a logged audio event carried (empty if it carried none)."""
        if entry.audio is None:
            return self.conversation.audio(_NO_AUDIO)
        return self.conversation.audio(entry.audio)

    def __repr__(self) -> str:
        return f"<Recorder {self.log!r} {self.conversation!r}>"


def _item_audio_bytes(event: Event) -> bytes | None:
    """The decoded base64 of a ``conversation.item.create``'s ``input_audio`` parts."""
    item = event.get("item")
    content = item.get("content") if isinstance(item, dict) else None
    if not isinstance(content, list):
        return None
    try:
        chunks = [
            a2b_base64(p["audio"])
            for p in content
            if isinstance(p, dict)
            and p.get("type") == "input_audio"
            and type(p.get("audio")) is str
        ]
    except (binascii.Error, ValueError):
        return None  # the conversation records the anomaly
    return b"".join(chunks) if chunks else None


def _with_item_audio(event: Event, audio: bytes) -> Event:
    """A copy of a ``conversation.item.create`` with ``audio`` put into its first
    ``input_audio`` part that has none (the event itself if there is no such part)."""
    item = event.get("item")
    content = item.get("content") if isinstance(item, dict) else None
    if not isinstance(item, dict) or not isinstance(content, list):
        return event
    for i, part in enumerate(content):
        if isinstance(part, dict) and part.get("type") == "input_audio" and not part.get("audio"):
            new_content = list(content)
            new_content[i] = {**part, "audio": b64encode(audio).decode("ascii")}
            return {**event, "item": {**item, "content": new_content}}
    return event

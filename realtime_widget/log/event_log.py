"""Layer 3: every event in and out of the session, timestamped, without audio payloads.

Storage is columnar: one slot per event in a few typed arrays (direction, kind,
type code, time, row). The event itself is kept in one of three forms:

* ``input_audio_buffer.append`` (client, ~50 per second of microphone): a row
  of the *append table*: start and length of its chunk on the input timeline;
  ``event_id`` and unknown extra fields only when present (sparse).
* the response and transcription *deltas* (server; ``response.output_audio.delta``
  ~10-25 per second of speech, and the transcript/text/arguments/input
  transcription deltas): a row of the *delta table*: event_id, response_id,
  item_id, output_index, content_index, then the chunk's place on the item's
  audio track (audio) or the delta text (text), and the extra fields:
  ``obfuscation`` alone as its value, anything else as a flat key/value tuple.
  Repeated ids share one string object.
* everything else: the event dict as received or sent, with base64 audio inside
  items removed (:func:`~realtime_widget.state.conversation.strip_audio`). The
  recorder passes received dicts through :func:`compact_event` first (shared
  key and id strings), and the conversation holds the same objects.

A delta is a row only when it is regular (its fields have their usual types;
for audio, the audio was stored: an :class:`AudioRef` was given); otherwise its
dict is kept (minus the base64 for audio). Either way no base64 audio is kept:
:attr:`LoggedEvent.payload` gives the event without ``delta``/``audio`` for
audio events, and :attr:`LoggedEvent.audio` says where the samples are
(``Recorder.conversation.audio(ref)``).

Times: ``t_kernel`` is the kernel's monotonic clock (seconds). Wall time is
derived from one (monotonic, wall) anchor taken when the log is created, so no
second float is stored per event. ``t_browser`` (as the front end reports it)
is stored only for the events that have one.
"""

from __future__ import annotations

import math
import sys
import time
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Literal

from realtime_widget.protocol.events import Event
from realtime_widget.state.audio_store import INPUT_TRACK, AudioRef
from realtime_widget.state.conversation import strip_audio

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["APPEND", "AUDIO_DELTA", "COLUMNS", "DELTA_TYPES", "Direction", "EventLog",
           "LoggedEvent", "compact_event"]  # fmt: skip

Direction = Literal["client", "server", "widget"]

APPEND = "input_audio_buffer.append"
AUDIO_DELTA = "response.output_audio.delta"
DELTA_TYPES: tuple[str, ...] = (
    AUDIO_DELTA,
    "response.output_audio_transcript.delta",
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "conversation.item.input_audio_transcription.delta",
)
"""Server event types stored as rows of the delta table (when regular)."""

COLUMNS: tuple[str, ...] = (
    "direction", "type", "t", "t_kernel", "t_wall", "t_browser", "event_id", "item_id",
    "response_id", "previous_item_id", "audio_ms", "error_type", "error_code", "error_message",
)  # fmt: skip
"""Columns of :attr:`EventLog.df` (indexed by ``index``, the event's position in the log).
``direction`` is ``client``, ``server`` or ``widget`` (the front end's own events: mic
on/off, playback started/stopped, truncate computed...)."""

_DIRECTIONS: tuple[Direction, ...] = ("client", "server", "widget")
_DIRECTION_CODE = {name: code for code, name in enumerate(_DIRECTIONS)}
_ERROR_TYPES = frozenset({"error", "invalid_frame"})
# Session notes that are errors when their ``error`` is set (a tool that raised or timed out).
_TOOL_TYPES = frozenset({"tool.result", "tool.error"})

# Kinds of storage of one event.
_DICT, _APPEND, _DELTA = 0, 1, 2
# Type codes known in advance: APPEND is 0, the delta types follow.
_APPEND_CODE, _AUDIO_CODE = 0, 1
_TEXT_DELTA_CODES = {t: i + 1 for i, t in enumerate(DELTA_TYPES) if t != AUDIO_DELTA}

# Fields of a delta event that have a column; anything else is an "extra".
_DELTA_FIELDS = frozenset(
    {"type", "event_id", "response_id", "item_id", "output_index", "content_index", "delta"}
)
_OBFUSCATION = "obfuscation"
_DELTA_FIELDS_OBF = _DELTA_FIELDS | {_OBFUSCATION}

# Values worth sharing between the retained dicts: ids and enum-like words repeat
# in every event about the same item or response.
_SHARED_VALUES = frozenset(
    {"type", "object", "status", "role", "id", "item_id", "response_id", "previous_item_id",
     "call_id", "name", "conversation_id", "reason", "voice", "model"}
)  # fmt: skip


def compact_event(obj: Any) -> Any:
    """A copy of a JSON value whose dict keys and id-like string values are interned.

    ``json.loads`` makes new key strings for every event; an hour of retained
    events would hold hundreds of thousands of copies of ``"type"``, ``"id"``,
    item ids... One walk over the event (done once, by the recorder, for the
    events the log and the conversation keep) shares them instead.
    """
    if type(obj) is dict:
        intern = sys.intern
        out = {}
        for k, v in obj.items():
            key = intern(k) if type(k) is str else k
            value = v
            if type(v) is str:
                if key in _SHARED_VALUES and len(v) <= 128:
                    value = intern(v)
            elif type(v) is dict or type(v) is list:
                value = compact_event(v)
            out[key] = value
        return out
    if type(obj) is list:
        return [compact_event(v) if type(v) is dict or type(v) is list else v for v in obj]
    return obj


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One logged event. ``payload`` is the event dict without its audio data.

    ``item_id``/``response_id`` come from the event's own field or from its
    ``item.id``/``response.id``. ``audio_ms`` is the duration of the audio the
    event carried (stored once, located by ``audio``).
    """

    index: int
    direction: Direction
    type: str
    t_kernel: float
    t_wall: float
    t_browser: float | None
    event_id: str | None
    item_id: str | None
    response_id: str | None
    audio: AudioRef | None
    audio_ms: float | None
    payload: Event


_OBJECT_COLUMNS = (
    "event_id", "item_id", "response_id", "previous_item_id",
    "error_type", "error_code", "error_message",
)  # fmt: skip


def _snapshot(values: Any, dtype: Any, n: int) -> Any:
    """The first ``n`` values of a growing ``array``/``bytearray`` as a new, writable
    numpy array.

    Copied (``bytearray``: one C call, under the GIL) rather than viewed: while a numpy
    view of the buffer exists, the session's I/O thread appending to it would fail with
    ``BufferError`` (the log is read from the notebook while a session records).
    """
    import numpy as np

    return np.frombuffer(bytearray(values), dtype=dtype, count=n) if n else np.zeros(0, dtype)


def _object_array(values: list[Any]) -> Any:
    """A 1-D object array of ``values`` (np.array would try to nest sequences)."""
    import numpy as np

    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _is_error(event: Event) -> bool:
    type_ = event.get("type")
    if type_ in _ERROR_TYPES:
        return True
    return type_ in _TOOL_TYPES and event.get("error") is not None


def _error_fields(event: Event) -> tuple[str | None, str | None, str | None]:
    """(type, code, message) of an ``error`` event, an ``invalid_frame`` entry or a
    failed tool call (type: the exception's class, e.g. ``TimeoutError``)."""
    if event.get("type") in _TOOL_TYPES:
        etype = event.get("error_type")
        name = event.get("name")
        message = str(event.get("error"))
        return (
            etype if isinstance(etype, str) else "tool_error",
            None,
            f"{name}: {message}" if isinstance(name, str) else message,
        )
    err = event.get("error")
    if isinstance(err, dict):
        values = (err.get("type"), err.get("code"), err.get("message"))
        return tuple(v if isinstance(v, str) else None for v in values)  # type: ignore[return-value]
    text = event.get("message") or event.get("error")
    return (str(event.get("type")), None, text if isinstance(text, str) else None)


def _id_of(event: Event, key: str, parent: str) -> str | None:
    value = event.get(key)
    if isinstance(value, str):
        return value
    obj = event.get(parent)
    if isinstance(obj, dict):
        value = obj.get("id")
        if isinstance(value, str):
            return value
    return None


class EventLog:
    """Every event in and out, in order. Index with ``log[i]``; iterate; :meth:`filter`.

    ``anchor`` is the (monotonic, wall) pair used to derive wall times;
    default: taken now.
    """

    def __init__(self, anchor: tuple[float, float] | None = None) -> None:
        self.anchor: tuple[float, float] = anchor or (time.monotonic(), time.time())
        # One slot per event.
        self._direction = bytearray()
        self._kind = bytearray()
        self._type = array("H")  # code into _type_names
        self._t = array("d")
        self._row = array("i")  # index into _dicts / the append table / the delta table
        self._t_browser: dict[int, float] = {}
        self._counts = [0, 0, 0]
        self._type_names: list[str] = [APPEND, *DELTA_TYPES]
        self._type_codes: dict[str, int] = {t: i for i, t in enumerate(self._type_names)}
        # Shared id strings (item and response ids, extra-field names).
        self._strings: dict[str, str] = {}
        # Plain events.
        self._dicts: list[Event] = []
        self._dict_audio: dict[int, AudioRef] = {}  # row -> audio stripped out of it
        # Append table.
        self._a_start = array("q")
        self._a_length = array("i")
        self._a_event_id: dict[int, str] = {}
        self._a_extra: dict[int, tuple[Any, ...]] = {}
        # Delta table. Audio rows: start/length, text None; text rows: start -1, text.
        self._d_event_id: list[str | None] = []
        self._d_response_id: list[str | None] = []
        self._d_item_id: list[str] = []
        self._d_output_index = array("i")  # -1: absent
        self._d_content_index = array("i")  # -1: absent
        self._d_start = array("q")
        self._d_length = array("i")
        self._d_text: list[str | None] = []
        self._d_extra: list[Any] = []  # None | obfuscation value (str) | (k, v, k, v...)
        self._df_cache: tuple[int, pd.DataFrame] | None = None

    # -- writing ---------------------------------------------------------------------------

    def _intern(self, s: str) -> str:
        return self._strings.setdefault(s, s)

    def _code(self, type_: str) -> int:
        code = self._type_codes.get(type_)
        if code is None:
            code = self._type_codes[type_] = len(self._type_names)
            self._type_names.append(type_)
        return code

    def record(
        self,
        direction: Direction,
        event: Event,
        t_kernel: float,
        *,
        t_browser: float | None = None,
        audio: AudioRef | None = None,
    ) -> int:
        """Log one event; return its index. Never keeps base64 audio (module docstring)."""
        type_ = event.get("type")
        if not isinstance(type_, str):
            type_ = "<no type>"
        index = -1
        if direction == "server":
            if type_ == AUDIO_DELTA:
                if audio is not None:
                    index = self.record_delta(event, t_kernel, audio)
            elif audio is None:
                code = _TEXT_DELTA_CODES.get(type_)
                if code is not None:
                    index = self._record_text_delta(event, t_kernel, code)
        elif type_ == APPEND and direction == "client" and audio is not None:
            index = self.record_append(event, t_kernel, audio)
        if index < 0:
            index = self._record_dict(direction, type_, event, t_kernel, audio)
        if t_browser is not None:
            self._t_browser[index] = t_browser
        return index

    def _record_dict(
        self, direction: Direction, type_: str, event: Event, t: float, audio: AudioRef | None
    ) -> int:
        if type_ == AUDIO_DELTA:
            event = {k: v for k, v in event.items() if k != "delta"}
        elif type_ == APPEND:
            event = {k: v for k, v in event.items() if k != "audio"}
        else:
            event = strip_audio(event)
        row = len(self._dicts)
        if audio is not None:
            self._dict_audio[row] = audio
        self._dicts.append(event)
        return self._slot(_DIRECTION_CODE[direction], _DICT, self._code(type_), t, row)

    def _slot(self, direction: int, kind: int, code: int, t: float, row: int) -> int:
        index = len(self._t)
        self._direction.append(direction)
        self._kind.append(kind)
        self._type.append(code)
        self._t.append(t)
        self._row.append(row)
        self._counts[direction] += 1
        return index

    def set_t_browser(self, index: int, t_browser: float) -> None:
        """Attach a browser timestamp (epoch ms) to an entry already recorded.

        The append hot path takes no browser time; the widget adds it afterwards.
        """
        if not 0 <= index < len(self):
            raise IndexError(f"no log entry {index}")
        self._t_browser[index] = t_browser

    def record_append(self, event: Event, t_kernel: float, audio: AudioRef) -> int:
        """Hot path for a client ``input_audio_buffer.append`` whose PCM is at ``audio``.

        Returns -1 (nothing recorded) if ``audio`` is not on the input track.
        """
        if audio.track != INPUT_TRACK:
            return -1
        row = len(self._a_start)
        self._a_start.append(audio.start)
        self._a_length.append(audio.length)
        if len(event) > 1 and (len(event) > 2 or "audio" not in event):
            extra: list[Any] = []
            for key, value in event.items():
                if key == "event_id" and type(value) is str:
                    self._a_event_id[row] = value
                elif key not in ("type", "audio"):
                    extra += (self._intern(key), value)
            if extra:
                self._a_extra[row] = tuple(extra)
        # The slot, inlined (see _slot): this runs ~50 times per second of microphone.
        index = len(self._t)
        self._direction.append(0)
        self._kind.append(_APPEND)
        self._type.append(_APPEND_CODE)
        self._t.append(t_kernel)
        self._row.append(row)
        self._counts[0] += 1
        return index

    def _delta_fields(self, event: Event) -> tuple[Any, Any, int, int, Any] | None:
        """(event_id, response_id, output_index, content_index, extra) of a regular delta.

        None if a present field has an unusual type; an explicit null is
        irregular too, since the columns could not tell it from absence.
        """
        get = event.get
        event_id = get("event_id")
        response_id = get("response_id")
        output_index = get("output_index", -1)
        content_index = get("content_index", -1)
        if type(event_id) is not str and (event_id is not None or "event_id" in event):
            return None
        if type(response_id) is not str:
            if response_id is not None or "response_id" in event:
                return None
        else:
            response_id = self._strings.setdefault(response_id, response_id)
        if type(output_index) is not int or type(content_index) is not int:
            return None
        if (output_index < 0 and (output_index != -1 or "output_index" in event)) or (
            content_index < 0 and (content_index != -1 or "content_index" in event)
        ):
            return None
        extra: Any
        if _DELTA_FIELDS.issuperset(event):
            extra = None
        elif _DELTA_FIELDS_OBF.issuperset(event) and type(event[_OBFUSCATION]) is str:
            extra = event[_OBFUSCATION]  # OpenAI's usual extra: stored as the bare value
        else:
            flat: list[Any] = []
            for key, value in event.items():
                if key not in _DELTA_FIELDS:
                    flat += (self._intern(key), value)
            extra = tuple(flat)
        return event_id, response_id, output_index, content_index, extra

    def record_delta(self, event: Event, t_kernel: float, audio: AudioRef) -> int:
        """Hot path for a server ``response.output_audio.delta`` stored at ``audio``.

        Returns -1 (nothing recorded) if the event is irregular; :meth:`record`
        then keeps its dict instead.
        """
        item_id = audio.track
        if event.get("item_id") != item_id:
            return -1  # the audio must be the item's own (this also checks the id's type)
        fields = self._delta_fields(event)
        if fields is None:
            return -1
        row = len(self._d_start)
        self._d_event_id.append(fields[0])
        self._d_response_id.append(fields[1])
        self._d_item_id.append(item_id)
        self._d_output_index.append(fields[2])
        self._d_content_index.append(fields[3])
        self._d_start.append(audio.start)
        self._d_length.append(audio.length)
        self._d_text.append(None)
        self._d_extra.append(fields[4])
        index = len(self._t)
        self._direction.append(1)
        self._kind.append(_DELTA)
        self._type.append(_AUDIO_CODE)
        self._t.append(t_kernel)
        self._row.append(row)
        self._counts[1] += 1
        return index

    def _record_text_delta(self, event: Event, t_kernel: float, code: int) -> int:
        item_id = event.get("item_id")
        text = event.get("delta")
        if type(item_id) is not str or type(text) is not str:
            return -1
        fields = self._delta_fields(event)
        if fields is None:
            return -1
        row = len(self._d_start)
        self._d_event_id.append(fields[0])
        self._d_response_id.append(fields[1])
        self._d_item_id.append(self._strings.setdefault(item_id, item_id))
        self._d_output_index.append(fields[2])
        self._d_content_index.append(fields[3])
        self._d_start.append(-1)
        self._d_length.append(0)
        self._d_text.append(text)
        self._d_extra.append(fields[4])
        return self._slot(1, _DELTA, code, t_kernel, row)

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        # _row is the last array a record appends to: every entry below it is complete
        # even while the session's I/O thread is recording the next one
        return len(self._row)

    def __getitem__(self, index: int) -> LoggedEvent:
        n = len(self._row)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"event index {index} out of range (log has {n} events)")
        return self._build(index)

    def __iter__(self) -> Iterator[LoggedEvent]:
        for i in range(len(self._row)):
            yield self._build(i)

    def _build(self, i: int) -> LoggedEvent:
        kind = self._kind[i]
        row = self._row[i]
        t = self._t[i]
        direction = _DIRECTIONS[self._direction[i]]
        type_ = self._type_names[self._type[i]]
        t_wall = self.anchor[1] + (t - self.anchor[0])
        t_browser = self._t_browser.get(i)
        if kind == _DELTA:
            payload = self._delta_payload(type_, row)
            ref = None
            if self._d_start[row] >= 0:
                ref = AudioRef(self._d_item_id[row], self._d_start[row], self._d_length[row])
            return LoggedEvent(
                i, direction, type_, t, t_wall, t_browser, self._d_event_id[row],
                self._d_item_id[row], self._d_response_id[row], ref,
                None if ref is None else ref.length / 24.0, payload,
            )  # fmt: skip
        if kind == _APPEND:
            payload = self._append_payload(row)
            ref = AudioRef(INPUT_TRACK, self._a_start[row], self._a_length[row])
            return LoggedEvent(
                i, direction, type_, t, t_wall, t_browser, self._a_event_id.get(row),
                None, None, ref, ref.length / 24.0, payload,
            )  # fmt: skip
        event = self._dicts[row]
        event_id = event.get("event_id")
        audio = self._dict_audio.get(row)
        return LoggedEvent(
            i, direction, type_, t, t_wall, t_browser,
            event_id if isinstance(event_id, str) else None,
            _id_of(event, "item_id", "item"), _id_of(event, "response_id", "response"),
            audio, None if audio is None else audio.length / 24.0, event,
        )  # fmt: skip

    def _delta_payload(self, type_: str, row: int) -> Event:
        payload: Event = {"type": type_}
        event_id = self._d_event_id[row]
        if event_id is not None:
            payload["event_id"] = event_id
        response_id = self._d_response_id[row]
        if response_id is not None:
            payload["response_id"] = response_id
        payload["item_id"] = self._d_item_id[row]
        if self._d_output_index[row] >= 0:
            payload["output_index"] = self._d_output_index[row]
        if self._d_content_index[row] >= 0:
            payload["content_index"] = self._d_content_index[row]
        text = self._d_text[row]
        if text is not None:
            payload["delta"] = text
        extra = self._d_extra[row]
        if type(extra) is str:
            payload[_OBFUSCATION] = extra
        elif extra:
            for j in range(0, len(extra), 2):
                payload[extra[j]] = extra[j + 1]
        return payload

    def _append_payload(self, row: int) -> Event:
        payload: Event = {"type": APPEND}
        event_id = self._a_event_id.get(row)
        if event_id is not None:
            payload["event_id"] = event_id
        extra = self._a_extra.get(row)
        if extra:
            for j in range(0, len(extra), 2):
                payload[extra[j]] = extra[j + 1]
        return payload

    def _indices(self, type: str | None, direction: Direction | None) -> list[int]:
        import numpy as np

        n = len(self._row)
        mask = np.ones(n, dtype=bool)
        if type is not None:
            code = self._type_codes.get(type, -1)
            mask &= _snapshot(self._type, np.uint16, n) == code
        if direction is not None:
            mask &= _snapshot(self._direction, np.uint8, n) == _DIRECTION_CODE[direction]
        return np.flatnonzero(mask).tolist()  # type: ignore[no-any-return]

    def filter(
        self,
        type: str | None = None,
        direction: Direction | None = None,
        item_id: str | None = None,
        response_id: str | None = None,
    ) -> list[LoggedEvent]:
        """Events matching every given criterion, in order."""
        out: list[LoggedEvent] = []
        for i in self._indices(type, direction):
            ev = self._build(i)
            if (item_id is None or ev.item_id == item_id) and (
                response_id is None or ev.response_id == response_id
            ):
                out.append(ev)
        return out

    def errors(self) -> list[LoggedEvent]:
        """``error`` events from the server, frames that could not be parsed, and tool
        calls that failed (``tool.result``/``tool.error`` notes with an ``error``)."""
        codes = {self._type_codes[t] for t in _ERROR_TYPES | _TOOL_TYPES if t in self._type_codes}
        out = []
        for i, c in enumerate(self._type):
            if c in codes and self._kind[i] == _DICT and _is_error(self._dicts[self._row[i]]):
                out.append(self._build(i))
        return out

    def counts(self) -> dict[str, int]:
        """Number of events per direction."""
        return {name: self._counts[code] for code, name in enumerate(_DIRECTIONS)}

    def type_counts(self) -> Counter[str]:
        names = self._type_names
        return Counter({names[c]: n for c, n in Counter(self._type).items()})

    def input_timeline(self) -> tuple[Any, Any, Any]:
        """``(start, length, t_kernel)`` numpy arrays of the appends stored as rows, in
        order: where each microphone chunk sits on the input timeline (samples) and when
        it was sent. Maps an input position (e.g. a VAD ``audio_end_ms``) to a time."""
        import numpy as np

        events = len(self._row)
        slots = np.flatnonzero(_snapshot(self._kind, np.uint8, events) == _APPEND)
        n = len(slots)  # the appends among those events: rows 0..n-1 of the table
        start = _snapshot(self._a_start, np.int64, n)
        length = _snapshot(self._a_length, np.int32, n).astype(np.int64)
        t = np.empty(n, dtype=np.float64)
        rows = _snapshot(self._row, np.int32, events)[slots]
        t[rows] = _snapshot(self._t, np.float64, events)[slots]
        return start, length, t

    def t_span(self) -> float:
        """Seconds between the first and the last event (0.0 when fewer than two)."""
        return self._t[-1] - self._t[0] if len(self._t) > 1 else 0.0

    def to_records(self) -> dict[str, list[Any]]:
        """Columns (lists of equal length): ``index`` then :data:`COLUMNS`; absent values
        are None (``t_wall`` as epoch seconds). No payloads."""
        n = len(self._row)
        cols = self._columns(n)
        out: dict[str, list[Any]] = {"index": list(range(n))}
        names = self._type_names
        out["direction"] = [_DIRECTIONS[c] for c in self._direction[:n]]
        out["type"] = [names[c] for c in self._type[:n]]
        for key in ("t", "t_kernel", "t_wall"):
            out[key] = cols[key].tolist()
        for key in ("t_browser", "audio_ms"):
            out[key] = [None if math.isnan(v) else v for v in cols[key].tolist()]
        for key in _OBJECT_COLUMNS:
            out[key] = cols[key].tolist()
        return out

    def _columns(self, n: int) -> dict[str, Any]:
        """Every column but direction/type as numpy arrays, vectorised per storage kind.

        Audio rows (appends, deltas: nearly all events) are filled with array
        operations on the tables; only the plain dict events (a few per turn) are
        visited one by one. Object columns hold the log's own (shared) strings.
        """
        import numpy as np

        mono, wall = self.anchor
        t = _snapshot(self._t, np.float64, n)
        kinds = _snapshot(self._kind, np.uint8, n)
        rows = _snapshot(self._row, np.int32, n)
        browser = np.full(n, np.nan)
        for i, tb in list(self._t_browser.items()):  # list(): one step, while it may grow
            if i < n:
                browser[i] = tb
        audio_ms = np.full(n, np.nan)
        obj = {key: np.full(n, None, dtype=object) for key in _OBJECT_COLUMNS}

        d_slots = np.flatnonzero(kinds == _DELTA)  # delta row k is the k-th delta slot
        nd = len(d_slots)
        if nd:
            obj["event_id"][d_slots] = _object_array(self._d_event_id[:nd])
            obj["item_id"][d_slots] = _object_array(self._d_item_id[:nd])
            obj["response_id"][d_slots] = _object_array(self._d_response_id[:nd])
            start = _snapshot(self._d_start, np.int64, nd)
            length = _snapshot(self._d_length, np.int32, nd)
            has_audio = start >= 0
            audio_ms[d_slots[has_audio]] = length[has_audio] / 24.0
        a_slots = np.flatnonzero(kinds == _APPEND)  # likewise for appends
        na = len(a_slots)
        if na:
            length = _snapshot(self._a_length, np.int32, na)
            audio_ms[a_slots] = length / 24.0
            event_ids = obj["event_id"]
            for row, eid in list(self._a_event_id.items()):
                if row < na:
                    event_ids[a_slots[row]] = eid
        dicts, dict_audio = self._dicts, self._dict_audio
        for i in np.flatnonzero(kinds == _DICT).tolist():
            row = int(rows[i])
            event = dicts[row]
            event_id = event.get("event_id")
            if isinstance(event_id, str):
                obj["event_id"][i] = event_id
            obj["item_id"][i] = _id_of(event, "item_id", "item")
            obj["response_id"][i] = _id_of(event, "response_id", "response")
            prev = event.get("previous_item_id")
            if isinstance(prev, str):
                obj["previous_item_id"][i] = prev
            ref = dict_audio.get(row)
            if ref is not None:
                audio_ms[i] = ref.length / 24.0
            if _is_error(event):
                etype, code, message = _error_fields(event)
                obj["error_type"][i] = etype
                obj["error_code"][i] = code
                obj["error_message"][i] = message
        return {
            "t": t - t[0] if n else t,
            "t_kernel": t,
            "t_wall": wall + (t - mono),
            "t_browser": browser,
            "audio_ms": audio_ms,
            **obj,
        }

    def to_dataframe(self) -> pd.DataFrame:
        """The log as a new pandas DataFrame (imports pandas on first use); see :attr:`df`."""
        import numpy as np
        import pandas as pd  # optional dependency: imported on first use

        n = len(self._row)
        cols = self._columns(n)
        direction_codes = _snapshot(self._direction, np.uint8, n).astype(np.int8)
        type_codes = _snapshot(self._type, np.uint16, n).astype(np.int32)
        columns: dict[str, Any] = {
            "direction": pd.Categorical.from_codes(direction_codes, categories=_DIRECTIONS),
            "type": pd.Categorical.from_codes(type_codes, categories=list(self._type_names)),
            "t": cols["t"],
            "t_kernel": cols["t_kernel"],
            "t_wall": pd.to_datetime(cols["t_wall"], unit="s"),
            "t_browser": cols["t_browser"],
        }
        columns["event_id"] = cols["event_id"]
        # Ids repeat (hundreds of deltas per item) and the error columns are nearly
        # always empty: as categoricals they cost 1-2 bytes a row instead of a pointer
        # plus pandas' str copy. `df.item_id == "item_..."` and groupby work the same.
        for key in ("item_id", "response_id", "previous_item_id"):
            columns[key] = pd.Categorical(cols[key])
        columns["audio_ms"] = cols["audio_ms"]
        for key in ("error_type", "error_code", "error_message"):
            columns[key] = pd.Categorical(cols[key])
        return pd.DataFrame(columns, index=pd.RangeIndex(n, name="index"), copy=False)

    @property
    def df(self) -> pd.DataFrame:
        """The log as a pandas DataFrame, built on first use and rebuilt only when events
        were added since. One row per event, columns :data:`COLUMNS` (``t``: seconds
        since the first event; ``t_browser``: NaN where unknown). Treat it as read-only:
        it is shared between calls (``.copy()`` it to edit)."""
        cached = self._df_cache
        if cached is not None and cached[0] == len(self):
            return cached[1]
        df = self.to_dataframe()
        self._df_cache = (len(df), df)  # the events it holds (more may have come since)
        return df

    def where(
        self,
        type: str | None = None,
        direction: Direction | None = None,
        item_id: str | None = None,
        response_id: str | None = None,
        *,
        errors: bool = False,
    ) -> pd.DataFrame:
        """Rows of :attr:`df` matching every given criterion.

        ``type`` may be a shell-style pattern (``"response.*"``, ``"*transcript*"``);
        ``errors=True`` keeps only ``error`` events and unparsable frames.
        """
        df = self.df
        mask = None

        def both(m: Any) -> Any:
            return m if mask is None else mask & m

        if type is not None:
            names = [n for n in self._type_names if fnmatchcase(n, type)]
            mask = both(df["type"].isin(names))
        if direction is not None:
            if direction not in _DIRECTION_CODE:
                raise ValueError(f"direction must be one of {_DIRECTIONS}, not {direction!r}")
            mask = both(df["direction"] == direction)
        if item_id is not None:
            mask = both(df["item_id"] == item_id)
        if response_id is not None:
            mask = both(df["response_id"] == response_id)
        if errors:
            mask = both(df["error_type"].notna())
        return df if mask is None else df[mask]

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts().items() if v)
        last = ", ".join(self._type_names[c] for c in self._type[-4:])
        span = ""
        if self._t:
            span = f" over {self._t[-1] - self._t[0]:.1f}s"
            if not math.isfinite(self._t[-1]):
                span = ""
        errors = self.errors()
        err = ""
        if errors:
            etype, code, message = _error_fields(errors[-1].payload)
            what = code or etype or "error"
            err = f"; {len(errors)} error{'s' if len(errors) > 1 else ''}, last: {what}"
            if message:
                err += f" ({message[:80]})"
        return (
            f"<EventLog {len(self)} events{span} ({counts or 'empty'}){err}; last: {last or '-'}>"
        )

"""The kernel side of the widget: browser messages ↔ the :class:`Session`.

Threading (DESIGN.md, reference/browser-and-kernel-probe.md): a comm message
handler may run on the kernel's main thread or on a ``subshell-…`` thread,
and a cell may block the main thread for seconds. So the widget's ``on_msg``
handler only copies the buffers and hands ``(content, buffers, arrival time)``
to the session's I/O loop (``loop.call_soon_threadsafe``); :class:`Relay` does
everything else on that loop: the session's hooks and audio sink already run
there, ``widget.send`` works from any thread, and nothing here needs the main
thread. Model audio keeps flowing to the browser while a cell blocks;
microphone chunks queue in the kernel's shell channel meanwhile and are
reordered when they arrive.

The policies live in small sans-I/O parts with explicit time arguments
(:class:`Reorderer`, :class:`AudioCoalescer`, :class:`BargeIn`,
:class:`PlaybackTracker`, :class:`TranscriptStream`, :class:`EventDigest`,
:class:`TraitBatcher`, :class:`RowDiff`, :class:`Settle`); the relay wires them to
the session and owns the one timer that polls them. Kernel → browser messages stay
well under 100 per second in total (audio ≤ 100/s only while a server bursts,
transcripts ≤ 10/s, events ~7/s, traits and rows ≤ 4/s): jupyter_server drops them
above 1000/s.

The API key never reaches the browser: the relay only ever shows
``session.url`` and error texts, scrubbed of anything that looks like a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from realtime_widget import _preload
from realtime_widget._loop import io_loop
from realtime_widget.errors import ConnectionClosedError
from realtime_widget.log.recording import Recording
from realtime_widget.log.report import turns_html
from realtime_widget.log.usage_table import usage_totals
from realtime_widget.protocol import events as ev

from .bargein import SAMPLES_PER_MS, BargeIn, PlaybackTracker
from .coalesce import AudioCoalescer, AudioMessage
from .digest import EventDigest
from .durable import RowDiff, Settle
from .priority import HOLDABLE, AudioFirst
from .reorder import Reorderer
from .transcript import TranscriptStream, conversation_html, transcript_rows

if TYPE_CHECKING:
    from realtime_widget.session import Session
    from realtime_widget.state.conversation import Conversation
    from realtime_widget.state.pricing import PriceTable

__all__ = [
    "AudioCoalescer",
    "BargeIn",
    "EventDigest",
    "PlaybackTracker",
    "Relay",
    "Reorderer",
    "TraitBatcher",
    "TranscriptStream",
    "describe_target",
    "scrub",
]

_log = logging.getLogger(__name__)

Message = dict[str, Any]
SendFn = Callable[[Message, "list[bytes] | None"], None]


class TraitsFn(Protocol):
    """Writes synced traits; with ``sync=False`` only their Python values (the page gets
    them with a later call that syncs the same names)."""

    def __call__(self, values: dict[str, Any], sync: bool = True) -> None: ...


MIN_PTT_SAMPLES = 100 * SAMPLES_PER_MS  # the server refuses to commit less than 100 ms
TOO_SHORT = "too short: hold the button for at least 0.1 s"
DEFAULT_SILENCE_MS = 500
_MAX_EARLY_CHUNKS = 150  # mic chunks kept while connecting: 3 s of 20 ms chunks
_MAX_EARLY_NOTES = 1000  # widget notes kept until the session first connects
_TIMER_SLACK = 2e-4  # fire a little after a deadline, never before it
_SPEAKING = {"user_speaking": "user", "model_speaking": "model"}
_ROW_EVENTS = frozenset(
    {
        "conversation.item.added",
        "conversation.item.created",
        "conversation.item.done",
        "conversation.item.deleted",
        "conversation.item.truncated",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
        "response.output_item.done",
        "response.done",
    }
)
_FINAL_EVENTS = frozenset(
    {"conversation.item.added", "conversation.item.done", "response.output_item.done"}
)
_SECRET_PATTERNS = re.compile(
    r"(\bsk-[A-Za-z0-9_\-]{6,}|Bearer\s+[^\s,;\"']+|api[-_]key=[^&\s\"']+)", re.IGNORECASE
)


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with anything that looks like an API key (and the given secrets) masked.

    Defence in depth: error texts come from the connection and the server,
    which do not echo keys, but they are shown in the browser and saved with
    the notebook.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _SECRET_PATTERNS.sub("***", text)


def _secrets_of(session: Session) -> tuple[str, ...]:
    secret = getattr(session, "_secret", None)
    reveal = getattr(secret, "reveal", None)
    return (reveal(),) if callable(reveal) else ()


def describe_target(session: Session) -> str:
    """What the session talks to, for display: its URL (never a header or key)."""
    url = session.url
    if session.server is not None and url:
        return f"local server {url}"
    if url:
        return url
    target = getattr(session, "_target", None)
    if isinstance(target, str) and "://" not in target:
        return "local server" if target == "local" else target
    return ""


class TraitBatcher:
    """Trait writes from the I/O thread, at most one batch per ``interval`` seconds.

    Each synced trait write is a comm message; a status that flips
    listening → user_speaking → listening within 100 ms needs only the last
    value. A value may be a zero-argument callable, computed at flush time
    (the transcript rows: rebuilt once per batch, not per event).
    """

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.last_flush = float("-inf")
        self.flushes = 0
        self._pending: dict[str, Any] = {}

    def set(self, name: str, value: Any, now: float) -> dict[str, Any] | None:
        """Queue a write; return the batch to apply now, if one is due."""
        self._pending[name] = value
        return self.poll(now)

    def queue(self, name: str, value: Any) -> None:
        """Queue a write that must not go out now (it goes with the next batch)."""
        self._pending[name] = value

    def poll(self, now: float) -> dict[str, Any] | None:
        if not self._pending or now - self.last_flush < self.interval - 1e-6:
            return None
        out = {k: (v() if callable(v) else v) for k, v in self._pending.items()}
        self._pending = {}
        self.last_flush = now
        self.flushes += 1
        return out

    def deadline(self) -> float | None:
        if not self._pending:
            return None
        return self.last_flush + self.interval


_Sequenced = tuple[str, Message, "bytes | None", float]


class Relay:
    """Runs on the session's I/O loop: every public method but :meth:`submit` must
    be called there (``submit`` is the thread-safe entry for comm handlers).

    ``send(content, buffers)`` sends a custom message to the browser;
    ``set_traits(values)`` writes synced traits. ``clock`` is the kernel
    monotonic clock, ``wall`` the epoch clock (seconds).
    """

    def __init__(
        self,
        session: Session,
        send: SendFn,
        set_traits: TraitsFn,
        *,
        mode: str = "vad",
        mode_explicit: bool = True,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.session = session
        self._send = send
        self._set_traits = set_traits
        self._clock = clock
        self._wall = wall
        self.loop = loop or io_loop()
        # Comm messages are never lost, only delayed: a few mic chunks can be routed
        # to the main thread (ipykernel sends a comm's messages to the subshell of its
        # last outgoing message) and wait there while a cell blocks it. So a gap waits
        # long (10 s) rather than being skipped, and a far-behind seq is late, not a
        # restarted counter (a restart comes with `connect`, which resets).
        self.reorderer: Reorderer[_Sequenced] = Reorderer(max_wait=10.0, restart_after=10**9)
        self.coalescer = AudioCoalescer()
        self.barge = BargeIn()
        self.playback = PlaybackTracker(clock)
        self.transcripts = TranscriptStream()
        self.digest = EventDigest()
        self.traits = TraitBatcher()
        self.priority = AudioFirst()
        self.row_diff = RowDiff()
        self.settle = Settle()
        self._table_html = ""  # the turn table as last built (durable syncs)
        self.clock_offset_ms = 0.0
        """Kernel wall clock minus the browser's (ms), applied to browser times when the
        page measured a real difference (a remote browser); 0 on one host."""
        self.prices: PriceTable | None = None
        """Prices for the ``usage`` trait's running cost (None: the dated defaults)."""
        self.mode = mode
        self.mode_explicit = mode_explicit
        self.status = "disconnected"
        self.last_error = ""
        self._speaking: str | None = None
        self._ptt_down = False
        self._ptt_samples = 0
        self._vad_settings: dict[str, Any] | None = None
        self._mode_updates = 0
        self._connect_task: asyncio.Task[None] | None = None
        self._closing = False
        self._early: list[tuple[bytes, float | None]] = []
        self._early_notes: list[tuple[str, float, float | None, dict[str, Any]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._audio_flush = False  # a _flush_audio is scheduled (call_soon)
        self._timer_when = math.inf
        self._attached = False
        self._saved_auto_truncate = True
        self._counts: dict[str, float] = {}
        self._unknown_types: set[str] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def attach(self) -> None:
        """Hook into the session (any thread: the session's lists are only appended to)."""
        if self._attached:
            return
        s = self.session
        self._saved_auto_truncate = s.auto_truncate
        # The widget truncates with the browser's exact count; the session must not guess.
        s.auto_truncate = False
        s.playback_position = self.position_ms
        s.add_audio_sink(self._on_audio)
        s.on("*", self._on_event)
        self._attached = True
        _preload.preload("pandas")  # for the turn summary; never imported on the I/O loop
        if s.status == "connected":
            self.status = "listening"
            self._remember_vad(s.config)
        self._set_traits({"status": self.status, "target": describe_target(s)})

    def detach(self) -> None:
        """Unhook from the session (on the I/O loop); the session keeps running."""
        if not self._attached:
            return
        s = self.session
        s.remove_audio_sink(self._on_audio)
        s.off("*", self._on_event)
        if s.playback_position == self.position_ms:
            s.playback_position = None
        s.auto_truncate = self._saved_auto_truncate
        self._attached = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._tasks):
            task.cancel()

    def position_ms(self, item_id: str) -> float | None:
        """For :attr:`Session.playback_position` (called on the I/O thread): the browser's
        count when it reports, else the session's wall-clock estimate."""
        reported = self.playback.get(item_id)
        if reported is not None and (reported.finished or reported.interrupted):
            return None
        played = self.playback.played_samples(item_id, self._clock())
        if played is not None:
            return played / SAMPLES_PER_MS
        return self.session.estimated_played_ms(item_id)

    @property
    def stats(self) -> dict[str, float]:
        """Counters: mic chunks/ms/gaps/duplicates, messages sent per type, drops..."""
        out = dict(self._counts)
        out.update(
            mic_gaps=self.reorderer.gaps,
            mic_duplicates=self.reorderer.duplicates,
            mic_restarts=self.reorderer.restarts,
            audio_messages=self.coalescer.messages,
            audio_samples_sent=self.coalescer.samples_sent,
            audio_samples_dropped=self.coalescer.samples_dropped,
            stop_timeouts=self.barge.timeouts,
            audio_first_holds=self.priority.holds,
            trait_flushes=self.traits.flushes,
            durable_syncs=self.settle.syncs,
        )
        return out

    def _count(self, key: str, n: float = 1) -> None:
        self._counts[key] = self._counts.get(key, 0) + n

    # -- thread-safe entry -------------------------------------------------------------------

    def submit(self, content: Any, buffers: list[bytes]) -> None:
        """From a comm handler on any thread: stamp the arrival, hand over to the loop."""
        self.loop.call_soon_threadsafe(self.handle, content, buffers, self._clock())

    # -- browser → kernel --------------------------------------------------------------------

    def handle(self, content: Any, buffers: list[bytes], t_arrival: float | None = None) -> None:
        """One browser message (on the I/O loop)."""
        now = self._clock() if t_arrival is None else t_arrival
        try:
            self._handle(content, buffers, now)
        except Exception as exc:  # a bad message must not kill the loop's callback chain
            _log.exception("widget message failed")
            self._count("message_errors")
            self._note("widget.error", message=f"{type(exc).__name__}: {exc}")
        finally:
            self._reschedule()

    def _handle(self, content: Any, buffers: list[bytes], now: float) -> None:
        if not isinstance(content, dict):
            self._count("bad_messages")
            return
        type_ = content.get("type")
        if type_ in ("mic", "ptt"):
            pcm = buffers[0] if type_ == "mic" and buffers else None
            seq = content.get("seq")
            if not isinstance(seq, int) or isinstance(seq, bool):
                self._count("unsequenced")
                self._sequenced((type_, content, pcm, now), now)
                return
            for item in self.reorderer.push(seq, (type_, content, pcm, now), now):
                self._sequenced(item, now)
            return
        handler = self._handlers.get(type_) if isinstance(type_, str) else None
        if handler is None:
            self._count("unknown_messages")
            if isinstance(type_, str) and type_ not in self._unknown_types:
                self._unknown_types.add(type_)
                self._note("widget.unknown_message", message_type=type_)
            return
        handler(self, content, now)

    def _sequenced(self, item: _Sequenced, now: float) -> None:
        type_, content, pcm, _t_arrival = item
        if type_ == "mic":
            self._on_mic(content, pcm, now)
        else:
            self._on_ptt(content, now)

    def _on_mic(self, content: Message, pcm: bytes | None, now: float) -> None:
        if not pcm:
            return
        if self.mode == "ptt" and not self._ptt_down:
            # Push-to-talk: only what is captured while the button is held is a turn.
            self._count("mic_idle")
            return
        t_browser = _number(content.get("t"))
        if self.session.status != "connected":
            # The browser starts sending right after its connect message: keep what comes
            # while the socket opens (bounded) and append it once connected.
            connecting = self._connect_task is not None and not self._connect_task.done()
            if connecting and len(self._early) < _MAX_EARLY_CHUNKS:
                self._early.append((pcm, t_browser))
            else:
                self._count("mic_dropped")
            return
        self._append(pcm, t_browser)

    def _append(self, pcm: bytes, t_browser: float | None) -> None:
        # The recorder logs the append (with the browser's capture time): nothing per chunk here.
        self.session.append_audio(pcm, t_browser=t_browser)
        samples = len(pcm) // 2
        self._count("mic_chunks")
        self._count("mic_ms", samples / SAMPLES_PER_MS)
        if self._ptt_down:
            self._ptt_samples += samples

    def _on_ptt(self, content: Message, now: float) -> None:
        action = content.get("action")
        if self.mode != "ptt":
            self._note("widget.ptt_ignored", action=str(action), mode=self.mode)
            return
        if self.session.status != "connected":
            return
        if action == "down":
            self._ptt_down, self._ptt_samples = True, 0
            self._set_error("")
            self._stop_playback("ptt", now)
            self._send_event(ev.input_audio_buffer_clear())
            self._cancel_active_response()
            self._set_status("user_speaking", now)
        elif action == "up" and self._ptt_down:
            self._ptt_down = False
            if self._ptt_samples >= MIN_PTT_SAMPLES:
                self._send_event(ev.input_audio_buffer_commit())
                self.priority.expect(now)
                self._send_event(ev.response_create())
            else:
                self._send_event(ev.input_audio_buffer_clear())
                self._set_error(TOO_SHORT)
            self._set_status("listening", now)

    def _on_connect(self, content: Message, now: float) -> None:
        self.connect(now)

    def _on_disconnect(self, content: Message, now: float) -> None:
        self.disconnect(now)

    def _on_text(self, content: Message, now: float) -> None:
        text = content.get("text")
        if not isinstance(text, str) or not text.strip():
            return
        if self.session.status != "connected":
            self._set_error("not connected: press Connect first")
            return
        self.priority.expect(now)
        self._spawn(self.session.send_text(text), "send text")

    def _on_ping(self, content: Message, now: float) -> None:
        self._emit({"type": "pong", "id": content.get("id"), "t_kernel": self._wall() * 1000.0})

    def _on_clock(self, content: Message, now: float) -> None:
        """The page measured the kernel's wall clock against its own (``hub.syncClock``).
        Browser times are corrected by that offset only when it is larger than what the
        measurement can tell (its round trip, at least 5 ms): on one host both read the
        same clock, and the exact mapping stays."""
        offset = _number(content.get("offset_ms"))
        rtt = _number(content.get("rtt_ms"))
        if offset is None or rtt is None or rtt < 0:
            return
        self.clock_offset_ms = offset if abs(offset) > max(rtt, 5.0) else 0.0
        self._note("widget.clock", offset_ms=offset, rtt_ms=rtt, applied_ms=self.clock_offset_ms)

    def _on_hello(self, content: Message, now: float) -> None:
        fields = {
            k: content.get(k)
            for k in ("view", "secure", "sample_rate", "audio_worklet")
            if isinstance(content.get(k), (str, int, float, bool))
        }
        agent = content.get("user_agent")
        if isinstance(agent, str):
            fields["user_agent"] = agent[:200]
        self._note("widget.hello", t_browser=_number(content.get("t")), **fields)
        if self._speaking is not None:
            self._emit({"type": "state", "speaking": self._speaking})

    def _on_log(self, content: Message, now: float) -> None:
        level = str(content.get("level") or "info")
        message = str(content.get("message") or "")[:2000]
        self._note(
            "widget.browser_log", t_browser=_number(content.get("t")), level=level, message=message
        )
        if level == "error":
            self._set_error(message)

    def _on_playback(self, content: Message, now: float) -> None:
        event = content.get("event")
        item_id = content.get("item_id")
        played = _int(content.get("played"))
        t_browser = _number(content.get("t"))
        if event == "drained":
            self.playback.drained(now)
            self._note("widget.playback_drained", t_browser=t_browser)
            if self.status == "model_speaking":
                self._set_status("listening", now)
            return
        if not isinstance(item_id, str):
            return
        if event == "started":
            t_played = self._kernel_time(t_browser, now)
            self.playback.started(item_id, played, now, t_played)
            # Logged at the moment the first sample was heard (browser clock → kernel clock):
            # that is where a turn's perceived latency ends.
            self._note(
                "widget.playback_started",
                t=t_played,
                t_browser=t_browser,
                item_id=item_id,
                response_id=self._response_of(item_id),
                played=played,
            )
            if not self.coalescer.is_stopped(item_id) and self.status != "user_speaking":
                self._set_status("model_speaking", now)
        elif event == "stopped":
            self.playback.finished(item_id, played, now)
            self._note(
                "widget.playback_stopped", t_browser=t_browser, item_id=item_id, played=played
            )
            if self.playback.current is None and self.status == "model_speaking":
                self._set_status("listening", now)

    def _on_progress(self, content: Message, now: float) -> None:
        item_id = content.get("item_id")
        if not isinstance(item_id, str):
            return
        self.playback.progress(
            item_id,
            _int(content.get("played")),
            now,
            _int(content.get("buffered")),
            _int(content.get("underruns")),
        )
        if (
            self.playback.current == item_id
            and self.status == "listening"
            and not self.coalescer.is_stopped(item_id)
        ):
            self._set_status("model_speaking", now)  # playing again after an underrun

    def _on_interrupted(self, content: Message, now: float) -> None:
        stop = self.barge.answer(content.get("stop_id"))
        reported = content.get("item_id")
        item_id = reported if isinstance(reported, str) else (stop.item_id if stop else None)
        played = _int(content.get("played"))
        t_browser = _number(content.get("t"))
        if isinstance(reported, str):
            self.playback.interrupted(reported, played, now)
        self._note(
            "widget.interrupted",
            t=self._kernel_time(t_browser, now),
            t_browser=t_browser,
            stop_id=content.get("stop_id"),
            item_id=item_id,
            played=played,
            late=stop is None,
        )
        if stop is None or not stop.truncate or not isinstance(reported, str):
            return  # late (the fallback already ran), a disconnect, or nothing was playing
        self._truncate(reported, played / SAMPLES_PER_MS, "browser")

    _handlers: ClassVar[dict[str, Callable[[Relay, Message, float], None]]] = {
        "connect": _on_connect,
        "disconnect": _on_disconnect,
        "text": _on_text,
        "ping": _on_ping,
        "clock": _on_clock,
        "hello": _on_hello,
        "log": _on_log,
        "playback": _on_playback,
        "progress": _on_progress,
        "interrupted": _on_interrupted,
    }

    # -- commands ----------------------------------------------------------------------------

    def connect(self, now: float | None = None) -> None:
        """Connect the session (a second connect after a close reconnects)."""
        now = self._clock() if now is None else now
        # The browser's mic counter starts again at 0 with every connect.
        self.reorderer.reset()
        self._ptt_down = False
        self._early = []
        if self.session.status in ("connecting", "connected") or (
            self._connect_task is not None and not self._connect_task.done()
        ):
            return
        self._reset_stream(now)
        self._set_error("")
        self._set_status("connecting", now)
        self._connect_task = self._spawn(self._connect(), None)
        self._reschedule()

    async def _connect(self) -> None:
        try:
            await self.session.connect()
        except Exception as exc:
            self._count("mic_dropped", len(self._early))
            self._early = []
            self._set_error(f"could not connect: {self._text(exc)}")
            self._set_status("error", self._clock())
            self._note("widget.connect_failed", message=self._text(exc))
        else:
            self._connected(self._clock())
            early, self._early = self._early, []
            for pcm, t_browser in early:
                self._append(pcm, t_browser)
            if self.mode_explicit:
                self._apply_mode()
            else:
                self._follow_config()
        finally:
            self._reschedule()

    def _connected(self, now: float) -> None:
        self._reset_stream(now)
        self._remember_vad(self.session.config)
        self.traits_now({"target": describe_target(self.session)}, now)
        self._set_status("listening", now)

    def disconnect(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        self._ptt_down = False
        self._closing = True
        self._stop_playback("disconnect", now, truncate=False)
        self._spawn(self._disconnect(), "disconnect")
        self._reschedule()

    async def _disconnect(self) -> None:
        try:
            await self.session.close()
        finally:
            self._closing = False
            self._set_status("disconnected", self._clock())
            self._reschedule()

    def note_mic(self, status: str, message: str, now: float | None = None) -> None:
        """The browser's ``mic_status`` trait changed: keep it in the log."""
        self._note("widget.mic", status=status, message=message)
        self._reschedule()

    def set_mode(self, mode: str) -> None:
        """The ``mode`` trait changed (browser or Python): switch turn detection."""
        if mode not in ("vad", "ptt") or mode == self.mode:
            return
        self.mode, self.mode_explicit = mode, True
        self._ptt_down = False
        if self.session.status == "connected":
            self._apply_mode()
        self._reschedule()

    def _turn_detection(self) -> Any:
        audio = self.session.config.get("audio")
        audio_in = audio.get("input") if isinstance(audio, dict) else None
        if not isinstance(audio_in, dict) or "turn_detection" not in audio_in:
            return _MISSING
        return audio_in["turn_detection"]

    def _remember_vad(self, config: Any) -> None:
        audio = config.get("audio") if isinstance(config, dict) else None
        audio_in = audio.get("input") if isinstance(audio, dict) else None
        td = audio_in.get("turn_detection") if isinstance(audio_in, dict) else None
        if isinstance(td, dict):
            self._vad_settings = dict(td)

    def _vad_restore(self) -> dict[str, Any]:
        """The VAD settings to go back to from push-to-talk: the last ones the server
        reported (semantic VAD as it was), else server VAD with an explicit silence."""
        base = {k: v for k, v in (self._vad_settings or {}).items() if v is not None}
        if base.get("type") == "semantic_vad":
            return base
        base["type"] = "server_vad"
        base["silence_duration_ms"] = base.get("silence_duration_ms") or DEFAULT_SILENCE_MS
        return base

    def _apply_mode(self) -> None:
        td = self._turn_detection()
        if self.mode == "ptt" and td is not None:
            self._remember_vad(self.session.config)
            self._update_mode(turn_detection=None)
        elif self.mode == "vad" and td is None:
            self._update_mode(turn_detection=self._vad_restore())

    def _update_mode(self, **settings: Any) -> None:
        self._mode_updates += 1

        async def update() -> None:
            failed = False
            try:
                await self.session.update(**settings)
            except Exception:
                failed = True
                raise
            finally:
                self._mode_updates -= 1
                if failed:
                    self._follow_config()  # the trait shows what the session still does

        self._spawn(update(), "mode change")

    def _follow_config(self) -> None:
        """The trait shows what the session does, when turn detection changed by other
        means than the mode trait (the session's settings, ``session.update`` from Python).

        Not while connecting (an explicit mode is applied once connected) nor while our
        own mode change is in flight (its ``session.updated`` is not the final word yet).
        """
        td = self._turn_detection()
        if td is _MISSING or self._mode_updates or self.status == "connecting":
            return
        mode = "ptt" if td is None else "vad"
        if mode != self.mode:
            self.mode = mode  # first: the trait observer then sees no change to apply
            self._ptt_down = False
            self.traits_now({"mode": mode}, self._clock())

    # -- server → kernel (session hooks, on the I/O thread) ----------------------------------

    def _on_audio(self, event: Message, pcm: bytes) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            return
        response_id = event.get("response_id")
        self.playback.more_audio(item_id)
        self.coalescer.add(item_id, response_id if isinstance(response_id, str) else None, pcm)
        if not self._audio_flush:
            # After every delta of this read (a burst) is added: one message for all.
            self._audio_flush = True
            self.loop.call_soon(self._flush_audio)

    def _flush_audio(self) -> None:
        self._audio_flush = False
        try:
            for msg in self.coalescer.poll(self._clock()):
                self._emit_audio(msg)
        finally:
            self._reschedule()

    def _on_event(self, event: Message) -> None:
        try:
            self._server_event(event, self._clock())
        except Exception as exc:
            _log.exception("widget relay failed on %s", event.get("type"))
            self._note("widget.error", message=f"{type(exc).__name__}: {exc}")
        finally:
            self._reschedule()

    def _server_event(self, event: Message, now: float) -> None:
        type_ = event.get("type")
        if not isinstance(type_, str) or type_ == "response.output_audio.delta":
            return  # the audio sink has it
        conv = self.session.conversation
        if type_ in ("response.output_audio_transcript.delta", "response.output_text.delta"):
            self._transcript_delta(event, "assistant", now)
        elif type_ == "conversation.item.input_audio_transcription.delta":
            self._transcript_delta(event, "user", now)
        elif type_ == "conversation.item.input_audio_transcription.completed":
            item_id = event.get("item_id")
            if isinstance(item_id, str):
                text = event.get("transcript")
                self._emit_all(
                    self.transcripts.final(
                        item_id, "user", text if isinstance(text, str) else "", now
                    )
                )
        elif type_ in _FINAL_EVENTS:
            self._item_final(event, conv, now)
        elif type_ == "conversation.item.truncated":
            item_id = event.get("item_id")
            if isinstance(item_id, str):
                self._assistant_final(item_id, conv, now, truncated=True)
        elif type_ == "input_audio_buffer.speech_started":
            self._set_status("user_speaking", now)
            self._stop_playback("speech_started", now)
            td = self._turn_detection()
            if isinstance(td, dict) and td.get("interrupt_response") is False:
                self._cancel_active_response()
        elif type_ == "input_audio_buffer.speech_stopped":
            if self.status == "user_speaking":
                self._set_status("listening", now)
        elif type_ == "input_audio_buffer.committed":
            td = self._turn_detection()
            if isinstance(td, dict) and td.get("create_response", True) is not False:
                self.priority.expect(now)
        elif type_ == "response.created":
            self._response_created(event, now)
        elif type_ == "response.done":
            self._response_done(event, conv, now)
        elif type_ in ("session.created", "session.updated"):
            self._remember_vad(event.get("session"))
            if type_ == "session.created" and self.status in ("disconnected", "error"):
                # Connected from Python (``await w.session.connect()``), not by the button.
                self._connected(now)
            elif type_ == "session.updated":
                self._follow_config()
        elif type_ == "error":
            err = event.get("error")
            if isinstance(err, dict):
                self._set_error(self._error_text(err))
        elif type_ == "connection.closed":
            self._closed(event, now)
        if type_ in _ROW_EVENTS:
            self._rows_changed(now)

    def _transcript_delta(self, event: Message, role: str, now: float) -> None:
        item_id, delta = event.get("item_id"), event.get("delta")
        if isinstance(item_id, str) and isinstance(delta, str):
            self._emit_all(self.transcripts.delta(item_id, role, delta, now))

    def _item_final(self, event: Message, conv: Conversation, now: float) -> None:
        raw = event.get("item")
        item_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(item_id, str):
            return
        try:
            item = conv.item(item_id)
        except KeyError:
            return
        if item.type != "message":
            return
        if item.role == "assistant" and event.get("type") != "conversation.item.added":
            self._assistant_final(item_id, conv, now, truncated=item.truncated)
        elif item.role == "user" and item.transcript is None and item.text:
            # A typed message: its text is final as soon as it is added.
            self._emit_all(self.transcripts.final(item_id, "user", item.text, now))

    def _assistant_final(
        self, item_id: str, conv: Conversation, now: float, *, truncated: bool
    ) -> None:
        try:
            item = conv.item(item_id)
        except KeyError:
            return
        if item.role != "assistant":
            return
        unheard = item.unheard_text if truncated else None
        self._emit_all(
            self.transcripts.final(item_id, "assistant", item.heard_text, now, unheard=unheard)
        )

    def _response_created(self, event: Message, now: float) -> None:
        resp = event.get("response")
        if not isinstance(resp, dict) or not isinstance(resp.get("id"), str):
            return
        modalities = resp.get("output_modalities")
        speaks = not isinstance(modalities, list) or "audio" in modalities
        self.priority.begin(resp["id"], now, speaks=speaks)

    def _response_done(self, event: Message, conv: Conversation, now: float) -> None:
        resp = event.get("response")
        self.priority.end(resp.get("id") if isinstance(resp, dict) else None)
        self._release(now)
        self._update_usage(now)
        if not isinstance(resp, dict) or resp.get("status") != "cancelled":
            return
        rid = resp.get("id")
        if not isinstance(rid, str):
            return
        self.coalescer.cancel_response(rid)
        playing = self._playing_item()
        if playing is not None and self._response_of(playing) == rid:
            # Cancelled from Python (not by a barge-in, which stopped it already).
            self._stop_playback("cancel", now)

    def _closed(self, event: Message, now: float) -> None:
        self._ptt_down = False
        self.priority.end()
        self._release(now)
        if not self._closing:  # our own disconnect stopped playback already
            self._stop_playback("disconnect", now, truncate=False)
        if event.get("expected"):
            self._set_status("disconnected", now)
        else:
            message = event.get("message")
            self._set_error(f"connection lost: {self._text(message)}")
            self._set_status("error", now)
        # After the stop: the whole state is the largest message the relay sends.
        # Always, not only when a change is pending: the batcher may still hold one.
        self._sync_durable()

    # -- barge-in ---------------------------------------------------------------------------

    def _response_of(self, item_id: str) -> str | None:
        try:
            return self.session.conversation.item(item_id).response_id
        except KeyError:
            return None

    def _playing_item(self) -> str | None:
        """The assistant item the browser plays or has queued (None: nothing to stop)."""
        current = self.playback.current
        if current is not None and not self.coalescer.is_stopped(current):
            return current
        conv = self.session.conversation
        last = conv.last_assistant_audio_item()
        if last is None or self.coalescer.is_stopped(last):
            return None
        try:
            item = conv.item(last)
        except KeyError:
            return None
        if item.truncated_ms is not None or item.truncate_requested_ms is not None:
            return None
        reported = self.playback.get(last)
        if reported is not None and (reported.finished or reported.interrupted):
            return None
        return last

    def _stop_playback(self, reason: str, now: float, *, truncate: bool = True) -> None:
        """Tell the browser to stop at once; truncate when it says how much it played."""
        item_id = self._playing_item()
        estimate: float | None = None
        if item_id is not None:
            played = self.playback.played_samples(item_id, now)
            if played is not None:
                estimate = played / SAMPLES_PER_MS
            else:
                estimate = self.session.estimated_played_ms(item_id)
            self.coalescer.stop_item(item_id)
        stop = self.barge.stop(item_id, reason, now, estimate, truncate=truncate)
        self._emit(stop.message())
        self.priority.end()  # nothing left to put first; the stop is already out
        self._release(now)
        self._note("widget.stop_sent", stop_id=stop.stop_id, reason=reason, item_id=item_id)
        if self.status == "model_speaking":
            self._set_status("listening", now)

    def _truncate(self, item_id: str, played_ms: float, source: str) -> None:
        """Send ``conversation.item.truncate`` if the item had audio not yet heard."""
        conv = self.session.conversation
        try:
            item = conv.item(item_id)
        except KeyError:
            return  # an item of an earlier connection
        if item.truncated_ms is not None or item.truncate_requested_ms is not None:
            return
        received_ms = item.audio_samples / SAMPLES_PER_MS
        unheard = played_ms < received_ms or not item.audio_done
        event = conv.truncate_event(item_id, played_ms) if unheard else None
        self._note(
            "widget.truncate_computed",
            item_id=item_id,
            played_ms=round(played_ms, 3),
            received_ms=received_ms,
            audio_end_ms=event["audio_end_ms"] if event else None,
            source=source,
            sent=event is not None,
        )
        if event is not None:
            self._send_event(event)

    def _cancel_active_response(self) -> None:
        active = self.session.conversation.active_response_id
        if active is not None:
            self.coalescer.cancel_response(active)
            self._send_event(ev.response_cancel(active))

    # -- timer -------------------------------------------------------------------------------

    def _deadline(self) -> float | None:
        held_until = self.priority.deadline()
        # poll applies trait batches and full syncs only once the hold is over: their
        # deadlines no earlier than its end, or the timer would fire in a loop until then
        after_hold = [self.traits.deadline(), self.settle.deadline(self._busy())]
        if held_until is not None:
            after_hold = [None if d is None else max(d, held_until) for d in after_hold]
        deadlines = [
            *after_hold,
            self.reorderer.deadline(),
            self.coalescer.deadline(),
            self.barge.deadline(),
            self.transcripts.deadline(),
            held_until,
            self.digest.deadline(self.session.log) if self._attached else None,
        ]
        due = [d for d in deadlines if d is not None]
        return min(due) if due else None

    def _reschedule(self) -> None:
        when = self._deadline()
        if when is None:
            return
        if self._timer is not None:
            if self._timer_when <= when:
                return  # an earlier tick is already set; it reschedules after itself
            self._timer.cancel()
        delay = max(0.0, when - self._clock()) + _TIMER_SLACK
        self._timer = self.loop.call_later(delay, self._tick)
        self._timer_when = when

    def _tick(self) -> None:
        self._timer, self._timer_when = None, math.inf
        try:
            self.poll(self._clock())
        except Exception:
            _log.exception("widget relay timer failed")
        finally:
            self._reschedule()

    def poll(self, now: float) -> None:
        """Run everything that is due at ``now`` (the timer calls this)."""
        for item in self.reorderer.poll(now):
            self._sequenced(item, now)
        for msg in self.coalescer.poll(now):
            self._emit_audio(msg)
        self._release(now)
        for stop in self.barge.expired(now):
            self._note("widget.interrupt_timeout", stop_id=stop.stop_id, item_id=stop.item_id)
            if stop.truncate and stop.item_id is not None and stop.estimate_ms is not None:
                self._truncate(stop.item_id, stop.estimate_ms, "estimate")
        self._emit_all(self.transcripts.poll(now))
        if self._attached:
            log = self.session.log
            due = self.digest.deadline(log)
            if due is not None and now >= due - 1e-6:
                rows = self.digest.take(log, now)
                if rows:
                    self._emit({"type": "events", "events": rows})
        if not self.priority.holding(now):
            values = self.traits.poll(now)
            if values:
                self._apply_traits(values)
            busy = self._busy()
            if self.settle.due(now, busy):
                # forced while busy (the staleness limit): the turn table as last built;
                # it scans the whole log (~70 ms on the loop for an hour)
                self._sync_durable(table=not busy)

    # -- output ------------------------------------------------------------------------------

    def _emit(self, content: Message, buffers: list[bytes] | None = None) -> None:
        if content.get("type") in HOLDABLE and not self.priority.idle:
            now = self._clock()
            if self.priority.holding(now):
                self.priority.hold(content)
                return
            self._release(now)  # what was held goes before anything newer
        self._send_now(content, buffers)

    def _send_now(self, content: Message, buffers: list[bytes] | None = None) -> None:
        self._count(f"sent_{content.get('type')}")
        try:
            self._send(content, buffers)
        except Exception:  # a closed comm must not break the session's loop
            _log.debug("widget send failed", exc_info=True)
            self._count("send_errors")

    def _emit_all(self, messages: list[Message]) -> None:
        for msg in messages:
            self._emit(msg)

    def _emit_audio(self, msg: AudioMessage) -> None:
        self._emit(msg.content(), [msg.pcm])
        if self.priority.deadline() is not None:
            self.priority.audio_sent(msg.response_id, self._clock())

    def _release(self, now: float) -> None:
        """Send what the audio-first hold kept, once the hold is over."""
        for content in self.priority.take(now):
            self._send_now(content)

    def _send_event(self, event: Message) -> None:
        try:
            self.session.send(event)
        except ConnectionClosedError:
            self._count("events_not_sent")

    def _set_status(self, status: str, now: float) -> None:
        if status == self.status:
            return
        self.status = status
        self.traits_now({"status": status}, now)
        speaking = _SPEAKING.get(status)
        if speaking != self._speaking:
            self._speaking = speaking
            self._emit({"type": "state", "speaking": speaking})  # the fast hint

    def _set_error(self, message: str) -> None:
        message = self._text(message)
        if message == self.last_error:
            return
        self.last_error = message
        self.traits_now({"last_error": message}, self._clock())

    def _rows_changed(self, now: float) -> None:
        # Rebuilt once per batch (a callable value); the page gets the changed rows.
        self.traits_now({"transcript": self._rows}, now)

    def _rows(self) -> list[dict[str, Any]]:
        s = self.session
        return transcript_rows([*(r.conversation for r in s.history), s.conversation])

    def traits_now(self, values: dict[str, Any], now: float) -> None:
        """Queue trait writes; they go out now or with the next batch."""
        if self.priority.holding(now):
            for name, value in values.items():
                self.traits.queue(name, value)
            return
        out: dict[str, Any] = {}
        for name, value in values.items():
            # A batch may flush on any of these writes: keep every flushed value.
            flushed = self.traits.set(name, value, now)
            if flushed:
                out.update(flushed)
        if out:
            self._apply_traits(out)

    def _update_usage(self, now: float) -> None:
        """Live session totals (the ``usage`` trait, a few hundred bytes) after every
        ``response.done``, and the rows it may have changed."""
        s = self.session
        totals: dict[str, Any] = {}
        for recorder in [*s.history, s.recorder]:
            rec = Recording(recorder)
            for key, value in usage_totals(rec.conversation, self.prices, model=rec.model).items():
                totals[key] = totals.get(key, 0) + value
        cost = totals.get("cost_usd")
        if cost is not None and not math.isfinite(cost):
            totals["cost_usd"] = None  # no price for this model: JSON has no NaN
        self.traits_now({"usage": totals, "transcript": self._rows}, now)

    def _apply_traits(self, values: dict[str, Any]) -> None:
        rows = values.pop("transcript", None)
        try:
            if rows is not None:
                # durable.py: the Python value now, the page only the changed rows;
                # the whole list (and its HTML) when the conversation pauses
                self._set_traits({"transcript": rows}, sync=False)
                msg = self.row_diff.message(rows)
                if msg is not None:
                    self._emit(msg)
                    self.settle.changed(self._clock())
            if values:
                self._set_traits(values)
        except Exception:
            _log.exception("widget trait update failed")

    def _busy(self) -> bool:
        """A reply under way or playing, or the user speaking: not the moment for a
        full sync (a barge-in's microphone chunks would queue behind it)."""
        return (
            self.status in ("user_speaking", "model_speaking")
            or self.session.conversation.active_response_id is not None
        )

    def _sync_durable(self, *, table: bool = True) -> None:
        """``transcript`` and ``conversation_html`` (with the turn table, rebuilt if
        ``table``, else as last built) to the page, whole.

        Marked done even when it fails (logged): a deadline left in the past would make
        the timer fire again at once, forever, on the loop that carries the audio.
        """
        self.settle.synced()
        if not table:  # the table is still owed: at the next pause
            self.settle.changed(self._clock())
        try:
            rows = self._rows()
            page = conversation_html(rows)
            if table:
                self._table_html = self._turn_table()
            if page and self._table_html:
                page += self._table_html
            self._set_traits({"transcript": rows, "conversation_html": page})
        except Exception:
            _log.exception("widget durable state sync failed")
            return
        self.row_diff.synced(rows)

    def _turn_table(self) -> str:
        """The turn table's HTML ("" without pandas, while it is still importing, or if
        it fails: the rest of the state must not depend on it)."""
        pandas = _preload.ready("pandas")
        if pandas is None:  # still importing (or never asked): sync again when ready
            _preload.preload("pandas", self._table_when_ready)
            return ""
        if not pandas:
            return ""
        s = self.session
        try:
            rec = Recording(s.recorder, history=[Recording(r) for r in s.history])
            return turns_html(rec.turns())
        except Exception:
            _log.exception("widget turn table failed")
            return ""

    def _table_when_ready(self) -> None:
        """From the import thread: the next full sync (at a pause) carries the table."""
        if self._attached:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(self._table_ready)

    def _table_ready(self) -> None:
        if self._attached:
            self.settle.changed(self._clock())
            self._reschedule()

    # -- helpers -----------------------------------------------------------------------------

    def _reset_stream(self, now: float) -> None:
        """A new server session: nothing in flight belongs to it."""
        self.coalescer.reset()
        self.barge.clear()
        self.playback.reset()
        self.transcripts.reset()
        self._ptt_down = False

    def _spawn(self, coro: Coroutine[Any, Any, Any], what: str | None) -> asyncio.Task[None]:
        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if what is not None:
                    self._set_error(f"{what} failed: {self._text(exc)}")
                    self._reschedule()

        task = self.loop.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _note(
        self, type_: str, *, t: float | None = None, t_browser: float | None = None, **fields: Any
    ) -> None:
        """Log a ``widget.*`` event at kernel time ``t`` (default: now)."""
        t = self._clock() if t is None else t
        if self.session.status == "new":
            # The session moves a recorder that has events to ``history`` when it connects:
            # notes from before the first connection wait and join the first recording.
            if len(self._early_notes) < _MAX_EARLY_NOTES:
                self._early_notes.append((type_, t, t_browser, fields))
            return
        with contextlib.suppress(Exception):  # logging must never break the relay
            recorder = self.session.recorder
            if self._early_notes:
                early, self._early_notes = self._early_notes, []
                for args in early:
                    recorder.note(args[0], args[1], t_browser=args[2], **args[3])
            recorder.note(type_, t, t_browser=t_browser, **fields)

    def _kernel_time(self, t_browser: float | None, now: float) -> float:
        """A browser epoch-ms time on the kernel's monotonic clock (same host: exact up to
        clock reading; a remote browser's clock is corrected by :attr:`clock_offset_ms`)."""
        if t_browser is None:
            return now
        t = self._clock() - (self._wall() - (t_browser + self.clock_offset_ms) / 1000.0)
        return min(t, now) if math.isfinite(t) else now

    def _text(self, value: Any) -> str:
        return scrub(str(value) if value is not None else "", _secrets_of(self.session))

    @staticmethod
    def _error_text(err: dict[str, Any]) -> str:
        kind = err.get("type")
        code = err.get("code")
        message = err.get("message") or ""
        tag = "/".join(str(x) for x in (kind, code) if x)
        return f"{tag}: {message}" if tag else str(message)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _int(value: Any) -> int:
    return int(value) if _is_number(value) else 0

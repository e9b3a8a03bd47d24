"""Layer 5: :class:`Session`, the public Python API for one Realtime session.

A session ties together a connection (layer 4), the recorder that logs every
event and keeps the conversation state (layers 2-3), and the user's hooks.

Threading model: every socket operation, every state change and every hook
runs on the package's I/O thread (``_loop.py``). The public ``async`` methods
may be awaited from any event loop (the kernel's, or ``asyncio.run`` in a
worker thread): they hop to the I/O loop and back. :meth:`Session.send` and
:meth:`Session.append_audio` are plain thread-safe calls that only enqueue, for
callbacks that have no loop (comm handlers on a subshell thread).

Waiting for replies without races: :meth:`Session.wait_for` by default also
accepts a matching event that arrived after the last event this session sent,
so ``await s.send_text("hi"); await s.wait_for("response.done")`` cannot miss a
fast reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Optional, TypeVar, Union, overload

import numpy as np
import numpy.typing as npt

from ._loop import call_in_io_loop, in_io_thread, io_loop
from .connection import DEFAULT_MODEL, Connection, Endpoint, Secret
from .errors import ConnectionClosedError, RealtimeError, ServerError
from .log.recorder import Recorder
from .log.recording import Recording
from .protocol import events as ev
from .protocol.audio import SAMPLE_RATE, as_int16, load_audio
from .protocol.config import settings_to_session, validate_response_params, validate_session
from .tools import Tool, ToolChange, ToolRegistry, to_jsonable

if TYPE_CHECKING:
    from .log.event_log import EventLog
    from .server import LocalServer
    from .state.conversation import Conversation

__all__ = ["Handler", "Session", "SessionStatus"]

_log = logging.getLogger(__name__)

Event = dict[str, Any]
Handler = Callable[[Event], Optional[Awaitable[None]]]  # noqa: UP045 (runtime alias, 3.10)
AudioSink = Callable[[Event, bytes], None]
"""Called on the I/O thread with an ``response.output_audio.delta`` event and its
decoded PCM16 24 kHz audio (base64 is decoded once, by the recorder)."""
SessionStatus = Literal["new", "connecting", "connected", "closing", "closed", "failed"]
T = TypeVar("T")

# Synthetic event types the session itself dispatches to hooks (never on the wire).
CONNECTION_CLOSED = "connection.closed"
# Event-log notes (direction "widget") of the tool runner.
TOOL_CALL = "tool.call"
TOOL_RESULT = "tool.result"
TOOL_ERROR = "tool.error"
OOB_KEY = "realtime_widget_oob"
"""The ``metadata`` key that tags an :meth:`Session.ask_out_of_band` response."""
TOOLS_KEY = "realtime_widget"
"""The ``metadata`` key of the ``response.create`` that follows tool outputs."""
ACTIVE_RESPONSE = "conversation_already_has_active_response"
F = TypeVar("F", bound=Callable[..., Any])

AudioSource = Union[str, "os.PathLike[str]", bytes, npt.ArrayLike]


@dataclass
class _Waiter:
    types: frozenset[str]
    predicate: Callable[[Event], bool] | None
    future: asyncio.Future[Event]

    def matches(self, event: Event) -> bool:
        if event.get("type") not in self.types and "*" not in self.types:
            return False
        if self.predicate is None:
            return True
        try:
            return bool(self.predicate(event))
        except Exception:  # a broken predicate must not break the receive loop
            _log.exception("wait_for predicate raised")
            return False


class Session:
    """One Realtime session, over WebSocket, to OpenAI, Azure, any compatible
    server, or the bundled local server.

    >>> async with Session("local", instructions="Be brief.") as s:   # doctest: +SKIP
    ...     await s.send_text("Hello")
    ...     done = await s.wait_for("response.done")

    ``target`` is ``"local"`` (default: an in-process local server, no key
    needed), ``"openai"``, ``"azure"``, a ``ws://``/``wss://`` URL, or an
    :class:`~realtime_widget.connection.Endpoint`. Keyword ``settings`` (voice,
    instructions, turn_detection, silence_duration_ms, ...) are sent as one
    ``session.update`` right after connecting; see
    :func:`~realtime_widget.protocol.config.settings_to_session`.
    """

    def __init__(
        self,
        target: str | Endpoint = "local",
        *,
        model: str | None = None,
        api_key: str | None = None,
        azure_endpoint: str | None = None,
        deployment: str | None = None,
        headers: Mapping[str, str] | None = None,
        auto_truncate: bool = True,
        reply_timeout: float = 30.0,
        server_options: Mapping[str, Any] | None = None,
        **settings: Any,
    ):
        # Validate settings now: a typo should fail in the cell that made it.
        self._initial_session: dict[str, Any] | None = (
            settings_to_session(**settings) if settings else None
        )
        self._target = target
        self._model = model
        self._secret = Secret(api_key) if api_key else None
        self._azure_endpoint = azure_endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT")
        self._deployment = deployment
        self._headers = dict(headers or {})
        self._server_options = dict(server_options or {})
        self.auto_truncate = auto_truncate
        """On ``speech_started``, truncate the assistant item being played (barge-in)."""
        self.reply_timeout = reply_timeout

        self._recorder = Recorder()
        self._conn: Connection | None = None
        self._server: LocalServer | None = None
        self._endpoint: Endpoint | None = target if isinstance(target, Endpoint) else None
        self._status: SessionStatus = "new"
        self._closing = False
        self.close_error: ConnectionClosedError | None = None
        """Why the connection ended, if it ended unexpectedly."""

        self._hooks: dict[str, list[Handler]] = {}
        self._audio_sinks: list[AudioSink] = []
        self.history: list[Recorder] = []
        """Recorders of earlier connections: a reconnect is a new server session, so
        it gets a fresh recorder and the old one is kept here, untouched."""
        self._waiters: list[_Waiter] = []
        self._send_queue: asyncio.Queue[str | None] | None = None
        self._in_flight = 0  # texts queued for the writer and not yet on the socket
        self._tasks: list[asyncio.Task[None]] = []
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self._last_sent_index = -1
        self._pending_updates: dict[str, asyncio.Future[Event]] = {}

        self.config: dict[str, Any] = {}
        """The effective session configuration, as the server last reported it."""
        self.requested: list[dict[str, Any]] = []
        """Every ``session`` object this session sent in a ``session.update``, in order."""
        self.hook_errors: list[BaseException] = []
        self.playback_position: Callable[[str], float | None] | None = None
        """Optional ``item_id -> milliseconds played`` (None when not playing); the widget
        sets it from the browser's counters. Without it, playback is assumed to run in real
        time from the first audio delta (as in a headless client)."""
        self.dropped_after_close = 0

        self.tools = ToolRegistry()
        """Python functions the model may call (see :meth:`tool`). Changes while
        connected are sent at once as a ``session.update``."""
        self.tools.on_change(self._tools_changed)
        self._tools_lock = threading.Lock()
        self._tools_sync_scheduled = False
        self._raw_tools: list[dict[str, Any]] = []  # tool dicts given as settings
        self._tool_tasks: set[asyncio.Task[Any]] = set()
        self._handled_calls: set[str] = set()
        # In-conversation response.create events sent and not answered yet
        # (event_id, monotonic send time): a response is about to start.
        self._creates_pending: list[tuple[str | None, float]] = []

    # -- introspection ----------------------------------------------------------------

    def __repr__(self) -> str:
        where = self._endpoint.url if self._endpoint else repr(self._target)
        conv = self._recorder.conversation
        return (
            f"<Session {self._status} {where} items={len(conv.items)} "
            f"responses={len(conv.responses)} events={len(self._recorder.log)}>"
        )

    @property
    def status(self) -> SessionStatus:
        return self._status

    @property
    def url(self) -> str | None:
        return self._endpoint.url if self._endpoint else None

    @property
    def log(self) -> EventLog:
        """Every event in and out, with kernel timestamps."""
        return self._recorder.log

    @property
    def conversation(self) -> Conversation:
        """Items, responses, audio, transcripts, turns and usage so far."""
        return self._recorder.conversation

    @property
    def recorder(self) -> Recorder:
        return self._recorder

    @property
    def initial_session(self) -> dict[str, Any] | None:
        """The GA ``session`` object sent as one ``session.update`` right after each
        connect (from the constructor's settings), or None. Settable before connecting
        (validated; a :class:`~realtime_widget.errors.ConfigError` names a bad field)."""
        return None if self._initial_session is None else dict(self._initial_session)

    @initial_session.setter
    def initial_session(self, value: Mapping[str, Any] | None) -> None:
        self._initial_session = None if value is None else validate_session(value)

    @property
    def recording(self) -> Recording:
        """The inspection API over this connection (a live view: tables are computed
        from what has been recorded when called): events as a DataFrame, turns and
        latencies, usage and cost, settings history, audio, timeline, :meth:`save`.
        Earlier connections of this session are in its ``history``."""
        return Recording(self._recorder, history=[Recording(r) for r in self.history])

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write every connection of this session to one file (see ``realtime_widget.load``)."""
        return self.recording.save(path)

    def _connection_info(self, endpoint: Endpoint) -> dict[str, Any]:
        """What a saved recording says about its connection: never a key or a query."""
        url = endpoint.url.split("?", 1)[0]
        target = self._target if isinstance(self._target, str) else "endpoint"
        if "://" in target:
            target = "url"
        return {
            "target": target,
            "provider": endpoint.provider,
            "url": url,
            "model": self._model or endpoint.model,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "realtime_widget": _version(),
        }

    @property
    def server(self) -> LocalServer | None:
        """The in-process local server, when the target is ``"local"``."""
        return self._server

    # -- hooks --------------------------------------------------------------------------

    def on(self, type_: str, handler: Handler | None = None) -> Any:
        """Call ``handler(event)`` for every server event of ``type_`` (``"*"`` = all).

        Usable as a decorator. Handlers run on the I/O thread: keep sync ones
        short; ``async`` ones run as tasks. An exception in a handler is logged
        and kept in :attr:`hook_errors`; it never stops the session. The
        synthetic type ``"connection.closed"`` fires when the socket ends.
        """

        def register(fn: Handler) -> Handler:
            self._hooks.setdefault(type_, []).append(fn)
            return fn

        if handler is None:
            return register
        return register(handler)

    def off(self, type_: str, handler: Handler) -> None:
        handlers = self._hooks.get(type_, [])
        if handler in handlers:
            handlers.remove(handler)

    def add_audio_sink(self, sink: AudioSink) -> None:
        """Receive every model audio delta as decoded PCM16 24 kHz bytes.

        The sink runs on the I/O thread before the event's hooks; it must be
        quick and must not raise (an exception is kept in :attr:`hook_errors`).
        """
        self._audio_sinks.append(sink)

    def remove_audio_sink(self, sink: AudioSink) -> None:
        if sink in self._audio_sinks:
            self._audio_sinks.remove(sink)

    # -- connect / close -------------------------------------------------------------

    async def __aenter__(self) -> Session:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, timeout: float = 20.0) -> Session:
        """Open the socket, wait for ``session.created``, send the initial settings."""
        await call_in_io_loop(self._connect(timeout))
        return self

    def _resolve_endpoint(self) -> Endpoint | None:
        target = self._target
        if isinstance(target, Endpoint):
            return target
        if target == "openai":
            return Endpoint.openai(
                self._model or DEFAULT_MODEL, self._secret, headers=self._headers
            )
        if target == "azure":
            if not self._azure_endpoint or not (self._deployment or self._model):
                raise RealtimeError(
                    "Azure needs azure_endpoint=... (or AZURE_OPENAI_ENDPOINT) and deployment=..."
                )
            return Endpoint.azure(
                self._azure_endpoint,
                self._deployment or self._model or "",
                self._secret,
                headers=self._headers,
            )
        if target == "local":
            return None
        if "://" in target:
            return Endpoint.custom(target, self._secret, model=self._model, headers=self._headers)
        raise RealtimeError(
            f"unknown target {target!r}: use 'local', 'openai', 'azure', a ws:// URL or an Endpoint"
        )

    async def _connect(self, timeout: float) -> None:
        if self._status in ("connecting", "connected"):
            raise RealtimeError(f"session is already {self._status}")
        self._status = "connecting"
        self._closing = False
        if len(self._recorder.log):
            self.history.append(self._recorder)
            self._recorder = Recorder()
        self.close_error = None
        try:
            endpoint = self._resolve_endpoint()
            if endpoint is None:
                from .server import LocalServer  # the server is optional machinery

                options = {"model": self._model or "gpt-realtime-local", **self._server_options}
                self._server = LocalServer(**options)
                url = await self._server.start()
                endpoint = Endpoint.custom(url, model=self._model)
            self._endpoint = endpoint
            self._recorder.info = self._connection_info(endpoint)
            self._conn = Connection(endpoint, open_timeout=timeout)
            created = self._expect(["session.created"], None)
            await self._conn.open()
            self._send_queue = asyncio.Queue()
            self._in_flight = 0
            self._tasks = [
                asyncio.create_task(self._reader(), name="realtime-widget-reader"),
                asyncio.create_task(self._writer(), name="realtime-widget-writer"),
            ]
            first = await self._await_waiter(created, timeout, "session.created")
            self.config = dict(first.get("session") or {})
            self._status = "connected"
        except BaseException:
            self._status = "failed"
            await self._teardown()
            raise
        initial = self._initial_session
        if len(self.tools) or self._raw_tools:
            initial = self._with_registry_tools(initial or {"type": "realtime"})
        if initial is not None:
            await self._update(initial, timeout)

    async def close(self) -> None:
        """Close the socket (and the in-process server). Recorded data stays."""
        await call_in_io_loop(self._close())

    async def _close(self) -> None:
        if self._status in ("closed", "new"):
            await self._teardown()
            return
        self._closing = True
        self._status = "closing"
        if self._conn is not None:
            try:
                await self._conn.close()
            except Exception:  # closing a broken socket must not raise from close()
                _log.debug("error while closing", exc_info=True)
        await self._teardown()
        self._status = "closed"

    async def _teardown(self) -> None:
        for task in [*self._tasks, *self._tool_tasks]:
            task.cancel()
        self._tool_tasks.clear()
        self._creates_pending.clear()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._server is not None:
            await self._server.stop()
            self._server = None
        self._fail_waiters(self.close_error or ConnectionClosedError("the session was closed"))

    # -- the socket loops ------------------------------------------------------------------

    async def _writer(self) -> None:
        assert self._send_queue is not None
        assert self._conn is not None
        queue, conn = self._send_queue, self._conn
        while True:
            text = await queue.get()
            if text is None:
                return
            try:
                await conn.send_text(text)
            except ConnectionClosedError:
                return  # the reader reports the close
            finally:
                self._in_flight -= 1

    async def _reader(self) -> None:
        assert self._conn is not None
        conn, recorder = self._conn, self._recorder
        try:
            while True:
                frame = await conn.recv()
                for received in recorder.receive(frame, time.monotonic()):
                    if received.audio is not None and self._audio_sinks:
                        self._feed_sinks(received.event, received.audio)
                    self._dispatch(received.event)
        except ConnectionClosedError as exc:
            self._on_closed(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in dispatch must surface, not hang the session
            _log.exception("receive loop failed")
            self._on_closed(ConnectionClosedError(f"receive loop failed: {exc!r}"))

    def _feed_sinks(self, event: Event, audio: bytes) -> None:
        for sink in self._audio_sinks:
            try:
                sink(event, audio)
            except Exception as exc:
                self._hook_failed(sink, exc)

    def _on_closed(self, exc: ConnectionClosedError) -> None:
        expected = self._closing and (exc.code in (1000, None))
        if not expected:
            self.close_error = exc
        self._status = "closed" if self._closing else "failed"
        self._recorder.note(
            CONNECTION_CLOSED,
            time.monotonic(),
            code=exc.code,
            reason=exc.reason,
            message=str(exc),
            expected=expected,
        )
        self._fail_waiters(exc)
        self._call_hooks(
            {
                "type": CONNECTION_CLOSED,
                "code": exc.code,
                "reason": exc.reason,
                "message": str(exc),
                "expected": expected,
            }
        )

    def _fail_waiters(self, exc: BaseException) -> None:
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.future.done():
                w.future.set_exception(exc)
        pending, self._pending_updates = self._pending_updates, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(exc)

    # -- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, event: Event) -> None:
        type_ = event.get("type")
        if type_ in ("session.created", "session.updated"):
            session = event.get("session")
            if isinstance(session, dict):
                self.config = session
            if type_ == "session.updated" and self._pending_updates:
                # session.updated does not echo event_id: updates resolve in order.
                first = next(iter(self._pending_updates))
                fut = self._pending_updates.pop(first)
                if not fut.done():
                    fut.set_result(event)
        elif type_ == "error":
            err = event.get("error") or {}
            eid = err.get("event_id") if isinstance(err, dict) else None
            if eid and eid in self._pending_updates:
                fut = self._pending_updates.pop(eid)
                if not fut.done():
                    fut.set_exception(ServerError(err))
        elif type_ == "input_audio_buffer.speech_started" and self.auto_truncate:
            self._barge_in()
        if type_ in ("response.created", "response.done", "error"):
            self._track_responses(event)
        if self._waiters:
            still: list[_Waiter] = []
            for w in self._waiters:
                if w.future.done():
                    continue
                if w.matches(event):
                    w.future.set_result(event)
                else:
                    still.append(w)
            self._waiters = still
        self._call_hooks(event)

    def _call_hooks(self, event: Event) -> None:
        type_ = event.get("type", "")
        handlers = [*self._hooks.get(type_, ()), *self._hooks.get("*", ())]
        for handler in handlers:
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._hook_tasks.add(task)
                    task.add_done_callback(self._hook_done)
            except Exception as exc:
                self._hook_failed(handler, exc)

    def _hook_done(self, task: asyncio.Future[Any]) -> None:
        self._hook_tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            self._hook_failed(None, exc)

    def _hook_failed(self, handler: Any, exc: BaseException) -> None:
        self.hook_errors.append(exc)
        name = getattr(handler, "__qualname__", repr(handler)) if handler else "async hook"
        _log.error("hook %s raised %r", name, exc)
        self._recorder.note("hook.error", time.monotonic(), handler=name, error=repr(exc))

    # -- barge-in -------------------------------------------------------------------------

    def _played_ms(self, item_id: str) -> float | None:
        """Milliseconds of ``item_id`` heard so far, or None if it is not playing."""
        if self.playback_position is not None:
            return self.playback_position(item_id)
        return self.estimated_played_ms(item_id)

    def estimated_played_ms(self, item_id: str) -> float | None:
        """Wall-clock estimate of how much of ``item_id`` was heard: playback assumed to
        start at its first audio delta and run in real time. None when not playing."""
        conv = self._recorder.conversation
        try:
            item = conv.item(item_id)
        except KeyError:
            return None
        t_first, audio_ms = item.t_first_audio, item.audio_ms
        if t_first is None or not audio_ms:
            return None
        played = (time.monotonic() - t_first) * 1000.0
        if played >= audio_ms:
            return None  # finished playing: nothing to cut
        return played

    def _barge_in(self) -> None:
        conv = self._recorder.conversation
        item_id = conv.last_assistant_audio_item()
        if item_id is None:
            return
        try:
            item = conv.item(item_id)
        except KeyError:
            return
        if item.truncated_ms is not None:
            return
        played = self._played_ms(item_id)
        if played is None:
            return
        td = self.config.get("audio", {}).get("input", {}).get("turn_detection") or {}
        if not td.get("interrupt_response", True) and conv.active_response_id:
            self._enqueue(ev.response_cancel(conv.active_response_id))
        truncate = conv.truncate_event(item_id, played)
        if truncate is not None:
            self._enqueue(truncate)

    # -- sending -----------------------------------------------------------------------

    def _enqueue(self, event: Event, audio: bytes | None = None) -> None:
        """Record and queue one client event. Runs on the I/O loop only."""
        if self._send_queue is None or self._status not in ("connected", "connecting"):
            raise ConnectionClosedError(
                f"cannot send {event.get('type')}: the session is {self._status}"
                + (f" ({self.close_error})" if self.close_error else "")
            )
        text = self._recorder.send(event, time.monotonic(), audio=audio)
        self._last_sent_index = len(self._recorder.log) - 1
        if event.get("type") == "response.create":
            self._create_sent(event)
        queue = self._send_queue
        # Straight onto the socket when nothing is in flight; otherwise the queue
        # keeps order (an item taken by the writer still counts until it is sent).
        if self._in_flight == 0 and self._conn is not None and self._conn.send_text_now(text):
            return
        self._in_flight += 1
        queue.put_nowait(text)

    def send(self, event: Mapping[str, Any]) -> None:
        """Queue any client event (a dict as on the wire). Thread-safe, non-blocking.

        Unknown event types are sent as given: the server will answer with an
        ``error`` event if it does not know them.
        """
        if not isinstance(event, Mapping) or not isinstance(event.get("type"), str):
            raise TypeError("an event is a mapping with a string 'type'")
        self._run_soon(self._enqueue, dict(event))

    def append_audio(
        self, pcm: bytes | memoryview | npt.ArrayLike, *, t_browser: float | None = None
    ) -> None:
        """Queue one ``input_audio_buffer.append`` of 24 kHz PCM16 (bytes or array).

        Thread-safe and non-blocking: the microphone path. Converted to the
        session's input format (µ-law/A-law) on the wire if it is not PCM. Audio sent after
        the session closed is counted in :attr:`dropped_after_close`. ``t_browser``
        (the widget's capture time, epoch ms) is kept in the log entry of the append.
        """
        data = self._encode_input(pcm)
        self._run_soon(self._append_now, data, t_browser)

    def _append_now(self, data: bytes, t_browser: float | None = None) -> None:
        if self._status != "connected":
            self.dropped_after_close += 1
            return
        self._enqueue({"type": "input_audio_buffer.append"}, audio=data)
        if t_browser is not None:
            self._recorder.log.set_t_browser(self._last_sent_index, t_browser)

    def _run_soon(self, fn: Callable[..., None], *args: Any) -> None:
        if in_io_thread():
            fn(*args)
        else:
            io_loop().call_soon_threadsafe(self._guarded, fn, *args)

    def _guarded(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except ConnectionClosedError:
            self.dropped_after_close += 1

    @staticmethod
    def _encode_input(pcm: bytes | memoryview | npt.ArrayLike) -> bytes:
        """Samples → PCM16 24 kHz bytes (the recorder converts to G.711 for the wire)."""
        if isinstance(pcm, (bytes, bytearray, memoryview)):
            return bytes(pcm)
        return as_int16(pcm).astype("<i2", copy=False).tobytes()

    async def _send(self, *events: Event) -> str | None:
        async def go() -> str | None:
            for e in events:
                self._enqueue(e)
            return events[-1].get("event_id") if events else None

        return await call_in_io_loop(go())

    async def update(self, timeout: float | None = None, **settings: Any) -> dict[str, Any]:
        """Send a ``session.update`` and return the effective config the server applied.

        Settings are validated first (a :class:`~realtime_widget.errors.ConfigError`
        names the field and the allowed values, and nothing is sent). A refusal
        by the server raises :class:`~realtime_widget.errors.ServerError`.
        """
        session = settings_to_session(**settings)
        return await call_in_io_loop(self._update(session, timeout or self.reply_timeout))

    async def _update(self, session: dict[str, Any], timeout: float) -> dict[str, Any]:
        if "tools" in session:
            session = self._with_registry_tools(session)
        eid = ev.new_id("evt")
        fut: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._pending_updates[eid] = fut
        self.requested.append(session)
        try:
            self._enqueue(ev.session_update(session, event_id=eid))
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            self._pending_updates.pop(eid, None)
            raise RealtimeError(f"no session.updated within {timeout} s") from None
        except BaseException:
            self._pending_updates.pop(eid, None)
            raise
        return self.config

    async def send_text(self, text: str, *, respond: bool = True, role: str = "user") -> str:
        """Add a text message to the conversation and (by default) ask for a response.

        Returns the ``event_id`` of the ``conversation.item.create``.
        """
        eid = ev.new_id("evt")
        events = [ev.conversation_item_create(ev.user_text_item(text, role=role), event_id=eid)]
        if respond:
            events.append(ev.response_create())
        await self._send(*events)
        return eid

    async def send_audio(
        self,
        source: AudioSource,
        *,
        rate: int | None = None,
        realtime: bool = True,
        chunk_ms: int = 40,
        commit: bool | None = None,
        respond: bool | None = None,
        trailing_silence_ms: int = 0,
    ) -> float:
        """Append audio from an array (at ``rate``, default 24 kHz) or a WAV path/bytes.

        ``realtime=True`` paces the appends like a microphone; ``False`` sends as
        fast as the socket allows. ``commit`` defaults to True when turn
        detection is off (manual turns) and False otherwise; ``respond`` (default:
        same as commit) sends ``response.create`` after the commit.
        ``trailing_silence_ms`` appends silence after the audio, which lets a
        server VAD see the end of the turn. Returns the milliseconds sent.
        """
        if rate or not isinstance(source, np.ndarray):
            samples = load_audio(source, rate)
        else:
            samples = as_int16(source)
        if trailing_silence_ms > 0:
            pad = np.zeros(int(trailing_silence_ms * SAMPLE_RATE / 1000), dtype=np.int16)
            samples = np.concatenate([samples, pad])
        return await call_in_io_loop(self._send_audio(samples, realtime, chunk_ms, commit, respond))

    async def _send_audio(
        self,
        samples: npt.NDArray[np.int16],
        realtime: bool,
        chunk_ms: int,
        commit: bool | None,
        respond: bool | None,
    ) -> float:
        if chunk_ms <= 0:
            raise ValueError("chunk_ms must be positive")
        step = int(SAMPLE_RATE * chunk_ms / 1000)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i, offset in enumerate(range(0, len(samples), step)):
            self._enqueue(
                {"type": "input_audio_buffer.append"},
                audio=self._encode_input(samples[offset : offset + step]),
            )
            if realtime:
                due = start + (i + 1) * chunk_ms / 1000.0
                await asyncio.sleep(max(0.0, due - loop.time()))
            elif i % 16 == 15:
                await asyncio.sleep(0)  # let the reader run during a long burst
        manual = self.config.get("audio", {}).get("input", {}).get("turn_detection") is None
        do_commit = manual if commit is None else commit
        if do_commit:
            self._enqueue(ev.input_audio_buffer_commit())
            if respond if respond is not None else True:
                self._enqueue(ev.response_create())
        elif respond:
            self._enqueue(ev.response_create())
        return len(samples) * 1000.0 / SAMPLE_RATE

    async def commit(self, *, respond: bool = False) -> None:
        """Commit the input buffer (manual turns; the server needs ≥ 100 ms)."""
        events = [ev.input_audio_buffer_commit()]
        if respond:
            events.append(ev.response_create())
        await self._send(*events)

    async def clear_input(self) -> None:
        await self._send(ev.input_audio_buffer_clear())

    async def create_response(self, **overrides: Any) -> str:
        """Ask for a response; keyword overrides (instructions, output_modalities,
        conversation="none", metadata, tools, ...) apply to this response only.
        Returns the event_id."""
        params = validate_response_params(overrides) if overrides else None
        eid = ev.new_id("evt")
        await self._send(ev.response_create(params, event_id=eid))
        return eid

    async def cancel_response(self, response_id: str | None = None) -> None:
        await self._send(ev.response_cancel(response_id))

    async def truncate(
        self, item_id: str | None = None, audio_end_ms: float | None = None
    ) -> Event | None:
        """Truncate an assistant audio item at ``audio_end_ms`` (clamped to what was received).

        Defaults: the last assistant item with audio, cut at the playback position.
        Returns the event sent, or None when there was nothing to truncate.
        """

        async def go() -> Event | None:
            conv = self._recorder.conversation
            target = item_id or conv.last_assistant_audio_item()
            if target is None:
                return None
            ms = audio_end_ms if audio_end_ms is not None else self._played_ms(target)
            if ms is None:
                return None
            event = conv.truncate_event(target, ms)
            if event is not None:
                self._enqueue(event)
            return event

        return await call_in_io_loop(go())

    async def send_function_output(
        self, call_id: str, output: str | Mapping[str, Any], *, respond: bool = True
    ) -> None:
        """Return a tool result to the model (``function_call_output``) and, by
        default, ask for the follow-up response."""
        text = output if isinstance(output, str) else json.dumps(output)
        events = [ev.conversation_item_create(ev.function_call_output_item(call_id, text))]
        if respond:
            events.append(ev.response_create())
        await self._send(*events)

    async def retrieve_item(self, item_id: str, timeout: float | None = None) -> Event:
        """Fetch an item from the server (with its audio) and return the event."""
        mark = self.mark()
        await self._send(ev.conversation_item_retrieve(item_id))
        return await self.wait_for(
            "conversation.item.retrieved",
            lambda e: (e.get("item") or {}).get("id") == item_id,
            timeout=timeout,
            since=mark,
        )

    async def delete_item(self, item_id: str) -> None:
        await self._send(ev.conversation_item_delete(item_id))

    # -- tools ----------------------------------------------------------------------------

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = 30.0,
        enabled: bool = True,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = 30.0,
        enabled: bool = True,
    ) -> Any:
        """Register a typed Python function (sync or async) as a function tool.

        >>> @session.tool                                   # doctest: +SKIP
        ... def get_weather(city: str, unit: Literal["C", "F"] = "C") -> dict:
        ...     '''Current weather for a city.'''

        ``@session.tool(name=..., description=..., timeout=...)`` sets those. The
        JSON schema comes from the type hints and the docstring
        (:func:`realtime_widget.tools.function_schema`); the function is returned
        unchanged. When the model calls it (seen at ``response.done``), the
        arguments are validated and converted, the function runs (``async`` ones
        on the session's I/O loop, so they must not block; sync ones in a worker
        thread) with ``timeout`` seconds, and the result goes back as a
        ``function_call_output`` (JSON), or ``{"error": ..., "type": ...}`` on a
        bad argument, an exception or a timeout; then one ``response.create``
        asks the model to go on, once no other response is active.
        """

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self.tools.add(f, name=name, description=description, timeout=timeout, enabled=enabled)
            return f

        if fn is None:
            return register
        return register(fn)

    async def sync_tools(self, timeout: float | None = None) -> dict[str, Any]:
        """Send the enabled tools now (one ``session.update``) and return the effective
        config. Changes to :attr:`tools` are sent automatically; this waits for them."""
        return await call_in_io_loop(
            self._update(self._tools_session(), timeout or self.reply_timeout)
        )

    def _tools_changed(self, change: ToolChange) -> None:
        """Registry listener (any thread): coalesce changes into one ``session.update``."""
        if self._status not in ("connecting", "connected"):
            return  # sent with the initial update on connect
        with self._tools_lock:
            if self._tools_sync_scheduled:
                return
            self._tools_sync_scheduled = True
        loop = io_loop()
        if in_io_thread():
            loop.call_soon(self._send_tools_now)
        else:
            loop.call_soon_threadsafe(self._send_tools_now)

    def _send_tools_now(self) -> None:
        with self._tools_lock:
            self._tools_sync_scheduled = False
        if self._status != "connected" or self.config.get("type") == "transcription":
            return
        self._spawn(self._update(self._tools_session(), self.reply_timeout), "tools update")

    def _tools_session(self) -> dict[str, Any]:
        """A ``session.update`` body with the tools and the tool choice as set."""
        session = self._with_registry_tools({"type": "realtime"})
        choice = next(
            (r["tool_choice"] for r in reversed(self.requested) if "tool_choice" in r),
            self.config.get("tool_choice"),
        )
        if isinstance(choice, Mapping) and choice.get("type") == "function":
            names = {t.get("name") for t in session["tools"]}
            if choice.get("name") not in names:
                # The forced tool is gone: the server would refuse the whole update.
                self._recorder.note(
                    TOOL_ERROR,
                    time.monotonic(),
                    name=choice.get("name"),
                    error="forced tool_choice names a tool no longer enabled: sent 'auto'",
                )
                choice = "auto"
        if choice is not None:
            session["tool_choice"] = choice
        return session

    def _with_registry_tools(self, session: dict[str, Any]) -> dict[str, Any]:
        """``session`` with its ``tools`` = the dict tools it names (remembered as the
        session's other tools) + the registry's enabled tools (a registry tool wins over
        a dict of the same name)."""
        given = session.get("tools", self._raw_tools) or []
        registry = set(self.tools.names)
        self._raw_tools = [
            t
            for t in given
            if not (
                isinstance(t, Mapping)
                and t.get("type", "function") == "function"
                and t.get("name") in registry
            )
        ]
        return {**session, "tools": [*self._raw_tools, *self.tools.definitions()]}

    def _spawn(self, coro: Awaitable[Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tool_tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tool_tasks.discard(t)
            exc = None if t.cancelled() else t.exception()
            if exc is not None:
                _log.warning("%s failed: %r", what, exc)
                self._recorder.note(TOOL_ERROR, time.monotonic(), what=what, error=repr(exc))

        task.add_done_callback(done)
        return task

    # Responses about to start (so that a tool follow-up never collides with one).

    def _create_sent(self, event: Event) -> None:
        params = event.get("response")
        if isinstance(params, Mapping) and params.get("conversation") == "none":
            return
        self._creates_pending.append((event.get("event_id"), time.monotonic()))

    def _track_responses(self, event: Event) -> None:
        type_ = event.get("type")
        pending = self._creates_pending
        if type_ == "response.created":
            rid = (event.get("response") or {}).get("id")
            response = self._recorder.conversation.responses.get(rid) if rid else None
            if pending and not (response is not None and response.out_of_band):
                pending.pop(0)
        elif type_ == "error":
            err = event.get("error") or {}
            eid = err.get("event_id") if isinstance(err, Mapping) else None
            for i, (sent_id, _) in enumerate(pending):
                if eid is not None and sent_id == eid:
                    del pending[i]
                    break
            else:
                if pending and isinstance(err, Mapping) and err.get("code") == ACTIVE_RESPONSE:
                    pending.pop(0)
        elif type_ == "response.done":
            self._tool_calls_of(event)

    def _response_starting(self) -> bool:
        """A response is active or a ``response.create`` of ours is not answered yet."""
        if self._recorder.conversation.active_response_id is not None:
            return True
        horizon = time.monotonic() - self.reply_timeout
        self._creates_pending[:] = [p for p in self._creates_pending if p[1] >= horizon]
        return bool(self._creates_pending)

    async def _until_no_response(self, timeout: float) -> None:
        """Wait until no in-conversation response is active or about to start."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._response_starting():
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"a response was still active after {timeout} s")
            w = self._expect(["response.done", "response.created", "error"], None)
            await self._await_waiter(w, left, "the end of the active response")

    # Running the model's calls.

    def _tool_calls_of(self, event: Event) -> None:
        """At ``response.done``: run the function calls of registered tools."""
        response = event.get("response")
        if not isinstance(response, Mapping):
            return
        rid = response.get("id")
        known = self._recorder.conversation.responses.get(rid) if isinstance(rid, str) else None
        if known is not None and known.out_of_band:
            return  # an out-of-band answer is the caller's business
        if response.get("status") in ("cancelled", "failed"):
            return  # interrupted: the model did not mean it (and the user spoke)
        calls: list[Mapping[str, Any]] = []
        for item in response.get("output") or []:
            if not isinstance(item, Mapping) or item.get("type") != "function_call":
                continue
            call_id = item.get("call_id")
            if item.get("name") not in self.tools or not isinstance(call_id, str):
                continue  # not ours: left to hooks and send_function_output
            if call_id in self._handled_calls or item.get("status", "completed") != "completed":
                continue
            self._handled_calls.add(call_id)
            calls.append(item)
        if calls:
            self._spawn(self._run_tool_batch(str(rid), calls), "tool calls")

    async def _run_tool_batch(self, response_id: str, calls: list[Mapping[str, Any]]) -> None:
        outputs = await asyncio.gather(*(self._run_tool_call(c, response_id) for c in calls))
        if self._status != "connected":
            return
        for call, output in zip(calls, outputs, strict=True):
            item = ev.function_call_output_item(str(call["call_id"]), output)
            self._enqueue(ev.conversation_item_create(item))
        await self._respond_after_tools([str(c["call_id"]) for c in calls])

    async def _run_tool_call(self, call: Mapping[str, Any], response_id: str) -> str:
        name, call_id = str(call.get("name")), str(call.get("call_id"))
        note: dict[str, Any] = {"name": name, "call_id": call_id, "item_id": call.get("id")}
        self._recorder.note(
            TOOL_CALL,
            time.monotonic(),
            **note,
            response_id=response_id,
            arguments=call.get("arguments"),
        )
        t0 = time.monotonic()
        result: Any = None
        error: dict[str, Any] | None = None
        tool = self.tools.get(name)
        if tool is None or not tool.enabled:
            state = "was removed" if tool is None else "is disabled"
            error = {"error": f"the tool {name!r} {state}", "type": "ToolUnavailable"}
        else:
            try:
                result = await self._call_tool(tool, call.get("arguments"))
            except asyncio.TimeoutError:
                error = {
                    "error": f"{name} did not finish within {tool.timeout:g} s",
                    "type": "TimeoutError",
                }
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                from .tools import ToolArgumentsError

                kind = "InvalidArguments" if isinstance(exc, ToolArgumentsError) else None
                error = {"error": str(exc) or repr(exc), "type": kind or type(exc).__name__}
        output: str
        if error is None:
            try:
                output = json.dumps(to_jsonable(result), ensure_ascii=False, default=str)
            except (TypeError, ValueError) as exc:
                error = {"error": f"the result is not JSON: {exc}", "type": "InvalidResult"}
        if error is not None:
            output = json.dumps(error, ensure_ascii=False)
        self._recorder.note(
            TOOL_RESULT,
            time.monotonic(),
            **note,
            duration_ms=round((time.monotonic() - t0) * 1000.0, 3),
            error=None if error is None else error["error"],
            error_type=None if error is None else error["type"],
            output=output if len(output) <= 2000 else output[:2000] + "…",
        )
        return output

    @staticmethod
    async def _call_tool(tool: Tool, arguments: Any) -> Any:
        kwargs = tool.parse(arguments if isinstance(arguments, (str, Mapping)) else None)

        async def run() -> Any:
            if tool.is_async:
                result = tool.fn(**kwargs)
            else:
                # A worker thread: a slow or blocking function never stalls the audio.
                result = await asyncio.to_thread(tool.fn, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        if tool.timeout is None:
            return await run()
        return await asyncio.wait_for(run(), tool.timeout)

    async def _respond_after_tools(self, call_ids: list[str]) -> None:
        """One ``response.create`` for a batch of outputs, when no response is active;
        retried once if the server still had one (a VAD response that started meanwhile)."""
        metadata = {TOOLS_KEY: "tool_outputs", "call_ids": ",".join(call_ids)[:512]}
        for attempt in (1, 2):
            try:
                await self._until_no_response(max(self.reply_timeout, 60.0))
            except TimeoutError as exc:
                self._recorder.note(TOOL_ERROR, time.monotonic(), error=str(exc))
                return
            eid = ev.new_id("evt")

            def ours(e: Event, eid: str = eid) -> bool:
                return (e.get("error") or {}).get("event_id") == eid

            def created(e: Event) -> bool:
                md = (e.get("response") or {}).get("metadata")
                return md is None or (isinstance(md, Mapping) and md.get(TOOLS_KEY) is not None)

            w_created = self._expect(["response.created"], created)
            w_error = self._expect(["error"], ours)
            self._enqueue(ev.response_create({"metadata": metadata}, event_id=eid))
            try:
                first = await self._first_of([w_created, w_error], self.reply_timeout)
            except TimeoutError:
                return
            if first.get("type") != "error":
                return
            code = (first.get("error") or {}).get("code")
            if code != ACTIVE_RESPONSE or attempt == 2:
                self._recorder.note(
                    TOOL_ERROR, time.monotonic(), error=f"response.create refused: {code}"
                )
                return

    async def _first_of(self, waiters: list[_Waiter], timeout: float | None) -> Event:
        """The event of whichever waiter matches first; the others are dropped."""
        try:
            done, _ = await asyncio.wait(
                [asyncio.shield(w.future) for w in waiters],
                timeout=timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                raise TimeoutError(f"nothing within {timeout} s")
            return next(iter(done)).result()
        finally:
            for w in waiters:
                if w in self._waiters:
                    self._waiters.remove(w)
                if not w.future.done():
                    w.future.cancel()

    # -- out-of-band ---------------------------------------------------------------------

    async def ask_out_of_band(
        self,
        instructions: str,
        *,
        output_modalities: Sequence[str] = ("text",),
        input: Sequence[str | Mapping[str, Any]] | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **overrides: Any,
    ) -> str:
        """Ask for a response outside the conversation (``conversation: "none"``) and
        return its text (output text, or the audio transcript).

        The conversation is left untouched: nothing is added to it and the model's
        context stays as it was. ``instructions`` is what to do ("Summarize the
        conversation"). ``input`` replaces the context for this answer: item ids
        (references to conversation items) and/or item dicts; None (default) lets
        the model see the whole conversation. A unique ``metadata`` tag tells
        parallel asks apart. Other keyword ``overrides`` go into the
        ``response.create`` (``tool_choice`` defaults to ``"none"``: the answer is
        text). Raises ``TimeoutError``, :class:`~realtime_widget.errors.ServerError`
        if refused, or :class:`~realtime_widget.errors.RealtimeError` if the
        response was cancelled or failed.
        """
        tag = ev.new_id("oob")
        md = {**(metadata or {}), OOB_KEY: tag}
        params: dict[str, Any] = {
            "conversation": "none",
            "instructions": instructions,
            "output_modalities": list(output_modalities),
            "metadata": md,
            "tool_choice": "none",
            **overrides,
        }
        if input is not None:
            if isinstance(input, (str, Mapping)):
                raise TypeError("input is a list of item ids and/or item dicts")
            params["input"] = [
                {"type": "item_reference", "id": x} if isinstance(x, str) else dict(x)
                for x in input
            ]
        params = validate_response_params(params)  # a ConfigError sends nothing
        limit = self.reply_timeout if timeout is None else timeout
        return await call_in_io_loop(self._ask_out_of_band(params, tag, limit))

    async def _ask_out_of_band(self, params: dict[str, Any], tag: str, timeout: float) -> str:
        if self._status != "connected":
            raise self.close_error or ConnectionClosedError(f"the session is {self._status}")
        eid = ev.new_id("evt")

        def done(e: Event) -> bool:
            md = (e.get("response") or {}).get("metadata")
            return isinstance(md, Mapping) and md.get(OOB_KEY) == tag

        def refused(e: Event) -> bool:
            return (e.get("error") or {}).get("event_id") == eid

        waiters = [self._expect(["response.done"], done), self._expect(["error"], refused)]
        self._enqueue(ev.response_create(params, event_id=eid))
        try:
            event = await self._first_of(waiters, timeout)
        except TimeoutError:
            raise TimeoutError(f"no out-of-band response.done within {timeout} s") from None
        if event.get("type") == "error":
            raise ServerError(event.get("error") or {})
        response = event.get("response") or {}
        status = response.get("status")
        if status in ("cancelled", "failed"):
            details = response.get("status_details") or {}
            if status == "failed" and isinstance(details.get("error"), Mapping):
                raise ServerError(dict(details["error"]))
            raise RealtimeError(f"the out-of-band response ended {status}: {details}")
        return self._response_text(response)

    def _response_text(self, response: Mapping[str, Any]) -> str:
        """Text or audio transcript of a response's message items."""
        conv = self._recorder.conversation
        texts: list[str] = []
        for entry in response.get("output") or []:
            if not isinstance(entry, Mapping) or entry.get("type") != "message":
                continue
            text = ev.text_of_content(entry.get("content") or [])
            if not text and isinstance(entry.get("id"), str):
                try:
                    text = conv.item(entry["id"]).text
                except KeyError:
                    text = ""
            texts.append(text)
        return "".join(texts)

    # -- waiting ---------------------------------------------------------------------------

    def mark(self) -> int:
        """The current position in the event log, for ``wait_for(since=...)``."""
        return len(self._recorder.log)

    def _expect(self, types: Iterable[str], predicate: Callable[[Event], bool] | None) -> _Waiter:
        fut: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        w = _Waiter(frozenset(types), predicate, fut)
        self._waiters.append(w)
        return w

    async def _await_waiter(self, w: _Waiter, timeout: float | None, what: str) -> Event:
        try:
            return await asyncio.wait_for(asyncio.shield(w.future), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no {what} within {timeout} s") from None
        finally:
            if w in self._waiters:
                self._waiters.remove(w)

    async def wait_for(
        self,
        types: str | Iterable[str],
        predicate: Callable[[Event], bool] | None = None,
        *,
        timeout: float | None = None,
        since: int | Literal["now"] | None = None,
    ) -> Event:
        """Wait for a server event of the given type(s) (optionally matching ``predicate``).

        ``since``: None (default) also accepts an event received after the last
        event this session sent; an int accepts any event logged at or after
        that position (see :meth:`mark`); ``"now"`` only future events.
        Raises ``TimeoutError`` after ``timeout`` seconds (default
        :attr:`reply_timeout`) and ConnectionClosedError if the socket ends.
        """
        wanted = frozenset([types] if isinstance(types, str) else types)
        limit = self.reply_timeout if timeout is None else timeout
        return await call_in_io_loop(self._wait_for(wanted, predicate, limit, since))

    async def _wait_for(
        self,
        wanted: frozenset[str],
        predicate: Callable[[Event], bool] | None,
        timeout: float,
        since: int | Literal["now"] | None,
    ) -> Event:
        start = self._last_sent_index + 1 if since is None else since
        if isinstance(start, int):
            log = self._recorder.log
            for i in range(max(0, start), len(log)):
                rec = log[i]
                if rec.direction != "server" or (rec.type not in wanted and "*" not in wanted):
                    continue
                payload = rec.payload
                if predicate is None or predicate(payload):
                    return payload
        if self._status != "connected":
            raise self.close_error or ConnectionClosedError(f"the session is {self._status}")
        w = self._expect(wanted, predicate)
        return await self._await_waiter(w, timeout, " or ".join(sorted(wanted)))

    # -- conveniences ----------------------------------------------------------------------

    def event_counts(self) -> Counter[str]:
        return Counter(f"{r.direction}:{r.type}" for r in self._recorder.log)

    def assistant_audio(self, response_id: str | None = None) -> npt.NDArray[np.int16]:
        """Audio of the last (or given) response's assistant items, int16 24 kHz."""
        conv = self._recorder.conversation
        if response_id is None:
            if not conv.responses:
                return np.zeros(0, dtype=np.int16)
            response_id = list(conv.responses)[-1]
        resp = conv.responses[response_id]
        parts = [conv.item_audio(i) for i in resp.output_item_ids if _has_audio(conv, i)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def _version() -> str:
    from . import __version__

    return __version__


def _has_audio(conv: Conversation, item_id: str) -> bool:
    try:
        return len(conv.item_audio(item_id)) > 0
    except KeyError:
        return False

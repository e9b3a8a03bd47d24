"""The WebSocket server: :class:`LocalServer`, in-process or on its own thread.

Paths: ``/v1/realtime`` (OpenAI shape, ``?model=``), ``/openai/v1/realtime``
(Azure GA shape), ``/openai/realtime`` (Azure preview URL the openai SDK's
``AzureOpenAI`` builds, ``?deployment=``) and ``/``. Any auth is accepted and
ignored. The beta header ``OpenAI-Beta: realtime=v1`` (or the browser
subprotocol ``openai-beta.realtime-v1``) is refused like OpenAI does now: an
``error`` with code ``beta_api_shape_disabled``, then close code 4000.
Browsers that offer the ``realtime`` subprotocol get it selected.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from realtime_widget.protocol.events import Event, new_id
from realtime_widget.protocol.redact import SecretFilter

from .engines import Engines
from .handler import ConnectionHandler
from .options import Pace, ServerOptions
from .records import ConnectionRecord, Fault

__all__ = ["PATHS", "LocalServer"]

log = logging.getLogger("realtime_widget.server")
# websockets logs every handshake header at DEBUG: a client's key must not reach the log.
_ws_log = logging.getLogger("realtime_widget.server.websockets")
_ws_log.addFilter(SecretFilter())

PATHS = ("/v1/realtime", "/openai/v1/realtime", "/openai/realtime", "/")
_DELTAS = frozenset({"response.output_audio.delta", "response.output_text.delta"})
_BETA_MESSAGE = "Realtime Beta API is no longer supported. Please use the GA API instead."
_HIGH_WATER = 64  # queued frames before a burst-paced response waits for the socket
_LOW_WATER = 16


class _Outbox:
    """Serialises server events onto the socket in emit order; bounded for burst pacing."""

    def __init__(self, ws: ServerConnection, on_sent: Callable[[str], None]) -> None:
        self.ws = ws
        self._queue: collections.deque[tuple[str, str]] = collections.deque()
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._on_sent = on_sent
        self.closed = False

    def put(self, event: Event) -> None:
        if self.closed:
            return
        self._queue.append((str(event.get("type")), json.dumps(event)))
        self._ready.set()

    def halt(self) -> None:
        """Send nothing more (a fault is about to drop the connection)."""
        self.closed = True
        self._queue.clear()
        self._space.set()

    async def wait_space(self) -> None:
        while len(self._queue) > _HIGH_WATER and not self.closed:
            self._space.clear()
            await self._space.wait()

    async def run(self) -> None:
        try:
            while True:
                while self._queue and not self.closed:
                    type_, text = self._queue.popleft()
                    if len(self._queue) <= _LOW_WATER:
                        self._space.set()
                    await self.ws.send(text)
                    self._on_sent(type_)
                self._space.set()
                self._ready.clear()
                await self._ready.wait()
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._space.set()


class LocalServer:
    """A Realtime-protocol (GA) server on loopback with pluggable engines.

    ``async with LocalServer() as server: ... server.url`` or, from sync code,
    ``url = server.start_in_thread(); ...; server.stop_thread()``.

    * ``host``/``port``: loopback and a free port by default.
    * ``engines``: an :class:`Engines` bundle (VAD / transcriber / responder /
      speaker factories) or ``"auto"`` / ``"offline"`` / ``"echo"``. Default
      (None): ``$REALTIME_WIDGET_ENGINES`` or ``"auto"``: the offline speech
      engines of the ``local`` extra when installed (WebRTC VAD, Whisper
      tiny.en, rule replies, Piper), else the echo engines with a warning that
      names the missing packages (:meth:`Engines.select`).
    * ``responder_url``/``responder_model``: replies from an OpenAI-compatible
      chat-completions endpoint (e.g. ``http://127.0.0.1:11434/v1``) instead of
      the rule responder (offline engines only).
    * ``pace``: ``"realtime"`` paces audio deltas at playback speed (``lead_ms``
      ahead), ``"burst"`` sends them as fast as the socket takes them.
    * ``chunk_ms``: audio per ``response.output_audio.delta``.
    * ``model``: reported when the URL has no ``?model=``.
    * ``transcription_delay_s``: input transcription starts this long after a commit.
    * ``idle_timeout_scale``: multiplies ``idle_timeout_ms`` (tests use < 1).
    * ``emit_conversation_created``: also send ``conversation.created`` on connect.
    * ``session_max_s``: close with 1001 after this long (OpenAI: 3600).
    * ``record``: keep a :class:`ConnectionRecord` per connection (the last
      ``max_records``, each capped at ``record_limit_mb``); turn off for long runs.
    * ``fault``: drop connections mid-response (:meth:`drop_connections_after`).
    * ``engine_threads``: size of the thread pool engines run in.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        engines: Engines | str | None = None,
        responder_url: str | None = None,
        responder_model: str | None = None,
        pace: Pace = "realtime",
        chunk_ms: int = 40,
        model: str = "gpt-realtime-local",
        lead_ms: int = 80,
        transcription_delay_s: float = 0.15,
        idle_timeout_scale: float = 1.0,
        emit_conversation_created: bool = False,
        session_max_s: float | None = None,
        record: bool = True,
        record_limit_mb: float | None = 256,
        max_records: int = 100,
        fault: Fault | None = None,
        engine_threads: int = 2,
    ) -> None:
        if pace not in ("realtime", "burst"):
            raise ValueError(f"pace must be 'realtime' or 'burst', got {pace!r}")
        if not 10 <= chunk_ms <= 1000:
            raise ValueError(f"chunk_ms must be 10..1000, got {chunk_ms}")
        self.host = host
        self.port = port
        if isinstance(engines, Engines):
            if responder_url:
                raise ValueError("pass responder_url with engines='offline'/'auto', not Engines")
            self.engines = engines
        else:
            options: dict[str, Any] = {}
            if responder_url:
                options = {"responder_url": responder_url, "responder_model": responder_model}
            self.engines = Engines.select(engines, **options)
        self.options = ServerOptions(
            model=model,
            pace=pace,
            chunk_ms=chunk_ms,
            lead_ms=lead_ms,
            transcription_delay_s=transcription_delay_s,
            idle_timeout_scale=idle_timeout_scale,
            emit_conversation_created=emit_conversation_created,
            session_max_s=session_max_s,
            record=record,
        )
        self.fault = fault
        self.record_limit_bytes = None if record_limit_mb is None else int(record_limit_mb * 2**20)
        self.max_records = max_records
        self.url = ""
        self.connections: list[ConnectionRecord] = []
        """One record per connection, oldest first (empty unless ``record``)."""
        self.stats: dict[str, int] = collections.Counter()
        """Counters: connections, active, refused, dropped, client_events, server_events, errors."""
        self._engine_threads = engine_threads
        self._executor: ThreadPoolExecutor | None = None
        self._server: Server | None = None
        self._live: dict[str, ServerConnection] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> str:
        """Start listening; returns the URL (``ws://127.0.0.1:PORT/v1/realtime``)."""
        if self._server is not None:
            return self.url
        self._executor = ThreadPoolExecutor(self._engine_threads, thread_name_prefix="rtw-engine")
        self._server = await serve(
            self._connection,
            self.host,
            self.port,
            process_request=self._process_request,
            select_subprotocol=_select_subprotocol,
            max_size=None,
            compression=None,
            ping_interval=None,  # clients may sit in a debugger; OpenAI does not ping either
            server_header="realtime-widget-local",
            logger=_ws_log,
        )
        sock = next(iter(self._server.sockets))
        self.port = int(sock.getsockname()[1])
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"ws://{shown}:{self.port}/v1/realtime"
        log.info("local Realtime server at %s (engines: %s)", self.url, self.engines.describe())
        if self.engines.warmup is not None:
            # Load models in the engine pool now, so the first turn does not pay for it.
            warm = asyncio.get_running_loop().run_in_executor(self._executor, self.engines.warmup)
            warm.add_done_callback(_log_warmup_failure)
        return self.url

    async def stop(self) -> None:
        """Close every connection (1001) and stop listening."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close(close_connections=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def __aenter__(self) -> LocalServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def start_in_thread(self) -> str:
        """Run the server on its own event loop in a daemon thread; returns the URL."""
        if self._thread is not None:
            return self.url
        started: Future[str] = Future()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            asyncio.set_event_loop(loop)
            try:
                started.set_result(loop.run_until_complete(self.start()))
            except BaseException as exc:
                started.set_exception(exc)
                loop.close()
                return
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                loop.close()

        self._thread = threading.Thread(target=main, name="realtime-widget-server", daemon=True)
        self._thread.start()
        try:
            return started.result(timeout=10)
        except BaseException:
            self._thread = None
            raise

    def stop_thread(self) -> None:
        """Stop a server started with :meth:`start_in_thread` (idempotent)."""
        thread, loop = self._thread, self._thread_loop
        if thread is None or loop is None:
            return
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = self._thread_loop = None

    # -- test hooks ----------------------------------------------------------------

    def drop_connections_after(
        self, n_deltas: int, *, close_code: int | None = None, reason: str = "", once: bool = True
    ) -> Fault:
        """Drop a connection after it has sent ``n_deltas`` output deltas (see :class:`Fault`)."""
        self.fault = Fault(n_deltas, close_code, reason, once)
        return self.fault

    def drop_connections(self, close_code: int | None = None, reason: str = "") -> None:
        """Drop every open connection now: abort TCP (client sees 1006) or close with a code.

        Safe to call from any thread (for a server started with :meth:`start_in_thread`).
        """
        loop = self._thread_loop
        if loop is not None and threading.current_thread() is not self._thread:
            loop.call_soon_threadsafe(self.drop_connections, close_code, reason)
            return
        for ws in list(self._live.values()):
            if close_code is None:
                ws.transport.abort()
            else:
                self._background(ws.close(close_code, reason))
        self.stats["dropped"] += len(self._live)

    async def close_connections(self, code: int = 1001, reason: str = "") -> None:
        """Close every open connection with ``code`` (e.g. 1001 like the 60-minute limit)."""
        await asyncio.gather(
            *(ws.close(code, reason) for ws in list(self._live.values())), return_exceptions=True
        )

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)  # keep a reference until done (the loop only keeps weak ones)
        task.add_done_callback(self._tasks.discard)

    @property
    def active_connections(self) -> int:
        return len(self._live)

    def last_connection(self) -> ConnectionRecord:
        if not self.connections:
            raise LookupError("no connection recorded yet")
        return self.connections[-1]

    # -- connections -------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path.rstrip("/") or "/"
        if path not in PATHS:
            return connection.respond(HTTPStatus.NOT_FOUND, f"No Realtime endpoint at {path}\n")
        return None

    async def _connection(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        parts = urlsplit(request.path)
        query = dict(parse_qsl(parts.query))
        record = ConnectionRecord(
            id=new_id("conn"),
            path=parts.path,
            query=query,
            headers={k.lower(): v for k, v in request.headers.raw_items()},
            subprotocol=ws.subprotocol,
            limit_bytes=self.record_limit_bytes,
        )
        if self.options.record:
            self.connections.append(record)
            del self.connections[: -self.max_records]
        self.stats["connections"] += 1
        if _is_beta(request.headers):
            await self._refuse_beta(ws, record)
            return
        conn_id = record.id
        self._live[conn_id] = ws
        self.stats["active"] = len(self._live)
        deltas = 0
        fault_task: asyncio.Task[None] | None = None

        def on_sent(type_: str) -> None:
            nonlocal deltas, fault_task
            fault = self.fault
            if type_ not in _DELTAS or fault is None or fault_task is not None:
                return
            deltas += 1
            if deltas >= fault.drop_after_deltas and not (fault.once and fault.fired):
                fault.fired += 1
                outbox.halt()
                record.dropped = True
                self.stats["dropped"] += 1
                fault_task = asyncio.get_running_loop().create_task(_drop(ws, fault))

        outbox = _Outbox(ws, on_sent)

        def send(event: Event) -> None:
            if self.options.record and record.allow(_approx_size(event)):
                record.server_events.append(event)
            self.stats["server_events"] += 1
            if event.get("type") == "error":
                self.stats["errors"] += 1
            outbox.put(event)

        handler = ConnectionHandler(
            options=self.options,
            engines=self.engines,
            executor=self._executor or ThreadPoolExecutor(1),
            send=send,
            backpressure=outbox.wait_space,
            model=query.get("model") or query.get("deployment"),
            record=record if self.options.record else None,
        )
        writer = asyncio.get_running_loop().create_task(outbox.run(), name=f"writer {conn_id}")
        expiry: asyncio.TimerHandle | None = None
        if self.options.session_max_s:
            expiry = asyncio.get_running_loop().call_later(
                self.options.session_max_s,
                lambda: self._background(
                    ws.close(1001, "Your session hit the maximum duration of 60 minutes.")
                ),
            )
        try:
            handler.open()
            async for message in ws:
                event = handler.handle_frame(message)
                self.stats["client_events"] += 1
                if self.options.record:
                    if event is None:
                        record.invalid_frames += 1
                    elif record.allow(len(message)):
                        record.client_events.append(event)
        except ConnectionClosed:
            pass
        finally:
            handler.close()
            if expiry is not None:
                expiry.cancel()
            # The socket is closed or closing: whatever is still queued has nowhere to go.
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            if fault_task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await fault_task
            self._live.pop(conn_id, None)
            self.stats["active"] = len(self._live)
            record.closed_at = time.time()
            record.close_code = ws.close_code

    async def _refuse_beta(self, ws: ServerConnection, record: ConnectionRecord) -> None:
        record.refused = "beta_api_shape_disabled"
        self.stats["refused"] += 1
        event = {
            "type": "error",
            "event_id": new_id("event"),
            "error": {
                "type": "invalid_request_error",
                "code": "beta_api_shape_disabled",
                "message": _BETA_MESSAGE,
                "param": None,
                "event_id": None,
            },
        }
        if self.options.record:
            record.server_events.append(event)
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(event))
            await ws.close(4000, _BETA_MESSAGE)
        record.closed_at = time.time()
        record.close_code = ws.close_code


def _log_warmup_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("loading the engines' models failed: %s", future.exception())


async def _drop(ws: ServerConnection, fault: Fault) -> None:
    if fault.close_code is not None:
        await ws.close(fault.close_code, fault.reason)
        return
    transport = ws.transport
    # Let what was already written reach the client, then vanish without a close frame.
    for _ in range(200):
        if not transport.get_write_buffer_size():
            break
        await asyncio.sleep(0.005)
    transport.abort()


def _approx_size(event: Event) -> int:
    # Audio dominates; the rest of an event is a few hundred bytes.
    payload = event.get("delta") or event.get("audio")
    return 256 + (len(payload) if isinstance(payload, str) else 0)


def _is_beta(headers: Headers) -> bool:
    beta = ",".join(headers.get_all("OpenAI-Beta")).replace(" ", "").lower()
    protocols = ",".join(headers.get_all("Sec-WebSocket-Protocol")).lower()
    return "realtime=v1" in beta or "openai-beta.realtime-v1" in protocols


def _select_subprotocol(
    connection: ServerConnection, subprotocols: Sequence[Subprotocol]
) -> Subprotocol | None:
    # Browsers pass the key as a subprotocol and fail the handshake unless one is chosen.
    return Subprotocol("realtime") if "realtime" in subprotocols else None

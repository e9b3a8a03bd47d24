"""A stand-in Session for deterministic relay tests (no socket, explicit clock)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

from realtime_widget.log.event_log import EventLog
from realtime_widget.log.recorder import Recorder
from realtime_widget.state.conversation import Conversation
from realtime_widget.widget.relay import Relay

VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}


class FakeSession:
    """Duck-types what the relay uses of :class:`Session`; feeds a real Recorder."""

    def __init__(self, turn_detection: Any = VAD, status: str = "connected") -> None:
        self.recorder = Recorder()
        self.history: list[Recorder] = []
        self.status = status
        self.config: dict[str, Any] = {"audio": {"input": {"turn_detection": turn_detection}}}
        self.auto_truncate = True
        self.playback_position: Callable[[str], float | None] | None = None
        self.server = None
        self.url = "ws://127.0.0.1:1/v1/realtime"
        self.sent: list[dict[str, Any]] = []
        self.appended: list[tuple[bytes, float | None]] = []
        self.updates: list[dict[str, Any]] = []
        self.texts: list[str] = []
        self.estimate: float | None = None
        self.connect_error: Exception | None = None
        self._sinks: list[Callable[[dict[str, Any], bytes], None]] = []
        self._hooks: list[Callable[[dict[str, Any]], Any]] = []
        self.t = 0.0
        self.on_time: Callable[[float], None] | None = None  # the harness's clock follows
        self.after_feed: Callable[[], None] | None = None  # the loop's turn ends

    @property
    def conversation(self) -> Conversation:
        return self.recorder.conversation

    @property
    def log(self) -> EventLog:
        return self.recorder.log

    def add_audio_sink(self, sink: Callable[[dict[str, Any], bytes], None]) -> None:
        self._sinks.append(sink)

    def remove_audio_sink(self, sink: Callable[[dict[str, Any], bytes], None]) -> None:
        self._sinks.remove(sink)

    def on(self, type_: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        assert type_ == "*"
        self._hooks.append(handler)

    def off(self, type_: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        self._hooks.remove(handler)

    def send(self, event: dict[str, Any]) -> None:
        self.sent.append(event)
        self.recorder.send(event, self.t)

    def append_audio(self, pcm: bytes, *, t_browser: float | None = None) -> None:
        self.appended.append((pcm, t_browser))
        self.recorder.send({"type": "input_audio_buffer.append"}, self.t, audio=pcm)

    def estimated_played_ms(self, item_id: str) -> float | None:
        return self.estimate

    async def update(self, **settings: Any) -> dict[str, Any]:
        self.updates.append(settings)
        return self.config

    async def connect(self) -> None:
        if self.connect_error is not None:
            raise self.connect_error
        self.status = "connected"

    async def close(self) -> None:
        self.status = "closed"

    async def send_text(self, text: str) -> str:
        self.texts.append(text)
        return "evt"

    # -- the server side ---------------------------------------------------------------

    def feed(self, t: float, **event: Any) -> None:
        """Receive one server event at ``t``, as the session's reader would."""
        self.feed_read(t, [event])

    def feed_read(self, t: float, events: list[dict[str, Any]]) -> None:
        """Receive several events in one network read (handled in one turn of the loop)."""
        self.t = t
        if self.on_time is not None:
            self.on_time(t)
        for event in events:
            for r in self.recorder.receive(json.dumps(event), t):
                if r.audio is not None:
                    for sink in list(self._sinks):
                        sink(r.event, r.audio)
                for hook in list(self._hooks):
                    hook(r.event)
        if self.after_feed is not None:
            self.after_feed()  # one read handled: the loop runs what it scheduled

    def assistant_reply(
        self, t: float, item_id: str = "a1", response_id: str = "r1", ms: int = 2000
    ) -> None:
        """A response with one assistant audio item of ``ms`` audio in 100 ms deltas."""
        self.feed(t, type="response.created", response={"id": response_id, "status": "in_progress"})
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress",
                "content": []}  # fmt: skip
        self.feed(t, type="response.output_item.added", response_id=response_id, output_index=0,
                  item=item)  # fmt: skip
        self.feed(t, type="conversation.item.added", item=item, previous_item_id=None)
        for i in range(ms // 100):
            self.audio_delta(t + i * 0.001, item_id, response_id, 100, value=i)

    def audio_delta(
        self, t: float, item_id: str, response_id: str, ms: int, value: int = 0
    ) -> None:
        self.feed(t, **audio_delta_event(item_id, response_id, ms, value))


def audio_delta_event(item_id: str, response_id: str, ms: int, value: int = 0) -> dict[str, Any]:
    pcm = bytes([value % 256, 0]) * (24 * ms)
    return {
        "type": "response.output_audio.delta",
        "response_id": response_id,
        "item_id": item_id,
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(pcm).decode(),
    }


class Harness:
    """A relay on a fake session with a hand-driven clock; records what it sends."""

    def __init__(self, session: FakeSession | None = None, mode: str = "vad") -> None:
        self.session = session or FakeSession()
        self.now = 100.0
        self.out: list[tuple[dict[str, Any], list[bytes]]] = []
        self.traits: dict[str, Any] = {}
        """The widget's Python-side trait values."""
        self.synced: dict[str, Any] = {}
        """What the page got of them (``sync=False`` writes wait for a later sync)."""
        self.loop = asyncio.new_event_loop()  # never run freely: tasks advance in run()
        self.relay = Relay(
            self.session,  # type: ignore[arg-type]
            lambda c, b: self.out.append((c, list(b or []))),
            self._set_traits,
            mode=mode,
            clock=lambda: self.now,
            wall=lambda: 1_700_000_000.0 + self.now,
            loop=self.loop,
        )
        self.relay.attach()
        self.session.on_time = self._set_now
        self.session.after_feed = self._end_of_turn

    def _set_traits(self, values: dict[str, Any], sync: bool = True) -> None:
        self.traits.update(values)
        if sync:
            self.synced.update(values)

    def _end_of_turn(self) -> None:
        self.loop.run_until_complete(asyncio.sleep(0))

    def _set_now(self, t: float) -> None:
        self.now = t

    def close(self) -> None:
        self.relay.detach()
        self.run()
        self.loop.close()

    def run(self) -> None:
        """Let spawned tasks (connect, update, send_text) run."""
        for _ in range(5):
            self.loop.run_until_complete(asyncio.sleep(0))

    def at(self, t: float) -> None:
        """Advance the clock to ``t`` and run what is due (the timer's job)."""
        self.now = t
        self.relay.poll(t)

    def post(self, at: float, buffer: bytes | None = None, /, **content: Any) -> None:
        """The browser sends ``content`` (and one buffer); it arrives at ``at``."""
        self.now = at
        self.relay.handle(content, [buffer] if buffer is not None else [], at)

    def sent(self, type_: str) -> list[dict[str, Any]]:
        return [c for c, _ in self.out if c.get("type") == type_]

    def notes(self, type_: str) -> list[dict[str, Any]]:
        return [r.payload for r in self.session.log if r.type == type_]

    def client_events(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.session.sent if e["type"] == type_]

    def browser_ms(self, t: float) -> float:
        return (1_700_000_000.0 + t) * 1000.0

"""A simulated browser for live widget tests: it posts contract messages to the
widget's custom-message handler and records what the widget sends back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from realtime_widget.widget import RealtimeWidget

Message = dict[str, Any]


def epoch_ms() -> float:
    return time.time() * 1000.0


class SimBrowser:
    """Records ``widget.send`` (called on the I/O thread) and plays audio on paper.

    Playback in real time: ``started`` at an item's first audio, ``drained`` when the
    audio received so far has had time to play (as the page's player reports them).
    ``answer_stops``: reply to every ``stop`` with ``interrupted`` carrying the
    samples "played" so far: real time since the item's first audio message,
    capped at what was received (or ``played_override`` if set).
    """

    def __init__(self, widget: RealtimeWidget, *, answer_stops: bool = True) -> None:
        self.widget = widget
        self.answer_stops = answer_stops
        self.played_override: int | None = None
        self.received: list[tuple[float, Message, list[bytes]]] = []
        self.cond = threading.Condition()
        self.seq = 0
        self.first_audio: dict[str, float] = {}
        self.samples: dict[str, int] = {}
        self.interrupted: list[Message] = []
        self._queue_end = 0.0  # monotonic time at which the audio queued so far ends
        self._drain: threading.Timer | None = None
        widget.send = self._on_send  # the widget's own send goes to the comm

    # -- kernel → browser (I/O thread) -------------------------------------------------

    def _on_send(self, content: Message, buffers: list[Any] | None = None) -> None:
        now = time.monotonic()
        copies = [bytes(b) for b in buffers or []]
        with self.cond:
            self.received.append((now, content, copies))
            self.cond.notify_all()
        if content.get("type") == "audio":
            item = content["item_id"]
            if item not in self.first_audio:
                self.first_audio[item] = now
                self.post({"type": "playback", "event": "started", "item_id": item, "played": 0,
                           "t": epoch_ms()})  # fmt: skip
            n = len(copies[0]) // 2
            self.samples[item] = self.samples.get(item, 0) + n
            self._queue_end = max(now, self._queue_end) + n / 24000
            self._schedule_drain(self._queue_end - now)
        elif content.get("type") == "stop":
            self._schedule_drain(None)
            self._queue_end = now
        if content.get("type") == "stop" and self.answer_stops:
            item = content.get("item_id")
            played = 0
            if isinstance(item, str) and item in self.first_audio:
                played = int((now - self.first_audio[item]) * 24000)
                played = min(played, self.samples.get(item, 0))
                if self.played_override is not None:
                    played = self.played_override
            reply = {"type": "interrupted", "item_id": item if played else None,
                     "played": played, "t": epoch_ms(), "stop_id": content["stop_id"]}  # fmt: skip
            self.interrupted.append(reply)
            self.post(reply)

    def _schedule_drain(self, delay: float | None) -> None:
        with self.cond:
            if self._drain is not None:
                self._drain.cancel()
            self._drain = None
            if delay is not None:
                self._drain = threading.Timer(delay, self._drained)
                self._drain.daemon = True
                self._drain.start()

    def _drained(self) -> None:
        with self.cond:
            if self._drain is None or threading.current_thread() is not self._drain:
                return  # superseded by newer audio or a stop
            self._drain = None
        self.post({"type": "playback", "event": "drained", "t": epoch_ms()})

    # -- browser → kernel --------------------------------------------------------------

    def post(self, content: Message, buffers: list[bytes] | None = None) -> None:
        # As ipykernel delivers them: buffers are memoryviews.
        self.widget._handle_custom_msg(content, [memoryview(b) for b in buffers or []])

    def mic_chunks(
        self, audio: npt.NDArray[np.int16], chunk: int = 480
    ) -> list[tuple[Message, bytes]]:
        """Contract ``mic`` messages for ``audio`` (seq continues across calls)."""
        out = []
        for i in range(0, len(audio) - chunk + 1, chunk):
            pcm = audio[i : i + chunk].astype("<i2").tobytes()
            out.append(({"type": "mic", "seq": self.seq, "t": epoch_ms(), "n": chunk}, pcm))
            self.seq += 1
        return out

    def speak(self, audio: npt.NDArray[np.int16], *, pace: float = 0.0) -> None:
        for content, pcm in self.mic_chunks(audio):
            self.post(content, [pcm])
            if pace:
                time.sleep(pace)

    def ptt(self, action: str) -> None:
        self.post({"type": "ptt", "action": action, "seq": self.seq, "t": epoch_ms()})
        self.seq += 1

    # -- reading -----------------------------------------------------------------------

    def messages(self, type_: str | None = None) -> list[Message]:
        with self.cond:
            return [c for _, c, _ in self.received if type_ is None or c.get("type") == type_]

    def audio(self, item_id: str | None = None) -> list[tuple[float, Message, bytes]]:
        with self.cond:
            return [
                (t, c, b[0])
                for t, c, b in self.received
                if c.get("type") == "audio" and (item_id is None or c["item_id"] == item_id)
            ]

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition"
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {timeout} s")
            time.sleep(0.01)

    def wait_message(
        self, type_: str, predicate: Callable[[Message], bool] | None = None, timeout: float = 15.0
    ) -> Message:
        def find() -> Message | None:
            for c in self.messages(type_):
                if predicate is None or predicate(c):
                    return c
            return None

        found: Message = self.wait_for(find, timeout, f"{type_} message")
        return found

"""Model audio → ``audio`` messages for the browser, rate-limited, sans-I/O.

Why: jupyter_server *drops* kernel → browser messages above
``iopub_msg_rate_limit`` (1000 msg/s over 3 s), and realtime servers often
generate audio much faster than real time: one delta per 20-40 ms of audio
can mean hundreds of messages in a fraction of a second
(reference/browser-and-kernel-probe.md §1). So:

* a token bucket: up to ``burst`` (4) messages go out at once, then one per
  ``min_interval`` (1/96 s); at most 4 + 96 = 100 messages in any second
  whatever the server does. A paced server (one delta per 40 ms) is forwarded
  without added latency, and so are the first deltas of a reply, which servers
  send ahead of real time (the local server: 80 ms ahead; waiting 10 ms to
  coalesce them delayed the player's start threshold by as much);
* deltas received together (one network read, handled in one turn of the event
  loop: a reply's first 120 ms from the local server) are merged into one message:
  the relay adds them (:meth:`AudioCoalescer.add`) and polls once, at the end of that
  turn (``loop.call_soon``). No wait, and the player's start threshold is met by one
  message instead of three that each cross Jupyter's message path;
* a delta with no token left is appended to that item's pending buffer (deltas
  of one item are contiguous) and :meth:`AudioCoalescer.poll` sends one
  pending item per token: a 10 s burst in 50 ms becomes a handful of large
  messages.

``offset`` is the sample index of a message's first sample within its item.
Deltas of a stopped item (barge-in) and of a cancelled response are dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AudioCoalescer", "AudioMessage"]

_BYTES_PER_SAMPLE = 2  # PCM16 mono
_EPS = 1e-6  # float slack when a timer fires exactly at the deadline
_REMEMBER = 256  # stopped items / cancelled responses remembered (ids only)


@dataclass(frozen=True, slots=True)
class AudioMessage:
    """One kernel → browser ``audio`` message."""

    item_id: str
    response_id: str | None
    offset: int
    pcm: bytes

    @property
    def samples(self) -> int:
        return len(self.pcm) // _BYTES_PER_SAMPLE

    def content(self) -> dict[str, Any]:
        return {
            "type": "audio",
            "item_id": self.item_id,
            "response_id": self.response_id,
            "offset": self.offset,
        }


@dataclass(slots=True)
class _Pending:
    offset: int
    response_id: str | None
    data: bytearray = field(default_factory=bytearray)


class AudioCoalescer:
    """Coalesce audio deltas into at most ``burst + 1 / min_interval`` messages in any
    second (defaults: 4 + 96 = 100)."""

    def __init__(self, min_interval: float = 1 / 96, burst: int = 4) -> None:
        self.min_interval = min_interval
        self.burst = max(1, int(burst))
        self._tokens = float(self.burst)
        self._refilled: float | None = None  # when _tokens was last brought up to date
        self.messages = 0
        self.samples_sent = 0
        self.samples_dropped = 0
        self._received: dict[str, int] = {}  # item → samples received (next offset)
        self._pending: OrderedDict[str, _Pending] = OrderedDict()  # oldest first
        self._stopped: OrderedDict[str, None] = OrderedDict()
        self._cancelled: OrderedDict[str, None] = OrderedDict()

    def reset(self) -> None:
        """A new connection: forget items, pending audio, stops and cancels."""
        self._received.clear()
        self._pending.clear()
        self._stopped.clear()
        self._cancelled.clear()

    # -- input -------------------------------------------------------------------------

    def push(
        self, item_id: str, response_id: str | None, pcm: bytes, now: float
    ) -> list[AudioMessage]:
        """One delta received at ``now``; returns what to send now (0 or 1 message)."""
        self.add(item_id, response_id, pcm)
        return self.poll(now)

    def add(self, item_id: str, response_id: str | None, pcm: bytes) -> None:
        """Queue one delta without sending: the caller polls once it has added every
        delta it received together (one network read), so they leave as one message."""
        if item_id in self._stopped or (response_id is not None and response_id in self._cancelled):
            self.samples_dropped += len(pcm) // _BYTES_PER_SAMPLE
            return
        received = self._received.get(item_id, 0)
        self._received[item_id] = received + len(pcm) // _BYTES_PER_SAMPLE
        pending = self._pending.get(item_id)
        if pending is None:
            pending = self._pending[item_id] = _Pending(received, response_id)
        pending.data += pcm

    def stop_item(self, item_id: str) -> int:
        """Drop the item's pending audio and all its future deltas; return samples dropped."""
        _remember(self._stopped, item_id)
        pending = self._pending.pop(item_id, None)
        dropped = len(pending.data) // _BYTES_PER_SAMPLE if pending else 0
        self.samples_dropped += dropped
        return dropped

    def cancel_response(self, response_id: str) -> int:
        """Drop pending and future audio of a cancelled response; return samples dropped."""
        _remember(self._cancelled, response_id)
        dropped = 0
        for item_id in [i for i, p in self._pending.items() if p.response_id == response_id]:
            dropped += len(self._pending.pop(item_id).data) // _BYTES_PER_SAMPLE
        self.samples_dropped += dropped
        return dropped

    def is_stopped(self, item_id: str) -> bool:
        return item_id in self._stopped

    def received(self, item_id: str) -> int:
        """Samples of the item received (sent, pending or dropped after it was seen)."""
        return self._received.get(item_id, 0)

    # -- output ------------------------------------------------------------------------

    def _refill(self, now: float) -> None:
        if self._refilled is not None and now > self._refilled:
            gained = (now - self._refilled) / self.min_interval
            self._tokens = min(float(self.burst), self._tokens + gained)
        if self._refilled is None or now > self._refilled:
            self._refilled = now

    def poll(self, now: float) -> list[AudioMessage]:
        """The oldest pending item's audio, if a token is left (see the module doc)."""
        if not self._pending:
            return []
        self._refill(now)
        if self._tokens < 1.0 - _EPS:
            return []
        self._tokens = max(0.0, self._tokens - 1.0)
        item_id, pending = self._pending.popitem(last=False)
        msg = AudioMessage(item_id, pending.response_id, pending.offset, bytes(pending.data))
        self.messages += 1
        self.samples_sent += msg.samples
        return [msg]

    def deadline(self) -> float | None:
        """When :meth:`poll` may send again (None when nothing is pending)."""
        if not self._pending:
            return None
        if self._refilled is None or self._tokens >= 1.0 - _EPS:
            return self._refilled if self._refilled is not None else float("-inf")
        return self._refilled + (1.0 - self._tokens) * self.min_interval

    @property
    def pending_samples(self) -> int:
        return sum(len(p.data) for p in self._pending.values()) // _BYTES_PER_SAMPLE


def _remember(ids: OrderedDict[str, None], key: str) -> None:
    ids[key] = None
    ids.move_to_end(key)
    while len(ids) > _REMEMBER:
        ids.popitem(last=False)

"""Model audio → ``audio`` messages for the browser, rate-limited, sans-I/O.

Why: jupyter_server *drops* kernel → browser messages above
``iopub_msg_rate_limit`` (1000 msg/s over 3 s), and realtime servers often
generate audio much faster than real time: one delta per 20-40 ms of audio
can mean hundreds of messages in a fraction of a second
(reference/browser-and-kernel-probe.md §1). So:

* a delta goes out at once when the previous ``audio`` message left at least
  ``min_interval`` (10 ms) ago: a paced server (one delta per 40 ms) is
  forwarded without added latency, and the first delta of a reply is prompt;
* otherwise it is appended to that item's pending buffer (deltas of one item
  are contiguous) and :meth:`AudioCoalescer.poll` sends one pending item per
  ``min_interval``: at most 100 messages per second whatever the server does,
  and a 10 s burst in 50 ms becomes a handful of large messages.

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
    """Coalesce audio deltas into at most ``1 / min_interval`` messages per second."""

    def __init__(self, min_interval: float = 0.010) -> None:
        self.min_interval = min_interval
        self.last_send = float("-inf")
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
        if item_id in self._stopped or (response_id is not None and response_id in self._cancelled):
            self.samples_dropped += len(pcm) // _BYTES_PER_SAMPLE
            return []
        received = self._received.get(item_id, 0)
        self._received[item_id] = received + len(pcm) // _BYTES_PER_SAMPLE
        pending = self._pending.get(item_id)
        if pending is None:
            pending = self._pending[item_id] = _Pending(received, response_id)
        pending.data += pcm
        return self.poll(now)

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

    def poll(self, now: float) -> list[AudioMessage]:
        """The oldest pending item's audio, if ``min_interval`` has passed since the last send."""
        if not self._pending or now - self.last_send < self.min_interval - _EPS:
            return []
        item_id, pending = self._pending.popitem(last=False)
        self.last_send = now
        msg = AudioMessage(item_id, pending.response_id, pending.offset, bytes(pending.data))
        self.messages += 1
        self.samples_sent += msg.samples
        return [msg]

    def deadline(self) -> float | None:
        """When :meth:`poll` may send again (None when nothing is pending)."""
        if not self._pending:
            return None
        return self.last_send + self.min_interval

    @property
    def pending_samples(self) -> int:
        return sum(len(p.data) for p in self._pending.values()) // _BYTES_PER_SAMPLE


def _remember(ids: OrderedDict[str, None], key: str) -> None:
    ids[key] = None
    ids.move_to_end(key)
    while len(ids) > _REMEMBER:
        ids.popitem(last=False)

"""Barge-in bookkeeping and the browser's playback counters, sans-I/O.

Barge-in over a WebSocket is the client's job (DESIGN.md): the kernel tells the
browser to ``stop`` at once, the browser answers ``interrupted`` with the exact
number of samples of the item it played, and the kernel truncates the item
there. :class:`BargeIn` keeps the stops waiting for that answer; one not
answered within ``timeout`` (500 ms) falls back to an estimate taken when the
stop was sent.

:class:`PlaybackTracker` keeps what the browser reported (``playback`` and
``progress`` messages) per item, and extrapolates between reports: it backs
:attr:`Session.playback_position` and names the item a ``stop`` is about.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["BargeIn", "ItemPlayback", "PendingStop", "PlaybackTracker"]

SAMPLES_PER_MS = 24  # PCM16 24 kHz on the comm
_MAX_EXTRAPOLATION_S = 0.25  # progress arrives every ~100 ms; older means the browser went quiet


@dataclass(slots=True)
class PendingStop:
    """A ``stop`` sent to the browser and not answered yet."""

    stop_id: int
    item_id: str | None
    reason: str
    t_sent: float
    estimate_ms: float | None
    """Played milliseconds of ``item_id`` as estimated when the stop was sent (the
    fallback if the browser never answers), None if nothing is thought to play."""
    truncate: bool
    """Whether the answer should lead to a ``conversation.item.truncate``."""

    def message(self) -> dict[str, Any]:
        return {
            "type": "stop",
            "stop_id": self.stop_id,
            "reason": self.reason,
            "item_id": self.item_id,
        }


class BargeIn:
    """Stops waiting for the browser's ``interrupted``; ``timeout`` seconds at most."""

    def __init__(self, timeout: float = 0.5) -> None:
        self.timeout = timeout
        self._next_id = 1
        self._pending: dict[int, PendingStop] = {}
        self.timeouts = 0

    def stop(
        self,
        item_id: str | None,
        reason: str,
        now: float,
        estimate_ms: float | None = None,
        *,
        truncate: bool = True,
    ) -> PendingStop:
        stop = PendingStop(self._next_id, item_id, reason, now, estimate_ms, truncate)
        self._next_id += 1
        self._pending[stop.stop_id] = stop
        return stop

    def answer(self, stop_id: Any) -> PendingStop | None:
        """The stop an ``interrupted`` answers (None: unknown, or it already timed out)."""
        if not isinstance(stop_id, int) or isinstance(stop_id, bool):
            return None
        return self._pending.pop(stop_id, None)

    def expired(self, now: float) -> list[PendingStop]:
        """Stops unanswered for ``timeout`` seconds (removed: a late answer is ignored)."""
        out = [s for s in self._pending.values() if now - s.t_sent >= self.timeout]
        for s in out:
            del self._pending[s.stop_id]
        self.timeouts += len(out)
        return out

    def deadline(self) -> float | None:
        if not self._pending:
            return None
        return min(s.t_sent for s in self._pending.values()) + self.timeout

    def clear(self) -> None:
        self._pending.clear()

    @property
    def pending(self) -> list[PendingStop]:
        return list(self._pending.values())


@dataclass(slots=True)
class ItemPlayback:
    """What the browser reported about one item's playback."""

    played: int = 0
    """Samples played at the last report."""
    t_report: float = 0.0
    """Kernel monotonic time the last report arrived."""
    playing: bool = False
    finished: bool = False
    """The browser said the item finished playing (``playback stopped``)."""
    interrupted: bool = False
    t_started: float | None = None
    """Kernel monotonic time the first sample reached the output (from the browser's clock)."""


class PlaybackTracker:
    """Per-item playback state from the browser's reports.

    ``clock`` is the kernel monotonic clock (seconds), used only by
    :meth:`position_ms`, which the session calls without a time argument.
    """

    def __init__(self, clock: Callable[[], float], remember: int = 256) -> None:
        self._clock = clock
        self._remember = remember
        self._items: OrderedDict[str, ItemPlayback] = OrderedDict()
        self.current: str | None = None
        """The item the browser is playing, per its last report (None: silent)."""
        self.underruns = 0
        self.buffered = 0

    def reset(self) -> None:
        self._items.clear()
        self.current = None

    def get(self, item_id: str) -> ItemPlayback | None:
        return self._items.get(item_id)

    def _item(self, item_id: str) -> ItemPlayback:
        item = self._items.get(item_id)
        if item is None:
            item = self._items[item_id] = ItemPlayback()
            while len(self._items) > self._remember:
                self._items.popitem(last=False)
        return item

    def started(self, item_id: str, played: int, now: float, t_started: float | None) -> None:
        item = self._item(item_id)
        item.played, item.t_report, item.playing, item.finished = played, now, True, False
        item.t_started = t_started
        self.current = item_id

    def progress(
        self, item_id: str, played: int, now: float, buffered: int = 0, underruns: int = 0
    ) -> None:
        item = self._item(item_id)
        item.played, item.t_report = max(item.played, played), now
        # Audio queued means it plays (after an underrun too); none queued: it paused.
        if buffered > 0 and not item.finished and not item.interrupted:
            item.playing = True
            self.current = item_id
        elif buffered <= 0 and item.playing:
            item.playing = False
            if self.current == item_id:
                self.current = None
        self.buffered, self.underruns = buffered, underruns

    def finished(self, item_id: str, played: int, now: float) -> None:
        item = self._item(item_id)
        item.played, item.t_report = max(item.played, played), now
        item.playing, item.finished = False, True
        if self.current == item_id:
            self.current = None

    def drained(self, now: float) -> None:
        """The browser's queue ran dry: nothing plays (items are not finished by that)."""
        for item in self._items.values():
            if item.playing:
                item.playing, item.t_report = False, now
        self.current = None

    def interrupted(self, item_id: str, played: int, now: float) -> None:
        item = self._item(item_id)
        item.played, item.t_report = played, now
        item.playing, item.interrupted = False, True
        if self.current == item_id:
            self.current = None

    def more_audio(self, item_id: str) -> None:
        """Audio of an item that was reported finished arrived: it is not finished."""
        item = self._items.get(item_id)
        if item is not None and item.finished:
            item.finished = False

    def played_samples(self, item_id: str, now: float) -> float | None:
        """Samples of the item played by ``now``: the last report, extrapolated in real
        time while it plays. None if the browser never reported the item, or if it plays
        and the last report is older than 250 ms (reports come every ~100 ms: the browser
        stopped telling, so the caller's wall-clock estimate is the better guess)."""
        item = self._items.get(item_id)
        if item is None:
            return None
        played = float(item.played)
        if item.playing:
            elapsed = max(0.0, now - item.t_report)
            if elapsed > _MAX_EXTRAPOLATION_S:
                return None
            played += elapsed * SAMPLES_PER_MS * 1000
        return played

    def position_ms(self, item_id: str) -> float | None:
        """For :attr:`Session.playback_position`: ms of the item heard so far, None when it
        is not playing (finished, interrupted, or never reported)."""
        item = self._items.get(item_id)
        if item is None or item.finished or item.interrupted:
            return None
        played = self.played_samples(item_id, self._clock())
        return None if played is None else played / SAMPLES_PER_MS

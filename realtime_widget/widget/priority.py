"""Audio first: the browser's display updates wait while a reply's first audio is due.

Sans-I/O, no clock of its own (``now`` is passed in, kernel monotonic seconds).

Why: the browser receives everything on one WebSocket, handled on the page's main
thread in the order the kernel sent it. At the start of a reply the kernel has display
updates to send (the transcript rows trait, the new row, the event list) a few ms
before the first audio, and the page then spends 5-15 ms rendering them (layout of the
whole JupyterLab page) just when the audio arrives: measured as ~+10 ms on "server
delta → first sample played" (bench/README.md). Sending the audio first lets the page
hand it to the player worklet before it renders anything.

So from the moment a response is asked for (typed text, a push-to-talk release, a
server VAD commit) or created (a response that may speak), the relay holds what is
only for display. The hold ends :data:`GRACE` after the response's first audio went out
(so the rest of a burst that arrived with it goes first too), at the latest
:data:`MAX_HOLD` after it began (a server that thinks before speaking: nothing to
collide with), and at once when the response ends or playback is stopped. Held
messages are kept in order and none is dropped.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GRACE", "HOLDABLE", "MAX_HOLD", "AudioFirst"]

Message = dict[str, Any]

MAX_HOLD = 0.15
"""Longest hold (s) from ``response.created``. OpenAI's first audio comes 50-600 ms
after the output item; a transcript row shown 150 ms late costs nothing visible."""

GRACE = 0.01
"""Hold kept after the first audio (s), so the buffers that came in the same read go
first (the local server sends a reply's first 120 ms at once)."""

HOLDABLE = frozenset({"transcript", "rows", "events"})
"""Custom message types that are only for display. Audio, ``stop``, ``state`` (the
fast speaking hint), ``pong`` and ``clock`` are never held."""


class AudioFirst:
    """Whether display updates must wait now, and the ones that wait."""

    def __init__(self, *, max_hold: float = MAX_HOLD, grace: float = GRACE) -> None:
        self.max_hold = max_hold
        self.grace = grace
        self.response_id: str | None = None
        self._until: float | None = None  # release time while holding, else None
        self._held: list[Message] = []
        self.holds = 0
        """Holds begun (a counter for ``Relay.stats``)."""

    def expect(self, now: float) -> None:
        """A response was asked for (typed text, push-to-talk release, a VAD commit):
        its ``response.created`` and audio follow within ms from a local server, so the
        user's own row waits too."""
        if self._until is None:
            self.holds += 1
        self.response_id = None
        self._until = now + self.max_hold

    def begin(self, response_id: str, now: float, *, speaks: bool = True) -> None:
        """A response was created; hold if it may produce audio."""
        if not speaks:
            self.end()
            return
        if self._until is None:
            self.holds += 1
        self.response_id = response_id
        self._until = now + self.max_hold

    def audio_sent(self, response_id: str | None, now: float) -> None:
        """Audio of ``response_id`` went to the browser: release after the grace."""
        if self._until is None:
            return
        if None not in (response_id, self.response_id) and response_id != self.response_id:
            return
        self._until = min(self._until, now + self.grace)

    def holding(self, now: float) -> bool:
        return self._until is not None and now < self._until

    def hold(self, content: Message) -> None:
        self._held.append(content)

    def end(self, response_id: str | None = None) -> None:
        """Stop holding now (``response_id`` None: whatever the response)."""
        if response_id is None or response_id == self.response_id:
            self._until = None
            self.response_id = None

    def take(self, now: float) -> list[Message]:
        """The held messages, oldest first, once the hold is over (else [])."""
        if self.holding(now):
            return []
        self._until = None
        out, self._held = self._held, []
        return out

    def deadline(self) -> float | None:
        """When the hold ends (for the relay's timer), None when not holding."""
        return self._until

    @property
    def idle(self) -> bool:
        """Not holding and nothing held: the relay's fast path."""
        return self._until is None and not self._held

    def __len__(self) -> int:
        return len(self._held)

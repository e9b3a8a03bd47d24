"""Put browser → kernel ``mic``/``ptt`` messages back in ``seq`` order, sans-I/O.

Why: with JupyterLab ≥ 4.4 + ipykernel 7 comm messages are handled on the main
thread *or* on a subshell thread, and marimo handles them on a worker thread
that reorders at high rates (reference/browser-and-kernel-probe.md §1, §5).
Audio appended out of order would be garbled, so every ``mic`` and ``ptt``
message carries ``seq`` (one counter, from 0 per connection).

A missing ``seq`` holds back the ones after it for at most ``max_wait``
seconds (counted from the arrival of the first message after the gap); then
it is skipped and counted in :attr:`Reorderer.gaps`. A message that arrives
after its slot was released or skipped, or twice, is dropped and counted in
:attr:`Reorderer.duplicates`. All times are explicit arguments.
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["Reorderer"]

T = TypeVar("T")


class Reorderer(Generic[T]):
    """Release items in ``seq`` order; wait at most ``max_wait`` s for a gap.

    ``restart_after``: a ``seq`` that far behind the expected one means the
    browser restarted its counter (a new connection or a reloaded page whose
    ``connect`` we did not see): what is held is released and counting starts
    again from it. Late or duplicate messages are never that far behind.
    """

    def __init__(self, max_wait: float = 0.2, restart_after: int = 100) -> None:
        self.max_wait = max_wait
        self.restart_after = restart_after
        self.expected = 0
        """The next ``seq`` to release."""
        self.gaps = 0
        """Sequence numbers skipped after waiting ``max_wait`` for them."""
        self.duplicates = 0
        """Messages dropped because their ``seq`` was already released or skipped."""
        self.restarts = 0
        self.released = 0
        self._held: dict[int, tuple[float, T]] = {}

    def reset(self) -> None:
        """A new connection: ``seq`` starts again at 0; anything held is dropped."""
        self.expected = 0
        self._held.clear()

    @property
    def held(self) -> int:
        return len(self._held)

    def push(self, seq: int, item: T, now: float) -> list[T]:
        """Add one message received at ``now``; return the items now in order."""
        out: list[T] = []
        if seq < self.expected:
            if self.expected - seq <= self.restart_after:
                self.duplicates += 1
                return out
            # The counter restarted: flush what the old one left, then follow the new one.
            self.restarts += 1
            out += self._flush_all()
            self.expected = seq
        if seq in self._held:
            self.duplicates += 1
            return out
        self._held[seq] = (now, item)
        out += self._release()
        return out

    def poll(self, now: float) -> list[T]:
        """Skip gaps that waited ``max_wait``; return the items released by that."""
        out: list[T] = []
        while self._held:
            since = min(t for t, _ in self._held.values())
            if now - since < self.max_wait - 1e-9:  # float slack: a timer fires at the deadline
                break
            first = min(self._held)
            self.gaps += first - self.expected
            self.expected = first
            out += self._release()
        return out

    def deadline(self) -> float | None:
        """When :meth:`poll` will next skip a gap (None if nothing is held)."""
        if not self._held:
            return None
        return min(t for t, _ in self._held.values()) + self.max_wait

    def _release(self) -> list[T]:
        out: list[T] = []
        held = self._held
        while self.expected in held:
            out.append(held.pop(self.expected)[1])
            self.expected += 1
        self.released += len(out)
        return out

    def _flush_all(self) -> list[T]:
        out: list[T] = []
        for seq in sorted(self._held):
            self.gaps += seq - self.expected
            out.append(self._held.pop(seq)[1])
            self.expected = seq + 1
        self.released += len(out)
        return out

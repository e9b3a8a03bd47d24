"""The durable traits during a live session: small row updates now, the whole state at pauses.

Sans-I/O, no clock of its own (``now`` is passed in, kernel monotonic seconds).

Why: ``transcript`` (one row per item) and ``conversation_html`` (those rows as static
HTML plus the turn table) grow with the session, and a synced trait goes out whole.
Resent at every ``response.done`` they were ~110 KB at 100 turns, serialised by the
kernel, parsed twice by jupyter_server and once more by the page, with the turn table
(~11 ms at 100 turns) built on the session's I/O loop first. The microphone chunks in
flight at that moment were delayed by a time that grew with the session: ~20 ms at the
start of a run, ~40 ms after 100 turns (bench/README.md). So:

* **Rows now, as a diff.** After each batch of row changes the Python value of
  ``transcript`` is current (set without syncing) and the page gets a ``rows`` message:
  one splice of its list, covering only the rows that changed (:class:`RowDiff`): a
  row or two per turn.
* **Whole state at pauses.** ``transcript`` and ``conversation_html`` (with the turn
  table) are synced to the page, for a saved notebook and for views opened later, when
  the conversation pauses: :data:`QUIET` seconds after the last change, with no response
  under way, no reply playing and the user not speaking (:class:`Settle`; a barge-in's
  microphone chunks must not queue behind it). While it never pauses, at least every
  :data:`MAX_STALE` seconds (with the turn table as last built: it scans the whole log,
  ~70 ms on the loop for an hour, so only a pause rebuilds it), and when the connection
  closes (after the ``stop``).

A page that loads while the kernel runs gets the current rows from the kernel's
state (Python values are always current); the next pause's full sync repairs any row
message that a page applied to an older list.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_STALE", "QUIET", "RowDiff", "Settle"]

Row = dict[str, Any]

QUIET = 1.0
"""Seconds without a row change (and nothing under way) before the whole state is synced."""

MAX_STALE = 30.0
"""Longest time (s) the page's copy of the durable traits may lag while the
conversation never pauses: one full sync per 30 s delays ~2 of 1500 microphone chunks."""


class RowDiff:
    """What the page lacks of the transcript rows, as one splice of its list."""

    def __init__(self) -> None:
        self._sent: list[Row] = []

    def synced(self, rows: list[Row]) -> None:
        """The page got the whole list (a full trait sync)."""
        self._sent = list(rows)

    def message(self, rows: list[Row]) -> dict[str, Any] | None:
        """A ``rows`` message for the page (None: nothing changed).

        The page replaces ``delete`` rows at ``start`` with ``rows``; ``total`` is the
        list's new length. Rows the same at both ends are left out, so an appended row,
        a row that changed, an item inserted or deleted anywhere cost only the rows
        between the first and the last difference: a row or two per turn.
        """
        sent = self._sent
        n = min(len(sent), len(rows))
        start = 0
        while start < n and sent[start] == rows[start]:
            start += 1
        if start == len(sent) == len(rows):
            return None
        tail = 0
        while tail < n - start and sent[-1 - tail] == rows[-1 - tail]:
            tail += 1
        self._sent = list(rows)
        return {
            "type": "rows",
            "start": start,
            "delete": len(sent) - start - tail,
            "rows": rows[start : len(rows) - tail],
            "total": len(rows),
        }


class Settle:
    """When the durable traits are next synced whole."""

    def __init__(self, *, quiet: float = QUIET, max_stale: float = MAX_STALE) -> None:
        self.quiet = quiet
        self.max_stale = max_stale
        self.syncs = 0
        """Full syncs done (a counter for ``Relay.stats``)."""
        self._since: float | None = None  # first change not yet synced
        self._last = 0.0  # latest change

    @property
    def pending(self) -> bool:
        return self._since is not None

    def changed(self, now: float) -> None:
        if self._since is None:
            self._since = now
        self._last = now

    def synced(self) -> None:
        self._since = None
        self.syncs += 1

    def deadline(self, busy: bool) -> float | None:
        """When to look again: the quiet time's end, or (busy) the staleness limit."""
        if self._since is None:
            return None
        stale = self._since + self.max_stale
        return stale if busy else min(stale, self._last + self.quiet)

    def due(self, now: float, busy: bool) -> bool:
        deadline = self.deadline(busy)
        return deadline is not None and now >= deadline - 1e-6

"""Transcripts for the browser: streamed ``transcript`` messages and the saved rows.

Two outputs, both sans-I/O:

* :class:`TranscriptStream` turns transcript deltas into ``transcript``
  messages at most every ``interval`` (100 ms) per flush: a server that bursts
  a reply sends hundreds of text deltas in a fraction of a second, and each
  would otherwise be a comm message (jupyter_server drops above its rate
  limit). A final text (``final: true``, full replacement) goes out at once and
  supersedes the deltas still held for that item.
* :func:`transcript_rows` / :func:`conversation_html` build the ``transcript``
  and ``conversation_html`` traits from the conversation state, so a saved
  notebook shows the conversation without a kernel (unheard text of a barge-in
  struck through).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

# The saved rows and their HTML are the log layer's (a loaded recording renders them too).
from realtime_widget.log.report import conversation_html, transcript_rows

__all__ = ["TranscriptStream", "conversation_html", "transcript_rows"]

_EPS = 1e-6


class TranscriptStream:
    """Hold transcript deltas per item; release them at most every ``interval`` s."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.last_flush = float("-inf")
        self.messages = 0
        self._held: OrderedDict[str, tuple[str, str]] = OrderedDict()  # item → (role, text)

    def reset(self) -> None:
        self._held.clear()

    def delta(self, item_id: str, role: str, text: str, now: float) -> list[dict[str, Any]]:
        if not text:
            return []
        held = self._held.get(item_id)
        self._held[item_id] = (role, (held[1] if held else "") + text)
        return self.poll(now)

    def final(
        self, item_id: str, role: str, text: str, now: float, unheard: str | None = None
    ) -> list[dict[str, Any]]:
        """The item's whole text (replacing what was streamed); sent at once."""
        # A final replaces the item's text: its held deltas are superseded.
        self._held.pop(item_id, None)
        msg: dict[str, Any] = {
            "type": "transcript",
            "item_id": item_id,
            "role": role,
            "text": text,
            "final": True,
        }
        if unheard is not None:
            msg["unheard"] = unheard
        self.messages += 1
        return [msg]

    def poll(self, now: float) -> list[dict[str, Any]]:
        if not self._held or now - self.last_flush < self.interval - _EPS:
            return []
        return self._flush(now)

    def _flush(self, now: float) -> list[dict[str, Any]]:
        out = [
            {
                "type": "transcript",
                "item_id": item_id,
                "role": role,
                "delta": text,
                "final": False,
            }
            for item_id, (role, text) in self._held.items()
        ]
        self._held.clear()
        self.last_flush = now
        self.messages += len(out)
        return out

    def deadline(self) -> float | None:
        if not self._held:
            return None
        return self.last_flush + self.interval

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

import html
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from realtime_widget.state.conversation import Conversation, Item

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


# -- rows and HTML ------------------------------------------------------------------------


def _user_row(item: Item) -> dict[str, Any]:
    if item.transcript is not None:
        text = item.transcript
        status = "in_progress" if item.transcript_status == "in_progress" else "completed"
    else:
        text = item.text
        status = "completed"
    return {"item_id": item.id, "role": "user", "text": text, "unheard": "", "status": status}


def _assistant_row(item: Item, conv: Conversation) -> dict[str, Any]:
    response = conv.responses.get(item.response_id) if item.response_id else None
    cancelled = response is not None and response.status == "cancelled"
    if item.truncated or item.status == "incomplete" or cancelled:
        status = "interrupted"
    elif item.t_done is None or item.status == "in_progress":
        status = "in_progress"
    else:
        status = "completed"
    return {
        "item_id": item.id,
        "role": "assistant",
        "text": item.heard_text,
        "unheard": item.unheard_text,
        "status": status,
    }


def transcript_rows(conversations: Iterable[Conversation]) -> list[dict[str, Any]]:
    """``{item_id, role, text, unheard, status}`` per user/assistant message, in
    conversation order, over every connection of a session (oldest first)."""
    rows: list[dict[str, Any]] = []
    for conv in conversations:
        for item in conv.items:
            if item.type != "message":
                continue
            if item.role == "user":
                rows.append(_user_row(item))
            elif item.role == "assistant":
                rows.append(_assistant_row(item, conv))
    return rows


_ROLE_NAMES = {"user": "You", "assistant": "Model"}
_STYLE = (
    "font-family: var(--jp-content-font-family, sans-serif); font-size: 13px; "
    "line-height: 1.45; max-height: 24em; overflow-y: auto"
)


def conversation_html(rows: Iterable[dict[str, Any]]) -> str:
    """A static HTML rendering of transcript rows (every text escaped); "" if none."""
    parts: list[str] = []
    for row in rows:
        role = str(row.get("role") or "")
        name = html.escape(_ROLE_NAMES.get(role, role))
        text = html.escape(str(row.get("text") or ""))
        unheard = html.escape(str(row.get("unheard") or ""))
        status = str(row.get("status") or "")
        body = text or ("<i>(speech)</i>" if role == "user" else "<i>(audio)</i>")
        if unheard:
            body += f'<s style="opacity: 0.55" title="not heard">{unheard}</s>'
        if status == "interrupted":
            body += ' <i style="opacity: 0.6">(interrupted)</i>'
        parts.append(f'<div class="rtw-row rtw-{html.escape(role)}"><b>{name}:</b> {body}</div>')
    if not parts:
        return ""
    return f'<div class="rtw-conversation" style="{_STYLE}">' + "".join(parts) + "</div>"

"""Layer 3: static HTML of a conversation: transcript rows and a turn summary.

What a saved notebook shows without a kernel: the widget keeps
:func:`conversation_html` in its state, and :meth:`Recording._repr_html_` renders
:func:`recording_html` as an ordinary output. Every text is escaped.
"""

from __future__ import annotations

import contextlib
import html
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from realtime_widget.state.conversation import Conversation, Item

    from .recording import Recording

__all__ = ["conversation_html", "recording_html", "transcript_rows", "turns_html"]


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


def _shorten(text: str, n: int = 200) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _tool_row(item: Item) -> dict[str, Any] | None:
    """A function call (``name(arguments)``) or its result (``→ output``), role "tool"."""
    if item.type == "function_call":
        text = f"{item.name or '?'}({_shorten(item.arguments or '')})"
        status = "completed" if item.status == "completed" else "in_progress"
    elif item.type == "function_call_output":
        text = f"→ {_shorten(item.output or '')}"
        status = "completed"
    else:
        return None
    return {"item_id": item.id, "role": "tool", "text": text, "unheard": "", "status": status}


def transcript_rows(conversations: Iterable[Conversation]) -> list[dict[str, Any]]:
    """``{item_id, role, text, unheard, status}`` per user/assistant message, tool call
    and tool result, in conversation order, over every connection of a session (oldest
    first)."""
    rows: list[dict[str, Any]] = []
    for conv in conversations:
        for item in conv.items:
            if item.type != "message":
                row = _tool_row(item)
                if row is not None:
                    rows.append(row)
            elif item.role == "user":
                rows.append(_user_row(item))
            elif item.role == "assistant":
                rows.append(_assistant_row(item, conv))
    return rows


_ROLE_NAMES = {"user": "You", "assistant": "Model", "tool": "Tool"}
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


_TABLE = "border-collapse: collapse; font-size: 12px; margin: 4px 0"
_CELL = "border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top"


def _ms(value: Any) -> str:
    return (
        "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0f}"
    )


def _clip(text: Any, n: int = 80) -> str:
    """A table cell's text, shortened and escaped (a missing value is empty)."""
    s = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    return html.escape(_shorten(s, n))


def turns_html(turns: pd.DataFrame) -> str:
    """One table row per turn: what was said, end of speech → first audio (heard), and
    whether the reply was interrupted. "" for no turns."""
    if not len(turns):
        return ""
    head = ["turn", "you", "model", "first audio (ms)", "first heard (ms)", ""]
    rows = ["<tr>" + "".join(f'<th style="{_CELL}">{h}</th>' for h in head) + "</tr>"]
    # plain dicts: DataFrame.iterrows builds a Series per row, ~8x slower, and this runs on
    # the session's I/O loop after every response.done
    for index, row in zip(turns.index, turns.to_dict("records"), strict=True):
        said = _clip(row["assistant_text"])
        if row["unheard_text"]:
            said += f' <s style="opacity: 0.55">{_clip(row["unheard_text"], 40)}</s>'
        cells = [
            str(index),
            _clip(row["user_text"]) or f"<i>({html.escape(str(row['source']))})</i>",
            said,
            _ms(row["speech_end_to_first_audio_ms"]),
            _ms(row["speech_end_to_first_played_ms"]),
            "interrupted" if row["interrupted"] else "",
        ]
        rows.append("<tr>" + "".join(f'<td style="{_CELL}">{c}</td>' for c in cells) + "</tr>")
    return f'<table class="rtw-turns" style="{_TABLE}">' + "".join(rows) + "</table>"


def recording_html(recording: Recording) -> str:
    """Summary line, turn table and transcript of a recording (and its earlier connections)."""
    s = recording.summary()
    where = html.escape(str(recording.info.get("url") or recording.info.get("target") or ""))
    head = (
        f"<b>Recording</b> {where} · model {html.escape(str(s['model']))} · "
        f"{s['events']} events over {s['seconds']} s · {s['turns']} turns · "
        f"{s['responses']} responses · {s['errors']} errors"
    )
    parts = [f"<div>{head}</div>"]
    with contextlib.suppress(ImportError):  # no pandas: the transcript alone
        parts.append(turns_html(recording.turns()))
    convs = [r.conversation for r in recording.history] + [recording.conversation]
    parts.append(conversation_html(transcript_rows(convs)))
    return '<div class="rtw-recording">' + "".join(parts) + "</div>"

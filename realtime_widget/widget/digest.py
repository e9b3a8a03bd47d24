"""The compact live event list the browser shows (``events`` messages), sans-I/O.

Why batch: one comm message per event would cost ~75 messages per second of
full-duplex speech (appends and deltas) on top of the audio, and
jupyter_server drops kernel → browser messages above its rate limit. So the
relay reads the session's :class:`~realtime_widget.log.event_log.EventLog`
every ~150 ms and sends one ``events`` message with what was added, runs of
appends and deltas collapsed (``response.output_audio.delta ×12``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from realtime_widget.log.event_log import EventLog, LoggedEvent

__all__ = ["COLLAPSED_TYPES", "EventDigest", "collapse", "summarize"]

COLLAPSED_TYPES = frozenset(
    {
        "input_audio_buffer.append",
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "conversation.item.input_audio_transcription.delta",
    }
)
"""High-rate types: consecutive ones (of any of these types) are collapsed per type."""

_TEXT_DELTAS = frozenset(
    {
        "response.output_audio_transcript.delta",
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "conversation.item.input_audio_transcription.delta",
    }
)
_MAX_SUMMARY = 80


def _clip(text: str, limit: int = _MAX_SUMMARY) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize(type_: str, payload: dict[str, Any]) -> str:
    """A one-line human summary of an event (never its audio, never a secret:
    events carry neither keys nor headers)."""
    get = payload.get
    if type_ in _TEXT_DELTAS:
        delta = get("delta")
        return delta if isinstance(delta, str) else ""
    if type_ == "error":
        err = get("error")
        if isinstance(err, dict):
            code = err.get("code") or err.get("type") or ""
            return _clip(f"{code}: {err.get('message') or ''}")
        return ""
    if type_ in ("conversation.item.truncate", "conversation.item.truncated"):
        return f"{get('item_id')} at {get('audio_end_ms')} ms"
    if type_ in ("input_audio_buffer.speech_started",):
        return f"at {get('audio_start_ms')} ms"
    if type_ in ("input_audio_buffer.speech_stopped",):
        return f"at {get('audio_end_ms')} ms"
    if type_ == "conversation.item.input_audio_transcription.completed":
        return _clip(str(get("transcript") or ""))
    if type_ in ("response.created", "response.done"):
        resp = get("response")
        if isinstance(resp, dict):
            details = resp.get("status_details")
            reason = details.get("reason") if isinstance(details, dict) else None
            status = resp.get("status") or ""
            return f"{resp.get('id') or ''} {status}{f' ({reason})' if reason else ''}".strip()
        return ""
    if type_ in ("response.cancel",):
        return str(get("response_id") or "")
    item = get("item")
    if isinstance(item, dict):
        role = item.get("role") or item.get("type") or ""
        return f"{item.get('id') or ''} {role}".strip()
    if type_ in ("session.created", "session.updated", "session.update"):
        session = get("session")
        if isinstance(session, dict):
            audio = session.get("audio")
            td = (
                (audio.get("input") or {}).get("turn_detection", "-")
                if isinstance(audio, dict)
                else "-"
            )
            if td != "-":
                kind = td.get("type") if isinstance(td, dict) else "off"
                return f"turn detection: {kind}"
        return ""
    if type_.startswith("widget."):
        fields = [
            f"{k}={v}"
            for k, v in payload.items()
            if k != "type" and isinstance(v, (str, int, float, bool)) and v is not None
        ]
        return _clip(" ".join(fields))
    return ""


def collapse(
    entries: Iterable[tuple[float, str, str, str, float]], max_entries: int = 100
) -> list[dict[str, Any]]:
    """``(t_ms, dir, type, summary, audio_ms)`` → ``events`` rows, high-rate runs collapsed.

    Within a stretch of high-rate events (appends and deltas, interleaved as they
    come), each (dir, type) becomes one row: ``summary`` tells the count (``×12``),
    the audio (``480 ms``) or the joined text. Anything else is a row of its own
    and ends the stretch. Past ``max_entries`` rows, the rest is counted in one
    last row of type ``…``.
    """
    rows: list[dict[str, Any]] = []
    open_rows: dict[tuple[str, str], dict[str, Any]] = {}
    extra = 0
    for t_ms, direction, type_, summary, audio_ms in entries:
        if type_ in COLLAPSED_TYPES:
            key = (direction, type_)
            row = open_rows.get(key)
            if row is not None:
                row["n"] += 1
                row["audio_ms"] += audio_ms
                row["text"] += summary
                continue
            row = {
                "t": t_ms,
                "dir": direction,
                "type": type_,
                "n": 1,
                "audio_ms": audio_ms,
                "text": summary,
            }
        else:
            open_rows.clear()
            row = {"t": t_ms, "dir": direction, "type": type_, "summary": summary}
        if len(rows) >= max_entries:
            extra += 1
            continue
        rows.append(row)
        if type_ in COLLAPSED_TYPES:
            open_rows[(direction, type_)] = row
    out: list[dict[str, Any]] = []
    for row in rows:
        if "n" in row:
            n, audio_ms, text = row.pop("n"), row.pop("audio_ms"), row.pop("text")
            parts = [f"×{n}"] if n > 1 else []
            if audio_ms:
                parts.append(f"{audio_ms:.0f} ms")
            if text:
                parts.append(_clip(text, 60))
            row["summary"] = " ".join(parts)
        out.append(row)
    if extra:
        out.append(
            {
                "t": out[-1]["t"] if out else 0.0,
                "dir": "widget",
                "type": "…",
                "summary": f"{extra} more",
            }
        )
    return out


class EventDigest:
    """Reads a session's event log incrementally and produces ``events`` batches.

    A reconnect gives the session a new log: a different log object restarts
    the reading from its beginning.
    """

    def __init__(self, interval: float = 0.15, max_entries: int = 100) -> None:
        self.interval = interval
        self.max_entries = max_entries
        self.last_flush = float("-inf")
        self._log: EventLog | None = None
        self._index = 0

    def unseen(self, log: EventLog) -> bool:
        return log is not self._log or len(log) > self._index

    def deadline(self, log: EventLog) -> float | None:
        """When the next batch is due (None when the log has nothing new)."""
        if not self.unseen(log):
            return None
        return self.last_flush + self.interval

    def take(self, log: EventLog, now: float) -> list[dict[str, Any]]:
        """The rows for everything logged since the last call."""
        if log is not self._log:
            self._log, self._index = log, 0
        end = len(log)
        start, self._index = self._index, end
        self.last_flush = now
        return collapse((_entry(log[i]) for i in range(start, end)), self.max_entries)


def _entry(rec: LoggedEvent) -> tuple[float, str, str, str, float]:
    if rec.type in COLLAPSED_TYPES and rec.type not in _TEXT_DELTAS:
        summary = ""  # appends and audio deltas: the count and duration say it all
    else:
        summary = summarize(rec.type, rec.payload)
    return rec.t_wall * 1000.0, rec.direction, rec.type, summary, rec.audio_ms or 0.0

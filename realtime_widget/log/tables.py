"""Layer 3: the turn table and its latency summary, computed from recorded events only.

One row per :class:`~realtime_widget.state.conversation.Turn`. Times are seconds
since the log's first event, on the kernel's monotonic clock:

=========================  =================================================================
``t_speech_started``       ``input_audio_buffer.speech_started`` reached the kernel
``t_speech_end``           the last sample of the user's speech was appended, mapped to a
                           time through the append log: for server VAD the server's
                           ``audio_end_ms`` minus the ``silence_duration_ms`` then in effect
                           (OpenAI's ``audio_end_ms`` includes that silence; semantic VAD has
                           no fixed silence, so nothing is subtracted); for a manual turn
                           the end of the committed slice; NaN when the audio did not go
                           through this session's appends
``t_speech_stopped``       ``speech_stopped`` reached the kernel
``t_committed``            ``input_audio_buffer.committed`` (or the typed item's ``added``)
``t_response_created``     the turn's first ``response.created``
``t_first_audio``          its first ``response.output_audio.delta`` reached the kernel
``t_first_played``         the browser started playing it (``widget.playback_started``,
                           browser clock mapped to the kernel's); NaN without a widget
``t_response_done``        the turn's last ``response.done``
=========================  =================================================================

Latencies (ms) are differences of those: ``vad_ms`` (speech end → speech_stopped:
the server's silence wait plus transport), ``commit_ms`` (speech_stopped →
committed), ``create_ms`` (committed → response.created), ``first_audio_ms``
(response.created → first audio), ``playout_ms`` (first audio at the kernel →
first sample played), ``response_ms`` (created → done), and the two a person feels:
``speech_end_to_first_audio_ms`` and ``speech_end_to_first_played_ms`` (end of
speech → first audio heard). "End of speech" is ``t_speech_end`` when known, else
``t_speech_stopped``, else ``t_committed``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from realtime_widget.protocol.audio import SAMPLE_RATE
from realtime_widget.state.conversation import Conversation, Turn

from .event_log import EventLog

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LATENCY_COLUMNS",
    "TIME_COLUMNS",
    "InputClock",
    "first_played_times",
    "latency_summary",
    "turns_frame",
]

TIME_COLUMNS: tuple[str, ...] = (
    "t_speech_started", "t_speech_end", "t_speech_stopped", "t_committed",
    "t_response_created", "t_first_audio", "t_first_played", "t_response_done",
)  # fmt: skip

LATENCY_COLUMNS: tuple[str, ...] = (
    "speech_end_to_first_played_ms", "speech_end_to_first_audio_ms", "vad_ms", "commit_ms",
    "create_ms", "first_audio_ms", "playout_ms", "response_ms",
)  # fmt: skip

_NAN = math.nan


def _f(value: float | None) -> float:
    return _NAN if value is None else float(value)


class InputClock:
    """Maps a position on the input timeline (samples) to the kernel time it was appended."""

    def __init__(self, log: EventLog) -> None:
        self.start, self.length, self.t = log.input_timeline()
        self.end = self.start + self.length

    def time_of(self, sample: int) -> float:
        """Kernel time at which input sample ``sample`` had been appended; NaN if never."""
        if not len(self.end) or sample > self.end[-1] or sample < 0:
            return _NAN
        i = int(np.searchsorted(self.end, sample, side="left"))
        i = min(i, len(self.end) - 1)
        # The chunk was sent when complete; its samples were captured just before, in order.
        return float(self.t[i] - (self.end[i] - sample) / SAMPLE_RATE)


def first_played_times(log: EventLog) -> dict[str, float]:
    """item_id → kernel time of its first ``widget.playback_started``."""
    out: dict[str, float] = {}
    for entry in log.filter(type="widget.playback_started", direction="widget"):
        item_id = entry.payload.get("item_id")
        if isinstance(item_id, str) and item_id not in out:
            out[item_id] = entry.t_kernel
    return out


class SilenceAt:
    """The server VAD's ``silence_duration_ms`` in effect at a kernel time, from the
    ``session.created``/``session.updated`` events in the log (0 when not server_vad)."""

    def __init__(self, log: EventLog) -> None:
        self.changes: list[tuple[float, int]] = []
        entries = log.filter(type="session.created", direction="server") + log.filter(
            type="session.updated", direction="server"
        )
        for entry in sorted(entries, key=lambda e: e.index):
            session = entry.payload.get("session")
            audio = session.get("audio") if isinstance(session, dict) else None
            inp = audio.get("input") if isinstance(audio, dict) else None
            if not isinstance(inp, dict) or "turn_detection" not in inp:
                continue
            td = inp.get("turn_detection")
            silence = 0
            if isinstance(td, dict) and td.get("type") == "server_vad":
                value = td.get("silence_duration_ms")
                silence = value if isinstance(value, int) and value >= 0 else 500
            self.changes.append((entry.t_kernel, silence))

    def __call__(self, t: float | None) -> int:
        silence = 0
        for at, value in self.changes:
            if t is not None and at > t:
                break
            silence = value
        return silence


def _speech_end(turn: Turn, conv: Conversation, clock: InputClock, silence_at: SilenceAt) -> float:
    if turn.audio_end_ms is not None:
        end_ms = turn.audio_end_ms
        if turn.source == "speech":
            end_ms = max(turn.audio_start_ms or 0, end_ms - silence_at(turn.t_speech_stopped))
        return clock.time_of(end_ms * (SAMPLE_RATE // 1000))
    if turn.item_id is not None:
        try:
            span = conv.item(turn.item_id).input_span
        except KeyError:
            span = None
        if span is not None:
            return clock.time_of(span[1])
    return _NAN


def _texts(turn: Turn, conv: Conversation) -> tuple[str, str, str, list[str]]:
    user = ""
    if turn.item_id is not None:
        try:
            item = conv.item(turn.item_id)
        except KeyError:
            item = None
        if item is not None:
            user = item.transcript if item.transcript is not None else item.text
    said: list[str] = []
    unheard: list[str] = []
    items: list[str] = []
    for out in conv.turn_output(turn):
        items.append(out.id)
        if out.type == "function_call":
            said.append(f"[{out.name}({out.arguments or ''})]")
        elif out.text:
            said.append(out.text)
            if out.truncated:
                unheard.append(out.unheard_text)
    return user, " ".join(said), " ".join(u for u in unheard if u), items


def turns_frame(log: EventLog, conv: Conversation) -> pd.DataFrame:
    """One row per turn; columns described in the module docstring."""
    import pandas as pd

    t0 = log[0].t_kernel if len(log) else 0.0
    clock = InputClock(log)
    silence_at = SilenceAt(log)
    played = first_played_times(log)
    rows: list[dict[str, Any]] = []
    for turn in conv.turns:
        user, said, unheard, items = _texts(turn, conv)
        first_played = min((played[i] for i in items if i in played), default=None)
        times = {
            "t_speech_started": _f(turn.t_speech_started),
            "t_speech_end": _speech_end(turn, conv, clock, silence_at),
            "t_speech_stopped": _f(turn.t_speech_stopped),
            "t_committed": _f(turn.t_committed),
            "t_response_created": _f(turn.t_response_created),
            "t_first_audio": _f(turn.t_first_audio),
            "t_first_played": _f(first_played),
            "t_response_done": _f(turn.t_response_done),
        }
        end = times["t_speech_end"]
        if math.isnan(end):
            end = times["t_speech_stopped"]
        if math.isnan(end):
            end = times["t_committed"]

        def ms(a: float, b: float) -> float:
            return (b - a) * 1000.0

        row: dict[str, Any] = {
            "turn": turn.index,
            "source": turn.source,
            "item_id": turn.item_id,
            "response_id": turn.response_id,
            "responses": len(turn.response_ids),
            "interrupted": turn.interrupted,
            "truncated_ms": _f(turn.truncated_ms),
            "user_text": user,
            "assistant_text": said,
            "unheard_text": unheard,
        }
        row.update({k: v - t0 for k, v in times.items()})
        row.update(
            {
                "speech_end_to_first_played_ms": ms(end, times["t_first_played"]),
                "speech_end_to_first_audio_ms": ms(end, times["t_first_audio"]),
                "vad_ms": ms(times["t_speech_end"], times["t_speech_stopped"]),
                "commit_ms": ms(times["t_speech_stopped"], times["t_committed"]),
                "create_ms": ms(
                    times["t_committed"]
                    if not math.isnan(times["t_committed"])
                    else times["t_speech_stopped"],
                    times["t_response_created"],
                ),
                "first_audio_ms": ms(times["t_response_created"], times["t_first_audio"]),
                "playout_ms": ms(times["t_first_audio"], times["t_first_played"]),
                "response_ms": ms(times["t_response_created"], times["t_response_done"]),
            }
        )
        rows.append(row)
    columns = [
        "turn", "source", "item_id", "response_id", "responses", "interrupted",
        "truncated_ms", "user_text", "assistant_text", "unheard_text",
        *TIME_COLUMNS, *LATENCY_COLUMNS,
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns).set_index("turn")


def latency_summary(turns: pd.DataFrame) -> pd.DataFrame:
    """count, p50, p95, mean and max (ms) of each latency column of a turn table."""
    import pandas as pd

    out = []
    for col in LATENCY_COLUMNS:
        values = turns[col].dropna().to_numpy(dtype=np.float64) if col in turns else np.zeros(0)
        if len(values):
            p50, p95 = np.percentile(values, [50, 95])
            out.append(
                {
                    "stage": col,
                    "count": len(values),
                    "p50": float(p50),
                    "p95": float(p95),
                    "mean": float(values.mean()),
                    "max": float(values.max()),
                }
            )
        else:
            out.append(
                {"stage": col, "count": 0, "p50": _NAN, "p95": _NAN, "mean": _NAN, "max": _NAN}
            )
    return pd.DataFrame(out).set_index("stage")

"""Layer 3: the turn timeline plot: both sides' waveforms with VAD, response and
truncation markers (matplotlib, imported on first use).

The figure is made through pyplot (in a notebook that sets up the inline display
of figures) and closed from pyplot at once, so it shows once: where the returned
figure is displayed. Waveforms are drawn as min/max
envelopes over at most ``resolution`` columns, so an hour plots as fast as a turn.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from realtime_widget.protocol.audio import SAMPLE_RATE

from .mixdown import placements
from .tables import turns_frame

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .recording import Recording

__all__ = ["plot_timeline"]

_MARKERS: tuple[tuple[str, str, str, str], ...] = (
    # column, label, colour, line style
    ("t_speech_started", "speech started", "tab:green", "-"),
    ("t_speech_stopped", "speech stopped", "tab:red", "-"),
    ("t_response_created", "response created", "tab:blue", "--"),
    ("t_first_played", "first audio played", "tab:purple", ":"),
    ("t_response_done", "response done", "tab:gray", "--"),
)


def _envelope(
    pieces: list[tuple[int, Any]], lo: int, hi: int, columns: int
) -> tuple[Any, Any, Any]:
    """(x seconds, min, max) of the pieces' samples in ``[lo, hi)``, ``columns`` buckets."""
    width = max(1, (hi - lo) // columns)
    n = (hi - lo + width - 1) // width
    mins = np.zeros(n, dtype=np.float32)
    maxs = np.zeros(n, dtype=np.float32)
    for pos, audio in pieces:
        a, b = max(pos, lo), min(pos + len(audio), hi)
        if a >= b:
            continue
        seg = np.asarray(audio[a - pos : b - pos], dtype=np.float32) / 32768.0
        first = (a - lo) // width
        # Bucket boundaries inside this piece; reduceat gives min/max per bucket.
        edges = np.arange(first, (b - lo + width - 1) // width) * width + lo
        starts = np.maximum(edges, a) - a
        starts = starts[starts < len(seg)]
        if not len(starts):
            continue
        idx = slice(first, first + len(starts))
        mins[idx] = np.minimum(mins[idx], np.minimum.reduceat(seg, starts))
        maxs[idx] = np.maximum(maxs[idx], np.maximum.reduceat(seg, starts))
    x = (lo + np.arange(n) * width) / SAMPLE_RATE
    return x, mins, maxs


def plot_timeline(
    recording: Recording,
    *,
    start: float | None = None,
    end: float | None = None,
    resolution: int = 4000,
    figsize: tuple[float, float] = (12.0, 4.5),
) -> Figure:
    """Both sides' waveforms (seconds from the first event) with the turn markers.

    ``start``/``end`` (seconds) zoom in. Truncations are drawn where the assistant's
    audio was cut (the heard part ends there), with the unheard length noted.
    """
    import matplotlib.pyplot as plt

    log, conv = recording.log, recording.conversation
    user, assistant = placements(log, conv)
    turns = turns_frame(log, conv)
    total = max([p + len(a) for p, a in user] + [p + len(a) for p, _, a in assistant], default=0)
    if len(log):
        total = max(total, round(log.t_span() * SAMPLE_RATE))
    lo = 0 if start is None else max(0, round(start * SAMPLE_RATE))
    hi = total if end is None else min(total, round(end * SAMPLE_RATE))
    if hi <= lo:
        hi = lo + SAMPLE_RATE

    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)  # pyplot forgets it: shown where it is displayed, not again at cell end
    ax_user, ax_bot = fig.subplots(2, 1, sharex=True)
    sides: list[tuple[Axes, list[tuple[int, Any]], str, str]] = [
        (ax_user, user, "user (microphone)", "tab:green"),
        (ax_bot, [(p, a) for p, _, a in assistant], "assistant (heard)", "tab:blue"),
    ]
    for ax, pieces, label, colour in sides:
        x, mins, maxs = _envelope(pieces, lo, hi, resolution)
        ax.fill_between(x, mins, maxs, color=colour, linewidth=0, step="post")
        ax.set_ylabel(label, fontsize=8)
        ax.set_ylim(-1.05, 1.05)
        ax.grid(alpha=0.25)

    seen: set[str] = set()
    for _, row in turns.iterrows():
        for column, label, colour, style in _MARKERS:
            t = row[column]
            if math.isnan(t):
                continue
            for ax in (ax_user, ax_bot):
                ax.axvline(
                    t,
                    color=colour,
                    linestyle=style,
                    linewidth=1,
                    label=label if label not in seen and ax is ax_user else None,
                )
            seen.add(label)
        at = row["t_speech_started"]
        if math.isnan(at):
            at = row["t_committed"]
        if not math.isnan(at):
            ax_user.annotate(
                f"turn {row.name}",
                (at, 0.97),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                va="top",
            )
    for pos, item_id, audio in assistant:
        item = conv.item(item_id)
        if item.truncated_ms is None:
            continue
        t_cut = (pos + len(audio)) / SAMPLE_RATE
        cut_label = "truncated" if "truncated" not in seen else None
        seen.add("truncated")
        ax_bot.axvline(t_cut, color="black", linewidth=2, label=cut_label)
        ax_bot.annotate(
            f"cut: {item.audio_ms - item.heard_ms:.0f} ms unheard",
            (t_cut, -0.95),
            fontsize=7,
            xytext=(3, 0),
            textcoords="offset points",
        )
    ax_bot.set_xlim(lo / SAMPLE_RATE, hi / SAMPLE_RATE)
    ax_bot.set_xlabel("seconds since the first event (kernel clock)")
    if seen:
        fig.legend(loc="outside upper center", ncols=min(6, len(seen)), fontsize=8)
    return fig

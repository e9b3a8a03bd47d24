"""Layer 3: the inspection API over one connection's events, live or loaded from a file.

A :class:`Recording` wraps a :class:`~realtime_widget.log.recorder.Recorder` (its
:class:`~realtime_widget.log.event_log.EventLog` and
:class:`~realtime_widget.state.conversation.Conversation`) plus a little
metadata. ``Session.recording`` gives the live one (tables are computed from
what has been recorded so far, so calling them again shows new turns);
:func:`realtime_widget.load` gives one read back from a file, with no
connection. Every figure in every table is computed from the recorded events
and audio; nothing is estimated from outside them.

The tables and figures live in modules of their own; this class only binds
them to one recording:

=====================  ==========================================================
``events``             the event log as a DataFrame (``log.df``)
``turns()``            one row per user turn: stage times and latencies (tables)
``latency()``          p50/p95 of those latencies (tables)
``usage()``            tokens and cost per response (usage_table, state.pricing)
``totals()``           session totals of the same
``settings()``         every ``session.update`` sent vs the ``session.updated``
                       that answered it (settings_table); ``settings_diff()``
``audio()``/``play()``/``to_wav()``  both sides mixed as heard, or stereo (mixdown)
``timeline()``         waveform of both sides with VAD/response/truncation marks
``save(path)``         one file (archive)
=====================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from realtime_widget.protocol.audio import Int16Array
from realtime_widget.state.conversation import Conversation, Item
from realtime_widget.state.pricing import PriceTable

from .event_log import EventLog
from .recorder import Recorder

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["Recording"]


class Recording:
    """Events, conversation, audio, turns, usage and settings of one connection.

    ``info``: metadata saved with the recording (target, URL, model, start
    time...; never a key). ``history``: recordings of earlier connections of the
    same session (a reconnect is a new server session), oldest first.
    """

    def __init__(
        self,
        recorder: Recorder,
        info: Mapping[str, Any] | None = None,
        history: Sequence[Recording] = (),
    ) -> None:
        self.recorder = recorder
        self.info: dict[str, Any] = dict(recorder.info if info is None else info)
        self.history: list[Recording] = list(history)

    # -- the raw parts ------------------------------------------------------------------

    @property
    def log(self) -> EventLog:
        return self.recorder.log

    @property
    def conversation(self) -> Conversation:
        return self.recorder.conversation

    @property
    def items(self) -> list[Item]:
        """Conversation items in order (``item.audio``, ``.play()``, ``.to_wav()``...)."""
        return self.conversation.items

    @property
    def events(self) -> pd.DataFrame:
        """The event log as a DataFrame (see :attr:`EventLog.df`)."""
        return self.log.df

    # -- tables ---------------------------------------------------------------------------

    def turns(self) -> pd.DataFrame:
        """One row per user turn: stage times (s from the first event) and latencies (ms)."""
        from .tables import turns_frame

        return turns_frame(self.log, self.conversation)

    def latency(self) -> pd.DataFrame:
        """count/p50/p95/mean/max of each latency column of :meth:`turns`, in ms."""
        from .tables import latency_summary

        return latency_summary(self.turns())

    def usage(self, prices: PriceTable | None = None) -> pd.DataFrame:
        """Tokens per response (text/audio/cached, in and out) and their cost in USD."""
        from .usage_table import usage_frame

        return usage_frame(self.conversation, prices, model=self.model)

    def totals(self, prices: PriceTable | None = None) -> dict[str, float]:
        """Session totals of :meth:`usage` (tokens and ``cost_usd``)."""
        from .usage_table import usage_totals

        return usage_totals(self.conversation, prices, model=self.model)

    def settings(self) -> pd.DataFrame:
        """Every ``session.update`` sent and the ``session.updated`` that answered it."""
        from .settings_table import settings_frame

        return settings_frame(self.log)

    def settings_diff(self) -> str:
        """Requested vs applied for each update, as readable text."""
        from .settings_table import settings_diff_text

        return settings_diff_text(self.log)

    @property
    def model(self) -> str | None:
        """The model the server reported (``session.created/updated``), else the requested."""
        session = self.conversation.session or {}
        model = session.get("model") if isinstance(session, dict) else None
        if isinstance(model, str) and model:
            return model
        requested = self.info.get("model")
        return requested if isinstance(requested, str) else None

    # -- audio ----------------------------------------------------------------------------

    def audio(self, *, stereo: bool = False) -> Int16Array:
        """The whole conversation as heard: user and assistant on one timeline.

        Mono (default): both sides mixed (saturating sum). ``stereo=True``: an
        ``(n, 2)`` array, user left, assistant right. Assistant audio is placed
        where the browser started playing it (else where its first delta
        arrived) and cut where playback was truncated.
        """
        from .mixdown import conversation_audio

        return conversation_audio(self.log, self.conversation, stereo=stereo)

    def play(self, *, stereo: bool = False) -> Any:
        """An ``IPython.display.Audio`` of :meth:`audio` (display it, or end a cell with it)."""
        from realtime_widget.protocol.audio import audio_player

        return audio_player(self.audio(stereo=stereo))

    def to_wav(self, path: str | PathLike[str], *, stereo: bool = False) -> Path:
        """Write :meth:`audio` as a 24 kHz PCM16 WAV file; return its path."""
        from realtime_widget.protocol.audio import write_wav

        out = Path(path)
        write_wav(out, self.audio(stereo=stereo))
        return out

    def timeline(self, **kwargs: Any) -> Figure:
        """Waveforms of both sides with VAD, response and truncation markers (matplotlib)."""
        from .timeline import plot_timeline

        return plot_timeline(self, **kwargs)

    # -- files ----------------------------------------------------------------------------

    def save(self, path: str | PathLike[str]) -> Path:
        """Write this recording (and its ``history``) to one file; see :mod:`.archive`."""
        from .archive import save

        return save(self, path)

    # -- display --------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        conv = self.conversation
        log = self.log
        span = log.t_span()
        return {
            "model": self.model,
            "events": len(log),
            "seconds": round(span, 1),
            "items": len(conv.items),
            "turns": len(conv.turns),
            "responses": len(conv.responses),
            "errors": len(log.errors()),
            "input_audio_s": round(conv.input_samples / 24000, 1),
            "connections": len(self.history) + 1,
        }

    def __repr__(self) -> str:
        s = self.summary()
        where = self.info.get("url") or self.info.get("target") or "?"
        return (
            f"<Recording {where} model={s['model']} {s['events']} events over {s['seconds']}s, "
            f"{s['items']} items, {s['turns']} turns, {s['responses']} responses, "
            f"{s['errors']} errors>"
        )

    def _repr_html_(self) -> str:
        """Summary, turn table and transcript: static HTML, so a saved notebook shows the
        conversation without a kernel."""
        from .report import recording_html

        return recording_html(self)

"""Voice activity detection: an energy VAD engine and the turn logic around any VAD.

Threshold mapping (documented in the README of the server):
:class:`EnergyVad` turns a frame's RMS level in dBFS into a score
``p = clip((dBFS + 60) / 50, 0, 1)``, i.e. -60 dBFS → 0 and -10 dBFS → 1. A
frame is speech when ``p > threshold``, so ``threshold`` t means "louder than
``-60 + 50·t`` dBFS": the default 0.5 is -35 dBFS, 0.8 is -20 dBFS (needs a
close, loud talker), 0.2 is -50 dBFS (picks up a quiet room). Digital silence
is never speech.

:class:`TurnDetector` applies ``server_vad`` semantics to a stream of frames on
the session's audio timeline (milliseconds counted from the first sample
appended in the session):

* speech starts at the first of ``min_speech_frames`` consecutive speech
  frames; ``audio_start_ms`` is that frame's start minus ``prefix_padding_ms``
  (never before the start of the current input buffer);
* speech stops after ``silence_duration_ms`` of consecutive non-speech frames;
  ``audio_end_ms`` is the end of that silence (like OpenAI, it includes it).

``semantic_vad`` has no threshold or padding (0.5 and 300 ms are used). The
real one scores "has the user finished?" with a model and waits at most
8/4/2 s (eagerness low/medium(auto)/high). Two approximations here:

* **fixed waits** (any VAD, no transcriber with partials, e.g. the echo
  engines): the turn ends after a silence chosen from ``eagerness``
  (low 1200 ms, medium/auto 800 ms, high 500 ms);
* **judged waits** (the offline engines, whose transcriber offers
  ``partials``): after 100 ms of silence the detector emits a ``pause`` event;
  the server transcribes the turn so far and hands the text back
  (:meth:`TurnDetector.set_partial`). :func:`end_of_turn_probability` scores
  it: terminal punctuation → likely finished; a trailing conjunction,
  article, preposition or filler ("and", "the", "to", "um") or a comma →
  likely unfinished; a falling level over the last voiced frames nudges
  towards finished, a rising one away. The wait is then
  ``early + (1 - p) · (max_wait - early)``, with ``early`` 300/500/800 ms and
  ``max_wait`` 2000/4000/8000 ms for high/medium(auto)/low: a clear ending is
  answered quickly, a trailing "and…" gets up to the maximum wait.

Both are heuristics, not OpenAI's turn model: documented as approximations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from realtime_widget.protocol.audio import SAMPLE_RATE, Int16Array

from .interfaces import Vad

__all__ = [
    "PARTIAL_AFTER_MS",
    "SEMANTIC_EARLY_MS",
    "SEMANTIC_MAX_WAIT_MS",
    "SEMANTIC_SILENCE_MS",
    "EnergyVad",
    "TurnConfig",
    "TurnDetector",
    "TurnEvent",
    "dbfs",
    "end_of_turn_probability",
    "threshold_to_dbfs",
]

_FLOOR_DBFS = -60.0
_SPAN_DB = 50.0

SEMANTIC_SILENCE_MS: dict[str, int] = {"low": 1200, "medium": 800, "auto": 800, "high": 500}
SEMANTIC_EARLY_MS: dict[str, int] = {"low": 800, "medium": 500, "auto": 500, "high": 300}
SEMANTIC_MAX_WAIT_MS: dict[str, int] = {"low": 8000, "medium": 4000, "auto": 4000, "high": 2000}
PARTIAL_AFTER_MS = 100
"""Silence after which the detector asks for a partial (early) transcript. Whisper's
decode costs ~600 ms whatever the length; started at 100 ms of a 500 ms window it ends
~200 ms after ``speech_stopped`` (at 200 ms: 600 ms median first audio, bench/README)."""

_CONTINUATIONS = frozenset(
    {
        *("and", "but", "or", "nor", "so", "because", "if", "then", "than", "which"),
        *("who", "whose", "when", "where", "while", "the", "a", "an", "to", "of", "in"),
        *("on", "at", "for", "with", "from", "by", "about", "into", "like", "as", "my"),
        *("your", "our", "their", "is", "are", "was", "were", "be", "i", "we", "um"),
        *("uh", "er", "erm", "hmm"),
    }
)
_TERMINAL = (".", "!", "?")


def end_of_turn_probability(partial: str | None, level_trend_db: float | None) -> float:
    """How likely the user has finished (0..1), from the words so far and the level trend.

    ``level_trend_db`` is the mean level of the last voiced frames minus the
    level of the ones before (negative: trailing off).
    """
    p = 0.5
    text = (partial or "").strip()
    if text:
        words = text.lower().rstrip(".!?,;:…\"' ").split()
        last = words[-1].strip(".,!?;:\"'") if words else ""
        if text.endswith(("...", "…", ",", ";", ":", "-")) or last in _CONTINUATIONS:
            p = 0.1
        elif text.endswith(_TERMINAL):
            p = 0.9
        else:
            p = 0.6
    if level_trend_db is not None:
        if level_trend_db <= -3.0:
            p += 0.1
        elif level_trend_db >= 3.0:
            p -= 0.1
    return min(1.0, max(0.0, p))


def dbfs(frame: Int16Array) -> float:
    """RMS level of a frame relative to full scale (-inf for digital silence)."""
    if frame.size == 0:
        return -math.inf
    x = frame.astype(np.float64)
    rms = math.sqrt(float(np.dot(x, x)) / x.size) / 32768.0
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def threshold_to_dbfs(threshold: float) -> float:
    """The level a frame must exceed to count as speech for a given threshold."""
    return _FLOOR_DBFS + _SPAN_DB * threshold


class EnergyVad:
    """Frame RMS level mapped linearly to a 0..1 score (see module docstring)."""

    name = "energy"

    def __init__(self, frame_ms: int = 20) -> None:
        if not 5 <= frame_ms <= 60:
            raise ValueError(f"frame_ms must be 5..60, got {frame_ms}")
        self.frame_ms = frame_ms

    def speech_probability(self, frame: Int16Array) -> float:
        level = dbfs(frame)
        if level == -math.inf:
            return 0.0
        return min(1.0, max(0.0, (level - _FLOOR_DBFS) / _SPAN_DB))

    def reset(self) -> None:
        """Stateless: nothing to forget."""


@dataclass(frozen=True)
class TurnConfig:
    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    idle_timeout_ms: int | None = None
    create_response: bool = True
    interrupt_response: bool = True
    eagerness: str | None = None
    """``semantic_vad`` only: low / medium / high / auto."""

    @classmethod
    def from_session(cls, turn_detection: Mapping[str, Any] | None) -> TurnConfig | None:
        """Build from ``session.audio.input.turn_detection`` (None = manual turns)."""
        if not turn_detection:
            return None
        kind = turn_detection.get("type", "server_vad")
        create = bool(_get(turn_detection, "create_response", True))
        interrupt = bool(_get(turn_detection, "interrupt_response", True))
        if kind == "semantic_vad":
            eagerness = str(_get(turn_detection, "eagerness", "auto"))
            return cls(
                type="semantic_vad",
                silence_duration_ms=SEMANTIC_SILENCE_MS.get(eagerness, 800),
                eagerness=eagerness if eagerness in SEMANTIC_EARLY_MS else "auto",
                create_response=create,
                interrupt_response=interrupt,
            )
        idle = turn_detection.get("idle_timeout_ms")
        return cls(
            type="server_vad",
            threshold=float(_get(turn_detection, "threshold", 0.5)),
            prefix_padding_ms=int(_get(turn_detection, "prefix_padding_ms", 300)),
            silence_duration_ms=int(_get(turn_detection, "silence_duration_ms", 500)),
            idle_timeout_ms=None if idle is None else int(idle),
            create_response=create,
            interrupt_response=interrupt,
        )


def _get(mapping: Mapping[str, Any], key: str, default: Any) -> Any:
    value = mapping.get(key)
    return default if value is None else value


@dataclass(frozen=True)
class TurnEvent:
    kind: Literal["start", "stop", "pause"]
    ms: int
    """``audio_start_ms`` (padding included), ``audio_end_ms`` (silence included), or
    for ``pause`` (judged semantic_vad: a partial transcript is wanted) where the
    silence began."""
    sample: int
    """The same position in samples on the session timeline (exact, for slicing)."""


class TurnDetector:
    """Feeds appended audio to a :class:`Vad` frame by frame and reports turn edges.

    Pure and synchronous: the connection handler calls :meth:`feed` with each
    appended chunk and acts on the returned events in order.
    """

    def __init__(
        self,
        vad: Vad,
        config: TurnConfig,
        *,
        min_speech_frames: int = 2,
        judged: bool = False,
    ) -> None:
        self.vad = vad
        self.config = config
        self.judged = judged
        """Emit ``pause`` events (early transcription) and, for semantic_vad, judge the
        wait from the partial transcript (module docstring)."""
        self.partial: str | None = None
        self._partial_for = -1
        self._levels: list[float] = []
        self._silence_start = 0
        self.last_probability: float | None = None
        self.frame = max(1, vad.frame_ms * SAMPLE_RATE // 1000)
        self.min_speech_frames = min_speech_frames
        self._pending = np.zeros(0, dtype=np.int16)
        self.position = 0
        """Timeline sample index of the next unprocessed sample."""
        self.in_speech = False
        self._voiced_run = 0
        self._run_start = 0
        self._silence = 0
        self._floor = 0

    def reconfigure(self, config: TurnConfig) -> None:
        self.config = config

    def resync(self, position: int) -> None:
        """Start framing at ``position`` (after a commit, clear or config change)."""
        self._pending = np.zeros(0, dtype=np.int16)
        self.position = position
        self._floor = position
        self.in_speech = False
        self._voiced_run = 0
        self._silence = 0
        self.vad.reset()
        self._levels = []
        self.partial = None

    def set_floor(self, sample: int) -> None:
        """Speech may not be reported as starting before ``sample`` (input buffer start)."""
        self._floor = sample

    def set_partial(self, text: str, silence_start: int) -> None:
        """The transcript of the turn up to the pause that began at ``silence_start``."""
        if self.in_speech and silence_start == self._silence_start:
            self.partial = text
            self._partial_for = silence_start

    def _pause_frames(self, silence_frames: int) -> int:
        """Silent frames before a ``pause`` event: 100 ms, or half a shorter silence window."""
        partial = max(1, PARTIAL_AFTER_MS // self.vad.frame_ms)
        if self.config.type == "semantic_vad":
            return partial
        return max(1, min(partial, silence_frames // 2))

    @property
    def silence_start(self) -> int | None:
        """Where the current silence began (None while not in a pause of speech)."""
        return self._silence_start if self.in_speech and self._silence else None

    def _judged(self) -> bool:
        return self.judged and self.config.type == "semantic_vad"

    def level_trend_db(self) -> float | None:
        """Mean level of the last 300 ms of voiced frames minus the 600 ms before."""
        n = max(1, 300 // self.vad.frame_ms)
        if len(self._levels) < 3 * n:
            return None
        recent = self._levels[-n:]
        before = self._levels[-3 * n : -n]
        return sum(recent) / len(recent) - sum(before) / len(before)

    def judged_wait_ms(self) -> int:
        """The silence that ends the turn now (judged semantic_vad)."""
        eagerness = self.config.eagerness or "auto"
        early = SEMANTIC_EARLY_MS.get(eagerness, 500)
        longest = SEMANTIC_MAX_WAIT_MS.get(eagerness, 4000)
        fresh = self._partial_for == self._silence_start
        p = end_of_turn_probability(self.partial if fresh else None, self.level_trend_db())
        self.last_probability = p
        return round(early + (1.0 - p) * (longest - early))

    def feed(self, samples: Int16Array) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        n_frames = data.size // self.frame
        silence_frames = max(1, math.ceil(self.config.silence_duration_ms / self.vad.frame_ms))
        pad = self.config.prefix_padding_ms * SAMPLE_RATE // 1000
        for i in range(n_frames):
            frame = data[i * self.frame : (i + 1) * self.frame]
            start = self.position
            self.position += self.frame
            voiced = self.vad.speech_probability(frame) > self.config.threshold
            if voiced and self.judged:
                self._levels.append(dbfs(frame))
                del self._levels[:-100]
            if not self.in_speech:
                if voiced:
                    if self._voiced_run == 0:
                        self._run_start = start
                    self._voiced_run += 1
                    if self._voiced_run >= self.min_speech_frames:
                        self.in_speech = True
                        self._silence = 0
                        begin = max(self._run_start - pad, self._floor, 0)
                        events.append(TurnEvent("start", _ms(begin), begin))
                else:
                    self._voiced_run = 0
            elif voiced:
                self._silence = 0
            else:
                self._silence += 1
                if self._silence == 1:
                    self._silence_start = start
                if self.judged and self._silence == self._pause_frames(silence_frames):
                    events.append(TurnEvent("pause", _ms(self._silence_start), self._silence_start))
                if self._judged():
                    ends = self._silence * self.vad.frame_ms >= self.judged_wait_ms()
                else:
                    ends = self._silence >= silence_frames
                if ends:
                    self.in_speech = False
                    self._voiced_run = 0
                    self._silence = 0
                    self._levels = []
                    self.partial = None
                    events.append(TurnEvent("stop", _ms(self.position), self.position))
        self._pending = data[n_frames * self.frame :].copy()
        return events


def _ms(sample: int) -> int:
    return sample * 1000 // SAMPLE_RATE

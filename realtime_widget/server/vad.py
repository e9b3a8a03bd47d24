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

``semantic_vad`` has no threshold or padding: it is approximated here as an
energy VAD with threshold 0.5, 300 ms padding and a silence wait chosen from
``eagerness`` (low 1200 ms, medium/auto 800 ms, high 500 ms). The real model
waits up to 8/4/2 s when the user sounds unfinished; these are typical waits,
not maxima.
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
    "SEMANTIC_SILENCE_MS",
    "EnergyVad",
    "TurnConfig",
    "TurnDetector",
    "TurnEvent",
    "dbfs",
    "threshold_to_dbfs",
]

_FLOOR_DBFS = -60.0
_SPAN_DB = 50.0

SEMANTIC_SILENCE_MS: dict[str, int] = {"low": 1200, "medium": 800, "auto": 800, "high": 500}


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
    kind: Literal["start", "stop"]
    ms: int
    """``audio_start_ms`` (padding included) or ``audio_end_ms`` (silence included)."""
    sample: int
    """The same position in samples on the session timeline (exact, for slicing)."""


class TurnDetector:
    """Feeds appended audio to a :class:`Vad` frame by frame and reports turn edges.

    Pure and synchronous: the connection handler calls :meth:`feed` with each
    appended chunk and acts on the returned events in order.
    """

    def __init__(self, vad: Vad, config: TurnConfig, *, min_speech_frames: int = 2) -> None:
        self.vad = vad
        self.config = config
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

    def set_floor(self, sample: int) -> None:
        """Speech may not be reported as starting before ``sample`` (input buffer start)."""
        self._floor = sample

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
                if self._silence >= silence_frames:
                    self.in_speech = False
                    self._voiced_run = 0
                    self._silence = 0
                    events.append(TurnEvent("stop", _ms(self.position), self.position))
        self._pending = data[n_frames * self.frame :].copy()
        return events


def _ms(sample: int) -> int:
    return sample * 1000 // SAMPLE_RATE

"""Echo engines (no extra dependency) and the :class:`Engines` bundle.

Which engines a server uses (:meth:`Engines.select`): ``"offline"`` is the
real speech stack of the ``local`` extra (:mod:`.offline`), ``"echo"`` the
dependency-free engines below, ``"auto"`` (the default) the offline engines
when their packages import and the echo engines otherwise, with a
fallback message naming the missing packages and the install command. The
environment variable ``REALTIME_WIDGET_ENGINES`` (auto/echo/offline) sets the
default for servers created without ``engines=`` (the test suite pins
``echo`` so its tests stay deterministic).

The echo engines:

* VAD: :class:`~realtime_widget.server.vad.EnergyVad` (level-based).
* Transcriber: :class:`PlaceholderTranscriber` says honestly what it got,
  ``[1.4 s of audio]``; it does not recognise words.
* Responder: :class:`~realtime_widget.server.responder.EchoResponder`.
* Speaker: :class:`EchoSpeaker` answers an audio turn with the user's own audio
  and anything else with :class:`ToneSpeaker`'s vowel-like synthetic signal,
  whose length follows the text (so audio-modality replies to text exist and
  last as long as speech would).
"""

from __future__ import annotations

import logging
import math
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from realtime_widget.protocol.audio import SAMPLE_RATE, Int16Array, as_int16

from .interfaces import (
    Responder,
    Speaker,
    SpeechRequest,
    Transcriber,
    TranscriptionRequest,
    Vad,
)
from .responder import CallableResponder, EchoResponder, ResponderFn
from .vad import EnergyVad

__all__ = [
    "ENGINE_KINDS",
    "EchoSpeaker",
    "EngineKind",
    "Engines",
    "PlaceholderTranscriber",
    "ToneSpeaker",
]


log = logging.getLogger("realtime_widget.server")

EngineKind = Literal["auto", "echo", "offline"]
ENGINE_KINDS: tuple[str, ...] = ("auto", "echo", "offline")

_ECHO_SUMMARY = (
    "Replies are deterministic: text is echoed, audio turns are answered with the user's own audio."
)


class PlaceholderTranscriber:
    """Reports the duration of the audio instead of words: ``[1.4 s of audio]``."""

    name = "placeholder"

    def transcribe(self, request: TranscriptionRequest) -> str:
        return f"[{request.duration_s:.1f} s of audio]"


_MS_PER_CHAR = 65.0  # ≈ 15 characters per second, a calm speaking rate
_PAUSE_MS = 90.0  # between words
_CHUNK_MS = 200  # granularity the speakers yield at


class ToneSpeaker:
    """A deterministic vowel-like signal: one voiced burst per word.

    Each word is a harmonic series on a gently gliding pitch (base pitch from
    the voice name), shaped by a raised-cosine envelope; words are separated
    by short pauses. Duration ≈ 65 ms per character of the word + 90 ms per
    gap, divided by ``speed``. Not speech, but it has speech's level, rhythm
    and spectrum, so VADs, meters and players behave as with a real voice.
    """

    name = "tone"

    def __init__(self, amplitude: float = 0.25) -> None:
        self.amplitude = amplitude

    def _plan(self, request: SpeechRequest) -> list[tuple[bool, int]]:
        speed = request.speed if request.speed > 0 else 1.0
        words = request.text.split() or ["…"]
        plan: list[tuple[bool, int]] = []
        for i, word in enumerate(words):
            if i:
                plan.append((False, _samples(_PAUSE_MS / speed)))
            plan.append((True, _samples(max(2, len(word)) * _MS_PER_CHAR / speed)))
        return plan

    def estimate_ms(self, request: SpeechRequest) -> float:
        return sum(n for _, n in self._plan(request)) * 1000 / SAMPLE_RATE

    def synthesize(self, request: SpeechRequest) -> Iterator[Int16Array]:
        seed = zlib.crc32(request.voice.encode())
        f0_base = 100.0 + (seed % 120)  # 100-220 Hz: a different pitch per voice name
        phase = 0.0
        for index, (voiced, n) in enumerate(self._plan(request)):
            if not voiced:
                yield np.zeros(n, dtype=np.int16)
                continue
            t = np.arange(n) / SAMPLE_RATE
            glide = 1.0 + 0.08 * math.sin(index * 1.7)  # intonation differs word to word
            f0 = f0_base * glide * (1.0 + 0.03 * np.sin(2 * np.pi * 5.0 * t))
            ph = phase + 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
            phase = float(ph[-1])
            # Two alternating "vowels": harmonic weights peaking near different formants.
            weights = (
                (1.0, 0.8, 0.5, 0.35, 0.2, 0.12) if index % 2 else (1.0, 0.5, 0.7, 0.3, 0.25, 0.1)
            )
            sig = sum(w * np.sin((k + 1) * ph) for k, w in enumerate(weights))
            env = np.sqrt(np.clip(np.sin(np.pi * np.arange(n) / max(n - 1, 1)), 0.0, 1.0))
            peak = float(np.max(np.abs(sig))) or 1.0
            yield as_int16(self.amplitude * env * sig / peak)


class EchoSpeaker:
    """Echo the user's audio for audio turns; :class:`ToneSpeaker` otherwise."""

    name = "echo"

    def __init__(self, min_echo_ms: float = 100.0) -> None:
        self.min_echo_samples = _samples(min_echo_ms)
        self.tone = ToneSpeaker()

    def _echoes(self, request: SpeechRequest) -> bool:
        src = request.source_audio
        return src is not None and src.size >= self.min_echo_samples

    def estimate_ms(self, request: SpeechRequest) -> float:
        if self._echoes(request):
            assert request.source_audio is not None
            return request.source_audio.size * 1000 / SAMPLE_RATE
        return self.tone.estimate_ms(request)

    def synthesize(self, request: SpeechRequest) -> Iterator[Int16Array]:
        if not self._echoes(request):
            yield from self.tone.synthesize(request)
            return
        src = request.source_audio
        assert src is not None
        step = _samples(_CHUNK_MS)
        for start in range(0, src.size, step):
            yield src[start : start + step]


def _samples(ms: float) -> int:
    return round(ms * SAMPLE_RATE / 1000)


def _factory_name(factory: Callable[[], object]) -> str:
    name = getattr(factory, "name", None)
    if isinstance(name, str):
        return name
    return str(getattr(factory, "__name__", "custom"))


@dataclass
class Engines:
    """Factories for per-connection engine instances.

    ``transcriber`` is used only when the session enables
    ``audio.input.transcription``. Replace any factory; e.g.
    ``Engines.default().with_responder(lambda ctx: "Hi!")``.
    """

    vad: Callable[[], Vad] = EnergyVad
    transcriber: Callable[[], Transcriber] = PlaceholderTranscriber
    responder: Callable[[], Responder] = EchoResponder
    speaker: Callable[[], Speaker] = EchoSpeaker
    names: dict[str, str] = field(default_factory=dict)
    """Display names overriding the factories' own ``name`` (for ``describe``)."""
    kind: str = "echo"
    """``echo``, ``offline`` or ``custom``: which family the bundle is."""
    summary: str = _ECHO_SUMMARY
    """One sentence on what these engines do (in ``session.created``'s instructions)."""
    note: str | None = None
    """Why these engines and not others (e.g. the fallback message), if worth saying."""
    warmup: Callable[[], None] | None = None
    """Loads models ahead of the first turn (run in the engine pool when a server starts)."""

    @classmethod
    def echo(cls) -> Engines:
        """The dependency-free engines: energy VAD, placeholder transcripts, echo replies."""
        return cls()

    @classmethod
    def offline(cls, **options: Any) -> Engines:
        """The offline speech engines (``local`` extra); raises ImportError if missing.

        ``options`` go to :func:`realtime_widget.server.offline.offline_engines`
        (``whisper_model``, ``piper_voice``, ``responder_url``, ``responder_model``, ...).
        """
        from .offline import offline_engines

        return offline_engines(**options)

    @classmethod
    def select(cls, kind: str | None = None, **options: Any) -> Engines:
        """Engines of ``kind`` (None: ``$REALTIME_WIDGET_ENGINES``, else ``"auto"``)."""
        chosen = (kind or os.environ.get("REALTIME_WIDGET_ENGINES") or "auto").strip().lower()
        if chosen not in ENGINE_KINDS:
            raise ValueError(f"engines must be one of {', '.join(ENGINE_KINDS)}, got {chosen!r}")
        if chosen == "echo":
            if options.get("responder_url"):
                raise ValueError("responder_url needs the offline engines (engines='offline')")
            return cls.echo()
        if chosen == "offline":
            return cls.offline(**options)
        from .offline import fallback_message, missing_modules

        missing = missing_modules()
        if not missing:
            return cls.offline(**options)
        note = fallback_message(missing)
        log.warning("%s", note)
        if options.get("responder_url"):
            raise ImportError(f"responder_url needs the offline engines. {note}")
        return replace(cls.echo(), note=note)

    @classmethod
    def default(cls) -> Engines:
        """What a server uses without ``engines=``: :meth:`select` with no kind."""
        return cls.select()

    def with_responder(self, fn: ResponderFn, name: str | None = None) -> Engines:
        """A copy whose responder is ``fn(context) -> Reply | str | FunctionCall`` (sync/async)."""
        label: str = name or str(getattr(fn, "__name__", "callable"))
        return replace(
            self,
            responder=lambda: CallableResponder(fn, label),
            names={**self.names, "responder": label},
        )

    def instructions(self) -> str:
        """The default instructions a server reports in ``session.created``."""
        text = f"Local realtime_widget server (engines: {self.describe()}). {self.summary}"
        return f"{text} {self.note}" if self.note else text

    def describe(self) -> str:
        """``vad=energy, transcriber=placeholder, responder=echo, speaker=echo``."""
        parts = []
        for role in ("vad", "transcriber", "responder", "speaker"):
            factory: Callable[[], object] = getattr(self, role)
            parts.append(f"{role}={self.names.get(role) or _factory_name(factory)}")
        return ", ".join(parts)

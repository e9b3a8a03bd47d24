"""Speech to text with faster-whisper (CTranslate2), Whisper tiny.en by default.

Decoding is greedy (beam 1), int8, no timestamps, no VAD filter (the server's
VAD already cut the turn), no conditioning on earlier text. Audio is resampled
from 24 kHz to Whisper's 16 kHz with soxr. The model is shared process-wide
(:mod:`.models`) and calls into it are serialised by its lock.

The transcriber is called from the server's engine thread pool, never on the
event loop. ``transcription.language`` and ``transcription.prompt`` from the
session are honoured (an English-only model ignores other languages); the
session's ``model`` name is reported but does not pick the local model.
"""

from __future__ import annotations

import os
import time

import numpy as np

from realtime_widget.protocol.audio import SAMPLE_RATE, Int16Array
from realtime_widget.server.interfaces import TranscriptionRequest

from .models import LoadedWhisper, load_whisper

__all__ = ["WhisperTranscriber", "transcribe_audio"]

_WHISPER_RATE = 16000
_MIN_SAMPLES = SAMPLE_RATE // 10  # under 100 ms there is nothing to recognise


def to_16k(audio: Int16Array) -> np.ndarray:
    import soxr

    x = np.asarray(audio, dtype=np.float32) / 32768.0
    out: np.ndarray = soxr.resample(x, SAMPLE_RATE, _WHISPER_RATE, quality="HQ")
    return out.astype(np.float32, copy=False)


def transcribe_audio(
    loaded: LoadedWhisper,
    audio: Int16Array,
    *,
    language: str | None = None,
    prompt: str | None = None,
    beam_size: int = 1,
) -> str:
    """Text of ``audio`` (PCM16 24 kHz); empty for silence or < 100 ms."""
    if audio.size < _MIN_SAMPLES or not np.any(audio):
        return ""
    samples = to_16k(audio)
    with loaded.lock:
        segments, _info = loaded.model.transcribe(
            samples,
            language=language or None,  # English-only models force "en"
            beam_size=beam_size,
            best_of=1,
            temperature=0.0,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
            initial_prompt=prompt or None,
        )
        text = "".join(segment.text for segment in segments)
    return " ".join(text.split())


class WhisperTranscriber:
    """:class:`~realtime_widget.server.interfaces.Transcriber` over faster-whisper."""

    name = "whisper-tiny.en"
    partials = True
    """Fast enough to transcribe a pause mid-turn (judged semantic_vad, vad.py)."""

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        threads: int | None = None,
        beam_size: int = 1,
    ) -> None:
        self._model = model
        self._threads = threads
        self.beam_size = beam_size
        self.last_seconds = 0.0
        """Wall time of the last call (benchmarks read it)."""
        if model is not None:
            self.name = f"whisper:{os.path.basename(os.fspath(model).rstrip('/'))}"

    def loaded(self) -> LoadedWhisper:
        return load_whisper(self._model, threads=self._threads)

    def transcribe(self, request: TranscriptionRequest) -> str:
        t0 = time.perf_counter()
        try:
            return transcribe_audio(
                self.loaded(),
                request.audio,
                language=request.language,
                prompt=request.prompt,
                beam_size=self.beam_size,
            )
        finally:
            self.last_seconds = time.perf_counter() - t0

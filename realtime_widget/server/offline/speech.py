"""Text to speech with Piper (``piper-tts``) and a packaged voice, 24 kHz out.

The reply is split into sentences here (so the text of each audio segment is
known exactly); each sentence is synthesised on its own, resampled from the
voice's rate (22.05 kHz for joe) to 24 kHz with soxr and yielded as a
:class:`~realtime_widget.server.interfaces.SpeechSegment` carrying its text.
The server sends the first sentence's audio while later sentences are not yet
synthesised, and places each sentence's transcript deltas inside that
sentence's audio span, so the transcript keeps pace with the voice.

The generator does its work only when the server asks for the next chunk (in
its engine thread pool) and holds no lock between sentences: closing it after
a barge-in stops synthesis at the next sentence boundary at the latest (one
sentence is ~100 ms of compute on 2 cores).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import numpy as np

from realtime_widget.protocol.audio import SAMPLE_RATE, Int16Array
from realtime_widget.server.interfaces import SpeechRequest, SpeechSegment

from .models import LoadedPiper, load_piper

__all__ = ["PiperSpeaker", "split_sentences", "synthesize_sentence"]

# A sentence ends at . ! ? … (optionally followed by quotes/brackets) and whitespace.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")
_MAX_SENTENCE = 240  # characters; longer runs are cut at a comma or space
_SPACE_CUT = re.compile(r"[,;:]\s+|\s+")


def split_sentences(text: str) -> list[str]:
    """Pieces of ``text`` that concatenate back to it, one sentence each (trailing space kept)."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    out: list[str] = []
    for sentence in pieces:
        rest = sentence
        while len(rest) > _MAX_SENTENCE:
            cut = 0
            for m in _SPACE_CUT.finditer(rest, 0, _MAX_SENTENCE):
                cut = m.end()
            if cut <= 0:
                cut = _MAX_SENTENCE
            out.append(rest[:cut])
            rest = rest[cut:]
        if rest:
            out.append(rest)
    return out


def synthesize_sentence(loaded: LoadedPiper, text: str, speed: float = 1.0) -> Int16Array:
    """One sentence as PCM16 at 24 kHz (empty when there is nothing to say)."""
    import soxr
    from piper.config import SynthesisConfig

    if not re.search(r"\w", text):
        return np.zeros(0, dtype=np.int16)
    config = SynthesisConfig(length_scale=1.0 / speed if speed > 0 else None)
    chunks = []
    with loaded.lock:
        for chunk in loaded.voice.synthesize(text.strip(), syn_config=config):
            chunks.append(np.asarray(chunk.audio_float_array, dtype=np.float32).reshape(-1))
    if not chunks:
        return np.zeros(0, dtype=np.int16)
    native = np.concatenate(chunks)
    if loaded.sample_rate != SAMPLE_RATE:
        native = soxr.resample(native, loaded.sample_rate, SAMPLE_RATE, quality="HQ")
    pcm: Int16Array = (np.clip(native, -1.0, 1.0) * 32767.0).astype(np.int16)
    return pcm


class PiperSpeaker:
    """:class:`~realtime_widget.server.interfaces.Speaker` over Piper, one sentence at a time.

    Every session voice name (``alloy``, ``marin``…) is spoken by the one
    loaded Piper voice; ``speed`` maps to Piper's length scale.
    """

    name = "piper-joe"

    def __init__(
        self, voice: str | os.PathLike[str] | None = None, *, threads: int | None = None
    ) -> None:
        self._voice = voice
        self._threads = threads
        self.first_chunk_seconds: float | None = None
        """Compute time of the last reply's first sentence (benchmarks read it)."""
        self.total_seconds = 0.0
        self.audio_seconds = 0.0
        if voice is not None:
            self.name = f"piper:{os.path.basename(os.fspath(voice))}"

    def loaded(self) -> LoadedPiper:
        return load_piper(self._voice, threads=self._threads)

    def estimate_ms(self, request: SpeechRequest) -> float | None:
        return None  # known per sentence as it is synthesised (SpeechSegment)

    def synthesize(self, request: SpeechRequest) -> Iterator[SpeechSegment]:
        loaded = self.loaded()
        self.first_chunk_seconds = None
        self.total_seconds = self.audio_seconds = 0.0
        sentences = split_sentences(request.text) or [request.text]
        for sentence in sentences:
            t0 = time.perf_counter()
            audio = synthesize_sentence(loaded, sentence, request.speed)
            spent = time.perf_counter() - t0
            self.total_seconds += spent
            self.audio_seconds += audio.size / SAMPLE_RATE
            if self.first_chunk_seconds is None:
                self.first_chunk_seconds = spent
            yield SpeechSegment(audio=audio, text=sentence)

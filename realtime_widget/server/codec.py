"""Wire audio formats ↔ the server's internal PCM16 24 kHz, chunk by chunk.

G.711 (``audio/pcmu``, ``audio/pcma``) is 8 kHz. Resampling each chunk on its
own would put a click at every chunk edge (the filter sees zeros past the
edges), so :class:`StreamResampler` keeps a little left context and holds back
a little lookahead between calls; :meth:`flush` releases the held samples at a
turn boundary (a commit, the end of a response).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from realtime_widget.protocol.audio import (
    SAMPLE_RATE,
    Int16Array,
    alaw_decode,
    alaw_encode,
    pcm16_to_array,
    resample,
    ulaw_decode,
    ulaw_encode,
)

__all__ = ["G711_RATE", "AudioDecoder", "AudioEncoder", "StreamResampler", "format_kind"]

G711_RATE = 8000
_CONTEXT_MS = 4  # > the resampler's half filter length at 8 kHz (16 taps = 2 ms)


def format_kind(fmt: Mapping[str, Any] | str | None) -> str:
    """``audio/pcm`` | ``audio/pcmu`` | ``audio/pcma`` from a GA format object."""
    if fmt is None:
        return "audio/pcm"
    kind = fmt if isinstance(fmt, str) else str(fmt.get("type", "audio/pcm"))
    return {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}.get(
        kind, kind
    )


class StreamResampler:
    """Resample a stream delivered in chunks as if it were one signal."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        g = math.gcd(src_rate, dst_rate)
        self.src, self.dst = src_rate, dst_rate
        self.up, self.down = dst_rate // g, src_rate // g
        # Context in input samples, a multiple of ``down`` so window starts stay aligned.
        ctx = max(1, src_rate * _CONTEXT_MS // 1000)
        self.ctx = math.ceil(ctx / self.down) * self.down
        self._buf = np.zeros(0, dtype=np.int16)
        self._start = 0  # index in _buf of the first input sample not yet resampled

    def feed(self, samples: Int16Array, *, final: bool = False) -> Int16Array:
        if self.src == self.dst:
            return samples
        self._buf = np.concatenate([self._buf, samples]) if self._buf.size else samples.copy()
        end = self._buf.size if final else self._buf.size - self.ctx
        n_in = end - self._start
        if not final:
            n_in -= n_in % self.down
        if n_in <= 0:
            return np.zeros(0, dtype=np.int16)
        w0 = max(0, self._start - self.ctx)
        w1 = min(self._buf.size, self._start + n_in + self.ctx)
        y = resample(self._buf[w0:w1], self.src, self.dst)
        off = (self._start - w0) * self.up // self.down
        n_out = round(n_in * self.up / self.down)
        out = y[off : off + n_out]
        self._start += n_in
        keep_from = max(0, self._start - self.ctx)
        self._buf = self._buf[keep_from:].copy()
        self._start -= keep_from
        if final:
            self.reset()
        return out

    def flush(self) -> Int16Array:
        return self.feed(np.zeros(0, dtype=np.int16), final=True)

    def reset(self) -> None:
        self._buf = np.zeros(0, dtype=np.int16)
        self._start = 0


class AudioDecoder:
    """Wire bytes of one format → PCM16 24 kHz samples (stateful for G.711)."""

    def __init__(self, fmt: Mapping[str, Any] | str | None) -> None:
        self.kind = format_kind(fmt)
        if self.kind not in ("audio/pcm", "audio/pcmu", "audio/pcma"):
            raise ValueError(f"unsupported audio format {self.kind!r}")
        self._rs = StreamResampler(G711_RATE, SAMPLE_RATE)

    def decode(self, data: bytes) -> Int16Array:
        if self.kind == "audio/pcm":
            if len(data) % 2:
                raise ValueError("PCM16 audio must have an even number of bytes")
            return pcm16_to_array(data)
        narrow = ulaw_decode(data) if self.kind == "audio/pcmu" else alaw_decode(data)
        return self._rs.feed(narrow)

    def flush(self) -> Int16Array:
        """Samples held back for resampling lookahead (empty for PCM)."""
        if self.kind == "audio/pcm":
            return np.zeros(0, dtype=np.int16)
        return self._rs.flush()


class AudioEncoder:
    """PCM16 24 kHz samples → wire bytes of one format (stateful for G.711)."""

    def __init__(self, fmt: Mapping[str, Any] | str | None) -> None:
        self.kind = format_kind(fmt)
        if self.kind not in ("audio/pcm", "audio/pcmu", "audio/pcma"):
            raise ValueError(f"unsupported audio format {self.kind!r}")
        self._rs = StreamResampler(SAMPLE_RATE, G711_RATE)

    @property
    def bytes_per_ms(self) -> int:
        return 48 if self.kind == "audio/pcm" else 8

    def encode(self, samples: Int16Array, *, final: bool = False) -> bytes:
        if self.kind == "audio/pcm":
            return samples.astype("<i2", copy=False).tobytes()
        narrow = self._rs.feed(samples, final=final)
        return ulaw_encode(narrow) if self.kind == "audio/pcmu" else alaw_encode(narrow)

    def encode_all(self, samples: Int16Array) -> bytes:
        """Encode a whole clip at once (``conversation.item.retrieved``)."""
        if self.kind == "audio/pcm":
            return samples.astype("<i2", copy=False).tobytes()
        narrow = resample(samples, SAMPLE_RATE, G711_RATE)
        return ulaw_encode(narrow) if self.kind == "audio/pcmu" else alaw_encode(narrow)


def decode_all(data: bytes, fmt: Mapping[str, Any] | str | None) -> Int16Array:
    """Decode a whole clip (``conversation.item.create`` audio)."""
    dec = AudioDecoder(fmt)
    out = dec.decode(data)
    tail = dec.flush()
    return np.concatenate([out, tail]) if tail.size else out

"""Audio codecs for the Realtime protocol: PCM16 ↔ numpy ↔ base64, resampling,
G.711 µ-law / A-law, and WAV files.

The protocol's audio is mono signed 16-bit little-endian PCM at 24 kHz
(48 bytes per millisecond), base64-encoded inside JSON. Everything in the
package stores audio as ``numpy.int16`` arrays (or the equivalent bytes) at
24 kHz; conversions happen once, at the edges.
"""

from __future__ import annotations

import base64
import io
import math
import os
import struct
from functools import lru_cache
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

__all__ = [
    "BYTES_PER_MS",
    "SAMPLE_RATE",
    "Int16Array",
    "StreamResampler",
    "alaw_decode",
    "alaw_encode",
    "as_int16",
    "audio_player",
    "b64_to_pcm16",
    "bytes_to_ms",
    "load_audio",
    "ms_to_bytes",
    "pcm16_to_array",
    "pcm16_to_b64",
    "read_wav",
    "resample",
    "to_float32",
    "ulaw_decode",
    "ulaw_encode",
    "wav_bytes",
    "write_wav",
]

SAMPLE_RATE = 24000
"""The protocol's PCM rate (``audio/pcm`` is always 24 kHz)."""
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000

Int16Array = npt.NDArray[np.int16]
_LE_INT16 = np.dtype("<i2")


def ms_to_bytes(ms: float) -> int:
    """Bytes of 24 kHz PCM16 in ``ms`` milliseconds (whole samples)."""
    return int(ms * SAMPLE_RATE / 1000) * 2


def bytes_to_ms(n: int) -> float:
    return n / BYTES_PER_MS


def pcm16_to_array(data: bytes | bytearray | memoryview) -> Int16Array:
    """View little-endian PCM16 bytes as an int16 array (copies only if needed)."""
    if len(data) % 2:
        raise ValueError(f"PCM16 data must have an even number of bytes, got {len(data)}")
    arr = np.frombuffer(data, dtype=_LE_INT16)
    return arr.astype(np.int16, copy=False)


def b64_to_pcm16(text: str | bytes) -> bytes:
    """Decode base64 audio from an event (``delta`` or ``audio``)."""
    return base64.b64decode(text)


def pcm16_to_b64(data: bytes | bytearray | memoryview | Int16Array) -> str:
    if isinstance(data, np.ndarray):
        data = as_int16(data).astype(_LE_INT16, copy=False).tobytes()
    return base64.b64encode(data).decode("ascii")


def as_int16(samples: npt.ArrayLike) -> Int16Array:
    """Convert samples to mono int16.

    Integer input is taken as PCM16 values (int32 and wider are clipped);
    floating input as [-1, 1] and scaled. A 2-D array is mixed down to mono:
    the short axis is taken as channels.
    """
    arr = np.asarray(samples)
    if arr.ndim == 2:
        axis = 0 if arr.shape[0] < arr.shape[1] else 1
        arr = arr.astype(np.float64).mean(axis=axis)
        if np.issubdtype(np.asarray(samples).dtype, np.integer):
            mixed: Int16Array = np.clip(np.round(arr), -32768, 32767).astype(np.int16)
            return mixed
    elif arr.ndim != 1:
        raise ValueError(f"audio must be 1-D (mono) or 2-D (channels), got shape {arr.shape}")
    if arr.dtype == np.int16:
        return arr
    out: Int16Array
    if np.issubdtype(arr.dtype, np.integer):
        out = np.clip(arr, -32768, 32767).astype(np.int16)
        return out
    if np.issubdtype(arr.dtype, np.floating):
        scaled = np.round(np.asarray(arr, dtype=np.float64) * 32767.0)
        out = np.clip(scaled, -32768, 32767).astype(np.int16)
        return out
    if arr.dtype == np.bool_ or arr.size == 0:
        return arr.astype(np.int16)
    raise TypeError(f"cannot convert audio of dtype {arr.dtype} to int16")


def to_float32(samples: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """int16 PCM → float32 in [-1, 1)."""
    out: npt.NDArray[np.float32] = as_int16(samples).astype(np.float32) / np.float32(32768.0)
    return out


# -- resampling ---------------------------------------------------------------

_HALF_TAPS = 16  # zero crossings each side of the sinc: ~-80 dB stop band with beta 8.6
_KAISER_BETA = 8.6
_BLOCK = 1 << 15


@lru_cache(maxsize=32)
def _polyphase(up: int, down: int) -> tuple[npt.NDArray[np.float64], int]:
    """Kaiser-windowed sinc low-pass split into ``up`` phases (rows)."""
    cutoff = 0.5 / max(up, down) * 0.94  # leave a transition band below Nyquist
    half = _HALF_TAPS * max(up, down)
    n = np.arange(-half, half + 1, dtype=np.float64)
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(len(n), _KAISER_BETA) * up
    taps_per_phase = math.ceil(len(h) / up)
    h = np.concatenate([h, np.zeros(taps_per_phase * up - len(h))])
    # phases[p, k] = h[k*up + p]: the taps that meet input samples for phase p
    return h.reshape(taps_per_phase, up).T.copy(), half


def resample(samples: npt.ArrayLike, src_rate: int, dst_rate: int = SAMPLE_RATE) -> Int16Array:
    """Resample mono audio from ``src_rate`` to ``dst_rate`` (polyphase FIR).

    Any integer rates work (8 k, 16 k, 22.05 k, 44.1 k, 48 k ...). The output
    has ``round(len * dst / src)`` samples and no delay: sample ``i`` of the
    output is time ``i / dst_rate`` of the input.
    """
    x = as_int16(samples)
    rs = StreamResampler(src_rate, dst_rate)
    if src_rate == dst_rate or x.size == 0:
        same: Int16Array = x.copy()
        return same
    return np.concatenate([rs.process(x), rs.flush()])


class StreamResampler:
    """Resample a stream chunk by chunk, with no seams at chunk boundaries.

    The concatenated outputs of :meth:`process` and a final :meth:`flush`
    equal :func:`resample` of the whole stream. Each ``process`` call returns
    every output sample whose filter support has arrived, so the delay is
    half the filter (16 input samples: 2 ms at 8 kHz).
    """

    def __init__(self, src_rate: int, dst_rate: int = SAMPLE_RATE):
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {src_rate} and {dst_rate}")
        self.src_rate, self.dst_rate = src_rate, dst_rate
        g = math.gcd(src_rate, dst_rate)
        self._up, self._down = dst_rate // g, src_rate // g
        self._phases, self._half = _polyphase(self._up, self._down)
        self._taps = self._phases.shape[1]
        # Zeros stand for the silence before the stream, as in a one-shot resample.
        self._buf = np.zeros(self._taps + 1)
        self._buf_start = -(self._taps + 1)  # stream index of _buf[0]
        self._n_out = 0
        self._n_in = 0

    def _emit(self, n_end: int) -> Int16Array:
        up, down, half = self._up, self._down, self._half
        out = np.empty(max(0, n_end - self._n_out), dtype=np.float64)
        k = np.arange(self._taps)
        for start in range(self._n_out, n_end, _BLOCK):
            n = np.arange(start, min(start + _BLOCK, n_end))
            pos = n * down + half  # position in the (virtual) upsampled, delayed stream
            base = pos // up  # stream index of the newest input under the filter
            idx = base[:, None] - k[None, :] - self._buf_start
            block = np.einsum("ij,ij->i", self._buf[idx], self._phases[pos % up])
            out[start - self._n_out : start - self._n_out + n.size] = block
        self._n_out = max(self._n_out, n_end)
        keep_from = (self._n_out * down + half) // up - (self._taps - 1)
        drop = max(0, keep_from - self._buf_start)
        if drop:
            self._buf = self._buf[drop:]
            self._buf_start += drop
        return np.clip(np.round(out), -32768, 32767).astype(np.int16)

    def process(self, samples: npt.ArrayLike) -> Int16Array:
        x = as_int16(samples)
        if self._up == self._down:
            self._n_in += x.size
            self._n_out += x.size
            same: Int16Array = x.copy()
            return same
        self._buf = np.concatenate([self._buf, x.astype(np.float64)])
        self._n_in += x.size
        # Output n needs inputs up to (n*down + half) // up, which must have arrived.
        n_end = -((self._half - self._n_in * self._up) // self._down)  # ceil division
        return self._emit(max(self._n_out, n_end))

    def flush(self) -> Int16Array:
        """The last samples (the filter's delay), as if the stream ended in silence."""
        total = round(self._n_in * self.dst_rate / self.src_rate)
        if self._up == self._down or total <= self._n_out:
            return np.zeros(0, dtype=np.int16)
        self._buf = np.concatenate([self._buf, np.zeros(self._taps + 2)])
        return self._emit(total)


# -- G.711 ----------------------------------------------------------------------

_ULAW_BIAS = 0x84


@lru_cache(maxsize=1)
def _ulaw_tables() -> tuple[Int16Array, npt.NDArray[np.uint8]]:
    codes = np.arange(256, dtype=np.int32)
    u = ~codes & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    decode = np.where(sign != 0, -mag, mag).astype(np.int16)

    # As in the reference G.711 code: work on 14-bit values, so that
    # negative inputs round toward minus infinity exactly like it does.
    v = np.arange(-32768, 32768, dtype=np.int32) >> 2
    sign_e = np.where(v < 0, 0x80, 0x00)
    m = np.minimum(np.where(v < 0, -v, v), 8159) + 0x21
    exp = np.maximum(np.floor(np.log2(m)).astype(np.int32) - 5, 0)
    man = (m >> (exp + 1)) & 0x0F
    uval = np.where(exp > 7, 0x7F, (np.minimum(exp, 7) << 4) | man)  # past the top segment
    encode = ((sign_e | uval) ^ 0xFF).astype(np.uint8)
    return decode, encode


@lru_cache(maxsize=1)
def _alaw_tables() -> tuple[Int16Array, npt.NDArray[np.uint8]]:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    mag = np.where(
        exponent == 0,
        (mantissa << 4) + 8,
        ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0),
    )
    decode = np.where(sign != 0, mag, -mag).astype(np.int16)

    pcm = np.arange(-32768, 32768, dtype=np.int32)
    sign_e = np.where(pcm >= 0, 0x80, 0)
    m = np.minimum(np.where(pcm >= 0, pcm, -pcm - 1), 32767) >> 3  # 13-bit magnitude
    exp = np.where(m < 32, 0, np.floor(np.log2(np.maximum(m, 1))).astype(np.int32) - 4)
    exp = np.clip(exp, 0, 7)
    man = np.where(exp == 0, m >> 1, m >> exp) & 0x0F
    encode = ((sign_e | (exp << 4) | man) ^ 0x55).astype(np.uint8)
    return decode, encode


def ulaw_decode(data: bytes | bytearray | memoryview) -> Int16Array:
    """G.711 µ-law bytes (8 kHz) → int16 samples (8 kHz)."""
    return _ulaw_tables()[0][np.frombuffer(data, dtype=np.uint8)]


def ulaw_encode(samples: npt.ArrayLike) -> bytes:
    return bytes(_ulaw_tables()[1][as_int16(samples).astype(np.int32) + 32768])


def alaw_decode(data: bytes | bytearray | memoryview) -> Int16Array:
    """G.711 A-law bytes (8 kHz) → int16 samples (8 kHz)."""
    return _alaw_tables()[0][np.frombuffer(data, dtype=np.uint8)]


def alaw_encode(samples: npt.ArrayLike) -> bytes:
    return bytes(_alaw_tables()[1][as_int16(samples).astype(np.int32) + 32768])


# -- WAV --------------------------------------------------------------------------

_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_FLOAT = 3
_WAVE_FORMAT_ALAW = 6
_WAVE_FORMAT_MULAW = 7
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def read_wav(source: str | os.PathLike[str] | bytes | BinaryIO) -> tuple[Int16Array, int]:
    """Read a WAV file → (mono int16 samples, sample rate).

    Accepts PCM 8/16/24/32-bit, IEEE float 32/64, µ-law and A-law, plain or
    WAVE_FORMAT_EXTENSIBLE, any channel count (mixed down to mono).
    """
    if isinstance(source, (bytes, bytearray)):
        raw = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            raw = f.read()
    else:
        raw = source.read()
    if len(raw) < 12 or raw[:4] not in (b"RIFF", b"RIFX") or raw[8:12] != b"WAVE":
        raise ValueError("not a WAV file (no RIFF/WAVE header)")
    if raw[:4] == b"RIFX":
        raise ValueError("big-endian (RIFX) WAV files are not supported")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    data: bytes | None = None
    while pos + 8 <= len(raw):
        cid, size = raw[pos : pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        body = raw[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise ValueError(f"WAV fmt chunk is truncated ({len(body)} bytes, need 16)")
            tag, channels, rate = struct.unpack_from("<HHI", body, 0)
            bits = struct.unpack_from("<H", body, 14)[0]
            if tag == _WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack_from("<H", body, 24)[0]
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            data = body
        pos += 8 + size + (size & 1)
    if fmt is None or data is None:
        raise ValueError("WAV file has no fmt or data chunk")
    tag, channels, rate, bits = fmt
    if channels < 1:
        raise ValueError("WAV file declares 0 channels")
    samples: npt.NDArray[Any]
    if tag == _WAVE_FORMAT_PCM and bits == 8:
        samples = (np.frombuffer(data, np.uint8).astype(np.int16) - 128) << 8
    elif tag == _WAVE_FORMAT_PCM and bits == 16:
        samples = np.frombuffer(data[: len(data) // 2 * 2], "<i2")
    elif tag == _WAVE_FORMAT_PCM and bits == 24:
        b = np.frombuffer(data[: len(data) // 3 * 3], np.uint8).reshape(-1, 3)
        v = (
            b[:, 0].astype(np.int32)
            | (b[:, 1].astype(np.int32) << 8)
            | (b[:, 2].astype(np.int32) << 16)
        )
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        samples = (v >> 8).astype(np.int16)
    elif tag == _WAVE_FORMAT_PCM and bits == 32:
        samples = (np.frombuffer(data[: len(data) // 4 * 4], "<i4") >> 16).astype(np.int16)
    elif tag == _WAVE_FORMAT_FLOAT and bits in (32, 64):
        dt = "<f4" if bits == 32 else "<f8"
        samples = np.frombuffer(data[: len(data) // (bits // 8) * (bits // 8)], dt)
    elif tag == _WAVE_FORMAT_MULAW:
        samples = ulaw_decode(data)
    elif tag == _WAVE_FORMAT_ALAW:
        samples = alaw_decode(data)
    else:
        raise ValueError(f"unsupported WAV encoding: format tag {tag}, {bits} bits")
    frames = samples.size // channels
    samples = samples[: frames * channels].reshape(frames, channels)
    if channels == 1:
        return as_int16(samples[:, 0]), rate
    # Mix down here: as_int16 would guess the channel axis from the shape,
    # which is wrong when a file has fewer frames than channels.
    mixed = samples.astype(np.float64).mean(axis=1)
    if np.issubdtype(samples.dtype, np.integer):
        mixed = np.round(mixed).astype(np.int32)
    return as_int16(mixed), rate


def wav_bytes(samples: npt.ArrayLike, rate: int = SAMPLE_RATE) -> bytes:
    """Encode samples as a PCM16 WAV file in memory.

    1-D input is mono; 2-D input of shape (frames, channels) is written with
    that many channels (e.g. user and assistant side by side).
    """
    arr = np.asarray(samples)
    if arr.ndim == 2:
        channels = arr.shape[1]
        pcm = np.stack([as_int16(arr[:, c]) for c in range(channels)], axis=1)
    else:
        channels = 1
        pcm = as_int16(arr)
    payload = pcm.astype("<i2", copy=False).tobytes()
    buf = io.BytesIO()
    buf.write(b"RIFF" + struct.pack("<I", 36 + len(payload)) + b"WAVE")
    buf.write(
        b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    )
    buf.write(b"data" + struct.pack("<I", len(payload)) + payload)
    return buf.getvalue()


def write_wav(
    path: str | os.PathLike[str], samples: npt.ArrayLike, rate: int = SAMPLE_RATE
) -> None:
    with open(path, "wb") as f:
        f.write(wav_bytes(samples, rate))


def load_audio(
    source: str | os.PathLike[str] | bytes | npt.ArrayLike, rate: int | None = None
) -> Int16Array:
    """Anything audio-like → mono int16 at 24 kHz.

    ``source`` is a WAV path or WAV bytes (its own rate is used), or an array
    of samples at ``rate`` (default 24000).
    """
    if isinstance(source, (str, os.PathLike)) or (
        isinstance(source, (bytes, bytearray)) and bytes(source[:4]) == b"RIFF"
    ):
        samples, file_rate = read_wav(source)  # type: ignore[arg-type]
        return resample(samples, file_rate, SAMPLE_RATE)
    if isinstance(source, (bytes, bytearray, memoryview)):
        arr: Int16Array = pcm16_to_array(source)
    else:
        arr = as_int16(source)
    return resample(arr, rate or SAMPLE_RATE, SAMPLE_RATE)


def audio_player(samples: npt.ArrayLike, rate: int = SAMPLE_RATE) -> Any:
    """An ``IPython.display.Audio`` for int16 (or float) samples, played at their level.

    1-D is mono; ``(frames, 2)`` is stereo. Not normalised, so a quiet turn sounds
    quiet. Raises ValueError for empty audio (the browser's player would fail silently).
    """
    from IPython.display import Audio  # only where a notebook displays it

    arr = np.asarray(samples)
    if arr.size == 0:
        raise ValueError("there is no audio to play")
    data = arr.astype(np.float32) / 32768.0 if arr.dtype == np.int16 else arr.astype(np.float32)
    if data.ndim == 2:
        data = data.T  # IPython wants (channels, frames)
    return Audio(data=data, rate=rate, normalize=False)  # type: ignore[no-untyped-call]

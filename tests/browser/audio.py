"""Test speech for the fake microphone, and the signal checks the browser tests use.

The fake capture device (``--use-file-for-fake-audio-capture``) LOOPS its file, so each
WAV is one utterance with silence around it: the silence decides whether the loop's
next utterance lands after the reply finished (a clean turn) or during it (barge-in).
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

SR = 24000

SHORT_TEXT = "Hello there, how are you doing today"
LONG_TEXT = (
    "The quick brown fox jumps over the lazy dog while the small cat watches from the warm "
    "window, and then they both go to sleep in the afternoon sun"
)


def tools_missing() -> str | None:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install {tool})"
    return None


def make_speech(
    directory: Path, name: str, text: str, *, lead_s: float, tail_s: float, gain_db: float = 0.0
) -> tuple[Path, Path]:
    """Write ``name``.wav (48 kHz mono, for the fake mic) and ``name``_24k.wav (reference).

    Both hold the same padded utterance; the 24 kHz file is what one loop of the
    microphone should look like after the browser's resampling.
    """
    directory.mkdir(parents=True, exist_ok=True)
    raw = directory / f"{name}_espeak.wav"
    mic = directory / f"{name}.wav"
    ref = directory / f"{name}_24k.wav"
    if mic.exists() and ref.exists():
        return mic, ref
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True)
    effects = ["norm", "-3", "pad", f"{lead_s}", f"{tail_s}"]
    if gain_db:
        effects += ["vol", f"{gain_db}dB"]
    for out, rate in ((mic, 48000), (ref, SR)):
        subprocess.run(
            ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out), *effects],
            check=True,
            capture_output=True,
        )
    return mic, ref


def read_wav(path: Path) -> npt.NDArray[np.int16]:
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int16)


def _f(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.asarray(x, dtype=np.float64)


def best_lag(x: npt.ArrayLike, ref: npt.ArrayLike) -> int:
    """Lag L maximising the cross-correlation: ``x[n + L] ~ ref[n]`` (FFT, full range)."""
    a, b = _f(x), _f(ref)
    n = len(a) + len(b)
    size = 1 << (n - 1).bit_length()
    spec = np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size))
    cc = np.fft.irfft(spec, size)
    # lags 0..len(a)-1 are at the start, negative lags wrap to the end
    lags = np.concatenate([np.arange(0, len(a)), np.arange(-len(b) + 1, 0)])
    values = np.concatenate([cc[: len(a)], cc[size - len(b) + 1 :]])
    return int(lags[int(np.argmax(values))])


def windowed_corr(
    x: npt.ArrayLike,
    ref: npt.ArrayLike,
    *,
    window_s: float = 0.5,
    search_ms: float = 20.0,
    min_rms: float = 300.0,
) -> tuple[float, int]:
    """Median per-window correlation of ``x`` against a (looped) reference.

    ``x`` is aligned to ``ref`` as a whole first; then each ``window_s`` window of
    ``x`` whose reference part is voiced (RMS ≥ ``min_rms``) is re-aligned within
    ``±search_ms`` (drift, the loop seam) and correlated. Returns ``(median, windows)``.
    """
    xs, r = _f(x), _f(ref)
    if len(xs) == 0 or len(r) == 0:
        return 0.0, 0
    # The fake device loops: tile the reference to cover x plus one period either side.
    reps = len(xs) // len(r) + 3
    tiled = np.tile(r, reps)
    lag = best_lag(tiled, xs)  # tiled[n + lag] ~ xs[n]
    win = int(window_s * SR)
    search = int(search_ms * SR / 1000)
    scores: list[float] = []
    for start in range(0, len(xs) - win + 1, win):
        seg = xs[start : start + win]
        base = start + lag
        lo, hi = base - search, base + win + search
        if lo < 0 or hi > len(tiled):
            continue
        region = tiled[lo:hi]
        if np.sqrt(np.mean(tiled[base : base + win] ** 2)) < min_rms:
            continue
        if np.std(seg) == 0:
            scores.append(0.0)
            continue
        best = -1.0
        for k in range(0, 2 * search + 1, 2):
            cand = region[k : k + win]
            c = float(np.corrcoef(seg, cand)[0, 1])
            best = max(best, c)
        scores.append(best)
    if not scores:
        return 0.0, 0
    return float(np.median(scores)), len(scores)


def rms(x: npt.ArrayLike) -> float:
    a = _f(x)
    return float(np.sqrt(np.mean(a**2))) if len(a) else 0.0


def dominant_hz(x: npt.ArrayLike, rate: int = SR) -> float:
    """Frequency of the strongest spectral peak (Hann window, parabolic interpolation)."""
    y = _f(x)
    y = y - float(np.mean(y))
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    k = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[k - 1 : k + 2] + 1e-12)
    shift = 0.5 * (a - c) / (a - 2 * b + c)
    return float((k + shift) * rate / len(y))

"""Synthetic speech-like audio for tests (no files, no network)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SR = 24000


def speech_like(
    seconds: float, *, f0: float = 140.0, seed: int = 0, level: float = 0.3
) -> npt.NDArray[np.int16]:
    """A voiced, syllable-modulated harmonic signal: loud enough for an energy VAD,
    and distinct per ``seed`` so correlations identify it."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f = f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(f) / SR
    sig = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6))
    sig = sig * envelope + 0.05 * rng.standard_normal(n)
    sig = sig / np.max(np.abs(sig)) * level
    return (sig * 32767).astype(np.int16)


def silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(int(seconds * SR), dtype=np.int16)

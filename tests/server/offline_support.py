"""Helpers for the offline-engine tests: espeak-ng speech, word error rate, skip marker."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import wave

import numpy as np
import numpy.typing as npt
import pytest

from realtime_widget.server.offline import missing_modules

SR = 24000
MISSING = missing_modules()
needs_offline = pytest.mark.skipif(
    bool(MISSING),
    reason=f"offline engines not installed (missing {', '.join(MISSING)}): "
    "pip install -e '.[local]'",
)
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)"
)


def espeak(text: str, rate: int = 160) -> npt.NDArray[np.int16]:
    """``text`` spoken by espeak-ng, PCM16 at 24 kHz."""
    import soxr

    raw = subprocess.run(
        ["espeak-ng", "-s", str(rate), "--stdout", text], capture_output=True, check=True
    ).stdout
    with wave.open(io.BytesIO(raw)) as w:
        sr = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    y = soxr.resample(x, sr, SR)
    out: npt.NDArray[np.int16] = (np.clip(y, -1, 1) * 32767).astype(np.int16)
    return out


_NUMBERS = dict(
    enumerate(
        (
            *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
            *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"),
            *("seventeen", "eighteen", "nineteen", "twenty"),
        )
    )
)


def words(text: str) -> list[str]:
    """Lower-case words without punctuation; small numbers spelled out (Whisper writes 10)."""
    out = re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()
    return [_NUMBERS.get(int(w), w) if w.isdigit() else w for w in out]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def wer(refs: list[str], hyps: list[str]) -> float:
    """Word error rate over a corpus: total edits / total reference words."""
    edits = sum(edit_distance(words(r), words(h)) for r, h in zip(refs, hyps, strict=True))
    return edits / max(1, sum(len(words(r)) for r in refs))

"""Reading the log and the audio from the notebook while the session's I/O thread
records (the inspection API is a live view): no reader error, no writer error, nothing
lost. The GIL switch interval is made tiny so the threads interleave between bytecodes."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from realtime_widget.log import Recorder
from realtime_widget.state.audio_store import BLOCK_BYTES, AudioTrack


@pytest.fixture(autouse=True)
def _interleave() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _run(write: Callable[[int], None], read: Callable[[], Any], seconds: float = 1.5) -> int:
    """``write(k)`` in a thread until ``read()`` has run for ``seconds``; return k."""
    errors: list[BaseException] = []
    stop = threading.Event()
    done = [0]

    def writer() -> None:
        k = 0
        try:
            while not stop.is_set():
                write(k)
                k += 1
        except BaseException as exc:
            errors.append(exc)
        done[0] = k

    th = threading.Thread(target=writer)
    th.start()
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end and not errors:
            read()
    finally:
        stop.set()
        th.join()
    assert not errors, f"the recording thread failed: {errors[0]!r}"
    return done[0]


def test_event_log_reads_while_recording() -> None:
    rec = Recorder()
    pcm = b"\x01\x00" * 480

    def write(k: int) -> None:
        rec.send({"type": "input_audio_buffer.append"}, k * 0.02, audio=pcm)
        if k % 10 == 0:
            rec.receive(
                '{"type": "response.output_audio.delta", "response_id": "r1", "item_id": "a1",'
                ' "output_index": 0, "content_index": 0, "delta": "AQABAA=="}',
                k * 0.02,
            )
            rec.receive(f'{{"type": "response.created", "response": {{"id": "r{k}"}}}}', k * 0.02)

    def read() -> None:
        log = rec.log
        df = log.to_dataframe()
        assert len(df) == len(df["type"]) and df["t_kernel"].is_monotonic_increasing
        start, length, t = log.input_timeline()
        assert len(start) == len(length) == len(t)
        assert not np.isnan(t).any()
        appends = log.filter(type="input_audio_buffer.append")
        assert all(e.type == "input_audio_buffer.append" for e in appends[-5:])
        log.to_records()

    written = _run(write, read)
    log = rec.log
    assert len(log.filter(type="input_audio_buffer.append")) == written
    start, _length, _t = log.input_timeline()
    assert len(start) == written and start[-1] == (written - 1) * 480


def test_audio_track_reads_lose_no_chunk_while_appending() -> None:
    track = AudioTrack()
    chunk = 960  # samples: 40 ms; BLOCK_BYTES is crossed every ~136 chunks

    def write(k: int) -> None:
        track.append(np.full(chunk, k % 30000, dtype="<i2").tobytes())

    def read() -> None:
        n = len(track)
        first = max(0, n - 5 * chunk) // chunk
        data = track.array(first * chunk)
        # whole chunks, in order, each its own value (more may have come since `n`)
        assert len(data) % chunk == 0
        rows = data.reshape(-1, chunk)
        assert np.array_equal(rows[:, 0], (np.arange(len(rows)) + first) % 30000)
        assert (rows == rows[:, :1]).all()

    written = _run(write, read)
    assert written * chunk * 2 > BLOCK_BYTES  # blocks were joined while reading
    audio = track.array()
    assert len(audio) == written * chunk
    expected = np.repeat(np.arange(written) % 30000, chunk).astype(np.int16)
    assert np.array_equal(audio, expected)

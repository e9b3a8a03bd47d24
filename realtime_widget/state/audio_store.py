"""Append-only PCM16 storage for the conversation's audio tracks.

One :class:`AudioTrack` holds one timeline of 24 kHz mono PCM16: the client's
whole input stream, or the audio generated for one assistant item. Audio is
stored once, as raw little-endian bytes (never as base64), and handed out as
``numpy.int16`` arrays on request.

Why the blocks: a session streams 20-100 ms chunks, i.e. up to ~180 000 small
``bytes`` objects an hour each way. Each costs ~33 bytes of object header plus
malloc slack, and a list slot. So recent chunks sit in a short ``tail`` list
(zero copy: the caller's decoded bytes are kept as they are) and every
:data:`BLOCK_BYTES` the tail is joined into one immutable block. The overhead is
then a few bytes per *block* instead of per chunk, and the per-chunk objects are
freed in bulk, so the allocator reuses their memory for the next chunks.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_right
from typing import NamedTuple

import numpy as np

from realtime_widget.protocol.audio import Int16Array

__all__ = ["BLOCK_BYTES", "AudioRef", "AudioTrack"]

BLOCK_BYTES = 1 << 18
"""Tail size (bytes) at which chunks are joined into one block: 256 KiB ≈ 5.5 s."""

INPUT_TRACK = "input"
"""Name of the track holding everything the client appended."""

_EMPTY = np.zeros(0, dtype=np.int16)
_EMPTY.flags.writeable = False


class AudioRef(NamedTuple):
    """Where one chunk of audio lives: ``length`` samples from ``start`` of ``track``.

    ``track`` is ``"input"`` for the client's input timeline, an assistant item
    id for generated audio, or the track of a client-created audio item (its
    item id, or ``"client:<n>"`` when the client gave the item no id).
    """

    track: str
    start: int
    length: int

    @property
    def ms(self) -> float:
        """Duration of the chunk in milliseconds."""
        return self.length / 24.0


class AudioTrack:
    """An append-only PCM16 timeline (24 kHz mono, little-endian).

    Positions and lengths are in samples. Reading returns read-only numpy
    views where possible; never mutate them.
    """

    __slots__ = ("_block_ends", "_blocks", "_lock", "_nbytes", "_tail", "_tail_bytes")

    def __init__(self) -> None:
        # The session's I/O thread appends while the notebook reads (an item's audio
        # during a live session): joining the tail into a block must not lose a chunk
        # appended meanwhile. Held for list operations only, never for a whole read.
        self._lock = threading.Lock()
        self._blocks: list[bytes] = []
        # Cumulative byte offset of each block's end, for bisecting on reads.
        self._block_ends = array("q")
        self._tail: list[bytes] = []
        self._tail_bytes = 0
        self._nbytes = 0

    def __len__(self) -> int:
        """Number of samples stored."""
        return self._nbytes >> 1

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def append(self, pcm: bytes | bytearray | memoryview) -> int:
        """Append PCM16 bytes; return the start position (samples) of the chunk.

        ``bytes`` are kept as they are (no copy); a ``bytearray``/``memoryview``
        is copied because its owner may reuse the buffer (ipykernel hands
        widget buffers over as memoryviews). An odd trailing byte is dropped.
        """
        start = self._nbytes >> 1
        chunk = pcm if type(pcm) is bytes else bytes(pcm)
        n = len(chunk)
        if n & 1:
            chunk = chunk[:-1]
            n -= 1
        if not n:
            return start
        with self._lock:
            start = self._nbytes >> 1
            self._tail.append(chunk)
            self._tail_bytes += n
            self._nbytes += n
            if self._tail_bytes >= BLOCK_BYTES:
                self._flush()
        return start

    def seal(self) -> None:
        """Join pending chunks into one block (call when the track stops growing)."""
        with self._lock:
            if self._tail:
                self._flush()

    def _flush(self) -> None:
        tail = self._tail
        block = tail[0] if len(tail) == 1 else b"".join(tail)
        self._blocks.append(block)
        self._block_ends.append(self._nbytes)
        self._tail = []
        self._tail_bytes = 0

    def read_bytes(self, start: int = 0, stop: int | None = None) -> bytes:
        """PCM16 bytes of samples ``[start, stop)`` (clamped to what is stored)."""
        with self._lock:  # a consistent snapshot: one contiguous list of blocks
            if self._tail:
                self._flush()
            nbytes = self._nbytes
            blocks = self._blocks[:]
            ends = self._block_ends[:]
        b0 = max(0, start) * 2
        b1 = nbytes if stop is None else min(nbytes, max(0, stop) * 2)
        if b1 <= b0:
            return b""
        i = bisect_right(ends, b0)
        out: list[bytes] = []
        pos = ends[i - 1] if i else 0
        while pos < b1:
            block = blocks[i]
            end = ends[i]
            lo, hi = max(b0, pos) - pos, min(b1, end) - pos
            out.append(block if lo == 0 and hi == len(block) else block[lo:hi])
            pos = end
            i += 1
        return out[0] if len(out) == 1 else b"".join(out)

    def array(self, start: int = 0, stop: int | None = None) -> Int16Array:
        """Samples ``[start, stop)`` as a read-only int16 array."""
        data = self.read_bytes(start, stop)
        if not data:
            return _EMPTY
        return np.frombuffer(data, dtype="<i2").astype(np.int16, copy=False)

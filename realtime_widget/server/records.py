"""What the server saw and sent on each connection, for tests and debugging."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from realtime_widget.protocol.audio import SAMPLE_RATE, Int16Array, pcm16_to_array
from realtime_widget.protocol.events import Event

__all__ = ["ConnectionRecord", "Fault"]


@dataclass
class ConnectionRecord:
    """One connection. Filled only if the server was created with ``record=True``.

    ``input_audio`` is every appended sample after decoding (PCM16 24 kHz),
    in order: byte ``ms * 48`` is the session timeline's millisecond ``ms``,
    the same clock as ``audio_start_ms``/``audio_end_ms``. ``raw_input_audio``
    is the appended bytes as sent (µ-law stays µ-law).
    """

    id: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    subprotocol: str | None = None
    client_events: list[Event] = field(default_factory=list)
    server_events: list[Event] = field(default_factory=list)
    input_audio: bytearray = field(default_factory=bytearray)
    raw_input_audio: bytearray = field(default_factory=bytearray)
    invalid_frames: int = 0
    opened_at: float = field(default_factory=time.time)
    closed_at: float | None = None
    close_code: int | None = None
    refused: str | None = None
    """Why the connection was refused right after the handshake (``beta_api_shape_disabled``)."""
    dropped: bool = False
    """True if a :class:`Fault` dropped it."""
    limit_bytes: int | None = None
    """Stop recording events and audio past this many bytes (None = no limit)."""
    recorded_bytes: int = 0
    truncated: bool = False
    """True once the limit was hit: later events and audio were not recorded."""

    def allow(self, n: int) -> bool:
        """Account ``n`` more bytes; False (and ``truncated``) once over the limit."""
        if self.truncated:
            return False
        self.recorded_bytes += n
        if self.limit_bytes is not None and self.recorded_bytes > self.limit_bytes:
            self.truncated = True
            return False
        return True

    @property
    def open(self) -> bool:
        return self.closed_at is None

    def received(self, type_: str | None = None) -> list[Event]:
        """Client events received, optionally of one type."""
        return [e for e in self.client_events if type_ is None or e.get("type") == type_]

    def sent(self, type_: str | None = None) -> list[Event]:
        """Server events sent, optionally of one type."""
        return [e for e in self.server_events if type_ is None or e.get("type") == type_]

    def input_samples(self) -> Int16Array:
        return (
            pcm16_to_array(bytes(self.input_audio)) if self.input_audio else np.zeros(0, np.int16)
        )

    def input_between(self, start_ms: int, end_ms: int) -> Int16Array:
        """Appended audio between two timeline positions (as in speech events)."""
        a, b = start_ms * SAMPLE_RATE // 1000, end_ms * SAMPLE_RATE // 1000
        return self.input_samples()[a:b]


@dataclass
class Fault:
    """Make the server drop connections mid-response (for client robustness tests).

    After the ``drop_after_deltas``-th ``response.output_audio.delta`` or
    ``response.output_text.delta`` has been written on a connection, the server
    aborts the TCP connection (``close_code=None``: the client sees 1006, no
    close frame) or closes it with ``close_code``. With ``once`` only the first
    connection that reaches the count is dropped.
    """

    drop_after_deltas: int
    close_code: int | None = None
    reason: str = ""
    once: bool = True
    fired: int = 0

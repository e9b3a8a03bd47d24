"""Server-wide behaviour knobs shared by the connection handler and responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Pace", "ServerOptions"]

Pace = Literal["realtime", "burst"]


@dataclass(frozen=True)
class ServerOptions:
    model: str = "gpt-realtime-local"
    pace: Pace = "realtime"
    """``realtime``: each audio delta leaves when its start time (from the first
    delta) comes, minus ``lead_ms``: a barge-in test can interrupt mid-reply.
    ``burst``: as fast as the socket takes it, like real servers that generate
    faster than real time."""
    chunk_ms: int = 40
    """Audio per ``response.output_audio.delta`` (≥ 40 ms keeps message rates sane)."""
    lead_ms: int = 80
    """How far ahead of real time paced deltas are sent (a client jitter buffer's worth)."""
    transcription_delay_s: float = 0.15
    """Wait before input transcription starts: it runs beside the response, as on OpenAI."""
    idle_timeout_scale: float = 1.0
    """Multiplies ``idle_timeout_ms`` (validated to 5000-30000 like OpenAI); tests use < 1."""
    emit_conversation_created: bool = False
    """Send ``conversation.created`` after ``session.created`` (OpenAI GA does not; xAI does)."""
    session_max_s: float | None = None
    """Close with 1001 after this long, like OpenAI's 60-minute limit (None = never)."""
    record: bool = True
    """Keep every client event, sent event and appended audio per connection (tests)."""

"""Exceptions raised by realtime_widget.

Every layer raises from this one module so that a user can catch
:class:`RealtimeError` and get everything. Messages never contain an API key:
the connection layer redacts before raising (see ``connection.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ConfigError",
    "ConnectionClosedError",
    "ProtocolError",
    "RealtimeError",
    "RecordingFileError",
    "ServerError",
]


class RealtimeError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(RealtimeError, ValueError):
    """A session setting is invalid.

    ``param`` is the dotted path of the offending field as it appears in the GA
    ``session`` object (for example ``audio.input.turn_detection.threshold``);
    ``allowed`` lists or describes the accepted values.
    """

    def __init__(self, param: str, message: str, allowed: Sequence[Any] | str | None = None):
        self.param = param
        self.allowed = allowed
        text = f"{param}: {message}"
        if allowed is not None:
            shown = allowed if isinstance(allowed, str) else ", ".join(repr(a) for a in allowed)
            text += f" (allowed: {shown})"
        super().__init__(text)


class ProtocolError(RealtimeError):
    """A frame or event that cannot be understood (not JSON, no ``type``...)."""


class ServerError(RealtimeError):
    """An ``error`` event sent by the server, raised where a caller awaited a reply."""

    def __init__(self, error: Mapping[str, Any]):
        self.error = dict(error)
        self.type: str | None = error.get("type")
        self.code: str | None = error.get("code")
        self.param: str | None = error.get("param")
        self.event_id: str | None = error.get("event_id")
        msg = str(error.get("message") or "server error")
        parts = [p for p in (self.type, self.code) if p]
        prefix = f"[{' / '.join(parts)}] " if parts else ""
        suffix = f" (param: {self.param})" if self.param else ""
        super().__init__(f"{prefix}{msg}{suffix}")


class ConnectionClosedError(RealtimeError):
    """The WebSocket closed; ``code`` and ``reason`` come from the close frame."""

    def __init__(self, message: str, code: int | None = None, reason: str = ""):
        self.code = code
        self.reason = reason
        super().__init__(message)


class RecordingFileError(RealtimeError):
    """A recording file that cannot be read: missing, not a recording, corrupt, or
    written by a newer version of the format."""

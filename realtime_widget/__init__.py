"""realtime_widget: talk to OpenAI-Realtime-protocol models from a notebook.

The kernel holds the WebSocket session (:class:`Session`); the browser widget
does audio only; everything that happens is kept as Python objects. A local
Realtime-protocol server (:class:`LocalServer`) ships with the package so that
it all runs with no API key and no network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .connection import Endpoint
from .errors import (
    ConfigError,
    ConnectionClosedError,
    ProtocolError,
    RealtimeError,
    ServerError,
)
from .session import Session

if TYPE_CHECKING:
    from .server import LocalServer

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ConnectionClosedError",
    "Endpoint",
    "LocalServer",
    "ProtocolError",
    "RealtimeError",
    "ServerError",
    "Session",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # The server is imported on demand: a client of a remote model never needs it.
    if name == "LocalServer":
        from .server import LocalServer

        return LocalServer
    raise AttributeError(f"module 'realtime_widget' has no attribute {name!r}")

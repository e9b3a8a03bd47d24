"""realtime_widget: talk to OpenAI-Realtime-protocol models from a notebook.

The kernel holds the WebSocket session (:class:`Session`); the browser widget
does audio only; everything that happens is kept as Python objects. A local
Realtime-protocol server (:class:`LocalServer`) ships with the package so that
it all runs with no API key and no network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    ConfigError,
    ConnectionClosedError,
    ProtocolError,
    RealtimeError,
    RecordingFileError,
    ServerError,
)

if TYPE_CHECKING:
    from .connection import Endpoint
    from .log.archive import load
    from .replayer import replay
    from .server import LocalServer
    from .session import Session
    from .widget import RealtimeWidget, talk

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ConnectionClosedError",
    "Endpoint",
    "LocalServer",
    "ProtocolError",
    "RealtimeError",
    "RealtimeWidget",
    "RecordingFileError",
    "ServerError",
    "Session",
    "__version__",
    "load",
    "replay",
    "talk",
]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that ``import realtime_widget`` stays cheap: the Jupyter
    # server imports the package for its extension (jupyter_ext), which needs none of
    # numpy, websockets or anywidget.
    if name == "Session":
        from .session import Session

        return Session
    if name == "load":
        from .log.archive import load

        return load
    if name == "replay":
        from .replayer import replay

        return replay
    if name == "Endpoint":
        from .connection import Endpoint

        return Endpoint
    # The server is imported on demand: a client of a remote model never needs it.
    if name == "LocalServer":
        from .server import LocalServer

        return LocalServer
    # The widget pulls in anywidget/ipywidgets: only when asked for.
    if name in ("RealtimeWidget", "talk"):
        from . import widget

        return getattr(widget, name)
    raise AttributeError(f"module 'realtime_widget' has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter server extension entry (TCP_NODELAY on kernel websockets; see
    :mod:`realtime_widget.jupyter_ext`). Imports nothing."""
    return [{"module": "realtime_widget.jupyter_ext"}]

"""A test-only Jupyter server extension: reports TCP_NODELAY of open kernel websockets.

``GET /rtw-probe/nodelay`` → ``{"sockets": [0 or 1, ...]}``: one entry per open
websocket (jupyter_server's ``WebSocketMixin``, which the kernel websocket handler
uses), read from the server side of the TCP connection.
"""

from __future__ import annotations

import json
import socket
import weakref
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin

_open: weakref.WeakSet[Any] = weakref.WeakSet()


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


class _Probe(JupyterHandler):
    def get(self) -> None:
        values = []
        for handler in list(_open):
            conn = getattr(handler, "ws_connection", None)
            stream = getattr(conn, "stream", None)
            sock = getattr(stream, "socket", None)
            if sock is not None:
                values.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"sockets": values}))

    def check_xsrf_cookie(self) -> None:
        return None


def _load_jupyter_server_extension(serverapp: Any) -> None:
    original = WebSocketMixin.open

    def open(self: Any, *args: Any, **kwargs: Any) -> Any:
        _open.add(self)
        return original(self, *args, **kwargs)

    WebSocketMixin.open = open  # type: ignore[method-assign]
    serverapp.web_app.add_handlers(".*$", [(r"/rtw-probe/nodelay", _Probe)])

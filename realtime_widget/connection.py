"""Layer 4: the WebSocket connection to a Realtime server (asyncio, ``websockets``).

Where the API key lives. It is held in a :class:`Secret`, sent only as a
request header, and redacted from every repr, log record and exception text
this module produces. Nothing above this layer ever sees it.

Endpoints:

* OpenAI: ``wss://api.openai.com/v1/realtime?model=…`` with ``Authorization: Bearer``.
* Azure OpenAI v1: ``wss://<resource>.openai.azure.com/openai/v1/realtime?model=<deployment>``
  with an ``api-key`` header (or ``Authorization: Bearer`` for an Entra token).
* Any URL (the bundled local server, LiteLLM, LocalAI ...), key optional.

The socket is opened with ``max_size=None`` because ``conversation.item.retrieved``
carries a whole item's audio in one frame, and without compression: base64 PCM
hardly compresses and deflate would cost CPU on the audio path.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidState,
    InvalidStatus,
    InvalidURI,
)
from websockets.protocol import State

from .errors import ConnectionClosedError, RealtimeError
from .protocol.redact import SecretFilter, redact

__all__ = [
    "CLOSE_CODE_MESSAGES",
    "Connection",
    "Endpoint",
    "Secret",
    "describe_close",
]

_log = logging.getLogger(__name__)
_WS_VERSION = importlib.metadata.version("websockets")

OPENAI_URL = "wss://api.openai.com/v1/realtime"
DEFAULT_MODEL = "gpt-realtime"

Provider = Literal["openai", "azure", "custom"]


class Secret:
    """A string that never shows itself: repr, str and format give ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        if not isinstance(value, str) or not value:
            raise ValueError("a secret must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        # Pickling (and so multiprocessing, or a saved object) must not carry the key.
        raise TypeError("a Secret cannot be pickled")


def _secret_from(value: str | Secret | None, env_names: tuple[str, ...]) -> Secret | None:
    if isinstance(value, Secret):
        return value
    if value:
        return Secret(value)
    for name in env_names:
        env = os.environ.get(name)
        if env:
            return Secret(env)
    return None


@dataclass(frozen=True)
class Endpoint:
    """Where to connect and how to authenticate.

    Build one with :meth:`openai`, :meth:`azure` or :meth:`custom`. The URL may
    be shown freely; header values are secrets and are never shown.
    """

    url: str
    provider: Provider = "custom"
    model: str | None = None
    secret_headers: Mapping[str, Secret] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def openai(
        cls,
        model: str = DEFAULT_MODEL,
        api_key: str | Secret | None = None,
        *,
        base_url: str = OPENAI_URL,
        headers: Mapping[str, str] | None = None,
    ) -> Endpoint:
        """OpenAI's GA endpoint. The key comes from ``api_key`` or ``OPENAI_API_KEY``."""
        key = _secret_from(api_key, ("OPENAI_API_KEY",))
        if key is None:
            raise RealtimeError(
                "no OpenAI API key: pass api_key=... or set the OPENAI_API_KEY environment "
                "variable (or use the bundled local server, which needs none)"
            )
        url = _with_query(base_url, {"model": model})
        return cls(
            url=url,
            provider="openai",
            model=model,
            secret_headers={"Authorization": Secret(f"Bearer {key.reveal()}")},
            headers=dict(headers or {}),
        )

    @classmethod
    def azure(
        cls,
        endpoint: str,
        deployment: str,
        api_key: str | Secret | None = None,
        *,
        token: str | Secret | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Endpoint:
        """Azure OpenAI's v1 realtime endpoint.

        ``endpoint`` is the resource URL (``https://<resource>.openai.azure.com``)
        or just the resource name. ``token`` is an Entra ID bearer token, used
        instead of a key. The key comes from ``api_key`` or ``AZURE_OPENAI_API_KEY``.
        """
        if "://" not in endpoint and "." not in endpoint:
            endpoint = f"https://{endpoint}.openai.azure.com"
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        scheme = "ws" if parts.scheme in ("http", "ws") else "wss"
        url = _with_query(f"{scheme}://{parts.netloc}/openai/v1/realtime", {"model": deployment})
        secret_headers: dict[str, Secret] = {}
        bearer = _secret_from(token, ())
        if bearer is not None:
            secret_headers["Authorization"] = Secret(f"Bearer {bearer.reveal()}")
        else:
            key = _secret_from(api_key, ("AZURE_OPENAI_API_KEY",))
            if key is None:
                raise RealtimeError(
                    "no Azure OpenAI credential: pass api_key=..., token=... (Entra ID), or set "
                    "AZURE_OPENAI_API_KEY"
                )
            secret_headers["api-key"] = key
        return cls(
            url=url,
            provider="azure",
            model=deployment,
            secret_headers=secret_headers,
            headers=dict(headers or {}),
        )

    @classmethod
    def custom(
        cls,
        url: str,
        api_key: str | Secret | None = None,
        *,
        model: str | None = None,
        headers: Mapping[str, str] | None = None,
        auth_header: str = "Authorization",
    ) -> Endpoint:
        """Any compatible server. ``model`` is added as a query parameter if given.

        With ``api_key`` the key is sent as ``Authorization: Bearer <key>`` (or in
        ``auth_header`` verbatim, e.g. ``api-key`` or ``X-API-Key``).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss", "http", "https"):
            raise RealtimeError(f"unsupported URL scheme {parts.scheme!r}: use ws:// or wss://")
        if parts.scheme in ("http", "https"):
            url = ("ws" if parts.scheme == "http" else "wss") + url[len(parts.scheme) :]
        if model is not None:
            url = _with_query(url, {"model": model})
        secret_headers: dict[str, Secret] = {}
        key = _secret_from(api_key, ())
        if key is not None:
            value = (
                f"Bearer {key.reveal()}" if auth_header.lower() == "authorization" else key.reveal()
            )
            secret_headers[auth_header] = Secret(value)
        return cls(
            url=url,
            provider="custom",
            model=model,
            secret_headers=secret_headers,
            headers=dict(headers or {}),
        )

    def __repr__(self) -> str:
        hidden = ", ".join(f"{k}: ***" for k in self.secret_headers)
        return f"Endpoint({self.provider}, {self.url!r}{', ' + hidden if hidden else ''})"

    def secrets(self) -> list[str]:
        """Every secret string to scrub from text (header values and bare keys)."""
        out: list[str] = []
        for s in self.secret_headers.values():
            v = s.reveal()
            out.append(v)
            if v.startswith("Bearer "):
                out.append(v[len("Bearer ") :])
        return out


def _with_query(url: str, params: Mapping[str, str]) -> str:
    sep = "&" if urlsplit(url).query else "?"
    return f"{url}{sep}{urlencode(params, quote_via=quote)}"


CLOSE_CODE_MESSAGES: dict[int, str] = {
    1000: "closed normally",
    1001: (
        "the server ended the session (going away); OpenAI closes every Realtime session "
        "after 60 minutes with this code: open a new session (the conversation does not carry over)"
    ),
    1002: "protocol error",
    1006: "the connection dropped without a close frame (network failure or server crash)",
    1008: "policy violation (often an authentication or permission problem)",
    1009: "a message was too big",
    1011: "the server hit an internal error",
    1012: "the server is restarting",
    1013: "the server is overloaded: try again later",
    4000: (
        "the server refused the beta protocol shape (beta_api_shape_disabled): use the GA "
        "protocol (no OpenAI-Beta header, session.type='realtime')"
    ),
}


def describe_close(code: int | None, reason: str = "") -> str:
    """A sentence for a close code and reason, for errors and the event log."""
    if code is None:
        base = "the connection closed without a close code"
    else:
        base = f"close code {code}: {CLOSE_CODE_MESSAGES.get(code, 'unrecognised close code')}"
    if reason:
        base += f" (server said: {reason})"
    return base


class Connection:
    """One WebSocket to a Realtime server: open, send text, receive frames, close.

    Deliberately thin: no event knowledge beyond close codes. Errors are
    :class:`~realtime_widget.errors.RealtimeError` subclasses whose text has
    every secret removed.
    """

    def __init__(self, endpoint: Endpoint, *, open_timeout: float = 15.0, max_queue: int = 4096):
        self.endpoint = endpoint
        self.open_timeout = open_timeout
        self.max_queue = max_queue
        self._ws: ClientConnection | None = None
        self.close_code: int | None = None
        self.close_reason: str = ""
        self._ws_logger = logging.getLogger(f"{__name__}.websockets.{id(self):x}")
        self._ws_logger.propagate = True
        self._ws_logger.addFilter(SecretFilter(endpoint.secrets()))

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<Connection {state} {self.endpoint!r}>"

    @property
    def is_open(self) -> bool:
        return self._ws is not None and self.close_code is None

    def _scrub(self, text: str) -> str:
        return redact(text, self.endpoint.secrets())

    async def open(self) -> None:
        headers = {**self.endpoint.headers}
        headers.update({k: v.reveal() for k, v in self.endpoint.secret_headers.items()})
        kwargs: dict[str, Any] = {
            "additional_headers": headers,
            "max_size": None,
            "compression": None,
            "open_timeout": self.open_timeout,
            "max_queue": self.max_queue,
            "logger": self._ws_logger,
            "user_agent_header": f"realtime-widget websockets/{_WS_VERSION}",
        }
        host = urlsplit(self.endpoint.url).hostname or ""
        if _is_loopback(host) and int(_WS_VERSION.split(".")[0]) >= 15:
            kwargs["proxy"] = None  # an HTTP(S)_PROXY from the environment must not catch loopback
        try:
            self._ws = await connect(self.endpoint.url, **kwargs)
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode("utf-8", "replace")[:500] if exc.response.body else ""
            hint = {
                401: "authentication failed: check the API key",
                403: "access denied: the key has no access to this model or resource",
                404: "not found: check the URL, model or deployment name",
                429: "rate limited or out of quota",
            }.get(status, "the server refused the WebSocket upgrade")
            msg = f"could not connect to {self.endpoint.url}: HTTP {status}, {hint}"
            if body:
                msg += f". Server said: {body}"
            raise RealtimeError(self._scrub(msg)) from None
        except (InvalidHandshake, InvalidURI, OSError, TimeoutError) as exc:
            msg = f"could not connect to {self.endpoint.url}: {type(exc).__name__}: {exc}"
            raise RealtimeError(self._scrub(msg)) from None

    def _closed_error(self, exc: ConnectionClosed) -> ConnectionClosedError:
        frame = exc.rcvd or exc.sent
        self.close_code = frame.code if frame is not None else 1006
        self.close_reason = frame.reason if frame is not None else ""
        return ConnectionClosedError(
            self._scrub(describe_close(self.close_code, self.close_reason)),
            code=self.close_code,
            reason=self._scrub(self.close_reason),
        )

    async def send_text(self, text: str) -> None:
        if self._ws is None:
            raise RealtimeError("the connection is not open")
        try:
            await self._ws.send(text)
        except ConnectionClosed as exc:
            raise self._closed_error(exc) from None

    def send_text_now(self, text: str) -> bool:
        """Write a text frame synchronously if the socket can take it at once.

        The audio path sends ~50 small frames a second; awaiting ``send`` for each
        costs a task switch. This writes through websockets' sans-I/O protocol
        object instead, and only when nothing is buffered (so frames stay in
        order and flow control is respected). Returns False when the caller must
        use :meth:`send_text` (busy socket, not open, or internals that differ).
        """
        ws = self._ws
        if ws is None:
            return False
        try:
            if ws.protocol.state is not State.OPEN or ws.transport.get_write_buffer_size():
                return False
            ws.protocol.send_text(text.encode())
            ws.send_data()
        except (AttributeError, InvalidState):
            return False
        return True

    async def recv(self) -> str | bytes:
        """The next frame. Raises ConnectionClosedError when the socket closes."""
        if self._ws is None:
            raise RealtimeError("the connection is not open")
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            raise self._closed_error(exc) from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._ws is None:
            return
        await self._ws.close(code, reason)
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")

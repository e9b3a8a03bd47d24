"""``python -m realtime_widget.server [--host H] [--port P] [--pace realtime|burst]
[--engines auto|echo|offline] [--responder-url URL]``.

Prints the URL, serves until Ctrl-C (or SIGTERM), then closes connections
cleanly. :func:`run` is the entry point the package CLI wires as
``realtime-widget serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from .app import LocalServer
from .options import Pace

__all__ = ["build_parser", "run", "serve_forever"]


def build_parser(prog: str = "python -m realtime_widget.server") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description="Local OpenAI Realtime (GA) protocol server."
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument("--port", type=int, default=8765, help="port (0 = any free port; default 8765)")
    p.add_argument(
        "--pace",
        choices=("realtime", "burst"),
        default="realtime",
        help="send reply audio in real time (default) or as fast as possible",
    )
    p.add_argument("--chunk-ms", type=int, default=40, help="audio per output delta (default 40)")
    p.add_argument("--model", default="gpt-realtime-local", help="model name reported in sessions")
    p.add_argument(
        "--engines",
        choices=("auto", "echo", "offline"),
        default=None,
        help="speech engines: offline (the `local` extra), echo, or auto (default: "
        "$REALTIME_WIDGET_ENGINES, else offline when installed)",
    )
    p.add_argument(
        "--responder-url",
        metavar="URL",
        help="OpenAI-compatible chat-completions endpoint for replies "
        "(e.g. http://127.0.0.1:11434/v1); key from $REALTIME_WIDGET_RESPONDER_KEY",
    )
    p.add_argument("--responder-model", metavar="NAME", help="model name for --responder-url")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    return p


async def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8765,
    pace: Pace = "realtime",
    *,
    chunk_ms: int = 40,
    model: str = "gpt-realtime-local",
    ready: asyncio.Event | None = None,
    engines: str | None = None,
    responder_url: str | None = None,
    responder_model: str | None = None,
) -> None:
    """Serve until cancelled or SIGINT/SIGTERM; prints the URL once listening."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)  # not available on Windows / off the main thread
    server = LocalServer(
        host,
        port,
        pace=pace,
        chunk_ms=chunk_ms,
        model=model,
        record=False,
        engines=engines,
        responder_url=responder_url,
        responder_model=responder_model,
    )
    async with server:
        print(f"realtime_widget local server listening on {server.url}", flush=True)
        print(f"engines: {server.engines.describe()}  (Ctrl-C to stop)", flush=True)
        if server.engines.note:
            print(server.engines.note, flush=True)
        if ready is not None:
            ready.set()
        await stop.wait()


def run(argv: Sequence[str] | None = None, prog: str = "python -m realtime_widget.server") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(
            serve_forever(
                args.host,
                args.port,
                args.pace,
                chunk_ms=args.chunk_ms,
                model=args.model,
                engines=args.engines,
                responder_url=args.responder_url,
                responder_model=args.responder_model,
            )
        )
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError) as exc:  # port in use, bad address, missing engines
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run())

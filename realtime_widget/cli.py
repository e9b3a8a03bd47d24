"""``realtime-widget`` command line: ``serve``, ``talk`` and ``lab``.

* ``serve`` runs the bundled local Realtime server on 127.0.0.1.
* ``talk`` runs one turn headless against any server (default: an in-process
  local server) and prints the transcript and a compact event summary.
* ``lab`` opens JupyterLab on the quickstart notebook (the README's main job).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _add_target_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("server (default: an in-process local server)")
    g.add_argument("--url", help="ws:// or wss:// URL of any compatible server")
    g.add_argument("--openai", action="store_true", help="OpenAI (key from OPENAI_API_KEY)")
    g.add_argument(
        "--azure",
        metavar="ENDPOINT",
        help="Azure OpenAI resource URL or name (key from AZURE_OPENAI_API_KEY)",
    )
    g.add_argument("--deployment", help="Azure deployment name")
    g.add_argument("--model", help="model name (OpenAI default: gpt-realtime)")
    g.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="read the key from this environment variable (keys are never taken on the "
        "command line, where they would land in shell history and process lists)",
    )


def _session_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    key = os.environ.get(args.api_key_env) if args.api_key_env else None
    if args.api_key_env and not key:
        raise SystemExit(f"error: environment variable {args.api_key_env} is not set")
    if args.openai:
        return {"target": "openai", "model": args.model, "api_key": key}
    if args.azure:
        return {
            "target": "azure",
            "azure_endpoint": args.azure,
            "deployment": args.deployment or args.model,
            "api_key": key,
        }
    if args.url:
        return {"target": args.url, "model": args.model, "api_key": key}
    return {"target": "local", "model": args.model}


def _summary(counts: Counter[str]) -> str:
    parts = []
    for key, n in sorted(counts.items()):
        parts.append(f"{key} ×{n}" if n > 1 else key)
    return "\n  ".join(parts)


def _cmd_talk(args: argparse.Namespace) -> int:
    from .errors import RealtimeError
    from .protocol.audio import SAMPLE_RATE, write_wav
    from .session import Session

    if not args.input and args.text is None:
        raise SystemExit("error: give --input WAV or --text TEXT")

    async def run() -> int:
        settings: dict[str, Any] = {}
        if args.voice:
            settings["voice"] = args.voice
        if args.instructions:
            settings["instructions"] = args.instructions
        if args.text_only:
            settings["output_modalities"] = ["text"]
        if args.input and not args.vad:
            settings["turn_detection"] = None  # one manual turn: commit + response.create
        elif args.input:
            settings["turn_detection"] = "server_vad"
            settings["silence_duration_ms"] = args.silence_ms
        if args.transcribe:
            settings["transcription"] = args.transcribe
        session = Session(**_session_kwargs(args), **settings)
        t0 = time.monotonic()
        async with session:
            print(f"connected: {session.url}", file=sys.stderr)
            mark = session.mark()
            if args.input:
                sent_ms = await session.send_audio(
                    args.input,
                    realtime=args.vad or args.realtime,
                    trailing_silence_ms=args.silence_ms + 300 if args.vad else 0,
                )
                print(f"sent {sent_ms / 1000:.2f} s of audio", file=sys.stderr)
            else:
                await session.send_text(args.text)
            done = await session.wait_for("response.done", timeout=args.timeout, since=mark)
            status = (done.get("response") or {}).get("status")
            conv = session.conversation
            print("transcript:")
            for item in conv.items:
                text = item.transcript or item.text if item.role == "user" else item.text
                if item.type == "message":
                    print(f"  {item.role}: {text or '(no text)'}")
                elif item.type == "function_call":
                    print(f"  function_call {item.name}({item.arguments})")
            response_id = (done.get("response") or {}).get("id")
            audio = session.assistant_audio(response_id)
            if args.output:
                write_wav(args.output, audio, SAMPLE_RATE)
                print(f"wrote {len(audio) / SAMPLE_RATE:.2f} s of reply audio to {args.output}")
            counts = Counter(f"{r.direction}:{r.type}" for r in session.log)
            print(
                f"response status: {status}; {len(session.log)} events in "
                f"{time.monotonic() - t0:.2f} s:\n  {_summary(counts)}"
            )
            errors = [r for r in session.log if r.type == "error"]
            for r in errors:
                print(f"server error: {r.payload.get('error')}", file=sys.stderr)
            return 0 if status == "completed" and not errors else 1

    try:
        return asyncio.run(run())
    except (RealtimeError, TimeoutError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _cmd_lab(args: argparse.Namespace) -> int:
    notebooks = Path(args.dir).resolve()
    target = notebooks / "quickstart.ipynb"
    if not target.exists():
        raise SystemExit(f"error: {target} not found (run from a clone of the repository)")
    jupyter = shutil.which("jupyter")
    if jupyter is None:
        raise SystemExit("error: jupyter is not installed: pip install -e '.[dev]'")
    cmd = [
        jupyter,
        "lab",
        str(target.name),
        f"--ServerApp.root_dir={notebooks}",
        "--ip=127.0.0.1",
        f"--port={args.port}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    if args.no_browser:
        cmd.append("--no-browser")
    print(" ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=notebooks)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realtime-widget", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    # Listed for --help; `serve` itself is parsed by the server's own parser (see below).
    sub.add_parser("serve", help="run the local Realtime server on 127.0.0.1", add_help=False)

    p = sub.add_parser("talk", help="one turn against a server; prints the transcript")
    p.add_argument("--input", help="WAV file with the user's turn")
    p.add_argument("--text", help="send this text instead of audio")
    p.add_argument("--output", help="write the reply audio to this WAV file")
    p.add_argument("--voice")
    p.add_argument("--instructions")
    p.add_argument("--transcribe", metavar="MODEL", help="enable input transcription")
    p.add_argument("--text-only", action="store_true", help="ask for a text reply")
    p.add_argument(
        "--vad",
        action="store_true",
        help="let the server's VAD end the turn (audio paced in real time) instead of a "
        "manual commit",
    )
    p.add_argument("--realtime", action="store_true", help="pace the audio in real time")
    p.add_argument("--silence-ms", type=int, default=500, help="VAD silence_duration_ms")
    p.add_argument("--timeout", type=float, default=60.0)
    _add_target_args(p)
    p.set_defaults(fn=_cmd_talk)

    p = sub.add_parser("lab", help="open JupyterLab on notebooks/quickstart.ipynb")
    p.add_argument("--dir", default="notebooks")
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("--no-browser", action="store_true")
    p.set_defaults(fn=_cmd_lab)

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        from .server.__main__ import run  # the same options as python -m realtime_widget.server

        return run(argv[1:], prog="realtime-widget serve")
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())

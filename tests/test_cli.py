"""The command line, as a user runs it: ``serve`` in one process, ``talk`` in another."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from realtime_widget.protocol.audio import read_wav, write_wav
from tests.signals import SR, silence, speech_like


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "realtime_widget", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def question_wav(tmp_path: Path) -> Path:
    """Real speech from espeak-ng when available (as a user's WAV would be), else synthetic."""
    path = tmp_path / "question.wav"
    if shutil.which("espeak-ng"):
        subprocess.run(
            ["espeak-ng", "-w", str(path), "What is the weather like in Paris today?"],
            check=True,
            capture_output=True,
        )
    else:
        write_wav(path, np.concatenate([silence(0.2), speech_like(1.5), silence(0.2)]), SR)
    return path


@pytest.fixture
def served() -> Iterator[str]:
    proc = subprocess.Popen(
        ["realtime-widget", "serve", "--port", "0", "--pace", "burst"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # log lines may come first
            seen.append(line)
            match = re.search(r"(ws://127\.0\.0\.1:\d+/\S*)", line)
            if match:
                break
        assert match, f"unexpected serve output: {seen!r}"
        # Keep draining its log: a full pipe would block the server.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_then_talk_with_a_wav(served: str, question_wav: Path, tmp_path: Path) -> None:
    reply = tmp_path / "reply.wav"
    out = _cli("talk", "--input", str(question_wav), "--output", str(reply), "--url", served)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "transcript:" in out.stdout
    assert "user:" in out.stdout and "assistant:" in out.stdout
    assert "server:response.done" in out.stdout
    audio, rate = read_wav(reply)
    assert rate == SR
    question, qrate = read_wav(question_wav)
    # The default engines echo the user's audio: the reply is as long as the question.
    assert abs(len(audio) / SR - len(question) / qrate) < 0.1


def test_talk_text_in_process_server() -> None:
    out = _cli("talk", "--text", "Hello from the command line", "--text-only")
    assert out.returncode == 0, out.stderr
    assert "Hello from the command line" in out.stdout
    assert "response status: completed" in out.stdout


def test_talk_with_vad(served: str, question_wav: Path, tmp_path: Path) -> None:
    reply = tmp_path / "reply.wav"
    out = _cli(
        "talk", "--input", str(question_wav), "--output", str(reply), "--url", served, "--vad"
    )
    assert out.returncode == 0, out.stderr + out.stdout
    assert "server:input_audio_buffer.speech_started" in out.stdout
    assert reply.exists()


def test_talk_reports_bad_url_clearly() -> None:
    out = _cli("talk", "--text", "x", "--url", "ws://127.0.0.1:9/v1/realtime", timeout=30)
    assert out.returncode == 2
    assert "could not connect" in out.stderr
    assert "Traceback" not in out.stderr


def test_talk_needs_input() -> None:
    out = _cli("talk")
    assert out.returncode != 0
    assert "--input" in out.stderr

"""Latency, real-time factors and memory of the local server's offline speech engines.

A local server with the offline engines (WebRTC VAD, Whisper tiny.en, rule
replies, Piper joe at 24 kHz) runs in a subprocess; this process speaks five
user turns to it in real time (20 ms chunks, Piper-voiced sentences followed by
silence, ``server_vad`` with 500 ms silence, input transcription on) and
times each stage from the server's events:

* VAD decision: the last chunk of the silence window sent → ``speech_stopped``;
* transcription: ``committed`` → ``input_audio_transcription.completed``;
* reply: ``completed`` → ``response.output_item.added`` (the rule responder);
* speech, first chunk: ``output_item.added`` → first ``response.output_audio.delta``;
* **first reply audio after the end of the user's turn**: ``speech_stopped`` →
  first audio delta (the goal: ≤ 400 ms on 2 cores).

The practical floor is measured in the same run, in this process: the bare
model calls (Whisper on the same utterance, the rule reply, Piper's first
sentence + soxr to 24 kHz) with no server, socket or event loop. Real-time
factors: transcription time / utterance length, synthesis time / audio length.
The server's peak RSS (VmHWM) is read from /proc. The load average is printed
with the figures: other work on the machine inflates every number.

    python bench/bench_local_engines.py [--turns 5] [--silence-ms 500]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from websockets.asyncio.client import connect

from realtime_widget.server.interfaces import SpeechRequest

SR = 24000
CHUNK = SR // 50  # 20 ms
SENTENCES = [
    "Hello there, how are you today?",
    "What is the weather like in Paris?",
    "Please tell me a joke.",
    "What time is it right now?",
    "Thank you very much, goodbye.",
]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def rss_peak_mb(pid: int) -> tuple[float, float]:
    """(VmHWM, VmRSS) of a process in MB."""
    with open(f"/proc/{pid}/status") as fh:
        text = fh.read()
    hwm = re.search(r"VmHWM:\s+(\d+)", text)
    rss = re.search(r"VmRSS:\s+(\d+)", text)
    return (int(hwm.group(1)) / 1024 if hwm else 0.0, int(rss.group(1)) / 1024 if rss else 0.0)


def ms(values: list[float]) -> str:
    if not values:
        return "–"
    lo, hi = min(values) * 1000, max(values) * 1000
    return f"{statistics.median(values) * 1000:6.0f} ms (min {lo:.0f}, max {hi:.0f})"


def start_server() -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "REALTIME_WIDGET_ENGINES": "offline"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime_widget.server", "--port", "0", "--engines", "offline"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=os.path.join(os.path.dirname(__file__), ".."),
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"(ws://\S+)", line)
        if match:
            return proc, match.group(1)
    raise RuntimeError("the server did not start")


async def one_turn(
    ws: Any, audio: np.ndarray, silence_ms: int, timeline_ms: float
) -> tuple[dict[str, float], float]:
    """Stream one turn in real time; returns stage durations (s)."""
    loop = asyncio.get_running_loop()
    stamps: dict[str, float] = {}
    tail = np.zeros(SR * (silence_ms + 1500) // 1000, np.int16)
    stream = np.concatenate([audio, tail])
    speech_end_chunk = audio.size // CHUNK
    window_chunks = silence_ms // 20  # stop streaming a little after the turn ended
    sent_at: dict[int, float] = {}
    done = asyncio.Event()

    async def reader() -> None:
        async for raw in ws:
            event = json.loads(raw)
            kind = event["type"]
            now = loop.time()
            if kind == "response.output_audio.delta":
                stamps.setdefault("first_audio", now)
                continue
            if kind.endswith(".delta"):
                continue
            stamps.setdefault(kind, now)
            if kind == "input_audio_buffer.speech_stopped":
                stamps["audio_end_ms"] = float(event["audio_end_ms"])
            if kind == "response.done":
                done.set()
                return

    task = asyncio.create_task(reader())
    t0 = loop.time()
    for i in range(0, stream.size, CHUNK):
        n = i // CHUNK
        await asyncio.sleep(max(0.0, t0 + n * 0.02 - loop.time()))
        chunk = stream[i : i + CHUNK]
        await ws.send(
            json.dumps(
                {
                    "type": "input_audio_buffer.append",
                    "audio": base64.b64encode(chunk.tobytes()).decode(),
                }
            )
        )
        sent_at[n] = loop.time()
        if (
            "input_audio_buffer.speech_stopped" in stamps
            and n > speech_end_chunk + window_chunks + 5
        ):
            break
    await asyncio.wait_for(done.wait(), 60)
    await task
    # When the chunk holding the server's audio_end_ms (end of the silence window) left;
    # the session timeline is counted across turns, so take it relative to this turn.
    end_chunk = round((stamps["audio_end_ms"] - timeline_ms) / 20) - 1
    window_sent = sent_at.get(end_chunk, t0)
    stopped = stamps["input_audio_buffer.speech_stopped"]
    sent_ms = timeline_ms + len(sent_at) * 20
    return {
        "vad": stopped - window_sent,
        "transcription": stamps["conversation.item.input_audio_transcription.completed"]
        - stamps["input_audio_buffer.committed"],
        "reply": stamps["response.output_item.added"]
        - stamps["conversation.item.input_audio_transcription.completed"],
        "speech_first": stamps["first_audio"] - stamps["response.output_item.added"],
        "first_audio": stamps["first_audio"] - stopped,
    }, sent_ms


async def server_run(
    turns: list[np.ndarray], silence_ms: int
) -> tuple[dict[str, list[float]], float, float, str]:
    proc, url = start_server()
    try:
        async with connect(url, max_size=None) as ws:
            created = json.loads(await ws.recv())
            instructions = created["session"]["instructions"]
            await ws.send(
                json.dumps(
                    {
                        "type": "session.update",
                        "session": {
                            "type": "realtime",
                            "audio": {
                                "input": {
                                    "transcription": {"model": "whisper-1", "language": "en"},
                                    "turn_detection": {
                                        "type": "server_vad",
                                        "silence_duration_ms": silence_ms,
                                    },
                                }
                            },
                        },
                    }
                )
            )
            await ws.recv()
            # warm-up turn: models loaded, caches hot
            _, timeline = await one_turn(ws, turns[0], silence_ms, 0.0)
            stages: dict[str, list[float]] = {}
            for audio in turns:
                result, timeline = await one_turn(ws, audio, silence_ms, timeline)
                for key, value in result.items():
                    stages.setdefault(key, []).append(value)
        hwm, rss = rss_peak_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    return stages, hwm, rss, instructions


def floor_run(turns: list[np.ndarray], texts: list[str]) -> dict[str, Any]:
    from realtime_widget.server.offline.models import load_piper, load_whisper
    from realtime_widget.server.offline.rules import RuleResponder
    from realtime_widget.server.offline.speech import (
        PiperSpeaker,
        split_sentences,
        synthesize_sentence,
    )
    from realtime_widget.server.offline.whisper import transcribe_audio

    whisper, piper = load_whisper(), load_piper()
    rules = RuleResponder()
    transcribe_audio(whisper, turns[0])
    out: dict[str, list[float]] = {
        "asr": [],
        "asr_rtf": [],
        "reply": [],
        "tts_first": [],
        "tts_rtf": [],
    }
    for audio, text in zip(turns, texts, strict=True):
        t = time.perf_counter()
        heard = transcribe_audio(whisper, audio)
        spent = time.perf_counter() - t
        out["asr"].append(spent)
        out["asr_rtf"].append(spent / (audio.size / SR))
        t = time.perf_counter()
        reply = rules.reply_to(heard or text)
        out["reply"].append(time.perf_counter() - t)
        t = time.perf_counter()
        synthesize_sentence(piper, split_sentences(reply)[0])
        out["tts_first"].append(time.perf_counter() - t)
        speaker = PiperSpeaker()
        t = time.perf_counter()
        for _ in speaker.synthesize(SpeechRequest(text=reply)):
            pass
        out["tts_rtf"].append((time.perf_counter() - t) / max(speaker.audio_seconds, 1e-3))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--turns", type=int, default=5)
    p.add_argument("--silence-ms", type=int, default=500)
    args = p.parse_args()

    from realtime_widget.server.offline import missing_modules

    if missing_modules():
        raise SystemExit(
            f"install the local extra first: pip install -e '.[local]' ({missing_modules()})"
        )
    from realtime_widget.server.offline.models import load_piper
    from realtime_widget.server.offline.speech import synthesize_sentence

    texts = (SENTENCES * 3)[: args.turns]
    piper = load_piper()
    lead = np.zeros(SR // 2, np.int16)
    turns = [np.concatenate([lead, synthesize_sentence(piper, t)]) for t in texts]
    print(f"cores: {os.cpu_count()}  load average before: {load_average()}")
    print(
        f"{len(turns)} user turns, {sum(t.size for t in turns) / SR:.1f} s of Piper speech, "
        f"silence_duration_ms={args.silence_ms}"
    )

    stages, hwm, rss, instructions = asyncio.run(server_run(turns, args.silence_ms))
    print(f"\nserver: {instructions[:160]}…")
    print("server, median over turns (min, max):")
    print(f"  VAD decision (silence window sent → speech_stopped)     {ms(stages['vad'])}")
    print(
        f"  transcription (committed → transcription.completed)     {ms(stages['transcription'])}"
    )
    print(f"  reply (transcript → output_item.added)                  {ms(stages['reply'])}")
    print(f"  speech, first chunk (output_item.added → first audio)   {ms(stages['speech_first'])}")
    print(
        f"  FIRST REPLY AUDIO after end of turn (speech_stopped →)  {ms(stages['first_audio'])}"
        "   goal ≤ 400 ms"
    )
    print(
        f"  user-perceived gap incl. the {args.silence_ms} ms silence window ≈ "
        f"{statistics.median(stages['first_audio']) * 1000 + args.silence_ms:.0f} ms"
    )
    print(f"  server peak RSS (VmHWM) {hwm:.0f} MB, RSS at end {rss:.0f} MB")
    print(f"  load average after server run: {load_average()}")

    floor = floor_run(turns, texts)
    total = [
        a + r + s for a, r, s in zip(floor["asr"], floor["reply"], floor["tts_first"], strict=True)
    ]
    print("\npractical floor (bare model calls in this process, no server):")
    print(f"  Whisper tiny.en int8 beam 1                             {ms(floor['asr'])}")
    print(f"  rule reply                                              {ms(floor['reply'])}")
    print(f"  Piper first sentence + soxr 24 kHz                      {ms(floor['tts_first'])}")
    print(f"  sum (floor of first audio after end of turn)            {ms(total)}")
    print(
        f"  real-time factor, transcription: {statistics.median(floor['asr_rtf']):.3f}   "
        f"speech: {statistics.median(floor['tts_rtf']):.3f}"
    )
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()

"""Memory: an hour of full-duplex audio through Recorder (Conversation + EventLog).

Run: ``python bench/bench_memory.py --minutes 60`` (smaller ``--minutes`` for a
quick run). Prints figures; asserts nothing.

Synthesises ``minutes`` of 24 kHz PCM16 each way, as 10 s turns: the
microphone streams all the time (20 ms ``input_audio_buffer.append`` through
``Recorder.send`` with raw PCM, as the session does), and each turn's spoken
reply (10 s of audio in 40-100 ms ``response.output_audio.delta`` frames, with
transcript deltas, item/response events and ``obfuscation`` fields, as JSON text)
arrives through ``Recorder.receive`` interleaved with the microphone, faster than
real time, so the user's next turn overlaps it. Frames are generated turn by
turn, never the whole hour at once.

RSS (``VmRSS`` of /proc/self/status) is read after imports, the PCM pool and a
warm-up turn on a throwaway Recorder, then again at the end. Raw PCM for 60
minutes each way is 2 × 172.8 MB = 345.6 MB. Goal: RSS growth ≤ 1.2 × raw.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_parse import SPM, Ids, PcmPool, server_turn

from realtime_widget.log.recorder import Received, Recorder

TURN_S = 10
CHUNK_MS = 20


def status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


class NaiveRecorder:
    """The baseline: keep every event dict as on the wire (base64 and all), decode nothing.

    What a plain ``list`` of ``json.loads`` results costs, for comparison.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, float, dict[str, Any]]] = []

    def send(self, event: dict[str, Any], t: float, audio: bytes | None = None) -> str:
        if audio is not None:
            event = {**event, "audio": base64.b64encode(audio).decode("ascii")}
        self.events.append(("client", t, event))
        return json.dumps(event)

    def receive(self, frame: str, t: float) -> list[Received]:
        event = json.loads(frame)
        self.events.append(("server", t, event))
        audio = None
        if event["type"] == "response.output_audio.delta":
            audio = b"\0" * (len(event["delta"]) // 4 * 3)  # for the byte count only
        return [Received(event, audio)]


def run_turns(rec: Recorder | NaiveRecorder, turns: int, t0: float = 0.0) -> tuple[int, int, float]:
    """Feed ``turns`` turns; return (input bytes, output bytes, end time)."""
    ids, pcm, rng = Ids(11), PcmPool(seed=5), random.Random(3)
    send, receive = rec.send, rec.receive
    append = {"type": "input_audio_buffer.append"}
    chunk_bytes = CHUNK_MS * SPM * 2
    chunks_per_turn = TURN_S * 1000 // CHUNK_MS
    t = t0
    out_bytes = 0
    for turn in range(turns):
        frames = server_turn(
            ids,
            pcm,
            TURN_S * 1000,
            rng,
            delta_ms=(40, 60, 80, 100),
            audio_start_ms=turn * TURN_S * 1000 + 300,
            speech_ms=TURN_S * 1000 - 1500,
        )
        for _ in range(chunks_per_turn):
            send(append, t, audio=pcm.take(chunk_bytes))
            t += CHUNK_MS / 1000
            # The reply streams faster than real time: one frame per microphone chunk.
            frame = next(frames, None)
            if frame is not None:
                for r in receive(frame, t):
                    if r.audio is not None:
                        out_bytes += len(r.audio)
        for frame in frames:  # never more frames than chunks, but be safe
            for r in receive(frame, t):
                if r.audio is not None:
                    out_bytes += len(r.audio)
    return turns * chunks_per_turn * chunk_bytes, out_bytes, t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="audio each way (default 60)")
    ap.add_argument(
        "--naive", action="store_true", help="measure the baseline: a list of the event dicts"
    )
    args = ap.parse_args()
    turns = max(1, round(args.minutes * 60 / TURN_S))

    run_turns(Recorder(), 1)  # warm-up: allocator arenas, caches, lazy imports
    gc.collect()
    base_rss, base_hwm = status_kb("VmRSS"), status_kb("VmHWM")
    rec: Recorder | NaiveRecorder = NaiveRecorder() if args.naive else Recorder()
    started = time.perf_counter()
    cpu0 = time.process_time()
    in_bytes, out_bytes, _ = run_turns(rec, turns)
    cpu = time.process_time() - cpu0
    elapsed = time.perf_counter() - started
    gc.collect()
    rss, hwm = status_kb("VmRSS"), status_kb("VmHWM")

    raw = in_bytes + out_bytes
    growth = (rss - base_rss) * 1024
    mb_in, mb_out, mb_raw = in_bytes / 1e6, out_bytes / 1e6, raw / 1e6
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"audio: {turns} turns of {TURN_S} s = {turns * TURN_S / 60:.1f} min each way; raw "
          f"PCM in {mb_in:.1f} MB + out {mb_out:.1f} MB = {mb_raw:.1f} MB")  # fmt: skip
    if isinstance(rec, NaiveRecorder):
        print(f"baseline (--naive): {len(rec.events)} event dicts kept as received/sent")
    else:
        conv = rec.conversation
        stored = conv.input_track.nbytes + sum(tr.nbytes for tr in conv.tracks.values())
        print(f"events: {len(rec.log)} logged ({rec.log.counts()}); items {len(conv.items)}, "
              f"responses {len(conv.responses)}, turns {len(conv.turns)}")  # fmt: skip
        print(f"audio stored: {stored / 1e6:.1f} MB ({stored / raw:.4f} x raw)")
    mb_base, mb_rss = base_rss * 1.024e-3, rss * 1.024e-3
    print(f"RSS: {mb_base:.1f} MB -> {mb_rss:.1f} MB; growth {growth / 1e6:.1f} MB "
          f"= {growth / raw:.3f} x raw (goal <= 1.2)")  # fmt: skip
    print(f"peak RSS (VmHWM): {base_hwm * 1.024e-3:.1f} MB -> {hwm * 1.024e-3:.1f} MB; "
          f"peak growth {(hwm - base_rss) * 1024 / raw:.3f} x raw")  # fmt: skip
    print(f"time: {elapsed:.1f} s wall, {cpu:.1f} s CPU (includes generating the frames)")


if __name__ == "__main__":
    main()

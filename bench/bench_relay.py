"""CPU of the kernel side while a full-duplex 24 kHz conversation flows over a real socket.

The local server runs in another process (so its CPU is not counted). This
process appends 20 ms microphone chunks in real time while the server streams a
paced reply of the same length: both directions at once, like a person talking
over the model. Measured: this process's CPU seconds per second of audio, as %
of one core, for

* the Session (connection + recorder + state + log + its I/O thread), and
* the practical floor: a bare ``websockets`` client that only does
  ``json.dumps`` + base64 for appends and ``json.loads`` + base64 decode for
  the deltas, nothing recorded.

Goal (issue 2): the Session relay ≤ 2 % of one core.

    python bench/bench_relay.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from realtime_widget import Session
from realtime_widget._loop import call_in_io_loop
from realtime_widget.protocol import events as ev

SR = 24000
IO_THREAD_CPU: list[float] = []  # filled by run_session
CHUNK = 480  # 20 ms


def speech(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    sig = np.sin(2 * np.pi * 150 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return (sig * 9000).astype(np.int16)


@contextmanager
def local_server() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime_widget.server", "--port", "0", "--pace", "realtime"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            m = re.search(r"(ws://\S+)", line)
            if m:
                break
        # Keep draining its log: a full pipe would block the server mid-run.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield m.group(1)
    finally:
        proc.terminate()
        proc.wait(10)


def cpu() -> float:
    """This process's CPU seconds, all threads, at microsecond resolution."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run_driver(seconds: float) -> tuple[float, float, int]:
    """The microphone stand-in alone: paced 20 ms chunks, nothing sent."""
    mic = speech(seconds)
    loop = asyncio.get_running_loop()
    c0, w0 = cpu(), time.perf_counter()
    start = loop.time()
    for i, off in enumerate(range(0, len(mic), CHUNK)):
        mic[off : off + CHUNK].tobytes()
        await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - loop.time()))
    return cpu() - c0, time.perf_counter() - w0, 0


async def io_thread_cpu() -> float:
    async def read() -> float:
        return time.thread_time()

    return await call_in_io_loop(read())


async def run_session(url: str, seconds: float) -> tuple[float, float, int]:
    s = Session(url, turn_detection=None)
    await s.connect()
    # A reply as long as the measurement: send `seconds` of audio, ask for the echo.
    await s.send_audio(speech(seconds), realtime=False)
    await s.wait_for("response.output_audio.delta", timeout=30)
    mic = speech(seconds)
    loop = asyncio.get_running_loop()
    io0 = await io_thread_cpu()
    c0, w0 = cpu(), time.perf_counter()
    start = loop.time()
    for i, off in enumerate(range(0, len(mic), CHUNK)):
        s.append_audio(mic[off : off + CHUNK].tobytes())  # the widget's thread-safe path
        await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - loop.time()))
    c1, w1 = cpu(), time.perf_counter()
    IO_THREAD_CPU.append(await io_thread_cpu() - io0)
    deltas = sum(1 for r in s.log if r.type == "response.output_audio.delta")
    await s.close()
    return c1 - c0, w1 - w0, deltas


async def run_floor(url: str, seconds: float) -> tuple[float, float, int]:
    from websockets.asyncio.client import connect

    async with connect(url, max_size=None, compression=None) as ws:
        await ws.recv()  # session.created
        await ws.send(
            json.dumps(
                ev.session_update(
                    {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
                )
            )
        )
        pcm = speech(seconds).tobytes()
        for off in range(0, len(pcm), 960 * 50):
            await ws.send(json.dumps(ev.input_audio_buffer_append(pcm[off : off + 960 * 50])))
        await ws.send(json.dumps(ev.input_audio_buffer_commit()))
        await ws.send(json.dumps(ev.response_create()))
        received = 0
        first = asyncio.Event()

        async def reader() -> None:
            nonlocal received
            async for frame in ws:
                e = json.loads(frame)
                if e.get("type") == "response.output_audio.delta":
                    base64.b64decode(e["delta"])
                    received += 1
                    first.set()

        task = asyncio.create_task(reader())
        await first.wait()
        mic = speech(seconds).tobytes()
        loop = asyncio.get_running_loop()
        c0, w0 = cpu(), time.perf_counter()
        start = loop.time()
        for i, off in enumerate(range(0, len(mic), 960)):
            await ws.send(
                '{"type":"input_audio_buffer.append","audio":"'
                + base64.b64encode(mic[off : off + 960]).decode()
                + '"}'
            )
            await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - loop.time()))
        c1, w1 = cpu(), time.perf_counter()
        task.cancel()
        return c1 - c0, w1 - w0, received


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    driver = asyncio.run(run_driver(args.seconds))
    with local_server() as url:
        floor = asyncio.run(run_floor(url, args.seconds))
        ours = asyncio.run(run_session(url, args.seconds))
    print(f"full-duplex 24 kHz relay over a real socket, {args.seconds:.0f} s of audio each way")
    print("(process CPU from getrusage; 'relay' = minus the driver's own pacing)")
    print(f"{'client':<30}{'CPU s':>8}{'% core':>9}{'relay %':>10}{'deltas':>8}")
    for name, (c, w, d) in (
        ("driver alone (mic pacing)", driver),
        ("bare websockets (floor)", floor),
        ("Session (everything)", ours),
    ):
        relay = 100 * (c - driver[0]) / w
        print(f"{name:<30}{c:>8.3f}{100 * c / w:>8.2f}%{relay:>9.2f}%{d:>8}")
    io_cpu = IO_THREAD_CPU[-1]
    io_pct = 100 * io_cpu / ours[1]
    relay = 100 * (ours[0] - driver[0]) / ours[1]
    floor_relay = 100 * (floor[0] - driver[0]) / floor[1]
    print(f"Session I/O thread alone (time.thread_time): {io_cpu:.3f} s = {io_pct:.2f} % of a core")
    print(
        f"goal: relay ≤ 2 % of one core -> {'MET' if relay <= 2 else 'NOT MET'} ({relay:.2f} %); "
        f"floor {floor_relay:.2f} %; Session relay / floor relay = "
        f"{relay / max(floor_relay, 1e-9):.2f}×"
    )


if __name__ == "__main__":
    main()

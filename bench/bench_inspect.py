"""Inspection at scale: a synthetic one-hour session, its DataFrame, turn table and file.

Run: ``python bench/bench_inspect.py`` (``--minutes 10`` for a quick run). Prints
figures; asserts nothing.

The session is the one of ``bench_memory.py``: ``minutes`` of 24 kHz PCM16 each
way through ``Recorder`` (20 ms microphone appends, spoken replies in 40-100 ms
deltas with transcripts), i.e. ~200 000 events an hour. Then, in the same run:

* ``log.df`` (``EventLog.to_dataframe``), best of ``--rounds`` builds. Goal ≤ 0.5 s
  for 100 000 events; figures for the whole hour and per 100 000 events.
* Baseline: the straightforward build, ``pd.DataFrame`` from one dict per
  ``LoggedEvent`` (iterate the log, take its fields).
* Floor: ``pd.DataFrame`` from columns that already exist (``to_records()``
  computed beforehand, not timed): the cost of pandas alone.
* RSS: growth over the imports while recording the hour (log + conversation +
  audio), then after building the DataFrame; raw PCM both ways is the unit.
  Goal: RSS ≤ 1.2 × raw PCM.
* ``turns()`` and ``latency()``; ``save``/``load`` of the hour (time, file size).
"""

from __future__ import annotations

import argparse
import functools
import gc
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_memory import TURN_S, run_turns, status_kb

from realtime_widget.log.recorder import Recorder
from realtime_widget.log.recording import Recording


def malloc_trim() -> bool:
    """Give freed heap back to the OS (glibc), so that RSS shows what is live."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def best(fn: Any, rounds: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(rounds):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        if _ < rounds - 1:
            del out
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-file", action="store_true", help="skip save/load")
    args = ap.parse_args()
    import pandas as pd

    turns = max(1, round(args.minutes * 60 / TURN_S))
    run_turns(Recorder(), 1)  # warm-up: allocator arenas, lazy imports
    Recording(Recorder()).events  # noqa: B018 (imports pandas' DataFrame machinery)
    gc.collect()
    base_rss = status_kb("VmRSS")
    rec = Recorder()
    in_bytes, out_bytes, _ = run_turns(rec, turns)
    gc.collect()
    rss_session = status_kb("VmRSS")
    raw = in_bytes + out_bytes
    log = rec.log
    n = len(log)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, "
          f"pandas {pd.__version__}")  # fmt: skip
    print(f"session: {args.minutes:.0f} min each way, {n} events {log.counts()}, "
          f"raw PCM {raw / 1e6:.1f} MB")  # fmt: skip

    df = log.df  # the first build, as a user's first `log.df`: RSS is read right after it
    gc.collect()
    rss_df = status_kb("VmRSS")
    trimmed = malloc_trim()
    rss_trim = status_kb("VmRSS")
    t_df, _ = best(log.to_dataframe, args.rounds)
    per100k = t_df * 100_000 / n

    def naive() -> Any:
        return pd.DataFrame(
            [
                {
                    "index": e.index,
                    "direction": e.direction,
                    "type": e.type,
                    "t_kernel": e.t_kernel,
                    "t_wall": e.t_wall,
                    "t_browser": e.t_browser,
                    "event_id": e.event_id,
                    "item_id": e.item_id,
                    "response_id": e.response_id,
                    "audio_ms": e.audio_ms,
                }
                for e in log
            ]
        )

    t_naive, naive_df = best(naive, 1)
    del naive_df
    t_floor, _ = best(functools.partial(pd.DataFrame, log.to_records()), args.rounds)
    t_records, _ = best(log.to_records, 1)

    print()
    print(f"{'DataFrame build':44s} {'s':>8s} {'per 100k':>9s} {'vs ours':>8s}")
    rows = [
        ("log.df (ours: typed columns, categoricals)", t_df),
        ("baseline: DataFrame of one dict per event", t_naive),
        ("floor: pd.DataFrame of ready-made columns", t_floor),
        ("(our to_records(): lists, no pandas)", t_records),
    ]
    for name, t in rows:
        print(f"{name:44s} {t:8.3f} {t * 100_000 / n:9.3f} {t / t_df:7.2f}x")
    print(f"goal: <= 0.5 s per 100 000 events -> {per100k:.3f} s "
          f"({'met' if per100k <= 0.5 else 'NOT met'}); whole hour {t_df:.3f} s")  # fmt: skip
    df_mb = df.memory_usage(deep=True).sum() / 1e6
    print(f"DataFrame size (deep): {df_mb:.1f} MB ({df_mb * 1e6 / n:.0f} B/event)")

    print()
    grow_session = (rss_session - base_rss) * 1024
    grow_df = (rss_df - base_rss) * 1024
    print(f"RSS growth, session recorded: {grow_session / 1e6:.1f} MB = "
          f"{grow_session / raw:.3f} x raw PCM")  # fmt: skip
    print(f"RSS growth, + log.df:         {grow_df / 1e6:.1f} MB = {grow_df / raw:.3f} x raw PCM "
          f"(goal <= 1.2)")  # fmt: skip
    if trimmed:
        grow_trim = (rss_trim - base_rss) * 1024
        print(f"  after malloc_trim(0):        {grow_trim / 1e6:.1f} MB = "
              f"{grow_trim / raw:.3f} x raw PCM (freed heap given back)")  # fmt: skip

    recording = Recording(rec)
    t_turns, turns_df = best(recording.turns, 1)
    t_lat, _ = best(recording.latency, 1)
    print()
    print(f"turns(): {len(turns_df)} turns in {t_turns:.3f} s; latency(): {t_lat:.3f} s")
    if not args.no_file:
        try:
            from realtime_widget.log.archive import load
        except ImportError:
            print("save/load: not available")
            return
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "hour.rtw"
            t_save, _ = best(lambda: recording.save(path), 1)
            size = path.stat().st_size
            t_load, loaded = best(lambda: load(path), 1)
            same = "same" if len(loaded.log) == n else "DIFFERENT"
            print(f"save: {t_save:.2f} s, {size / 1e6:.1f} MB ({size / raw:.2f} x raw PCM); "
                  f"load: {t_load:.2f} s; {len(loaded.log)} events back ({same})")  # fmt: skip


if __name__ == "__main__":
    main()

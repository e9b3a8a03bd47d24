"""_preload: heavy optional imports happen off the caller's thread, never on the I/O loop."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from realtime_widget import _preload


def wait_ready(name: str, timeout: float = 10.0) -> bool | None:
    deadline = time.monotonic() + timeout
    while _preload.ready(name) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return _preload.ready(name)


def test_a_slow_module_imports_in_another_thread_and_calls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"rtw_slow_{time.monotonic_ns()}"
    (tmp_path / f"{name}.py").write_text(
        "import threading, time\nTHREAD = threading.current_thread().name\ntime.sleep(0.3)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    called: list[str] = []
    assert _preload.ready(name) is None  # never asked for
    _preload.preload(name, lambda: called.append(threading.current_thread().name))
    assert _preload.ready(name) is None  # importing: the caller did not wait
    assert wait_ready(name) is True
    module = sys.modules[name]
    assert threading.current_thread().name != module.THREAD
    assert called == [module.THREAD]
    _preload.preload(name, lambda: called.append("now"))  # already done: called at once
    assert called[-1] == "now"


def test_a_missing_module_is_not_ready_and_still_calls_back() -> None:
    called: list[bool] = []
    _preload.preload("rtw_no_such_module_xyz", lambda: called.append(True))
    assert wait_ready("rtw_no_such_module_xyz") is False
    assert called == [True]


_NO_PANDAS_ON_THE_LOOP = r"""
import sys, threading, time
importers = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "pandas":
            importers.append(threading.current_thread().name)
        return None
sys.meta_path.insert(0, Spy())
from realtime_widget.widget import RealtimeWidget
from tests.widget.browser_sim import SimBrowser, epoch_ms
from tests.widget.test_widget_live import connect, logged
assert "pandas" not in sys.modules
w = RealtimeWidget(server_options={"pace": "burst"})
b = SimBrowser(w)
connect(w, b)
b.post({"type": "text", "text": "Hi", "t": epoch_ms()})
b.wait_for(lambda: logged(w, "response.done"), 15, "response.done")
b.wait_for(lambda: "<table" in w.conversation_html, 15, "turn table")
w.close()
print(importers)
assert importers and all(n.startswith("realtime_widget preload") for n in importers), importers
"""


def test_the_widget_never_imports_pandas_on_the_io_loop() -> None:
    """A first ``import pandas`` (~0.5 s) on the I/O loop stalled the audio at the first
    ``response.done``; the turn table must still arrive."""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", _NO_PANDAS_ON_THE_LOOP],
        check=False, cwd=root, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr

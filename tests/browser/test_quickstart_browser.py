"""The README's main job, done by a machine: the quickstart notebook in a real browser.

Issue 3's "done when": open ``notebooks/quickstart.ipynb`` (its own cells, read from the
repository), run the widget cell, click Connect, speak (the fake microphone loops a long
utterance with a short pause, so it talks again while the reply plays), hear the reply,
interrupt it, and see both transcripts, the interrupted reply's unheard part struck out.
Then the notebook's inspection cells run on that browser conversation (event table,
turn table, timeline image).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import harness
from .scenario import debug_state, install_helpers, wait_connected

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _code_cells() -> list[str]:
    nb = json.loads((NOTEBOOKS / "quickstart.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.fixture(scope="module")
def quickstart(pw: Any, speech: dict[str, tuple[Path, Path]]) -> Iterator[dict[str, Any]]:
    mic, _ = speech["long_barge"]
    # The README's main command (scripts/quickstart.sh runs it after installing), on a
    # copy of notebooks/ so that nothing the page saves lands in the repository.
    lab = harness.JupyterServer(app="lab", via_cli=True)
    shutil.copytree(NOTEBOOKS, lab.root, dirs_exist_ok=True)
    lab.start()
    cells = _code_cells()
    browser = harness.Browser(pw, lab, wav=mic)
    try:
        assert lab.realtime_extension_loaded(), lab.log()[-2000:]
        assert "realtime_widget lab" in " ".join(lab.command), lab.command
        # Code cells only (so cell indexes are the code cells'), each the notebook's own.
        nb = browser.open_notebook(cells, "quickstart.ipynb")
        yield {"nb": nb, "cells": cells}
    finally:
        browser.close()
        lab.cleanup()


def test_quickstart_talk_interrupt_and_inspect(quickstart: dict[str, Any]) -> None:
    nb, cells = quickstart["nb"], quickstart["cells"]
    assert "RealtimeWidget(session)" in cells[0]
    nb.run_cell(0)
    errors = nb.cell_errors()
    assert not errors, "\n".join(errors)
    nb.kernel_exec("srv = session.server\nw = widget")
    install_helpers(nb)

    nb.click_connect()
    wait_connected(nb)
    # The page measured the kernel's clock; on one host no correction is applied.
    nb.wait_kernel("len(session.log.filter(type='widget.clock')) == 1", timeout=30)
    clock = nb.kernel_json("session.log.filter(type='widget.clock')[0].payload")
    assert clock["applied_ms"] == 0.0 and abs(clock["offset_ms"]) <= max(clock["rtt_ms"], 5), clock
    # Speak, hear the reply, talk over it: the reply is cut where playback stopped.
    nb.wait_kernel(
        "any(i.truncated for i in session.conversation.items if i.role == 'assistant')",
        timeout=120,
    )
    cut = nb.kernel_json(
        "(lambda it: {'id': it.id, 'ms': it.truncated_ms, 'unheard': it.unheard_text,"
        " 'audio_ms': it.audio_ms})("
        "next(i for i in session.conversation.items if i.role == 'assistant' and i.truncated))"
    )
    played = debug_state(nb)["played"].get(cut["id"], 0)
    assert played > 0, "the reply was never played in the browser"
    assert 0 < cut["ms"] < cut["audio_ms"]
    assert abs(cut["ms"] - played / 24) <= 40, (cut["ms"], played / 24)
    # Both transcripts in the widget; the unheard part of the reply struck out.
    user_text = nb.kernel_json(
        "next(i.transcript or i.text for i in session.conversation.items if i.role == 'user')"
    )
    page = nb.page.locator(".rtw-transcript").first
    harness.poll(
        lambda: user_text in page.inner_text(), timeout=30, what="the user's transcript shows"
    )
    assert page.locator(".rtw-assistant").count() >= 1
    if cut["unheard"]:
        harness.poll(
            lambda: page.locator("s.rtw-unheard").count() >= 1,
            timeout=30,
            what="the unheard part is struck out",
        )
    # An interrupted reply says so, even one cut before any of it was heard (no text).
    notes = page.locator(".rtw-assistant .rtw-note")
    harness.poll(
        lambda: any("(interrupted" in t for t in notes.all_inner_texts()),
        timeout=30,
        what="the interrupted reply is marked",
    )
    nb.kernel_exec("w.disconnect()")
    nb.wait_kernel("session.status == 'closed'", timeout=30)

    # The notebook's own inspection cells, on this browser conversation.
    inspect = [i for i, src in enumerate(cells) if "rec." in src and "close" not in src]
    assert inspect, cells
    for i in inspect:
        nb.run_cell(i, timeout=90)
    errors = nb.cell_errors()
    assert not errors, "\n".join(errors)
    outputs = nb.cell_outputs()
    kinds = {k for cell in outputs for out in cell for k in out.get("data", {})}
    assert "image/png" in kinds, kinds  # the timeline
    turns = nb.kernel_json("session.recording.turns()['interrupted'].tolist()")
    assert True in turns
    first_heard = nb.kernel_json(
        "int(session.recording.turns()['speech_end_to_first_played_ms'].notna().sum())"
    )
    assert first_heard >= 1  # the browser's playback times reached the turn table

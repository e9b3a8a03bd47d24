"""The widget in Jupyter Notebook 7 (``/notebooks/<name>.ipynb``), same harness as Lab.

Issue 3 asks for "JupyterLab 4 and Notebook 7". Notebook 7 is a different front end
(its own app object, one notebook per browser tab, ``/notebooks/`` URLs) on the same
JupyterLab components, so the same drive works: ``window.jupyterapp`` (exposed with
``--JupyterNotebookApp.expose_app_in_browser``), ``shell.currentWidget`` is the
notebook panel, ``notebook:*`` command ids are JupyterLab's.

One scenario, end to end: the setup cell runs, Connect is clicked for real, the
microphone turns on, a server-VAD turn completes, the reply plays to its last sample
(debug hook counters), both transcripts show in the widget's DOM, the server
extension (TCP_NODELAY + quiet status) is loaded in this server, and clearing the
outputs from the notebook's own command leaves no running AudioContext or live track.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import harness
from .scenario import (
    TRACK_AUDIO_JS,
    assert_vad_turn,
    audio_state,
    debug_state,
    run_setup,
    setup_cell,
    typed_reply,
    wait_audio_released,
    wait_connected,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SR = 24000


@pytest.fixture(scope="module")
def notebook7(pw: Any) -> Iterator[harness.JupyterServer]:
    """One ``jupyter notebook`` (7.x) for this module, the server extension as installed."""
    spec = importlib.util.find_spec("notebook")
    if spec is None:
        pytest.skip("Jupyter Notebook 7 is not installed (pip install 'notebook>=7')")
    import notebook

    if int(notebook.__version__.split(".")[0]) < 7:
        pytest.skip(f"notebook {notebook.__version__} is not Notebook 7")
    server = harness.JupyterServer(app="notebook").start()
    try:
        yield server
    finally:
        server.cleanup()


def test_notebook7_voice_turn_transcript_extension_and_clear_outputs(
    launch: Any, notebook7: harness.JupyterServer, speech: dict[str, tuple[Path, Path]]
) -> None:
    mic, _ = speech["short"]
    browser = launch(notebook7, wav=mic, init_scripts=[TRACK_AUDIO_JS])
    nb = browser.open_notebook([setup_cell()], "nb7_turn.ipynb")
    # it is Notebook 7's UI, not Lab's
    assert "/notebooks/nb7_turn.ipynb" in nb.page.url, nb.page.url
    app = nb.evaluate("() => [window.jupyterapp.name, window.jupyterapp.version]")
    assert app[0] == "Jupyter Notebook" and app[1].startswith("7."), app

    # the setup cell renders the widget
    run_setup(nb)
    nb.page.locator(".rtw-root").first.wait_for(timeout=30_000)

    # Connect (a real click, the user gesture that starts the AudioContext) + microphone
    nb.click_connect()
    wait_connected(nb)
    state = debug_state(nb)
    assert state["micOn"], state
    assert state["contexts"] and state["contexts"][-1] == "running", state
    assert nb.page.locator(".rtw-connect").first.inner_text().strip() == "Disconnect"

    # a server-VAD turn completes
    nb.wait_kernel("_rtw_done(1)", timeout=40)
    assert_vad_turn(nb)

    # the reply is played in the browser to its last sample
    items = nb.wait_kernel("_rtw_items()", timeout=10)
    item_id = next(iter(items))
    sent = items[item_id]
    assert sent > SR // 2, items
    harness.poll(
        lambda: debug_state(nb)["played"].get(item_id, 0) >= sent,
        timeout=20,
        what=f"the browser played all {sent} samples of {item_id}",
    )
    assert debug_state(nb)["played"][item_id] == sent

    # both sides of the transcript show in the widget's DOM
    page = nb.page
    for role in ("user", "assistant"):
        harness.poll(
            lambda role=role: (
                page.locator(f".rtw-row.rtw-{role} .rtw-said").first.inner_text().strip()
            ),
            timeout=30,
            what=f"{role} transcript text in the widget",
        )
    roles = {r for r, _ in nb.kernel_json("[(r['role'], r['text']) for r in w.transcript]")}
    assert {"user", "assistant"} <= roles, roles

    # the server extension is loaded in this (Notebook 7) server: both of its jobs
    assert notebook7.realtime_extension_loaded(), notebook7.log()[-3000:]
    log = notebook7.log()
    assert "realtime_widget: TCP_NODELAY enabled on kernel websockets" in log, log[-3000:]
    assert "realtime_widget: no kernel busy status for quiet widget messages" in log, log[-3000:]

    # clearing the outputs (the notebook's own command) removes the view and the audio
    before = audio_state(nb)
    assert "running" in before["all"] and "live" in before["tracks"], before
    nb.evaluate(
        """async () => {
            const c = 'notebook:clear-all-cell-outputs';
            if (!window.jupyterapp.commands.hasCommand(c)) throw new Error('no ' + c);
            await window.jupyterapp.commands.execute(c);
        }"""
    )
    page.locator(".rtw-root").first.wait_for(state="detached", timeout=30_000)
    # the session stays connected: a reply arriving now must not revive the audio
    typed_reply(nb, "Still there?")

    wait_audio_released(nb, "after clearing the outputs")

"""Smoke test in Jupyter Notebook 7 (``/notebooks/<name>``), same harness as Lab."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import harness
from .scenario import install_helpers, setup_cell

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def notebook7(pw: Any) -> Iterator[harness.JupyterServer]:
    if importlib.util.find_spec("notebook") is None:
        pytest.skip("Jupyter Notebook 7 is not installed (pip install 'notebook>=7')")
    server = harness.JupyterServer(app="notebook").start()
    try:
        yield server
    finally:
        server.cleanup()


def test_notebook7_widget_connects_and_talks(
    launch: Any, notebook7: harness.JupyterServer, speech: dict[str, tuple[Path, Path]]
) -> None:
    mic, _ = speech["short"]
    nb = launch(notebook7, wav=mic).open_notebook([setup_cell()], "nb7.ipynb")
    nb.run_all()
    assert not nb.cell_errors(), nb.cell_errors()
    install_helpers(nb)
    nb.page.locator(".rtw-root").first.wait_for(timeout=30_000)
    nb.click_connect()
    nb.wait_kernel("session.status == 'connected' and w.mic_status == 'on'", timeout=30)
    # microphone audio reaches the local server through the kernel
    nb.wait_kernel("len(_rtw_conn().received('input_audio_buffer.append')) > 25", timeout=30)
    # and a typed message gets a reply that shows in the widget
    box = nb.page.locator(".rtw-text").first
    box.fill("Hello from Notebook 7")
    box.press("Enter")
    nb.wait_kernel("_rtw_done(1)", timeout=40)
    nb.page.locator(".rtw-row.rtw-assistant").first.wait_for(timeout=30_000)

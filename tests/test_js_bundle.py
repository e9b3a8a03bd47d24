"""The committed front-end bundle is what `node js/build.mjs` makes from js/.

The bundle (realtime_widget/static/widget.js) is committed so that a clone
installs without Node; this test keeps it honest. It rebuilds into a temporary
directory and compares bytes (the build is deterministic). Skipped when node,
npm or node_modules (`npm ci`) are missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "realtime_widget" / "static" / "widget.js"


def test_bundle_is_committed_and_complete() -> None:
    code = BUNDLE.read_text(encoding="utf-8")
    assert "export {" in code and "as default" in code, "an ES module with a default export"
    # both worklets are inlined as strings and registered under these names
    assert "registerProcessor" in code
    assert "rtw-capture" in code and "rtw-player" in code
    assert "initialize" in code and "render" in code


def test_bundle_is_fresh(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed")
    if not (ROOT / "node_modules" / "esbuild").is_dir():
        pytest.skip("node_modules missing: run `npm ci`")
    subprocess.run(
        [node, "js/build.mjs", "--outdir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    fresh = (tmp_path / "widget.js").read_bytes()
    assert fresh == BUNDLE.read_bytes(), (
        "realtime_widget/static/widget.js is stale: run `node js/build.mjs` and commit it"
    )

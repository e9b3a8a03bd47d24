"""Hatch build hook: rebuild the front-end bundle when Node is available.

The built bundle (``realtime_widget/static/widget.js``) is committed, so a
clone installs without Node. When ``npm`` and ``node`` are on PATH and
``REALTIME_WIDGET_SKIP_JS=1`` is not set, this hook runs ``npm ci`` (only if
``node_modules`` is missing) and ``node js/build.mjs`` before hatchling
collects the files. If that fails and a bundle exists, the build goes on with
the committed bundle and a warning; with no bundle at all it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUNDLE = Path("realtime_widget") / "static" / "widget.js"


class JSBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        bundle = root / BUNDLE
        if os.environ.get("REALTIME_WIDGET_SKIP_JS") == "1":
            self._say("REALTIME_WIDGET_SKIP_JS=1: using the committed front-end bundle")
            return
        npm, node = shutil.which("npm"), shutil.which("node")
        if not (root / "package.json").is_file() or not (root / "js" / "build.mjs").is_file():
            return  # e.g. a wheel built from an sdist without the JS sources
        if npm is None or node is None:
            self._say("node/npm not found: using the committed front-end bundle")
            return
        try:
            if not (root / "node_modules" / "esbuild").is_dir():
                self._run([npm, "ci", "--no-audit", "--no-fund"], root)
            self._run([node, "js/build.mjs"], root)
        except (OSError, subprocess.CalledProcessError) as exc:
            if not bundle.is_file():
                raise RuntimeError(f"building the front-end bundle failed: {exc}") from exc
            self._say(f"warning: front-end build failed ({exc}); using the committed bundle")

    def _run(self, cmd: list[str], cwd: Path) -> None:
        self._say("$ " + " ".join(Path(cmd[0]).name if i == 0 else c for i, c in enumerate(cmd)))
        subprocess.run(cmd, cwd=cwd, check=True, stdout=sys.stderr, stderr=sys.stderr)

    def _say(self, msg: str) -> None:
        print(f"[realtime_widget build] {msg}", file=sys.stderr)

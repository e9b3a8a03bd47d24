#!/usr/bin/env bash
# The main job, from a fresh clone: install, then open the quickstart notebook
# in JupyterLab. It talks to the bundled local server: no API key needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" -m pip install -q --disable-pip-version-check -e ".[dev,local]"
exec "$PY" -m realtime_widget lab "$@"

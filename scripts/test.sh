#!/usr/bin/env bash
# Every test, from a fresh clone: installs what the tests need, then runs
# lint, types and the whole pytest suite. `.ci/run` calls this script.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages for the browser tests and test audio (Debian).
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need+=(sox)
# Firefox (driven over WebDriver BiDi) and a private PulseAudio for its audio output
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
command -v pulseaudio >/dev/null 2>&1 || need+=(pulseaudio)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "== installing ${need[*]} (apt)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "warning: missing ${need[*]} and no apt-get; browser tests will be skipped" >&2
  fi
fi

# Front end (js/): build + node unit tests. The bundle is committed; in CI it
# must already match the sources (`--check`), locally it is rebuilt.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  echo "== js: npm ci, build, tsc (JSDoc types), node --test"
  { [ -d node_modules/esbuild ] && [ -d node_modules/typescript ]; } || npm ci --no-audit --no-fund
  if [ "${CI:-}" = "true" ]; then
    node js/build.mjs --check
  else
    node js/build.mjs
  fi
  node_modules/.bin/tsc -p js            # page modules against the DOM lib
  node_modules/.bin/tsc -p js/worklets   # the AudioWorklet processors against their scope
  node --test --test-reporter=spec js/tests/
else
  echo "warning: node/npm missing; JS build and unit tests skipped" >&2
fi

PY="${PYTHON:-python3}"
echo "== installing the package with its dev and local extras"
# the JS step above built (or checked) the bundle: the hatch hook need not
REALTIME_WIDGET_SKIP_JS=1 "$PY" -m pip install -q --disable-pip-version-check -e ".[dev,local]"

echo "== ruff"
"$PY" -m ruff check realtime_widget tests bench
"$PY" -m ruff format --check realtime_widget tests bench
echo "== mypy"
"$PY" -m mypy
echo "== pytest"
"$PY" -m pytest -q -p no:cacheprovider "$@"

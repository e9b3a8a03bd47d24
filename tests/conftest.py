"""Suite-wide test settings.

The local server picks the offline speech engines (the ``local`` extra) when
they are installed. Tests written against the deterministic echo engines
(echoed audio, ``[1.4 s of audio]`` transcripts) would then see real speech
models, so the suite pins the echo engines by default; the offline engine
tests (tests/server/test_offline_*.py) ask for ``engines="offline"``
explicitly, and the default selection is tested in a subprocess.
Run with ``REALTIME_WIDGET_ENGINES=auto`` to try the suite on real engines.
"""

from __future__ import annotations

import os

os.environ.setdefault("REALTIME_WIDGET_ENGINES", "echo")

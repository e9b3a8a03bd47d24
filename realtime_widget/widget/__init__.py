"""Layer 6: the notebook widget (anywidget) and its kernel-side relay.

Importing this package imports anywidget and ipywidgets; ``import
realtime_widget`` does not (``realtime_widget.RealtimeWidget`` and
``realtime_widget.talk`` load it on first use).
"""

from __future__ import annotations

from .relay import Relay
from .settings_panel import SettingsPanel
from .widget import RealtimeWidget, talk

__all__ = ["RealtimeWidget", "Relay", "SettingsPanel", "talk"]

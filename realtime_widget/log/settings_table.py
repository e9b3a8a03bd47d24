"""Layer 3: settings history. Every ``session.update`` sent vs what the server did.

Rows (:func:`settings_rows`, pure; :func:`settings_frame` as a DataFrame):

* ``created``: the ``session.created`` the server opened with (its config is
  the first ``effective``);
* ``update``: one per client ``session.update``, with the server's answer:
  - the ``error`` whose ``error.event_id`` is the update's ``event_id`` (or,
    for an update without an ``event_id``, the first ``error`` with a
    ``session…`` param while it waits): the update was **refused**; its
    ``effective`` is the config still in force;
  - else the next ``session.updated`` not yet paired, in order (servers
    answer updates in the order they were sent and ``session.updated`` does
    not echo the ``event_id``);
  - else nothing yet: status ``pending``;
* ``updated``: a ``session.updated`` that answers no update (sent by the server
  on its own).

``changes`` is :func:`~realtime_widget.protocol.config.diff_config` of the
requested partial session against the effective one: one
:class:`~realtime_widget.protocol.config.ConfigChange` per requested leaf, and
``not_applied`` lists the paths whose status is not ``applied`` (the server
kept another value, or lacks the field; for a refused update, every requested
value that differs from the config still in force). ``status``: ``applied``
(all applied), ``changed`` (some not applied), ``refused``, ``pending``, or for
server rows ``created``/``updated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from realtime_widget.protocol.config import ConfigChange, diff_config, format_diff

from .event_log import EventLog, LoggedEvent

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SETTINGS_COLUMNS",
    "SettingsRow",
    "settings_diff_text",
    "settings_frame",
    "settings_rows",
]


@dataclass(slots=True)
class SettingsRow:
    """One row of the settings history (see the module docstring)."""

    t: float
    """Seconds since the first event of the log (when the update was sent)."""
    kind: str
    """``created``, ``update`` or ``updated`` (unsolicited)."""
    event_id: str | None
    """The update's ``event_id``; for server rows, the server event's."""
    status: str
    requested: dict[str, Any] | None
    effective: dict[str, Any] | None
    changes: list[ConfigChange] = field(default_factory=list)
    not_applied: list[str] = field(default_factory=list)
    refused: bool = False
    error_code: str | None = None
    error: str | None = None
    """The error message of a refusal."""
    answer_ms: float | None = None
    """Milliseconds from sending the update to the server's answer."""


SETTINGS_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(SettingsRow))
"""Columns of :func:`settings_frame`, in order."""


def _session(entry: LoggedEvent) -> dict[str, Any] | None:
    session = entry.payload.get("session")
    return session if isinstance(session, dict) else None


def _error_of(entry: LoggedEvent) -> Mapping[str, Any]:
    err = entry.payload.get("error")
    return err if isinstance(err, Mapping) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def settings_rows(log: EventLog) -> list[SettingsRow]:
    """The settings history of ``log`` as :class:`SettingsRow` objects, in log order."""
    events = [
        *log.filter(type="session.created", direction="server"),
        *log.filter(type="session.updated", direction="server"),
        *log.filter(type="session.update", direction="client"),
        *log.filter(type="error", direction="server"),
    ]
    if not events:
        return []
    events.sort(key=lambda e: e.index)
    t0 = log[0].t_kernel
    rows: list[SettingsRow] = []
    pending: list[tuple[SettingsRow, LoggedEvent]] = []
    current: dict[str, Any] | None = None  # the config in force

    def answer(row: SettingsRow, sent: LoggedEvent, reply: LoggedEvent) -> None:
        row.answer_ms = round((reply.t_kernel - sent.t_kernel) * 1000.0, 3)

    for entry in events:
        if entry.type == "session.update":
            row = SettingsRow(
                t=entry.t_kernel - t0,
                kind="update",
                event_id=entry.event_id,
                status="pending",
                requested=_session(entry),
                effective=None,
            )
            rows.append(row)
            pending.append((row, entry))
        elif entry.type == "error":
            err = _error_of(entry)
            target = _str(err.get("event_id"))
            param = _str(err.get("param")) or ""
            for i, (row, sent) in enumerate(pending):
                if (target is not None and target == sent.event_id) or (
                    target is None and sent.event_id is None and param.startswith("session")
                ):
                    del pending[i]
                    row.status = "refused"
                    row.refused = True
                    row.error_code = _str(err.get("code"))
                    row.error = _str(err.get("message"))
                    row.effective = current
                    if row.requested is not None and current is not None:
                        row.changes = diff_config(row.requested, current)
                        row.not_applied = [c.path for c in row.changes if c.status != "applied"]
                    answer(row, sent, entry)
                    break
        else:  # session.created / session.updated
            current = _session(entry)
            if entry.type == "session.updated" and pending:
                row, sent = pending.pop(0)
                row.effective = current
                if row.requested is not None and current is not None:
                    row.changes = diff_config(row.requested, current)
                    row.not_applied = [c.path for c in row.changes if c.status != "applied"]
                row.status = "changed" if row.not_applied else "applied"
                answer(row, sent, entry)
            else:
                kind = "created" if entry.type == "session.created" else "updated"
                rows.append(
                    SettingsRow(
                        t=entry.t_kernel - t0,
                        kind=kind,
                        event_id=entry.event_id,
                        status=kind,
                        requested=None,
                        effective=current,
                    )
                )
    return rows


def settings_frame(log: EventLog) -> pd.DataFrame:
    """The settings history as a DataFrame, one row per :class:`SettingsRow`.

    Columns: :data:`SETTINGS_COLUMNS` (``requested``/``effective`` dicts,
    ``changes`` lists of :class:`~realtime_widget.protocol.config.ConfigChange`).
    """
    import pandas as pd

    rows = settings_rows(log)
    records = [{name: getattr(r, name) for name in SETTINGS_COLUMNS} for r in rows]
    frame = pd.DataFrame.from_records(records, columns=list(SETTINGS_COLUMNS))
    frame["refused"] = frame["refused"].astype(bool)
    frame["t"] = frame["t"].astype(float)
    frame["answer_ms"] = frame["answer_ms"].astype(float)
    return frame


def _summary(session: Mapping[str, Any] | None) -> str:
    if not session:
        return ""
    audio = session.get("audio")
    voice = None
    if isinstance(audio, Mapping) and isinstance(audio.get("output"), Mapping):
        voice = audio["output"].get("voice")
    parts = [f"{k}={session[k]}" for k in ("model", "type") if session.get(k)]
    if voice is not None:
        parts.append(f"voice={voice}")
    return " ".join(parts)


def settings_diff_text(log: EventLog) -> str:
    """Requested vs applied for every update, as readable text.

    One header line per row (time, kind, event id, outcome), then for updates
    one line per requested field (:func:`~realtime_widget.protocol.config.format_diff`:
    ``✓`` applied, ``✗`` the server holds another value, ``?`` not in its config).
    """
    blocks: list[str] = []
    for row in settings_rows(log):
        head = f"[{row.t:7.2f} s] "
        if row.kind != "update":
            blocks.append(f"{head}session.{row.kind} {_summary(row.effective)}".rstrip())
            continue
        eid = f" {row.event_id}" if row.event_id else ""
        if row.status == "refused":
            code = f"{row.error_code}: " if row.error_code else ""
            outcome = f"refused ({code}{row.error or 'no message'}); nothing applied"
        elif row.status == "pending":
            outcome = "no answer yet"
        elif row.status == "changed":
            outcome = f"session.updated, {len(row.not_applied)} not applied as requested"
        else:
            outcome = "session.updated, all applied"
        lines = [f"{head}session.update{eid} → {outcome}"]
        diff = format_diff(row.changes)
        if diff:
            lines.extend("    " + line for line in diff.splitlines())
        elif row.requested and row.status == "pending":
            lines.extend(f"    … {k} = {v!r}" for k, v in row.requested.items() if k != "type")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)

"""Layer 3: tokens and cost per response, and session totals (pandas imported lazily).

One row per response whose ``response.done`` carried a ``usage`` (cancelled and
out-of-band responses included: they are billed too), in the order of their
``response.done``. Token columns come from
:func:`realtime_widget.state.pricing.token_counts`: ``input_text`` etc. include
the cached tokens, ``input_cached_*`` are the cached subset. ``cost_usd`` is
:func:`~realtime_widget.state.pricing.cost_of` with the prices of ``model``
(NaN when the model is not in the price table, or a token split is unknown).

:func:`usage_totals` needs no pandas and walks the responses once, reusing the
counts and cost of responses already seen (kept per conversation while their
usage and prices stay the same), so it can run after every ``response.done``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from realtime_widget.state.conversation import Conversation, Response
from realtime_widget.state.pricing import Prices, PriceTable, cost_from_counts, token_counts

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TOKEN_COLUMNS", "USAGE_COLUMNS", "usage_frame", "usage_totals"]

TOKEN_COLUMNS: tuple[str, ...] = (
    "input_text", "input_audio", "input_image",
    "input_cached_text", "input_cached_audio", "input_cached_image",
    "output_text", "output_audio",
    "input_tokens", "output_tokens", "total_tokens",
)  # fmt: skip
"""Token columns of :func:`usage_frame` (all keys of :func:`token_counts`)."""

USAGE_COLUMNS: tuple[str, ...] = (
    "response_id", "turn", "status", "out_of_band", *TOKEN_COLUMNS, "cost_usd",
)  # fmt: skip
"""Columns of :func:`usage_frame`, in order."""


def _rows(
    conversation: Conversation, prices: PriceTable | None, model: str | None, *, ordered: bool
) -> Iterator[tuple[Response, dict[str, float], float]]:
    table = prices if prices is not None else _default_table()
    entry: Prices | None = table.lookup(model)
    billed = [(r, r.usage) for r in list(conversation.responses.values()) if r.usage is not None]
    if ordered:
        billed.sort(key=lambda ru: math.inf if ru[0].t_done is None else ru[0].t_done)  # stable
    cache = _CACHE.get(conversation)
    if cache is None:
        cache = _CACHE[conversation] = {}
    for response, usage in billed:
        hit = cache.get(response.id)
        if hit is not None and hit[0] is usage and hit[2] is entry:
            yield response, hit[1], hit[3]
            continue
        counts = token_counts(usage)
        cost = math.nan if entry is None else cost_from_counts(counts, entry)["total"]
        cache[response.id] = (usage, counts, entry, cost)
        yield response, counts, cost


# Per conversation, per response: (usage dict, its counts, the Prices used, cost). Valid
# while the response keeps the same usage object and the same (frozen) Prices apply, so
# calling usage_totals after every response.done only counts the new response.
_CACHE: WeakKeyDictionary[
    Conversation, dict[str, tuple[dict[str, Any], dict[str, float], Prices | None, float]]
] = WeakKeyDictionary()


_DEFAULT: list[PriceTable] = []


def _default_table() -> PriceTable:
    """``PriceTable.default()``, built once (it is only read here)."""
    if not _DEFAULT:
        _DEFAULT.append(PriceTable.default())
    return _DEFAULT[0]


def usage_frame(
    conversation: Conversation, prices: PriceTable | None = None, *, model: str | None
) -> pd.DataFrame:
    """Tokens per response (text/audio/image, cached, in and out) and cost in USD.

    Columns: :data:`USAGE_COLUMNS`. ``prices=None`` uses ``PriceTable.default()``;
    ``model`` is the session's model (dated snapshots resolve to their base name).
    """
    import pandas as pd

    data: dict[str, list[Any]] = {c: [] for c in USAGE_COLUMNS}
    for response, counts, cost in _rows(conversation, prices, model, ordered=True):
        data["response_id"].append(response.id)
        data["turn"].append(response.turn)
        data["status"].append(response.status)
        data["out_of_band"].append(bool(response.out_of_band))
        for column in TOKEN_COLUMNS:
            value = counts[column]
            data[column].append(value if math.isnan(value) else int(value))
        data["cost_usd"].append(cost)
    frame = pd.DataFrame(data, columns=list(USAGE_COLUMNS))
    frame["turn"] = frame["turn"].astype("Int64")
    frame["out_of_band"] = frame["out_of_band"].astype(bool)
    frame["cost_usd"] = frame["cost_usd"].astype(float)
    for column in TOKEN_COLUMNS:
        if frame.empty:
            frame[column] = frame[column].astype("int64")
    return frame


def usage_totals(
    conversation: Conversation, prices: PriceTable | None = None, *, model: str | None
) -> dict[str, float]:
    """Session totals: the sum of every token column of :func:`usage_frame`,
    ``cost_usd`` (NaN if any response's cost is unknown: never a partial sum
    passed off as the total) and ``responses`` (rows counted). No pandas."""
    totals: dict[str, float] = dict.fromkeys(TOKEN_COLUMNS, 0)
    cost = 0.0
    n = 0
    for _, counts, row_cost in _rows(conversation, prices, model, ordered=False):
        n += 1
        for column in TOKEN_COLUMNS:
            totals[column] += counts[column]
        cost += row_cost
    totals["cost_usd"] = cost
    totals["responses"] = n
    return totals

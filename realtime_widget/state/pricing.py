"""Token prices per model and the cost of one ``response.done`` usage. Pure: no I/O
except :meth:`PriceTable.load_json`/:meth:`PriceTable.save_json`, no pandas.

Prices are USD per 1M tokens, per modality: text input, cached text input, text
output, audio input, cached audio input, audio output, and optionally image input
and cached image input (:class:`Prices`).

Defaults (:data:`DEFAULT_PRICES`, checked on :data:`PRICES_AS_OF`) are the figures
of the OpenAI model pages (developers.openai.com/api/docs/models/<model>):

======================================  =====================  =====================  ==========
model                                   text in/cached/out     audio in/cached/out    image in/c
======================================  =====================  =====================  ==========
gpt-realtime (and -1.5, -2, -2.1)       4 / 0.40 / 16 (24*)    32 / 0.40 / 64         5 / 0.50
gpt-realtime-mini (and -2.1-mini)       0.60 / 0.06 / 2.40     10 / 0.30 / 20         0.80 / 0.08
gpt-4o-realtime-preview                 5 / 2.50 / 20          40 / 2.50 / 80         –
gpt-4o-realtime-preview-2024-10-01      5 / 2.50 / 20          100 / 20 / 200         –
gpt-4o-mini-realtime-preview            0.60 / 0.30 / 2.40     10 / 0.30 / 20         –
======================================  =====================  =====================  ==========

(*) gpt-realtime-2 and -2.1 bill text output at 24. Provenance: the pages of
gpt-realtime-1.5, -2, -2.1, -2.1-mini, gpt-4o-realtime-preview and
gpt-4o-mini-realtime-preview were read directly; gpt-realtime uses the 1.5 page's
figures (the same as at its launch, e.g. audio 32 / cached 0.40 as quoted in
github.com/langwatch/langwatch/issues/7048); gpt-realtime-mini those of 2.1-mini
(whose page lists "GPT-Realtime Mini" at the same text input price); the
2024-10-01 preview snapshot's audio prices are its launch figures (cached audio 20
per community.openai.com/t/1060242). Prices change: check the
pricing page, then edit a table (``table.set("gpt-realtime", audio_input=32.0)``,
``table["my-deployment"] = table["gpt-realtime"]``) or load your own JSON.

Lookup (:meth:`PriceTable.lookup`): the exact model name, else the longest known
name ``base`` such that the model is ``base`` followed by a dated snapshot suffix
(``-2025-08-28`` or ``-20250828``): ``gpt-realtime-2025-08-28`` → ``gpt-realtime``,
``gpt-realtime-mini-2025-12-15`` → ``gpt-realtime-mini``. Any other name is
unknown (``gpt-realtime-local``, an Azure deployment name, a future
``gpt-realtime-3``): its cost is ``None`` (NaN in frames), never another model's
price.

Cost (:func:`cost_of`): per modality, the cached tokens are billed at the cached
rate and the rest (``tokens - cached``) at the full rate; output at the output
rate. See :func:`token_counts` for how missing detail fields are handled.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import asdict, dataclass, fields, replace
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "COST_KEYS",
    "DEFAULT_PRICES",
    "PRICES_AS_OF",
    "PRICES_SOURCE",
    "PRICE_FIELDS",
    "TOKEN_KEYS",
    "PriceTable",
    "Prices",
    "cost_from_counts",
    "cost_of",
    "token_counts",
]

PRICES_AS_OF = "2026-11-24"
"""The date the default prices were checked against the source."""

PRICES_SOURCE = "https://developers.openai.com/api/docs/models (one page per model)"
"""Where the default prices come from."""

_PER_TOKEN = 1e-6  # prices are per 1M tokens


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per 1M tokens for one model. ``image_*`` ``None``: unknown (the model
    takes no images); image tokens then make the cost NaN rather than free."""

    text_input: float
    cached_text_input: float
    text_output: float
    audio_input: float
    cached_audio_input: float
    audio_output: float
    image_input: float | None = None
    cached_image_input: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name.startswith(("image", "cached_image")):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Prices.{f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Prices.{f.name} must be a finite number >= 0, got {value!r}")
            object.__setattr__(self, f.name, float(value))

    def to_dict(self) -> dict[str, float]:
        """The fields as a dict; ``None`` image prices are left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prices:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TypeError(f"unknown price field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


PRICE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Prices))

_REALTIME = Prices(4.0, 0.4, 16.0, 32.0, 0.4, 64.0, 5.0, 0.5)
_REALTIME_2 = replace(_REALTIME, text_output=24.0)
_REALTIME_MINI = Prices(0.6, 0.06, 2.4, 10.0, 0.3, 20.0, 0.8, 0.08)

DEFAULT_PRICES: Mapping[str, Prices] = MappingProxyType(
    {
        "gpt-realtime": _REALTIME,
        "gpt-realtime-1.5": _REALTIME,
        "gpt-realtime-2": _REALTIME_2,
        "gpt-realtime-2.1": _REALTIME_2,
        "gpt-realtime-mini": _REALTIME_MINI,
        "gpt-realtime-2.1-mini": _REALTIME_MINI,
        "gpt-4o-realtime-preview": Prices(5.0, 2.5, 20.0, 40.0, 2.5, 80.0),
        # The first preview snapshot had its own, higher audio prices.
        "gpt-4o-realtime-preview-2024-10-01": Prices(5.0, 2.5, 20.0, 100.0, 20.0, 200.0),
        "gpt-4o-mini-realtime-preview": Prices(0.6, 0.3, 2.4, 10.0, 0.3, 20.0),
    }
)
"""Default prices (USD per 1M tokens), read from :data:`PRICES_SOURCE` on
:data:`PRICES_AS_OF`. Read-only: use :meth:`PriceTable.default` for an editable copy."""

_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})")


class PriceTable(MutableMapping[str, Prices]):
    """Editable prices per model: a mapping of model name → :class:`Prices`.

    ``table["m"]`` is the exact entry; :meth:`lookup` also resolves dated
    snapshots (module docstring). ``as_of`` tells when the figures were checked
    (kept through :meth:`to_dict`/:meth:`save_json`).
    """

    def __init__(
        self,
        prices: Mapping[str, Prices | Mapping[str, Any]] | None = None,
        *,
        as_of: str | None = None,
    ) -> None:
        self._prices: dict[str, Prices] = {}
        self.as_of = as_of
        for model, value in (prices or {}).items():
            self[model] = value

    @classmethod
    def default(cls) -> PriceTable:
        """A fresh, editable copy of :data:`DEFAULT_PRICES`."""
        return cls(DEFAULT_PRICES, as_of=PRICES_AS_OF)

    # -- mapping ---------------------------------------------------------------------------

    def __getitem__(self, model: str) -> Prices:
        return self._prices[model]

    def __setitem__(self, model: str, prices: Prices | Mapping[str, Any]) -> None:
        if not isinstance(model, str) or not model:
            raise TypeError(f"the model name must be a non-empty string, got {model!r}")
        if not isinstance(prices, Prices):
            if not isinstance(prices, Mapping):
                raise TypeError(f"expected Prices or a dict of prices, got {prices!r}")
            prices = Prices.from_dict(prices)
        self._prices[model] = prices

    def __delitem__(self, model: str) -> None:
        del self._prices[model]

    def __iter__(self) -> Iterator[str]:
        return iter(self._prices)

    def __len__(self) -> int:
        return len(self._prices)

    # -- editing and lookup ------------------------------------------------------------

    def set(self, model: str, **prices: float | None) -> Prices:
        """Set some prices of ``model`` (USD per 1M tokens); return its new entry.

        For a model already in the table, only the given fields change. A new
        model needs every price except the image ones (``TypeError`` otherwise).
        """
        unknown = sorted(set(prices) - set(PRICE_FIELDS))
        if unknown:
            raise TypeError(f"unknown price field(s) {unknown}; known: {list(PRICE_FIELDS)}")
        current = self._prices.get(model)
        if current is None:
            missing = [f for f in PRICE_FIELDS[:6] if f not in prices]
            if missing:
                raise TypeError(
                    f"{model!r} is not in the table: give all of {missing} "
                    f"(or copy an entry: table[{model!r}] = table['gpt-realtime'])"
                )
            entry = Prices.from_dict(prices)
        else:
            entry = Prices.from_dict({**asdict(current), **prices})
        self._prices[model] = entry
        return entry

    def resolve(self, model: str | None) -> str | None:
        """The table key used for ``model``: exact, else base of a dated snapshot."""
        if not model:
            return None
        if model in self._prices:
            return model
        best: str | None = None
        for name in self._prices:
            if (
                len(model) > len(name)
                and model.startswith(name)
                and _SNAPSHOT.fullmatch(model, len(name))
                and (best is None or len(name) > len(best))
            ):
                best = name
        return best

    def lookup(self, model: str | None) -> Prices | None:
        """Prices of ``model`` (see :meth:`resolve`), ``None`` when unknown."""
        key = self.resolve(model)
        return None if key is None else self._prices[key]

    def cost(self, usage: Mapping[str, Any], model: str | None) -> dict[str, float] | None:
        """:func:`cost_of` with the prices of ``model``; ``None`` for an unknown model."""
        prices = self.lookup(model)
        return None if prices is None else cost_of(usage, prices)

    # -- files ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """``{"as_of": ..., "models": {model: {field: price}}}`` (JSON-ready)."""
        return {"as_of": self.as_of, "models": {m: p.to_dict() for m, p in self._prices.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriceTable:
        """Inverse of :meth:`to_dict`; also accepts a plain ``{model: {field: price}}``."""
        models = data.get("models")
        if isinstance(models, Mapping):
            as_of = data.get("as_of")
            return cls(models, as_of=as_of if isinstance(as_of, str) else None)
        return cls(data)

    def save_json(self, path: str | PathLike[str]) -> Path:
        out = Path(path)
        out.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return out

    @classmethod
    def load_json(cls, path: str | PathLike[str]) -> PriceTable:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def copy(self) -> PriceTable:
        return PriceTable(self._prices, as_of=self.as_of)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PriceTable):
            return NotImplemented
        return self._prices == other._prices and self.as_of == other.as_of

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        when = f" as of {self.as_of}" if self.as_of else ""
        return f"<PriceTable{when}: {', '.join(self._prices) or 'empty'}>"


# ---------------------------------------------------------------------------
# Token counts and cost of one usage dict
# ---------------------------------------------------------------------------

TOKEN_KEYS: tuple[str, ...] = (
    "input_text", "input_audio", "input_image",
    "input_cached_text", "input_cached_audio", "input_cached_image",
    "output_text", "output_audio",
    "input_tokens", "output_tokens", "total_tokens",
)  # fmt: skip
"""Keys of :func:`token_counts`. ``input_text`` includes ``input_cached_text`` (etc.)."""

COST_KEYS: tuple[str, ...] = (
    "text_input", "cached_text_input", "audio_input", "cached_audio_input",
    "image_input", "cached_image_input", "text_output", "audio_output", "total",
)  # fmt: skip
"""Keys of :func:`cost_of` (USD). ``text_input`` is the uncached text input only."""

_NAN = math.nan


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value) if value >= 0 else None


def _split(
    total: int | None,
    parts: Mapping[str, Any],
    names: tuple[str, ...],
    caps: Mapping[str, float] | None = None,
) -> tuple[float, dict[str, float]]:
    """(total, per-part counts) with missing parts filled in where they are certain.

    A missing part is 0 when the reported parts already add up to ``total`` (or
    when ``caps`` says that modality had no tokens at all); when exactly one part
    is missing it is the remainder; otherwise it is NaN (unknown).
    """
    got: dict[str, float] = {}
    missing: list[str] = []
    for name in names:
        value = _int(parts.get(name))
        if value is None and caps is not None and caps.get(name) == 0:
            value = 0
        if value is None:
            missing.append(name)
        else:
            got[name] = value
    known = sum(got.values())
    if total is None:
        if missing and not got:  # nothing reported at all
            return 0.0, dict.fromkeys(names, 0.0)
        for name in missing:
            got[name] = 0  # no total to check against: absent means none
        return known, {n: got[n] for n in names}
    remainder = total - known
    if remainder <= 0:
        fill: float = 0
    elif len(missing) == 1:
        fill = remainder
    else:
        fill = _NAN
    for name in missing:
        got[name] = fill
    return total, {n: got[n] for n in names}


def token_counts(usage: Mapping[str, Any]) -> dict[str, float]:
    """Token counts of a GA ``response.usage`` dict, keyed by :data:`TOKEN_KEYS`.

    ``input_text/audio/image`` are ``input_token_details.*_tokens`` (cached
    included), ``input_cached_*`` the ``cached_tokens_details.*_tokens`` (a subset,
    clamped to the modality's count), ``output_*`` the ``output_token_details``.

    Missing fields: a missing detail is 0 when the details present already add up
    to their total (``input_tokens``, ``cached_tokens``, ``output_tokens``); with
    exactly one missing, it is the remainder; a cached detail is 0 for a modality
    that had no input tokens; otherwise it is NaN (the split is unknown, and so is
    the cost). A missing total is the sum of its details; missing
    ``total_tokens`` is input + output.
    """
    in_details = usage.get("input_token_details")
    in_details = in_details if isinstance(in_details, Mapping) else {}
    out_details = usage.get("output_token_details")
    out_details = out_details if isinstance(out_details, Mapping) else {}
    cached_details = in_details.get("cached_tokens_details")
    cached_details = cached_details if isinstance(cached_details, Mapping) else {}

    names = ("text_tokens", "audio_tokens", "image_tokens")
    in_total, inputs = _split(_int(usage.get("input_tokens")), in_details, names)
    cached_total = _int(in_details.get("cached_tokens"))
    _, cached = _split(cached_total, cached_details, names, caps=inputs)
    for name in names:  # cached is a subset of the modality's input
        cached[name] = min(cached[name], inputs[name])
    out_total, outputs = _split(
        _int(usage.get("output_tokens")), out_details, ("text_tokens", "audio_tokens")
    )
    total = _int(usage.get("total_tokens"))
    return {
        "input_text": inputs["text_tokens"],
        "input_audio": inputs["audio_tokens"],
        "input_image": inputs["image_tokens"],
        "input_cached_text": cached["text_tokens"],
        "input_cached_audio": cached["audio_tokens"],
        "input_cached_image": cached["image_tokens"],
        "output_text": outputs["text_tokens"],
        "output_audio": outputs["audio_tokens"],
        "input_tokens": in_total,
        "output_tokens": out_total,
        "total_tokens": total if total is not None else in_total + out_total,
    }


def _bill(tokens: float, price: float | None) -> float:
    if tokens == 0:
        return 0.0
    if price is None:
        return _NAN
    return tokens * price * _PER_TOKEN


def cost_from_counts(counts: Mapping[str, float], prices: Prices) -> dict[str, float]:
    """:func:`cost_of` from :func:`token_counts` output (to count once, price often)."""
    out = {
        "text_input": _bill(counts["input_text"] - counts["input_cached_text"], prices.text_input),
        "cached_text_input": _bill(counts["input_cached_text"], prices.cached_text_input),
        "audio_input": _bill(
            counts["input_audio"] - counts["input_cached_audio"], prices.audio_input
        ),
        "cached_audio_input": _bill(counts["input_cached_audio"], prices.cached_audio_input),
        "image_input": _bill(
            counts["input_image"] - counts["input_cached_image"], prices.image_input
        ),
        "cached_image_input": _bill(counts["input_cached_image"], prices.cached_image_input),
        "text_output": _bill(counts["output_text"], prices.text_output),
        "audio_output": _bill(counts["output_audio"], prices.audio_output),
    }
    out["total"] = math.fsum(out.values())
    return out


def cost_of(usage: Mapping[str, Any], prices: Prices) -> dict[str, float]:
    """USD cost of one GA ``response.usage`` dict, keyed by :data:`COST_KEYS`.

    Per modality: ``(tokens - cached) × full rate + cached × cached rate``, so a
    cached token is billed once, at the cached rate; output tokens at the output
    rate; ``total`` is the sum. A part whose token count is unknown (see
    :func:`token_counts`) or that has tokens but no price (images on a model
    without image prices) is NaN, and then so is ``total``.
    """
    return cost_from_counts(token_counts(usage), prices)

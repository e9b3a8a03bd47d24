"""Price table editing and lookup; cost of a ``response.done`` usage (cached billed once)."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

import pytest

from realtime_widget.state.pricing import (
    COST_KEYS,
    DEFAULT_PRICES,
    PRICES_AS_OF,
    TOKEN_KEYS,
    Prices,
    PriceTable,
    cost_of,
    token_counts,
)
from tests.fixtures.streams import NAMES, load

M = 1e-6  # prices are per 1M tokens


def fixture_usages() -> list[dict[str, Any]]:
    """Every ``response.done`` usage of the recorded streams."""
    out = []
    for name in NAMES:
        for line in load(name):
            if line.type == "response.done" and isinstance(line.event["response"]["usage"], dict):
                out.append(line.event["response"]["usage"])
    return out


def cached_usage() -> dict[str, Any]:
    """A fixture usage with cached text and cached audio tokens."""
    for usage in fixture_usages():
        details = usage["input_token_details"]["cached_tokens_details"]
        if details["text_tokens"] and details["audio_tokens"]:
            return usage
    raise AssertionError("no fixture usage with cached text and audio")


# -- the table -----------------------------------------------------------------------------


def test_defaults_cover_the_realtime_models_and_are_dated() -> None:
    table = PriceTable.default()
    for model in (
        "gpt-realtime",
        "gpt-realtime-mini",
        "gpt-4o-realtime-preview",
        "gpt-4o-mini-realtime-preview",
    ):
        assert table.lookup(model) is DEFAULT_PRICES[model]
    assert table.as_of == PRICES_AS_OF
    assert datetime.date.fromisoformat(PRICES_AS_OF).year >= 2025


def test_default_returns_a_copy() -> None:
    table = PriceTable.default()
    before = DEFAULT_PRICES["gpt-realtime"]
    table.set("gpt-realtime", audio_input=1.0)
    del table["gpt-realtime-mini"]
    assert DEFAULT_PRICES["gpt-realtime"] is before
    assert "gpt-realtime-mini" in DEFAULT_PRICES
    assert PriceTable.default()["gpt-realtime"] == before
    with pytest.raises(TypeError):
        DEFAULT_PRICES["x"] = before  # type: ignore[index]


def test_set_changes_only_the_given_fields() -> None:
    table = PriceTable.default()
    old = table["gpt-realtime"]
    new = table.set("gpt-realtime", audio_input=30.0, cached_audio_input=0.5)
    assert table["gpt-realtime"] is new
    assert (new.audio_input, new.cached_audio_input) == (30.0, 0.5)
    assert new.text_output == old.text_output and new.audio_output == old.audio_output


def test_set_a_new_model_needs_every_price() -> None:
    table = PriceTable()
    with pytest.raises(TypeError, match="audio_output"):
        table.set("mine", text_input=1, cached_text_input=1, text_output=1)
    entry = table.set(
        "mine",
        text_input=1,
        cached_text_input=0.5,
        text_output=2,
        audio_input=3,
        cached_audio_input=0.5,
        audio_output=6,
    )
    assert table.lookup("mine") is entry and entry.image_input is None
    with pytest.raises(TypeError, match="unknown price field"):
        table.set("mine", audio_in=1.0)


def test_item_assignment_accepts_prices_or_a_dict() -> None:
    table = PriceTable.default()
    table["my-azure-deployment"] = table["gpt-realtime"]
    assert table.lookup("my-azure-deployment") == DEFAULT_PRICES["gpt-realtime"]
    table["other"] = DEFAULT_PRICES["gpt-realtime-mini"].to_dict()
    assert table["other"] == DEFAULT_PRICES["gpt-realtime-mini"]
    with pytest.raises(TypeError):
        table["bad"] = 3.0  # type: ignore[assignment]


@pytest.mark.parametrize(
    "value", [-1.0, math.nan, math.inf, True, "4"], ids=["neg", "nan", "inf", "bool", "str"]
)
def test_prices_are_validated(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        PriceTable.default().set("gpt-realtime", text_input=value)


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("gpt-realtime", "gpt-realtime"),
        ("gpt-realtime-2025-08-28", "gpt-realtime"),
        ("gpt-realtime-mini-2025-10-06", "gpt-realtime-mini"),
        ("gpt-realtime-mini-2025-12-15", "gpt-realtime-mini"),
        ("gpt-4o-realtime-preview-2024-12-17", "gpt-4o-realtime-preview"),
        ("gpt-4o-realtime-preview-2025-06-03", "gpt-4o-realtime-preview"),
        ("gpt-4o-realtime-preview-2024-10-01", "gpt-4o-realtime-preview-2024-10-01"),
        ("gpt-4o-mini-realtime-preview-2024-12-17", "gpt-4o-mini-realtime-preview"),
        ("gpt-realtime-2.1-mini", "gpt-realtime-2.1-mini"),
        ("gpt-realtime-20250828", "gpt-realtime"),
    ],
)
def test_lookup_exact_then_dated_snapshot(model: str, key: str) -> None:
    table = PriceTable.default()
    assert table.resolve(model) == key
    assert table.lookup(model) is table[key]


@pytest.mark.parametrize(
    "model",
    [
        None,
        "",
        "gpt-realtime-local",  # the bundled server's model: not billed by anyone
        "gpt-realtime-3",
        "gpt-realtime-mini-high",
        "gpt-realtime-2025-08",  # not a full date
        "GPT-REALTIME",
        "whisper-1",
    ],
)
def test_unknown_models_have_no_price(model: str | None) -> None:
    table = PriceTable.default()
    assert table.lookup(model) is None
    assert table.cost(cached_usage(), model) is None


def test_a_longer_name_never_falls_back_to_its_prefix() -> None:
    """gpt-realtime-2.1-mini is not gpt-realtime-2.1 nor gpt-realtime: unknown once removed."""
    table = PriceTable.default()
    del table["gpt-realtime-2.1-mini"]
    assert table.lookup("gpt-realtime-2.1-mini") is None
    del table["gpt-realtime-mini"]
    assert table.lookup("gpt-realtime-mini-2025-12-15") is None


def test_dict_and_json_round_trip(tmp_path: Path) -> None:
    table = PriceTable.default()
    table.set("gpt-realtime", audio_input=31.5)
    table["custom"] = Prices(1, 0.1, 2, 3, 0.3, 4, image_input=5, cached_image_input=0.5)
    assert PriceTable.from_dict(table.to_dict()) == table
    path = table.save_json(tmp_path / "prices.json")
    assert PriceTable.load_json(path) == table
    data = json.loads(path.read_text())
    assert data["as_of"] == PRICES_AS_OF
    assert data["models"]["gpt-realtime"]["audio_input"] == 31.5
    assert "image_input" not in data["models"]["gpt-4o-realtime-preview"]  # None is left out


def test_a_plain_model_mapping_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"my-model": DEFAULT_PRICES["gpt-realtime"].to_dict()}))
    table = PriceTable.load_json(path)
    assert list(table) == ["my-model"] and table.as_of is None
    assert table["my-model"] == DEFAULT_PRICES["gpt-realtime"]
    with pytest.raises(TypeError, match="unknown price field"):
        PriceTable.from_dict({"m": {"audio_in": 1}})


# -- token counts and cost -----------------------------------------------------------------


GA_USAGES = [u for u in fixture_usages() if "input_token_details" in u]


@pytest.mark.parametrize("usage", GA_USAGES)
def test_counts_follow_the_usage_fields(usage: dict[str, Any]) -> None:
    counts = token_counts(usage)
    assert set(counts) == set(TOKEN_KEYS)
    d, o = usage["input_token_details"], usage["output_token_details"]
    c = d["cached_tokens_details"]
    assert counts["input_text"] == d["text_tokens"]
    assert counts["input_audio"] == d["audio_tokens"]
    assert counts["input_image"] == d["image_tokens"]
    # Cached is a subset of its modality (a fixture claims 64 cached of 60 text tokens).
    assert counts["input_cached_text"] == min(c["text_tokens"], d["text_tokens"])
    assert counts["input_cached_audio"] == min(c["audio_tokens"], d["audio_tokens"])
    assert counts["output_text"] == o["text_tokens"]
    assert counts["output_audio"] == o["audio_tokens"]
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        assert counts[key] == usage[key]


def test_cached_tokens_are_billed_once_at_the_cached_rate() -> None:
    usage = cached_usage()
    p = DEFAULT_PRICES["gpt-realtime"]
    d = usage["input_token_details"]
    c = d["cached_tokens_details"]
    o = usage["output_token_details"]
    cost = cost_of(usage, p)
    assert set(cost) == set(COST_KEYS)
    assert cost["text_input"] == pytest.approx(
        (d["text_tokens"] - c["text_tokens"]) * p.text_input * M
    )
    assert cost["cached_text_input"] == pytest.approx(c["text_tokens"] * p.cached_text_input * M)
    assert cost["audio_input"] == pytest.approx(
        (d["audio_tokens"] - c["audio_tokens"]) * p.audio_input * M
    )
    assert cost["cached_audio_input"] == pytest.approx(c["audio_tokens"] * p.cached_audio_input * M)
    assert cost["text_output"] == pytest.approx(o["text_tokens"] * p.text_output * M)
    assert cost["audio_output"] == pytest.approx(o["audio_tokens"] * p.audio_output * M)
    assert cost["image_input"] == cost["cached_image_input"] == 0
    assert cost["total"] == pytest.approx(sum(v for k, v in cost.items() if k != "total"))
    # Billing the cached tokens also at the full rate would cost more than this.
    double = (
        (d["text_tokens"] * p.text_input + d["audio_tokens"] * p.audio_input) * M
        + cost["cached_text_input"]
        + cost["cached_audio_input"]
    )
    assert cost["total"] < double + cost["text_output"] + cost["audio_output"]


def test_cost_scales_with_an_edited_price() -> None:
    usage = cached_usage()
    table = PriceTable.default()
    before = table.cost(usage, "gpt-realtime-2025-08-28")
    table.set("gpt-realtime", audio_input=table["gpt-realtime"].audio_input + 10.0)
    after = table.cost(usage, "gpt-realtime-2025-08-28")
    assert before is not None and after is not None
    d = usage["input_token_details"]
    uncached_audio = d["audio_tokens"] - d["cached_tokens_details"]["audio_tokens"]
    assert after["total"] - before["total"] == pytest.approx(uncached_audio * 10.0 * M)


def test_missing_details_make_the_split_and_cost_unknown() -> None:
    """A beta-era server reports only totals: which modality is unknown, so is the cost."""
    usage = {"total_tokens": 50, "input_tokens": 30, "output_tokens": 20}
    counts = token_counts(usage)
    assert math.isnan(counts["input_text"]) and math.isnan(counts["output_audio"])
    assert (counts["input_tokens"], counts["output_tokens"], counts["total_tokens"]) == (30, 20, 50)
    assert counts["input_cached_text"] == 0  # nothing cached reported
    assert math.isnan(cost_of(usage, DEFAULT_PRICES["gpt-realtime"])["total"])


def test_one_missing_detail_is_the_remainder() -> None:
    usage = {
        "input_tokens": 120,
        "output_tokens": 40,
        "input_token_details": {"text_tokens": 20, "audio_tokens": 100},  # no image_tokens
        "output_token_details": {"text_tokens": 10},  # no audio_tokens
    }
    counts = token_counts(usage)
    assert counts["input_image"] == 120 - 20 - 100 == 0
    assert counts["output_audio"] == 40 - 10
    assert counts["total_tokens"] == 160
    p = DEFAULT_PRICES["gpt-realtime"]
    expected = 20 * p.text_input + 100 * p.audio_input + 10 * p.text_output + 30 * p.audio_output
    assert cost_of(usage, p)["total"] == pytest.approx(expected * M)


def test_cached_without_details_goes_to_the_only_modality_that_had_input() -> None:
    usage = {
        "input_tokens": 1100,
        "output_tokens": 0,
        "input_token_details": {
            "text_tokens": 1100,
            "audio_tokens": 0,
            "image_tokens": 0,
            "cached_tokens": 1024,
        },
    }
    counts = token_counts(usage)
    assert counts["input_cached_text"] == 1024 and counts["input_cached_audio"] == 0
    p = DEFAULT_PRICES["gpt-realtime"]
    expected = (1100 - 1024) * p.text_input + 1024 * p.cached_text_input
    assert cost_of(usage, p)["total"] == pytest.approx(expected * M)
    # With text and audio input, the cached split is unknown.
    usage["input_token_details"] = {"text_tokens": 600, "audio_tokens": 500, "cached_tokens": 1024}
    counts = token_counts(usage)
    assert math.isnan(counts["input_cached_text"]) and math.isnan(counts["input_cached_audio"])
    assert math.isnan(cost_of(usage, p)["total"])


def test_cached_more_than_the_modality_is_clamped() -> None:
    usage = {
        "input_tokens": 10,
        "input_token_details": {
            "text_tokens": 10,
            "audio_tokens": 0,
            "cached_tokens": 64,
            "cached_tokens_details": {"text_tokens": 64},
        },
    }
    counts = token_counts(usage)
    assert counts["input_cached_text"] == 10
    cost = cost_of(usage, DEFAULT_PRICES["gpt-realtime"])
    assert cost["text_input"] == 0


def test_image_tokens_need_an_image_price() -> None:
    usage = {
        "input_tokens": 300,
        "output_tokens": 0,
        "input_token_details": {
            "text_tokens": 44,
            "audio_tokens": 0,
            "image_tokens": 256,
            "cached_tokens": 128,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 128},
        },
    }
    with_images = DEFAULT_PRICES["gpt-realtime"]
    assert with_images.image_input is not None and with_images.cached_image_input is not None
    cost = cost_of(usage, with_images)
    assert cost["image_input"] == pytest.approx(128 * with_images.image_input * M)
    assert cost["cached_image_input"] == pytest.approx(128 * with_images.cached_image_input * M)
    no_images = DEFAULT_PRICES["gpt-4o-realtime-preview"]
    assert no_images.image_input is None
    assert math.isnan(cost_of(usage, no_images)["total"])
    assert cost_of(cached_usage(), no_images)["image_input"] == 0  # no image tokens: no cost


def test_empty_usage_costs_nothing() -> None:
    assert cost_of({}, DEFAULT_PRICES["gpt-realtime"])["total"] == 0
    assert token_counts({})["total_tokens"] == 0

"""Usage per response and session totals, from recorded streams (no sockets)."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pytest

from realtime_widget.log import Recorder
from realtime_widget.log.recording import Recording
from realtime_widget.log.usage_table import (
    TOKEN_COLUMNS,
    USAGE_COLUMNS,
    usage_frame,
    usage_totals,
)
from realtime_widget.state.pricing import PriceTable, cost_of, token_counts
from tests.fixtures.streams import Line, load, replay

M = 1e-6


def run(name: str) -> tuple[Recorder, list[Line]]:
    lines = load(name)
    rec, _, _ = replay(lines)
    return rec, lines


def done_usages(lines: list[Line]) -> dict[str, dict[str, Any]]:
    """response id → usage of every response.done of the stream (read from the JSONL)."""
    return {
        line.event["response"]["id"]: line.event["response"]["usage"]
        for line in lines
        if line.type == "response.done" and isinstance(line.event["response"].get("usage"), dict)
    }


@pytest.mark.parametrize("name", ["barge_in", "out_of_band", "function_call", "text_turn"])
def test_one_row_per_response_with_the_usage_of_its_done_event(name: str) -> None:
    rec, lines = run(name)
    usages = done_usages(lines)
    df = usage_frame(rec.conversation, None, model="gpt-realtime")
    assert list(df.columns) == list(USAGE_COLUMNS)
    assert list(df["response_id"]) == list(usages)
    prices = PriceTable.default()["gpt-realtime"]
    for row in df.itertuples(index=False):
        usage = usages[row.response_id]
        counts = token_counts(usage)
        for column in TOKEN_COLUMNS:
            assert getattr(row, column) == counts[column], column
        assert row.input_tokens == usage["input_tokens"]
        assert row.output_tokens == usage["output_tokens"]
        assert row.total_tokens == usage["total_tokens"]
        assert row.input_audio == usage["input_token_details"]["audio_tokens"]
        assert row.output_audio == usage["output_token_details"]["audio_tokens"]
        assert row.cost_usd == pytest.approx(cost_of(usage, prices)["total"])
        assert row.status == rec.conversation.responses[row.response_id].status


def test_cached_tokens_are_their_own_columns_and_billed_at_the_cached_rate() -> None:
    rec, lines = run("text_turn")
    usage = done_usages(lines)["resp_1"]
    cached = usage["input_token_details"]["cached_tokens_details"]
    assert cached["text_tokens"] and cached["audio_tokens"]  # the fixture has both
    df = usage_frame(rec.conversation, None, model="gpt-realtime")
    row = df.iloc[0]
    assert row["input_cached_text"] == cached["text_tokens"]
    assert row["input_cached_audio"] == cached["audio_tokens"]
    p = PriceTable.default()["gpt-realtime"]
    d, o = usage["input_token_details"], usage["output_token_details"]
    expected = (
        (d["text_tokens"] - cached["text_tokens"]) * p.text_input
        + cached["text_tokens"] * p.cached_text_input
        + (d["audio_tokens"] - cached["audio_tokens"]) * p.audio_input
        + cached["audio_tokens"] * p.cached_audio_input
        + o["text_tokens"] * p.text_output
        + o["audio_tokens"] * p.audio_output
    ) * M
    assert row["cost_usd"] == pytest.approx(expected)


def test_turn_status_and_out_of_band_columns() -> None:
    rec, _ = run("out_of_band")
    df = usage_frame(rec.conversation, None, model="gpt-realtime").set_index("response_id")
    for rid, response in rec.conversation.responses.items():
        assert bool(df.loc[rid, "out_of_band"]) is response.out_of_band
        turn = df.loc[rid, "turn"]
        assert (turn is pd.NA) if response.turn is None else turn == response.turn
    assert df["turn"].dtype == "Int64"
    rec, _ = run("barge_in")
    df = usage_frame(rec.conversation, None, model="gpt-realtime")
    assert list(df["status"]) == [r.status for r in rec.conversation.responses.values()]
    assert "cancelled" in set(df["status"])  # an interrupted response is billed too


def test_dated_snapshot_costs_like_its_base_model() -> None:
    rec, _ = run("barge_in")
    base = usage_frame(rec.conversation, None, model="gpt-realtime")
    dated = usage_frame(rec.conversation, None, model="gpt-realtime-2025-08-28")
    pd.testing.assert_frame_equal(base, dated)
    mini = usage_frame(rec.conversation, None, model="gpt-realtime-mini-2025-10-06")
    assert (mini["cost_usd"] < base["cost_usd"]).all()


@pytest.mark.parametrize("model", [None, "gpt-realtime-local", "some-azure-deployment"])
def test_unknown_model_keeps_tokens_and_has_nan_cost(model: str | None) -> None:
    rec, _ = run("barge_in")
    df = usage_frame(rec.conversation, None, model=model)
    known = usage_frame(rec.conversation, None, model="gpt-realtime")
    assert df["cost_usd"].isna().all()
    pd.testing.assert_frame_equal(df[list(TOKEN_COLUMNS)], known[list(TOKEN_COLUMNS)])
    totals = usage_totals(rec.conversation, None, model=model)
    assert math.isnan(totals["cost_usd"])
    assert totals["total_tokens"] == known["total_tokens"].sum()


def test_prices_none_means_the_defaults_and_an_edited_table_is_used() -> None:
    rec, _ = run("barge_in")
    default = usage_frame(rec.conversation, None, model="gpt-realtime")
    table = PriceTable.default()
    pd.testing.assert_frame_equal(
        default, usage_frame(rec.conversation, table, model="gpt-realtime")
    )
    table.set("gpt-realtime", audio_output=table["gpt-realtime"].audio_output * 2)
    edited = usage_frame(rec.conversation, table, model="gpt-realtime")
    delta = (edited["cost_usd"] - default["cost_usd"]).to_numpy()
    expected = (
        default["output_audio"].to_numpy() * PriceTable.default()["gpt-realtime"].audio_output
    )
    assert delta == pytest.approx(expected * M)
    # A name of your own: alias it to a known price.
    table["my-deployment"] = table["gpt-realtime"]
    aliased = usage_frame(rec.conversation, table, model="my-deployment")
    pd.testing.assert_frame_equal(aliased, edited)


def test_totals_are_the_sums_of_the_frame() -> None:
    for name in ("barge_in", "out_of_band", "function_call"):
        rec, lines = run(name)
        df = usage_frame(rec.conversation, None, model="gpt-realtime")
        totals = usage_totals(rec.conversation, None, model="gpt-realtime")
        assert set(totals) == {*TOKEN_COLUMNS, "cost_usd", "responses"}
        assert totals["responses"] == len(df) == len(done_usages(lines))
        for column in TOKEN_COLUMNS:
            assert totals[column] == df[column].sum()
        assert totals["cost_usd"] == pytest.approx(df["cost_usd"].sum())
        # The sum of output_tokens over the recorded events.
        assert totals["output_tokens"] == sum(
            u["output_tokens"] for u in done_usages(lines).values()
        )


def test_totals_grow_after_every_response_done() -> None:
    """Live use: call usage_totals after each response.done while events arrive."""
    lines = load("barge_in")
    rec = Recorder()
    seen: list[float] = []
    usages = list(done_usages(lines).values())
    for line in lines:
        replay([line], rec)
        if line.type == "response.done":
            totals = usage_totals(rec.conversation, None, model="gpt-realtime")
            seen.append(totals["input_tokens"])
            assert totals["responses"] == len(seen)
    assert seen == [sum(u["input_tokens"] for u in usages[: i + 1]) for i in range(len(usages))]


def test_missing_details_give_nan_not_a_guess() -> None:
    rec, lines = run("beta_stream")
    usage = done_usages(lines)["resp_1"]
    assert "input_token_details" not in usage
    df = usage_frame(rec.conversation, None, model="gpt-realtime")
    assert df.loc[0, "input_tokens"] == usage["input_tokens"]
    assert math.isnan(df.loc[0, "input_audio"]) and math.isnan(df.loc[0, "cost_usd"])
    totals = usage_totals(rec.conversation, None, model="gpt-realtime")
    assert math.isnan(totals["input_audio"]) and math.isnan(totals["cost_usd"])
    assert totals["input_tokens"] == usage["input_tokens"]


def test_no_responses_gives_an_empty_frame_and_zero_totals() -> None:
    rec, _ = run("manual_turns")
    assert not any(r.usage for r in rec.conversation.responses.values())
    df = usage_frame(rec.conversation, None, model="gpt-realtime")
    assert df.empty and list(df.columns) == list(USAGE_COLUMNS)
    assert df["input_tokens"].dtype == "int64" and df["cost_usd"].dtype == float
    totals = usage_totals(rec.conversation, None, model="gpt-realtime")
    assert totals["responses"] == 0 and totals["cost_usd"] == 0 and totals["total_tokens"] == 0


def test_recording_binds_the_model_the_server_reported() -> None:
    lines = load("barge_in")
    created = next(line for line in lines if line.type == "session.created")
    created.event["session"]["model"] = "gpt-realtime-mini-2025-12-15"
    rec = Recorder()
    rec.receive(json.dumps(created.event), created.t)
    replay([line for line in lines if line is not created], rec)
    recording = Recording(rec)
    assert recording.model == "gpt-realtime-mini-2025-12-15"
    df = recording.usage()
    mini = PriceTable.default()["gpt-realtime-mini"]
    usages = done_usages(lines)
    assert list(df["cost_usd"]) == pytest.approx(
        [cost_of(usages[rid], mini)["total"] for rid in df["response_id"]]
    )
    totals = recording.totals()
    assert totals["cost_usd"] == pytest.approx(df["cost_usd"].sum())
    assert math.isnan(recording.totals(PriceTable())["cost_usd"])  # an empty table


def test_totals_follow_price_edits_between_calls() -> None:
    """Totals reuse per-response work between calls, but never a stale price."""
    rec, _ = run("barge_in")
    table = PriceTable.default()
    first = usage_totals(rec.conversation, table, model="gpt-realtime")
    table.set("gpt-realtime", text_output=table["gpt-realtime"].text_output + 100.0)
    edited = usage_totals(rec.conversation, table, model="gpt-realtime")
    assert edited["cost_usd"] - first["cost_usd"] == pytest.approx(first["output_text"] * 100.0 * M)
    assert usage_totals(rec.conversation, None, model="gpt-realtime") == first
    assert math.isnan(usage_totals(rec.conversation, table, model="gpt-realtime-3")["cost_usd"])

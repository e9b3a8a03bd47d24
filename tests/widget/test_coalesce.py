"""AudioCoalescer: ≤ 100 messages/s, contiguous offsets, prompt first delta, drops."""

from __future__ import annotations

import itertools

import numpy as np

from realtime_widget.widget.coalesce import AudioCoalescer, AudioMessage

SR = 24000


def pcm(ms: int, value: int = 0) -> bytes:
    return (np.arange(ms * 24, dtype=np.int16) + value).astype("<i2").tobytes()


Sent = list[tuple[float, AudioMessage]]


def run_until_drained(c: AudioCoalescer, t: float) -> tuple[Sent, float]:
    out: list[tuple[float, AudioMessage]] = []
    while (due := c.deadline()) is not None:
        t = max(t, due)
        out += [(t, m) for m in c.poll(t)]
    return out, t


def test_first_delta_goes_out_at_once() -> None:
    c = AudioCoalescer()
    [msg] = c.push("item_a", "resp_1", pcm(40), 5.0)
    assert msg.content() == {"type": "audio", "item_id": "item_a", "response_id": "resp_1",
                             "offset": 0}  # fmt: skip
    assert msg.samples == 960


def test_paced_server_is_forwarded_delta_by_delta() -> None:
    c = AudioCoalescer()
    sent = []
    for i in range(25):  # one 40 ms delta every 40 ms
        sent += c.push("item_a", "r", pcm(40), i * 0.04)
    assert len(sent) == 25
    assert [m.offset for m in sent] == [i * 960 for i in range(25)]
    assert c.deadline() is None


def test_first_deltas_of_a_reply_sent_ahead_of_time_go_out_at_once() -> None:
    # servers send a reply's start ahead of real time (the local server: 80 ms):
    # coalescing it would delay the player's start threshold
    c = AudioCoalescer()
    sent = []
    for i in range(3):
        sent += c.push("item_a", "r", pcm(40), 1.0 + i * 0.0001)
    assert [m.offset for m in sent] == [0, 960, 1920]
    assert c.deadline() is None


def test_burst_of_10_s_in_50_ms_is_a_handful_of_messages() -> None:
    c = AudioCoalescer(min_interval=0.01, burst=1)
    deltas = 250  # 10 s of 40 ms deltas
    sent: list[tuple[float, AudioMessage]] = []
    for i in range(deltas):
        t = i * 0.05 / deltas
        sent += [(t, m) for m in c.push("item_a", "r", pcm(40, i), t)]
        # the relay's timer polls whenever a deadline passes
        due = c.deadline()
        if due is not None and due <= t:
            sent += [(t, m) for m in c.poll(t)]
    rest, _ = run_until_drained(c, 0.05)
    sent += rest
    assert 3 <= len(sent) <= 8
    times = [t for t, _ in sent]
    assert all(b - a >= 0.01 - 1e-9 for a, b in itertools.pairwise(times))
    # contiguous and complete
    offsets = [m.offset for _, m in sent]
    sizes = [m.samples for _, m in sent]
    assert offsets[0] == 0
    assert all(o + n == nxt for o, n, nxt in zip(offsets, sizes, offsets[1:], strict=False))
    assert sum(sizes) == deltas * 960
    joined = b"".join(m.pcm for _, m in sent)
    assert joined == b"".join(pcm(40, i) for i in range(deltas))


def test_never_more_than_100_messages_in_any_second() -> None:
    c = AudioCoalescer()
    sent: list[float] = []
    t = 0.0
    for i in range(2000):  # 2000 tiny deltas over 2 s, polled at every arrival
        t = i * 0.001
        sent += [t for _ in c.push(f"item_{i // 500}", "r", pcm(1), t)]
        sent += [t for _ in c.poll(t)]
    rest, _ = run_until_drained(c, t)
    sent += [x for x, _ in rest]
    for start in sent:
        in_window = [x for x in sent if start <= x < start + 1.0 - 1e-9]  # float slack
        assert len(in_window) <= 100


def test_the_burst_allowance_refills_and_keeps_the_rate() -> None:
    c = AudioCoalescer()  # 4 at once, then one per 1/96 s
    sent: list[float] = []
    for t in (0.0, 0.001, 0.002, 0.003, 0.004, 0.005):
        sent += [t for _ in c.push("a", "r", pcm(10), t)]
    assert sent == [0.0, 0.001, 0.002, 0.003]  # the 5th and 6th wait for a token
    rest, t = run_until_drained(c, 0.005)
    assert len(rest) == 1  # the two pending deltas of one item leave as one message
    assert rest[0][0] >= 1 / 96 - 1e-9
    # after a quiet second the allowance is whole again
    again = [m for i in range(4) for m in c.push("b", "r", pcm(10), 2.0 + i * 0.001)]
    assert len(again) == 4


def test_items_are_kept_apart_with_own_offsets() -> None:
    c = AudioCoalescer(burst=1)
    c.push("a", "r", pcm(40), 0.0)
    c.push("a", "r", pcm(40), 0.001)
    c.push("b", "r", pcm(20), 0.002)
    c.push("a", "r", pcm(40), 0.003)
    out, _ = run_until_drained(c, 0.003)
    got = [(m.item_id, m.offset, m.samples) for _, m in out]
    assert got == [("a", 960, 1920), ("b", 0, 480)]


def test_stopped_item_and_cancelled_response_are_dropped() -> None:
    c = AudioCoalescer(burst=1, min_interval=0.01)
    c.push("a", "r1", pcm(40), 0.0)
    c.push("a", "r1", pcm(40), 0.001)  # pending
    assert c.stop_item("a") == 960
    assert c.push("a", "r1", pcm(40), 0.1) == []
    assert c.is_stopped("a")
    c.push("b", "r2", pcm(40), 0.2)
    c.push("b", "r2", pcm(40), 0.201)  # pending
    assert c.cancel_response("r2") == 960
    assert c.push("c", "r2", pcm(40), 0.3) == []
    assert c.deadline() is None
    assert c.samples_dropped == 960 * 4
    # Another response still plays.
    assert len(c.push("d", "r3", pcm(40), 0.4)) == 1


def test_reset_forgets_everything() -> None:
    c = AudioCoalescer()
    c.push("a", "r", pcm(40), 0.0)
    c.stop_item("a")
    c.reset()
    [m] = c.push("a", "r", pcm(40), 1.0)
    assert m.offset == 0


def test_deltas_added_together_leave_as_one_message_on_the_next_poll() -> None:
    c = AudioCoalescer()
    for k in range(3):
        c.add("a", "r", bytes([k, 0]) * 960)
    assert c.pending_samples == 2880
    [msg] = c.poll(0.0)
    assert (msg.item_id, msg.offset, msg.samples) == ("a", 0, 2880)
    assert msg.pcm[::1920] == bytes([0, 1, 2])
    assert c.poll(0.0) == [] and c.messages == 1

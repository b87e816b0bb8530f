"""Large results in chunks: sisock.wire.chunks, without a router (see test_wire.py for one)."""

import msgpack
import numpy as np
import pytest

from sisock.wire import chunks
from sisock.wire.codec import result_from_wire, result_to_wire
from sisock.wire.errors import NodeError, TooLarge

CHUNK = 16 * 1024
MAX_MESSAGE = 64 * 1024


def make_result(n, m=None):
    """Two timelines: ``fast`` (n samples: float with NaN, int, bool, str) and ``slow`` (m samples)."""
    m = n // 10 if m is None else m
    i = np.arange(n)
    x = np.sin(i / 7.0)
    x[i % 5 == 1] = np.nan
    return {"data": {"x": x, "i": i * 3 - 1, "b": i % 2 == 0,
                     "s": np.array([f"state{k % 7}" * (k % 3) for k in range(n)], dtype=object),
                     "y": np.cos(np.arange(m)), "none": np.empty(0), "no_text": np.empty(0, object)},
            "timeline": {"fast": {"t": 1.6e9 + i * 0.01, "finalized_until": 1.6e9},
                         "slow": {"t": 1.6e9 + np.arange(m) * 1.0, "finalized_until": None}}}


def wire(value):
    """``value`` after a MessagePack round trip, as autobahn does it."""
    return msgpack.unpackb(msgpack.packb(value, use_bin_type=True), raw=False)


def deliver(result, encoding, progressive=True, progress=None):
    """Answer like a node and reassemble like the client; returns (result, progressive messages)."""
    sent = []
    final = chunks.answer(result, encoding, sent.append if progressive else None, 100.0, CHUNK, MAX_MESSAGE)
    assembler = chunks.Assembler(progress)
    for message in sent:
        assembler.feed(wire(message))
    return assembler.finish(wire(final)), sent


def assert_same(got, expected):
    assert set(got["data"]) == set(expected["data"]) and set(got["timeline"]) == set(expected["timeline"])
    for name, values in expected["data"].items():
        assert got["data"][name].dtype == values.dtype, name
        if values.dtype == object:
            assert list(got["data"][name]) == list(values)
        else:
            np.testing.assert_array_equal(got["data"][name], values)
    for name, tl in expected["timeline"].items():
        np.testing.assert_array_equal(got["timeline"][name]["t"], tl["t"])
        assert got["timeline"][name]["finalized_until"] == tl["finalized_until"]


def one_message(result, encoding):
    return result_from_wire(wire(result_to_wire(result, encoding)))


@pytest.mark.parametrize("encoding", ["binary", "list"])
def test_a_chunked_result_reassembles_exactly_with_two_timelines_and_every_kind(encoding):
    result = make_result(20_000)
    got, sent = deliver(result, encoding)
    assert len(sent) > 3 and "layout" in sent[0]
    assert_same(got, one_message(result, encoding))


@pytest.mark.parametrize("encoding", ["binary", "list"])
def test_every_chunk_stays_within_the_chunk_size(encoding):
    _, sent = deliver(make_result(20_000), encoding)
    assert max(len(msgpack.packb(m, use_bin_type=True)) for m in sent) <= CHUNK


def sizes_around_the_chunk_size(encoding):
    """``n`` whose result just fits one chunk, where ``n + 1`` samples do not."""
    lo, hi = 1, 10_000
    while hi - lo > 1:
        mid = (lo + hi) // 2
        fits = chunks.Plan(make_result(mid, 3), encoding).message_bytes <= CHUNK
        lo, hi = (mid, hi) if fits else (lo, mid)
    return lo


@pytest.mark.parametrize("encoding", ["binary", "list"])
def test_just_under_the_chunk_size_is_one_message_and_just_over_is_chunked(encoding):
    n = sizes_around_the_chunk_size(encoding)
    under, over = make_result(n, 3), make_result(n + 1, 3)
    got, sent = deliver(under, encoding)
    assert sent == []
    assert_same(got, one_message(under, encoding))
    got, sent = deliver(over, encoding)
    assert len(sent) == 1 + sent[0]["layout"]["chunks"] and sent[0]["layout"]["chunks"] >= 2
    assert_same(got, one_message(over, encoding))


def test_the_binary_chunks_land_in_writable_preallocated_arrays():
    got, _ = deliver(make_result(20_000), "binary")
    assert got["data"]["x"].flags.writeable and got["data"]["x"].flags.owndata


def test_progress_counts_up_to_the_announced_total():
    calls = []
    _, sent = deliver(make_result(20_000), "binary", progress=lambda done, total: calls.append((done, total)))
    assert len(calls) == sent[0]["layout"]["chunks"]
    assert [total for _, total in calls] == [sent[0]["layout"]["bytes"]] * len(calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls) and calls[-1][0] == calls[-1][1]


def test_a_caller_without_progress_gets_one_message_up_to_the_message_limit_then_too_large():
    result = make_result(1_000)  # over CHUNK, under MAX_MESSAGE
    assert CHUNK < chunks.Plan(result, "binary").message_bytes < MAX_MESSAGE
    got, sent = deliver(result, "binary", progressive=False)
    assert sent == []
    assert_same(got, one_message(result, "binary"))
    with pytest.raises(TooLarge) as info:
        deliver(make_result(20_000), "binary", progressive=False)
    message = info.value.message
    assert "64 KiB" in message and "min_stride" in message and "shorter range" in message and "\n" not in message


def test_a_missing_chunk_or_a_chunk_before_the_layout_raises_node_error():
    _, sent = deliver(make_result(20_000), "binary")
    assembler = chunks.Assembler()
    for message in sent[:-1]:
        assembler.feed(wire(message))
    with pytest.raises(NodeError, match="chunks"):
        assembler.finish({"chunks": sent[0]["layout"]["chunks"], "bytes": 0})
    assembler = chunks.Assembler()
    assembler.feed(wire(sent[1]))
    with pytest.raises(NodeError, match="before the layout"):
        assembler.finish({"chunks": 1})


def test_limits_come_from_arguments_then_environment_then_defaults(monkeypatch):
    monkeypatch.delenv("SISOCK_CHUNK_BYTES", raising=False)
    monkeypatch.delenv("SISOCK_MAX_MESSAGE_BYTES", raising=False)
    assert chunks.limits() == (chunks.CHUNK_BYTES, chunks.MAX_MESSAGE_BYTES)
    monkeypatch.setenv("SISOCK_CHUNK_BYTES", "65536")
    assert chunks.limits() == (65536, chunks.MAX_MESSAGE_BYTES)
    assert chunks.limits(8192, 9000) == (8192, 9000)
    monkeypatch.setenv("SISOCK_MAX_MESSAGE_BYTES", "12")
    with pytest.raises(ValueError, match="SISOCK_MAX_MESSAGE_BYTES"):
        chunks.limits()


def pieces_of(message):
    """``{(kind, name): (offset, rows)}`` of one chunk message (after a MessagePack round trip)."""
    out = {}
    for kind in ("timeline", "data"):
        for name, piece in message[kind].items():
            values = piece["values"]
            out[kind, name] = (piece["offset"], values["shape"][0] if isinstance(values, dict) else len(values))
    return out


FIELDS_OF = {"fast": ["x", "i", "b", "s"], "slow": ["y"]}


@pytest.mark.parametrize("encoding", ["binary", "list"])
def test_each_chunk_carries_the_same_rows_of_a_timeline_and_of_all_its_fields(encoding):
    result = make_result(20_000)
    for tl, fields in FIELDS_OF.items():
        result["timeline"][tl]["field"] = fields
    _, sent = deliver(result, encoding)
    order = []
    for message in sent[1:]:
        pieces = pieces_of(wire(message))
        for tl, fields in FIELDS_OF.items():
            rows = {pieces.get(("data", f)) for f in fields} | {pieces.get(("timeline", tl))}
            assert len(rows) == 1, (tl, rows)  # t and every field: the same [i0, i1), or none of them
            if pieces.get(("timeline", tl)):
                order.append(tl)
    assert order == sorted(order, key=["fast", "slow"].index)  # one timeline after the other
    assert len(sent) > 5


def stream(result, encoding, timeline_of=None):
    """Feed a chunked answer of ``result`` to a `chunks.RowStream`; ``(batches, summary, held, sent)``:
    batches ``(timeline, t, data, messages fed so far)``, ``held`` the rows it held after each message."""
    sent = []
    final = chunks.answer(result, encoding, sent.append, 100.0, CHUNK, MAX_MESSAGE)
    batches, held, fed = [], [], [0]
    rows = chunks.RowStream(lambda tl, t, data: batches.append((tl, t, data, fed[0])), timeline_of=timeline_of)
    for message in sent:
        rows.feed(wire(message))
        fed[0] += 1
        held.append(rows.held_rows)
    return batches, rows.finish(wire(final)), held, sent


def joined(batches, tl, name=None):
    parts = [t if name is None else data[name] for line, t, data, _ in batches if line == tl]
    return np.concatenate(parts) if parts else np.empty(0)


@pytest.mark.parametrize("encoding", ["binary", "list"])
def test_a_row_stream_hands_whole_rows_as_chunks_arrive_and_holds_at_most_a_chunk(encoding):
    result = make_result(20_000)
    for tl, fields in FIELDS_OF.items():
        result["timeline"][tl]["field"] = fields
    batches, summary, held, sent = stream(result, encoding)
    expected = one_message(result, encoding)
    for tl, fields in FIELDS_OF.items():
        np.testing.assert_array_equal(joined(batches, tl), expected["timeline"][tl]["t"])
        for f in fields:
            got, want = joined(batches, tl, f), expected["data"][f]
            assert list(got) == list(want) if want.dtype == object else np.array_equal(got, want, equal_nan=True), f
        assert summary["timeline"][tl]["rows"] == len(expected["timeline"][tl]["t"])
        assert summary["timeline"][tl]["finalized_until"] == expected["timeline"][tl]["finalized_until"]
    assert len(batches) >= len(sent) - 2 and batches[0][3] == 1  # handed while the first chunk is fed
    largest = max(max(rows for _, rows in pieces_of(wire(m)).values()) for m in sent[1:])
    assert max(held) <= largest and max(len(t) for _, t, _, _ in batches) <= largest


def test_a_row_stream_of_a_one_message_answer_hands_each_timeline_whole():
    result = make_result(50)
    batches, summary, _, sent = stream(result, "binary", timeline_of={f: tl for tl, fs in FIELDS_OF.items()
                                                                       for f in fs})
    assert sent == [] and [b[0] for b in batches] == ["fast", "slow"]
    np.testing.assert_array_equal(joined(batches, "slow", "y"), result["data"]["y"])
    assert summary["timeline"]["fast"]["rows"] == 50


def test_a_row_stream_reports_a_missing_chunk_as_node_error():
    result = make_result(20_000)
    sent = []
    chunks.answer(result, "binary", sent.append, 100.0, CHUNK, MAX_MESSAGE)
    rows = chunks.RowStream(lambda *batch: None)
    for message in sent[:-1]:
        rows.feed(wire(message))
    with pytest.raises(NodeError, match="chunks"):
        rows.finish({"chunks": sent[0]["layout"]["chunks"], "bytes": 0})

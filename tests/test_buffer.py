"""TimelineBuffer: a bounded ring of one timeline's samples."""

import math
import random

import numpy as np
import pytest

from sisock.store.buffer import TimelineBuffer
from sisock.wire.errors import InvalidArgument

FIELDS = {"x": "number", "name": "string", "ok": "bool"}


def block(t):
    """Values derived from t, so expectations can be computed independently."""
    t = list(t)
    return {"x": [v * 2.0 for v in t],
            "name": [f"s{v:g}" for v in t],
            "ok": [int(v) % 2 == 0 for v in t]}


def test_append_then_query_returns_samples_in_order():
    buf = TimelineBuffer(FIELDS, 10)
    buf.append([1.0, 2.0, 3.0], block([1, 2, 3]))
    buf.append([4.0, 5.0], block([4, 5]))
    t, data = buf.query(0, 100, ["x", "name", "ok"])
    assert t.dtype == np.float64
    assert t.tolist() == [1, 2, 3, 4, 5]
    assert data["x"].tolist() == [2, 4, 6, 8, 10]
    assert data["name"].tolist() == ["s1", "s2", "s3", "s4", "s5"]
    assert data["ok"].dtype == np.bool_
    assert data["ok"].tolist() == [False, True, False, True, False]
    assert len(buf) == 5
    assert buf.span() == (1.0, 5.0)


def test_empty_buffer():
    buf = TimelineBuffer(FIELDS, 4)
    assert len(buf) == 0
    assert buf.span() == (None, None)
    t, data = buf.query(0, 100, ["x"])
    assert t.tolist() == [] and data["x"].tolist() == []


def test_wraparound_matches_a_plain_list_reference():
    rng = random.Random(1234)
    cap = 17
    buf = TimelineBuffer(FIELDS, cap)
    ref = []   # (t, x, name, ok)
    t_now = 0.0
    for _ in range(200):
        n = rng.randint(0, 25)
        ts = []
        for _ in range(n):
            t_now += rng.choice([0.5, 1.0, 2.5])
            ts.append(t_now)
        buf.append(ts, block(ts))
        ref.extend(zip(ts, *block(ts).values(), strict=True))
        ref = ref[-cap:]
        if rng.random() < 0.1 and ref:
            t0 = rng.uniform(ref[0][0] - 1, ref[-1][0] + 1)
            buf.drop_before(t0)
            ref = [r for r in ref if r[0] >= t0]
        assert len(buf) == len(ref) <= cap
        lo, hi = sorted(rng.uniform(t_now - 40, t_now + 2) for _ in range(2))
        if rng.random() < 0.3 and ref:   # hit sample times exactly
            lo, hi = rng.choice(ref)[0], rng.choice(ref)[0]
        t, data = buf.query(lo, hi, ["x", "name", "ok"])
        want = [r for r in ref if lo <= r[0] < hi]
        assert t.tolist() == [r[0] for r in want]
        assert data["x"].tolist() == [r[1] for r in want]
        assert data["name"].tolist() == [r[2] for r in want]
        assert data["ok"].tolist() == [r[3] for r in want]
        assert buf.span() == ((ref[0][0], ref[-1][0]) if ref else (None, None))


def test_capacity_bounds_the_samples_kept():
    buf = TimelineBuffer({"x": "number"}, 5)
    for i in range(1, 13):
        buf.append([float(i)], {"x": [i * 10.0]})
    assert len(buf) == 5
    t, data = buf.query(0, 100, ["x"])
    assert t.tolist() == [8, 9, 10, 11, 12]
    assert data["x"].tolist() == [80, 90, 100, 110, 120]


def test_block_bigger_than_capacity_keeps_its_newest_samples():
    buf = TimelineBuffer({"x": "number"}, 4)
    buf.append([1.0, 2.0], {"x": [1, 2]})
    ts = np.arange(10.0, 20.0)
    buf.append(ts, {"x": ts * 3})
    t, data = buf.query(0, 100, ["x"])
    assert t.tolist() == [16, 17, 18, 19]
    assert data["x"].tolist() == [48, 51, 54, 57]
    buf.append([20.0], {"x": [60]})
    assert buf.query(0, 100, ["x"])[0].tolist() == [17, 18, 19, 20]


def test_out_of_order_block_is_rejected_and_nothing_stored():
    buf = TimelineBuffer({"x": "number"}, 8)
    buf.append([1.0, 2.0], {"x": [1, 2]})
    for bad in ([2.0], [1.5, 3.0], [3.0, 3.0], [5.0, 4.0], [float("nan")]):
        with pytest.raises(InvalidArgument, match=r"\bt\b"):
            buf.append(bad, {"x": [0] * len(bad)})
    assert buf.query(0, 100, ["x"])[0].tolist() == [1, 2]
    buf.append([2.5], {"x": [3]})
    assert len(buf) == 3


def test_unknown_field_is_rejected_naming_it():
    buf = TimelineBuffer({"x": "number"}, 8)
    with pytest.raises(InvalidArgument, match="bogus"):
        buf.append([1.0], {"x": [1], "bogus": [2]})
    assert len(buf) == 0


def test_length_mismatch_is_rejected():
    buf = TimelineBuffer({"x": "number", "y": "number"}, 8)
    with pytest.raises(InvalidArgument, match="'y'"):
        buf.append([1.0, 2.0], {"x": [1, 2], "y": [1]})
    assert len(buf) == 0


def test_bad_construction_is_rejected():
    with pytest.raises(InvalidArgument, match="capacity"):
        TimelineBuffer({"x": "number"}, 0)
    with pytest.raises(InvalidArgument, match="x"):
        TimelineBuffer({"x": "complex"}, 4)


def test_missing_fields_are_filled():
    buf = TimelineBuffer(FIELDS, 3)
    buf.append([1.0, 2.0], {"x": [1, 2]})
    buf.append([3.0, 4.0], {"name": ["a", "b"], "ok": [True, True]})   # wraps
    t, data = buf.query(0, 10, ["x", "name", "ok"])
    assert t.tolist() == [2, 3, 4]
    assert data["x"][0] == 2 and math.isnan(data["x"][1]) and math.isnan(data["x"][2])
    assert data["name"].tolist() == [None, "a", "b"]
    assert data["ok"].tolist() == [False, True, True]


def test_string_and_bool_fields_keep_their_types():
    buf = TimelineBuffer({"s": "string", "b": "bool"}, 4)
    buf.append([1.0, 2.0, 3.0], {"s": ["α", "", None], "b": [1, 0, True]})
    t, data = buf.query(0, 10, ["s", "b"])
    assert data["s"].dtype == object and data["s"].tolist() == ["α", "", None]
    assert data["b"].dtype == np.bool_ and data["b"].tolist() == [True, False, True]


def test_query_leaves_out_unknown_fields():
    buf = TimelineBuffer(FIELDS, 4)
    buf.append([1.0], block([1]))
    t, data = buf.query(0, 10, ["x", "nope"])
    assert set(data) == {"x"}


def test_query_start_is_inclusive_and_end_exclusive():
    buf = TimelineBuffer({"x": "number"}, 6)
    buf.append([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], {"x": [1, 2, 3, 4, 5, 6]})
    buf.append([7.0, 8.0], {"x": [7, 8]})          # ring now wraps: 3..8
    assert buf.query(4.0, 7.0, ["x"])[0].tolist() == [4, 5, 6]
    assert buf.query(6.0, 8.0, ["x"])[0].tolist() == [6, 7]
    assert buf.query(7.0, 7.0, ["x"])[0].tolist() == []
    assert buf.query(8.0, 9.0, ["x"])[0].tolist() == [8]
    assert buf.query(3.0, 3.5, ["x"])[0].tolist() == [3]
    assert buf.query(9.0, 5.0, ["x"])[0].tolist() == []


def test_query_result_is_a_copy():
    buf = TimelineBuffer({"x": "number"}, 3)
    buf.append([1.0, 2.0], {"x": [1, 2]})
    t, data = buf.query(0, 10, ["x"])
    buf.append([3.0, 4.0, 5.0], {"x": [3, 4, 5]})
    assert t.tolist() == [1, 2] and data["x"].tolist() == [1, 2]


def test_drop_before_forgets_older_samples():
    buf = TimelineBuffer({"x": "number", "s": "string"}, 5)
    buf.append([1.0, 2.0, 3.0, 4.0, 5.0], {"x": [1, 2, 3, 4, 5]})
    buf.append([6.0, 7.0], {"x": [6, 7]})          # wrapped: 3..7
    buf.drop_before(5.0)
    assert len(buf) == 3
    assert buf.span() == (5.0, 7.0)
    assert buf.query(0, 100, ["x"])[1]["x"].tolist() == [5, 6, 7]
    buf.drop_before(0.0)
    assert len(buf) == 3
    buf.drop_before(100.0)
    assert len(buf) == 0 and buf.span() == (None, None)
    with pytest.raises(InvalidArgument, match=r"\bt\b"):
        buf.append([7.0], {"x": [0]})
    buf.append([8.0, 9.0], {"x": [8, 9]})
    assert buf.query(0, 100, ["x"])[0].tolist() == [8, 9]

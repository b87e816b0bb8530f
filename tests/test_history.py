"""Downsampled reads from the store's rollup tiers equal downsampling the raw samples.

A store records three weeks of a node (a number field with gaps and NaN, a
field of many ties, a bool and a string field); `sisock.node.history`
answers ``get_data`` with ``min_stride`` from its tiers and raw edges. The
truth is `sisock.node.downsample.downsample` of the raw samples, at many
ranges, strides and every ``downsample`` mode; where raw samples have
expired, the finest kept tier is the truth, so there the comparison is at
ranges and strides aligned to it.
"""

import time

import numpy as np
import pytest

from sisock.node import history
from sisock.node.downsample import HOW, downsample, needs_downsampling
from sisock.store import Store

FIELDS = {"x": {"type": "number"}, "y": {"type": "number"}, "b": {"type": "bool"}, "s": {"type": "string"}}
DAYS = 21


def recording(days=DAYS, seed=7):
    """``(t, {field: values})``: ``days`` of samples about 5 s apart, ending an hour ago, with gaps and NaN."""
    rng = np.random.default_rng(seed)
    t = time.time() - days * 86400 + np.cumsum(rng.choice([5.0, 5.0, 4.5, 7.25, 0.5], size=days * 86400 // 5))
    t = t[(t % 50000) > 4000]  # a 4000 s gap every 50000 s
    t = t[t < time.time() - 3600]
    n = len(t)
    x = np.round(rng.normal(20.0, 5.0, n), 1)
    x[rng.random(n) < 0.01] = np.nan
    x[(t % 9000) < 400] = np.nan  # stretches of NaN only
    s = np.array([f"s{k}" for k in rng.integers(0, 5, n)], dtype=object)
    s[rng.random(n) < 0.1] = None
    return t, {"x": x, "y": np.round(rng.random(n) * 10), "b": rng.random(n) < 0.5, "s": s}


def record(store, t, data, block=120):
    """Append ``t, data`` in blocks of ``block`` samples, as a live node does, and wait until committed."""
    store.declare("tl", FIELDS, interval=5.0)
    for i in range(0, len(t), block):
        store.append("tl", t[i:i + block], {f: v[i:i + block] for f, v in data.items()})
    store.close()


class Observed(Store):
    """A store that counts the raw samples the planner reads."""

    raw_samples = 0

    def read_raw(self, timeline, fields, windows):
        t, data = super().read_raw(timeline, fields, windows)
        self.raw_samples += len(t)
        return t, data


@pytest.fixture(scope="module")
def truth():
    return recording()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, truth):
    """A store file holding `truth`, reopened as a node would at start."""
    path = str(tmp_path_factory.mktemp("history") / "node.sqlite")
    writer = Store()
    writer.open(path)
    record(writer, *truth)
    store = Observed()
    store.open(path)
    store.declare("tl", FIELDS, interval=5.0)
    yield store
    store.close()


def expected(truth, start, end, stride, how, fields=tuple(FIELDS)):
    t, data = truth
    keep = (t >= start) & (t < end)
    values = {f: data[f][keep] for f in fields}
    if needs_downsampling(t[keep], stride):
        return downsample(t[keep], values, start, stride, how)
    return t[keep], values


def assert_same(got, want, fields=tuple(FIELDS)):
    t, values = want
    timelines = got["timeline"]
    got_t = timelines["tl"]["t"] if "tl" in timelines else np.empty(0)
    assert len(got_t) == len(t)
    np.testing.assert_allclose(got_t, t, rtol=0, atol=1e-6)
    for f in fields:
        if FIELDS[f]["type"] == "number":
            np.testing.assert_allclose(got["data"][f], values[f], rtol=1e-9, atol=1e-9, err_msg=f)
        else:
            assert list(got["data"][f]) == list(values[f]), f


def test_a_downsampled_read_from_the_tiers_equals_downsampling_the_raw_samples(recorded, truth):
    rng = np.random.default_rng(1)
    t = truth[0]
    for _ in range(60):
        start = t[0] - 600 + rng.random() * (t[-1] - t[0])
        end = start + rng.choice([3600, 86400, 7 * 86400, DAYS * 86400]) * rng.random() + 1
        stride = float(rng.choice([60, 61.5, 300, 1234.5, 3600, 7200.25, 86400]))
        how = str(rng.choice(HOW))
        got = history.get_data(recorded, list(FIELDS) + ["unknown"], start, end, stride, how)
        assert_same(got, expected(truth, start, end, stride, how))
        assert len(got["data"]["unknown"]) == 0


def test_a_read_over_all_three_weeks_at_1000_points_reads_few_raw_samples(recorded, truth):
    t = truth[0]
    start, end = t[0] - 1, t[-1] + 1
    stride = (end - start) / 1000
    before = recorded.raw_samples
    got = history.get_data(recorded, ["x", "b"], start, end, stride, "mean")
    assert_same(got, expected(truth, start, end, stride, "mean", ("x", "b")), ("x", "b"))
    # only the edges of the 1,000 buckets, each under the finest tier's 60 s wide, are read raw
    assert 0 < recorded.raw_samples - before < 1.5 * len(t) * 1000 * 60 / (end - start)


def test_a_stride_finer_than_every_tier_reads_raw_samples(recorded, truth):
    t = truth[0]
    start = t[len(t) // 2]
    got = history.get_data(recorded, list(FIELDS), start, start + 3600, 20.0, "minmax")
    assert_same(got, expected(truth, start, start + 3600, 20.0, "minmax"))


def test_where_raw_samples_expired_the_finest_tier_answers(tmp_path, truth):
    path = str(tmp_path / "node.sqlite")
    writer = Store()
    writer.open(path, retention=7 * 86400)
    record(writer, *truth)
    store = Store()
    store.open(path, retention=7 * 86400)
    store.declare("tl", FIELDS, interval=5.0)
    try:
        t = truth[0]
        raw_from = store.coverage("tl")["raw"][0]
        assert raw_from > t[0] + 13 * 86400  # raw samples older than a week are gone
        assert len(store.get_data(["x"], t[0], raw_from)["data"]["x"]) == 0
        rng = np.random.default_rng(2)
        for _ in range(40):
            how = str(rng.choice(HOW))
            start = np.floor((t[0] + rng.random() * 12 * 86400) / 60) * 60
            stride = 60.0 * int(rng.choice([1, 5, 60, 1440])) / (2 if how == "minmax" else 1)
            end = np.ceil((start + rng.random() * 14 * 86400 + 60) / 60) * 60
            got = history.get_data(store, list(FIELDS), start, end, stride, how)
            assert_same(got, expected(truth, start, end, stride, how))
    finally:
        store.close()

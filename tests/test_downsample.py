"""Bucketed downsampling: sisock.node.downsample."""

import math

import numpy as np
import pytest

from sisock.node.downsample import downsample, needs_downsampling
from sisock.wire.errors import InvalidArgument


def reference(t, v, start, stride, how):
    """Straightforward Python-loop reference: {k: reduced value}."""
    buckets = {}
    for ti, vi in zip(t, v, strict=True):
        k = max(0, int(math.floor((ti - start) / stride)))
        # exact edge handling without float division
        while start + (k + 1) * stride <= ti:
            k += 1
        while k > 0 and start + k * stride > ti:
            k -= 1
        buckets.setdefault(k, []).append(vi)
    out = {}
    for k, vals in buckets.items():
        if how == "first":
            out[k] = vals[0]
            continue
        if how == "mean":
            good = [float(x) for x in vals if math.isfinite(x)]
            out[k] = sum(good) / len(good) if good else math.nan
        else:
            good = [float(x) for x in vals if not math.isnan(x)]
            f = min if how == "min" else max
            out[k] = f(good) if good else math.nan
    return out


def random_series(rng, n=200, start=1.5e9):
    t = start + np.cumsum(rng.uniform(0.01, 2.0, n))
    return t


@pytest.mark.parametrize("how", ["mean", "min", "max"])
@pytest.mark.parametrize("seed", range(5))
def test_numeric_fields_match_a_python_reference(how, seed):
    rng = np.random.default_rng(seed)
    start = 1.5e9
    stride = float(rng.choice([0.5, 3.0, 7.25, 40.0]))
    t = random_series(rng, start=start)
    f = rng.normal(size=t.size)
    f[rng.random(t.size) < 0.3] = np.nan
    i = rng.integers(-100, 100, size=t.size)
    t_out, out = downsample(t, {"f": f, "i": i}, start, stride, how)

    for name, v in (("f", f), ("i", i)):
        ref = reference(t, v, start, stride, how)
        expected_t = np.array([start + k * stride for k in sorted(ref)])
        expected_v = np.array([ref[k] for k in sorted(ref)])
        np.testing.assert_array_equal(t_out, expected_t)
        assert out[name].dtype == np.float64
        np.testing.assert_allclose(out[name], expected_v, rtol=1e-12, equal_nan=True)


def test_returned_times_lie_in_range_and_respect_stride():
    rng = np.random.default_rng(42)
    start, end, stride = 1.6e9, 1.6e9 + 3600.0, 10.0
    t = np.sort(rng.uniform(start, end, 5000))
    t = np.unique(t)
    t_out, out = downsample(t, {"x": rng.normal(size=t.size)}, start, stride)
    assert np.all(t_out >= start) and np.all(t_out < end)
    assert np.all(np.diff(t_out) >= stride)
    assert len(out["x"]) == len(t_out)
    assert len(t_out) <= math.ceil((end - start) / stride)
    assert not needs_downsampling(t_out, stride)


def test_a_sample_exactly_on_an_edge_goes_to_the_later_bucket():
    start, stride = 100.0, 0.1
    # 100 + 3*0.1 computed as the edge itself; (t - start)/stride is 2.999...
    t = np.array([start + 2 * stride + 0.01, start + 3 * stride])
    v = np.array([1.0, 2.0])
    t_out, out = downsample(t, {"v": v}, start, stride)
    assert list(t_out) == [start + 2 * stride, start + 3 * stride]
    assert list(out["v"]) == [1.0, 2.0]

    t = np.array([0.0, 9.999, 10.0, 19.0, 20.0])
    t_out, out = downsample(t, {"v": np.arange(5.0)}, 0.0, 10.0)
    assert list(t_out) == [0.0, 10.0, 20.0]
    assert list(out["v"]) == [(0 + 1) / 2, (2 + 3) / 2, 4.0]


def test_nan_handling():
    t = np.array([0.0, 1.0, 10.0, 11.0, 12.0])
    v = np.array([np.nan, np.nan, 1.0, np.nan, 3.0])
    for how, second in (("mean", 2.0), ("min", 1.0), ("max", 3.0)):
        t_out, out = downsample(t, {"v": v}, 0.0, 10.0, how)
        assert list(t_out) == [0.0, 10.0]
        assert math.isnan(out["v"][0])  # all-NaN bucket
        assert out["v"][1] == second  # partial NaN ignored


def test_mean_ignores_infinities():
    t = np.array([0.0, 1.0, 2.0])
    t_out, out = downsample(t, {"v": np.array([np.inf, 2.0, 4.0])}, 0.0, 10.0)
    assert out["v"][0] == 3.0


def test_non_numeric_fields_keep_the_first_value_of_each_bucket():
    t = np.array([0.0, 1.0, 5.0, 6.0, 11.0])
    s = np.array(["a", "b", "c", "d", "e"])
    b = np.array([True, False, False, True, True])
    o = np.array(["x", 1, None, 2.5, "y"], dtype=object)
    for how in ("mean", "min", "max"):
        t_out, out = downsample(t, {"s": s, "b": b, "o": o}, 0.0, 5.0, how)
        ref_s = reference(t, s, 0.0, 5.0, "first")
        assert list(t_out) == [5.0 * k for k in sorted(ref_s)]
        assert list(out["s"]) == [ref_s[k] for k in sorted(ref_s)]
        assert out["b"].dtype == bool
        assert list(out["b"]) == [True, False, True]
        assert out["o"].dtype == object
        assert list(out["o"]) == ["x", None, "y"]


def test_samples_before_start_are_counted_in_the_first_bucket():
    t = np.array([-5.0, 1.0, 12.0])
    t_out, out = downsample(t, {"v": np.array([1.0, 3.0, 5.0])}, 0.0, 10.0)
    assert list(t_out) == [0.0, 10.0]
    assert list(out["v"]) == [2.0, 5.0]


def test_empty_input_gives_empty_arrays_of_the_right_dtypes():
    e = np.empty(0)
    t_out, out = downsample(
        e,
        {"f": e, "i": np.empty(0, int), "b": np.empty(0, bool), "s": np.empty(0, "U3")},
        0.0,
        1.0,
    )
    assert t_out.dtype == np.float64 and t_out.size == 0
    assert out["f"].dtype == np.float64 and out["f"].size == 0
    assert out["i"].dtype == np.float64
    assert out["b"].dtype == bool
    assert out["s"].dtype.kind == "U"


def test_one_sample_per_bucket_is_unchanged():
    t = np.arange(10.0) * 2.0
    v = np.arange(10.0) ** 2
    t_out, out = downsample(t, {"v": v}, 0.0, 2.0)
    np.testing.assert_array_equal(t_out, t)
    np.testing.assert_array_equal(out["v"], v)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "1", None, True])
def test_bad_min_stride_raises_invalid_argument(bad):
    with pytest.raises(InvalidArgument) as info:
        downsample(np.arange(3.0), {}, 0.0, bad)
    assert "min_stride" in info.value.message
    assert "\n" not in info.value.message


@pytest.mark.parametrize("bad", ["median", "", None, 1, "envelope"])
def test_bad_how_raises_invalid_argument(bad):
    with pytest.raises(InvalidArgument) as info:
        downsample(np.arange(3.0), {}, 0.0, 1.0, how=bad)
    msg = info.value.message
    assert "how" in msg and "mean" in msg and "min" in msg and "max" in msg


def test_field_length_mismatch_raises_invalid_argument():
    with pytest.raises(InvalidArgument):
        downsample(np.arange(3.0), {"v": np.arange(2.0)}, 0.0, 1.0)


def test_needs_downsampling():
    t = np.array([0.0, 1.0, 2.5, 4.0])
    assert needs_downsampling(t, 1.5)
    assert not needs_downsampling(t, 1.0)
    assert not needs_downsampling(t, None)
    assert not needs_downsampling(np.array([1.0]), 100.0)
    assert not needs_downsampling(np.empty(0), 100.0)
    with pytest.raises(InvalidArgument):
        needs_downsampling(t, -1)


# -- the min/max envelope -----------------------------------------------------

def envelope_reference(t, v, start, stride):
    """{k: [first extreme, second extreme]} of buckets 2*stride wide, by a Python loop."""
    buckets = {}
    for ti, vi in zip(t, v, strict=True):
        buckets.setdefault(int(math.floor((ti - start) / (2 * stride))), []).append(vi)
    out = {}
    for k, vals in buckets.items():
        good = [x for x in vals if not math.isnan(x)]
        if not good:
            out[k] = [math.nan, math.nan]
            continue
        lo, hi = vals.index(min(good)), vals.index(max(good))
        out[k] = [vals[lo], vals[hi]] if lo <= hi else [vals[hi], vals[lo]]
    return out


@pytest.mark.parametrize("seed", range(5))
def test_minmax_gives_each_double_bucket_min_and_max_in_the_order_they_occurred(seed):
    rng = np.random.default_rng(seed)
    start, stride = 1.5e9, float(rng.choice([0.5, 3.0, 40.0]))
    t = start + np.cumsum(rng.uniform(0.01, 2.0, 300)) + 0.001  # never on a float edge
    v = rng.normal(size=t.size)
    v[rng.random(t.size) < 0.2] = np.nan
    t_out, out = downsample(t, {"v": v, "i": np.arange(t.size)}, start, stride, "minmax")
    ref = envelope_reference(t, v, start, stride)
    keys = sorted(ref)
    np.testing.assert_array_equal(t_out, [start + 2 * k * stride + d for k in keys for d in (0.0, stride)])
    np.testing.assert_array_equal(out["v"], [x for k in keys for x in ref[k]])
    assert out["i"].dtype == np.float64 and len(out["i"]) == len(t_out)


def test_minmax_keeps_the_stride_promise_lengths_and_spikes():
    t = np.arange(0.0, 100.0, 0.1)
    v = np.zeros(t.size)
    v[503] = 50.0   # a one-sample spike the mean would flatten
    v[777] = -9.0
    s = np.array([f"s{i}" for i in range(t.size)])
    t_out, out = downsample(t, {"v": v, "s": s}, 0.0, 5.0, "minmax")
    assert np.all(np.diff(t_out) >= 5.0 - 1e-9) and len(t_out) == len(out["v"]) == len(out["s"]) == 20
    assert out["v"].max() == 50.0 and out["v"].min() == -9.0
    assert list(out["s"][:4]) == ["s0", "s0", "s100", "s100"]  # non-numeric: the first value, twice


def test_minmax_all_nan_bucket_gives_two_nan_and_partial_nan_is_ignored():
    t = np.array([0.0, 1.0, 10.0, 11.0, 12.0])
    v = np.array([np.nan, np.nan, 1.0, np.nan, 3.0])
    t_out, out = downsample(t, {"v": v}, 0.0, 5.0, "minmax")
    assert list(t_out) == [0.0, 5.0, 10.0, 15.0]
    assert np.isnan(out["v"][:2]).all() and list(out["v"][2:]) == [1.0, 3.0]


def test_sparse_series_are_bucketed_like_dense_ones():
    # More buckets than samples takes the per-sample path; the result is the same.
    t = np.array([0.0, 0.5, 1e6, 1e6 + 0.25, 2e6])
    v = np.array([1.0, 3.0, 5.0, 7.0, 9.0])
    t_out, out = downsample(t, {"v": v}, 0.0, 1.0)
    assert list(t_out) == [0.0, 1e6, 2e6] and list(out["v"]) == [2.0, 6.0, 9.0]

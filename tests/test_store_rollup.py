"""The store's summary tiers: what they hold per bucket, how they are read, and that they survive a restart."""

import math
import sqlite3
import time

import numpy as np
import pytest

from sisock.node import downsample
from sisock.store import rollup
from sisock.store.logreads import WINDOWS_SQL
from sisock.store.store import Store
from sisock.wire.errors import InvalidArgument
from tests.conftest import wait_until

DAY = 86400.0
T0 = math.floor(time.time() / DAY) * DAY - 3 * DAY   # midnight three days ago: within every retention
FIELDS = {"x": {}, "y": {}, "ok": {"type": "bool"}, "word": {"type": "string"}}
KINDS = {f: spec.get("type", "number") for f, spec in FIELDS.items()}


def samples(n, seed=1, start=T0 + 7.5, step=37.3):
    """``n`` irregular samples from ``start``: x with NaN and repeated extremes, y sometimes all NaN."""
    rng = np.random.default_rng(seed)
    t = start + np.cumsum(rng.uniform(0.2, 2 * step, n))
    x = np.round(rng.normal(size=n), 1)
    x[rng.random(n) < 0.1] = np.nan
    y = np.where(rng.random(n) < 0.5, np.nan, rng.normal(size=n))
    ok = rng.random(n) < 0.5
    word = np.array([None if i % 7 == 0 else f"w{i}" for i in range(n)], dtype=object)
    return t, {"x": x, "y": y, "ok": ok, "word": word}


def brute(t, data, width):
    """Per-bucket statistics computed one bucket at a time, in plain Python."""
    out = {}
    for j in sorted(set(math.floor(v / width) for v in t)):
        inb = (t >= j * width) & (t < (j + 1) * width)
        row = {"n": int(inb.sum())}
        tt = t[inb]
        for f in ("x", "y"):
            v = data[f][inb]
            fin = np.isfinite(v)
            row[f, "count"] = int(fin.sum())
            row[f, "sum"] = float(v[fin].sum()) if fin.any() else math.nan
            notnan = ~np.isnan(v)
            row[f, "min"] = float(v[notnan].min()) if notnan.any() else math.nan
            row[f, "max"] = float(v[notnan].max()) if notnan.any() else math.nan
            row[f, "tmin"] = float(tt[v == row[f, "min"]][0]) if notnan.any() else math.nan
            row[f, "tmax"] = float(tt[v == row[f, "max"]][0]) if notnan.any() else math.nan
            row[f, "first"] = float(v[fin][0]) if fin.any() else math.nan
            row[f, "last"] = float(v[fin][-1]) if fin.any() else math.nan
        for f in ("ok", "word"):
            row[f, "first"], row[f, "last"] = data[f][inb][0], data[f][inb][-1]
        out[j * width] = row
    return out


def assert_matches(summary, expected):
    t0, n, stats = summary
    assert t0.tolist() == sorted(expected)
    assert n.dtype == np.int64 and stats["x"]["count"].dtype == np.int64
    for i, start in enumerate(t0):
        row = expected[start]
        assert n[i] == row["n"]
        for key, want in row.items():
            if key == "n":
                continue
            got = stats[key[0]][key[1]][i]
            if isinstance(want, float):
                assert got == pytest.approx(want, rel=1e-12, nan_ok=True), (start, key)
            else:
                assert got == want, (start, key)


@pytest.mark.parametrize("width", [60.0, 3600.0])
@pytest.mark.parametrize("with_nan", [True, False])
@pytest.mark.parametrize("step", [37.3, 900.0])   # more samples than buckets, and fewer (two ways to bucket)
def test_a_summary_holds_per_bucket_what_each_bucket_of_samples_gives(width, with_nan, step):
    t, data = samples(3000, step=step)
    if not with_nan:
        data["x"] = np.nan_to_num(data["x"])
    assert_matches(rollup.summarize(t, data, KINDS, width), brute(t, data, width))


def test_coarser_summaries_merged_from_finer_ones_equal_those_of_the_samples():
    t, data = samples(6000)
    fine = rollup.summarize(t, data, KINDS, 60.0)
    assert_matches(rollup.coarsen(fine, KINDS, 3600.0), brute(t, data, 3600.0))
    assert_matches(rollup.coarsen(rollup.coarsen(fine, KINDS, 3600.0), KINDS, DAY), brute(t, data, DAY))


def test_summaries_give_what_downsample_gives_on_buckets_at_the_same_edges():
    t, data = samples(3000)
    t0, n, stats = rollup.summarize(t, data, KINDS, 600.0)
    start = math.floor(t[0] / 600.0) * 600.0
    for how in ("mean", "min", "max"):
        t_out, out = downsample.downsample(t, {"x": data["x"], "ok": data["ok"]}, start, 600.0, how)
        assert t_out.tolist() == t0.tolist()
        x = stats["x"]
        want = {"mean": x["sum"] / np.where(x["count"] > 0, x["count"], 1), "min": x["min"], "max": x["max"]}[how]
        want = np.where((x["count"] > 0) | (how != "mean"), want, np.nan)
        np.testing.assert_allclose(out["x"], want, rtol=1e-12)
        assert out["ok"].tolist() == stats["ok"]["first"].tolist()
    t_env, env = downsample.downsample(t, {"x": data["x"]}, start, 300.0, "minmax")
    hi_first = stats["x"]["tmax"] < stats["x"]["tmin"]
    np.testing.assert_array_equal(env["x"][0::2], np.where(hi_first, stats["x"]["max"], stats["x"]["min"]))


def record(store, t, data, sizes, drop=()):
    """Append ``t, data`` in blocks of the given sizes (cycled); fields in ``drop`` left out of every 3rd block."""
    i, k = 0, 0
    while i < len(t):
        j = i + sizes[k % len(sizes)]
        block = {f: v[i:j] for f, v in data.items() if not (f in drop and k % 3 == 0)}
        store.append("tl", t[i:j], block)
        i, k = j, k + 1


def open_store(path, capacity=500, **options):
    store = Store()
    store.declare("tl", FIELDS, capacity=capacity)
    store.open(str(path), **options)
    return store


def as_recorded(t, data, drop, sizes):
    """What a read gives for fields left out of blocks: NaN, False, None."""
    data = {f: v.copy() for f, v in data.items()}
    i, k = 0, 0
    while i < len(t):
        j = i + sizes[k % len(sizes)]
        if k % 3 == 0:
            for f in drop:
                data[f][i:j] = {"x": np.nan, "y": np.nan, "ok": False, "word": None}[f]
        i, k = j, k + 1
    return t, data


def finished(expected, width, last):
    return {s: row for s, row in expected.items() if s + width <= last}


def test_the_tiers_hold_every_finished_bucket_of_what_was_recorded_across_a_restart(tmp_path):
    t, data = samples(6000)          # about 2.6 days
    sizes, drop = [1, 7, 50, 3, 200], ("y", "word")
    cut = 3500
    store = open_store(tmp_path / "node.sqlite")
    record(store, t[:cut], {f: v[:cut] for f, v in data.items()}, sizes, drop)
    store.close()                    # the open buckets of every tier are only in memory now
    store = open_store(tmp_path / "node.sqlite")
    try:
        record(store, t[cut:], {f: v[cut:] for f, v in data.items()}, sizes[::-1], drop)
        got_t, got = as_recorded(t[:cut], {f: v[:cut] for f, v in data.items()}, drop, sizes)
        rest_t, rest = as_recorded(t[cut:], {f: v[cut:] for f, v in data.items()}, drop, sizes[::-1])
        all_t = np.concatenate([got_t, rest_t])
        all_data = {f: np.concatenate([got[f], rest[f]]) for f in got}
        assert store.rollup_widths == (60.0, 3600.0, DAY)
        for width in store.rollup_widths:
            summary = store.read_rollup("tl", width, list(FIELDS), [[0, 2 * T0]])
            expected = finished(brute(all_t, all_data, width), width, t[-1])
            assert len(expected) > 0
            assert_matches(summary, expected)
            lo, hi = store.coverage("tl")[width]
            assert lo == min(expected) and hi == math.floor(t[-1] / width) * width
    finally:
        store.close()


def test_read_rollup_gives_the_buckets_that_start_in_any_window(tmp_path):
    t, data = samples(3000, step=5.0)
    store = open_store(tmp_path / "node.sqlite")
    try:
        record(store, t, data, [20])
        windows = np.array([[T0 + 60, T0 + 300], [T0 + 3599, T0 + 3601], [T0 + 7000, T0 + 7260.5]])
        t0, n, stats = store.read_rollup("tl", 60.0, ["x"], windows)
        assert t0.tolist() == [T0 + 60 * k for k in (1, 2, 3, 4, 60, 117, 118, 119, 120, 121)]
        assert set(stats) == {"x"} and len(n) == len(t0) == len(stats["x"]["tmax"])
        every = store.read_rollup("tl", 60.0, ["x"], [[0, 2 * T0]])
        assert len(every[0]) == math.floor(t[-1] / 60) - math.floor(t[0] / 60)  # all but the open one
        assert len(store.read_rollup("tl", 60.0, ["x"], np.empty((0, 2)))[0]) == 0
    finally:
        store.close()


def test_read_raw_gives_the_samples_in_any_window_from_memory_and_file(tmp_path):
    t, data = samples(3000, step=5.0)
    store = open_store(tmp_path / "node.sqlite", capacity=400)   # most samples only in the file
    try:
        record(store, t, data, [1, 30, 9])
        windows = np.array([[t[3], t[10]], [t[100] + 0.01, t[102]], [t[2700], t[2800]], [t[2990], t[-1] + 1]])
        got_t, got = store.read_raw("tl", ["x", "word", "ok"], windows)
        want = np.r_[3:10, 101:102, 2700:2800, 2990:3000]
        np.testing.assert_array_equal(got_t, t[want])
        np.testing.assert_array_equal(got["x"], data["x"][want])
        assert got["word"].tolist() == data["word"][want].tolist() and got["ok"].dtype == bool
        lo, hi = store.coverage("tl")["raw"]
        assert (lo, hi) == (t[0], t[-1])
    finally:
        store.close()


def test_bad_reads_raise_invalid_argument_naming_what_is_wrong(tmp_path):
    store = open_store(tmp_path / "node.sqlite")
    try:
        with pytest.raises(InvalidArgument, match="width"):
            store.read_rollup("tl", 120.0, ["x"], [[0, 1]])
        with pytest.raises(InvalidArgument, match="'nope'"):
            store.read_raw("tl", ["nope"], [[0, 1]])
        with pytest.raises(InvalidArgument, match="timeline"):
            store.coverage("other")
        with pytest.raises(InvalidArgument, match="windows"):
            store.read_raw("tl", ["x"], [0, 1, 2])
        assert store.coverage("tl") == {k: (pytest.approx(math.nan, nan_ok=True),) * 2
                                        for k in ("raw", 60.0, 3600.0, DAY)}
    finally:
        store.close()


def test_the_tiers_outlive_the_raw_samples_that_retention_drops(tmp_path):
    t, data = samples(3000, step=5.0, start=T0 - 2 * DAY)     # two and three days old
    store = open_store(tmp_path / "node.sqlite", retention=3 * DAY)
    record(store, t, data, [50])
    store.close()
    store = open_store(tmp_path / "node.sqlite", retention=DAY)  # the raw samples are now too old
    try:
        wait_until(lambda: math.isnan(store.coverage("tl")["raw"][0]), 60, "retention dropped the raw samples")
        coverage = store.coverage("tl")
        assert math.isnan(coverage["raw"][1])
        assert coverage[60.0] == (math.floor(t[0] / 60) * 60, math.floor(t[-1] / 60) * 60)
        summary = store.read_rollup("tl", 60.0, list(FIELDS), [[0, 2 * T0]])
        assert_matches(summary, finished(brute(t, data, 60.0), 60.0, t[-1]))
        assert len(store.read_raw("tl", ["x"], [[0, 2 * T0]])[0]) == 0
    finally:
        store.close()


def test_reads_by_windows_seek_the_time_index_once_a_window(tmp_path):
    open_store(tmp_path / "node.sqlite").close()
    with sqlite3.connect(tmp_path / "node.sqlite") as db:
        plan = [row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + WINDOWS_SQL, {"tl": "tl", "w": "[[1, 2]]"})]
    assert "SEARCH b USING INDEX block_time (timeline=? AND t0>? AND t0<?)" in plan, plan
    assert [p for p in plan if p.startswith("SCAN")] == ["SCAN w VIRTUAL TABLE INDEX 1:"], plan


def test_finished_segments_become_one_pcodec_row_per_field_that_gives_back_every_statistic(tmp_path):
    t, data = samples(10000, step=20.0)                             # 2.3 days: two whole 60 s segments (days)
    store = open_store(tmp_path / "node.sqlite")
    path = tmp_path / "node.sqlite"

    def joined():
        with sqlite3.connect(path) as db:
            return db.execute("SELECT count(*), min(codec) FROM rollup WHERE width = 60 AND t0 < ?",
                              (T0 + 2 * DAY,)).fetchone() == (2 * (1 + len(FIELDS)), 1)
    try:
        record(store, t, data, [1, 40])
        wait_until(joined, 60, "the finished days of the 60 s tier joined into one pcodec row per field")
        want = rollup.summarize(t, data, KINDS, 60.0)
        want = rollup.take(want, want[0] + 60.0 <= t[-1])
        got = store.read_rollup("tl", 60.0, list(FIELDS), [[0, 2 * T0]])
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        for stat in rollup.STATS["number"]:
            np.testing.assert_allclose(got[2]["x"][stat], want[2]["x"][stat], rtol=1e-12 if stat == "sum" else 0)
        for stat in ("tmin", "tmax"):                                # exact times, not rounded
            np.testing.assert_array_equal(got[2]["y"][stat], want[2]["y"][stat])
        assert got[2]["word"]["last"].tolist() == want[2]["word"]["last"].tolist()
        assert got[2]["ok"]["first"].tolist() == want[2]["ok"]["first"].tolist()
        mean = store.read_rollup("tl", 60.0, ["x"], [[0, 2 * T0]], stats=("count", "sum"))
        assert set(mean[2]["x"]) == {"count", "sum"}
        np.testing.assert_array_equal(mean[2]["x"]["count"], want[2]["x"]["count"])
        windows = np.array([[T0 + 600, T0 + 3000], [T0 + DAY - 120, T0 + DAY + 130], [T0 + 1.5 * DAY, T0 + 1.6 * DAY],
                            [T0 + 2.1 * DAY, T0 + 2.2 * DAY]])   # compacted days and plain pieces of the third
        part = store.read_rollup("tl", 60.0, ["y"], windows, stats=("tmax", "max"))
        inside = np.zeros(len(want[0]), bool)
        for lo, hi in windows:
            inside |= (want[0] >= lo) & (want[0] < hi)
        np.testing.assert_array_equal(part[0], want[0][inside])
        np.testing.assert_array_equal(part[2]["y"]["tmax"], want[2]["y"]["tmax"][inside])
        np.testing.assert_array_equal(part[2]["y"]["max"], want[2]["y"]["max"][inside])
        with sqlite3.connect(path) as db:
            nb, size = db.execute("SELECT total(nb), total(size) FROM rollup WHERE width = 60 AND field = 'x'"
                                  " AND codec = 1").fetchone()
        assert size < nb * 8 * 8 / 3, "a compacted row takes less than a third of the plain float64 statistics"
    finally:
        store.close()


def test_a_store_without_tiers_records_and_compacts_without_an_error(tmp_path):
    from twisted.logger import LogLevel, globalLogPublisher

    errors = []

    def observer(event):
        if event.get("log_level") in (LogLevel.error, LogLevel.critical, LogLevel.warn):
            errors.append(event.get("log_format"))
    globalLogPublisher.addObserver(observer)
    t, data = samples(3000, step=5.0)
    store = open_store(tmp_path / "node.sqlite", rollups=())
    try:
        record(store, t, data, [1, 40])
        got = store.get_data(["x"], 0, 2 * T0)
        np.testing.assert_array_equal(got["timeline"]["tl"]["t"], t)
    finally:
        store.close()
        globalLogPublisher.removeObserver(observer)
    assert errors == []

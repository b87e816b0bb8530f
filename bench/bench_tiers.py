"""The store's reads for the read planner, on a year of a 1 Hz 12-field node (``python -m bench.bench_tiers``).

Builds (once, in ``--dir``) a store file as a year of recording leaves it
with the default settings: 30 days of raw samples in compacted rows, 365
days of the 60 s tier, the 1 h and 1 d tiers (compacted but for their
newest segment); the values are random walks
rounded to 0.1 like sensor readings that never repeat (`Walks`), or host
metrics as a sensors node records them (``--metrics``, an ``.npz`` of
columns with ``t``), the recording repeated. Prints the bytes per value,
the size of each tier, and the median time of the reads the planner makes
(2 fields each, the statistics a mean or a min/max envelope asks).
"""

import argparse
import os
import sqlite3
import statistics
import time

import numpy as np

from sisock.store import blocks, packing, rollup, tiers
from sisock.store.compaction import SPAN
from sisock.store.store import Store

DAY = 86400.0


class Walks:
    """Samples at 1 Hz of ``n_fields`` random walks (steps of standard deviation 1, rounded to 0.1, as sensor
    readings are) that never repeat: each `series` continues the walks from the last value of the one before
    and draws new timestamp jitter (normal, 2e-4 s), from a fixed seed."""

    def __init__(self, n_fields=12, seed=0):
        self.fields = [f"f{i}" for i in range(n_fields)]
        self._rng = np.random.default_rng(seed)
        self._last = np.zeros(n_fields)

    def series(self, start, n):
        """``(t, {field: values})``: ``n`` samples from ``start`` (seconds UTC), float64 arrays of shape ``(n,)``."""
        walks = self._last + np.cumsum(self._rng.standard_normal((n, len(self.fields))), axis=0)
        self._last = walks[-1]
        t = start + np.arange(n) + self._rng.normal(0, 2e-4, n)
        return t, {f: np.round(walks[:, i], 1) for i, f in enumerate(self.fields)}


class Recorded:
    """Samples at 1 Hz of recorded host metrics (an ``.npz`` of ``t`` and one array per field), the first
    ``n_fields`` of them: their values and timestamp jitter repeated, from the start of the recording each
    `series`."""

    def __init__(self, path, n_fields=12):
        found = dict(np.load(path))
        self._jitter = np.diff(found.pop("t")) - 1.0
        self._values = {f"f{i}": v for i, v in enumerate(list(found.values())[:n_fields])}
        self.fields = list(self._values)

    def series(self, start, n):
        """``(t, {field: values})``: ``n`` samples from ``start`` (seconds UTC), float64 arrays of shape ``(n,)``."""
        i = np.arange(n)
        t = start + i + self._jitter[i % len(self._jitter)]
        return t, {f: v[i % len(v)] for f, v in self._values.items()}


def columns(path, n_fields=12):
    """The samples of a benchmark: `Recorded` metrics of the ``.npz`` ``path``, or `Walks` if ``path`` is None."""
    return Recorded(path, n_fields) if path else Walks(n_fields)


def build(path, source, end, days=365):
    """Write ``days`` days of 1 Hz samples ending at ``end`` into a new store file ``path``, as recording and
    compaction leave them: the 60 s tier of every day and the finished segments of the coarser tiers in
    compressed rows, the newest segment of a coarser tier in plain rows of one bucket each, raw compacted
    rows of the last 30 days. ``source`` (`columns`) gives the samples a day at a time, oldest first."""
    values = source.fields
    kinds = {f: "number" for f in values}
    store = Store()
    store.declare("tl", {f: {} for f in values})
    store.open(path, retention=None, max_bytes=None)
    store.close()
    db = sqlite3.connect(path, isolation_level=None)
    layout = db.execute("INSERT INTO layout (timeline, fields) VALUES ('tl', ?)",
                        (str([[f, "number"] for f in values]).replace("'", '"'),)).lastrowid
    coarse = {3600.0: [], DAY: []}
    held = rollup.empty(kinds)   # buckets of the day being built (its first sample may fall in the day before)
    for day in range(days, 0, -1):
        t, data = source.series(end - day * DAY, int(DAY))
        db.execute("BEGIN")
        summary = rollup.summarize(t, data, kinds, 60.0)
        held = rollup.coarsen(rollup.concat([held, summary], kinds), kinds, 60.0)
        done = held[0] < end - day * DAY
        tiers.write(db, "tl", {60.0: rollup.take(held, done)}, packing.PCO)   # one row a field and day
        held = rollup.take(held, ~done)
        for width, parts in coarse.items():
            parts.append(rollup.coarsen(summary, kinds, width))
        if day <= 30:
            edges = np.searchsorted(t, np.arange(np.ceil(t[0] / SPAN) * SPAN, t[-1] + SPAN, SPAN))
            for a, b in zip(np.r_[0, edges], np.r_[edges, len(t)], strict=True):
                if b > a:
                    row = blocks.encode(t[a:b], {f: v[a:b] for f, v in data.items()}, kinds, packing.PCO)
                    db.execute("INSERT INTO block (timeline, t0, t1, n, layout, t, num, txt, size, codec)"
                               " VALUES ('tl', ?, ?, ?, ?, ?, ?, ?, ?, 1)", (*row[:3], layout, *row[3:]))
        db.execute("COMMIT")
    db.execute("BEGIN")
    tiers.write(db, "tl", {60.0: held}, packing.PCO)
    for width, parts in coarse.items():
        summary = rollup.coarsen(rollup.concat(parts, kinds), kinds, width)
        newest = rollup.bucket_index(summary[0], width * tiers.SEGMENT_BUCKETS) == \
            rollup.bucket_index(end - width, width * tiers.SEGMENT_BUCKETS)
        tiers.write(db, "tl", {width: rollup.take(summary, ~newest)}, packing.PCO)
        for i in np.flatnonzero(newest):
            tiers.write(db, "tl", {width: rollup.take(summary, [i])})
    db.execute("COMMIT")
    db.close()


def timed(func, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/sisock-bench-tiers")
    parser.add_argument("--metrics", help=".npz of recorded host metrics (t and one array per field), repeated "
                        "from its start every day (default: random walks that never repeat)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    path = os.path.join(args.dir, "year.sqlite")
    end = np.floor(time.time() / DAY) * DAY
    source = columns(args.metrics)
    values = source.fields
    if not os.path.exists(path):
        build(path, source, end)
    db = sqlite3.connect(path)
    raw, n = db.execute("SELECT total(size), total(n) FROM block").fetchone()
    print(f"raw: {raw / 2**20:.1f} MiB, {raw / (n * (len(values) + 1)):.2f} bytes a value (times included)")
    for width, size, rows in db.execute("SELECT width, total(size), count(*) FROM rollup GROUP BY width"):
        print(f"tier {width:>7.0f} s: {size / 2**20:8.1f} MiB in {rows} rows")
    size = os.path.getsize(path)
    print(f"file: {size / 2**20:.1f} MiB, {size / (n * len(values)):.2f} bytes per raw value kept (file / raw "
          f"samples x fields), {size / (365 * DAY * len(values)):.2f} per value recorded in the year")
    db.close()
    store = Store()
    store.declare("tl", {f: {} for f in values}, capacity=3600)
    store.open(path, retention=None, max_bytes=None)
    fields = ["f0", "f5"]
    rng = np.random.default_rng(1)
    starts = np.sort(rng.choice(np.arange(end - 365 * DAY, end - 2 * 3600, 3600.0), 2000, replace=False))
    hours = np.column_stack([starts, starts + rng.uniform(60, 3600, 2000)])
    minutes = np.sort(rng.choice(np.arange(end - 30 * DAY, end - 60, 60.0), 1000, replace=False))
    mean, envelope = ("count", "sum"), ("min", "max", "tmin", "tmax")   # what a mean and a minmax read ask
    rows = [
        ("read_rollup 60 s, one window of 30 days, mean", lambda: store.read_rollup(
            "tl", 60.0, fields, [[end - 30 * DAY, end]], mean), 15),
        ("read_rollup 60 s, 2000 windows <= 1 h over 365 days, mean", lambda: store.read_rollup(
            "tl", 60.0, fields, hours, mean), 25),
        ("  the same, minmax", lambda: store.read_rollup("tl", 60.0, fields, hours, envelope), None),
        ("  the same, every statistic", lambda: store.read_rollup("tl", 60.0, fields, hours), None),
        ("read_raw, 1000 windows of 60 s over 30 days", lambda: store.read_raw(
            "tl", fields, np.column_stack([minutes, minutes + 60])), 20),
        ("get_data, 30 days", lambda: store.get_data(fields, end - 30 * DAY, end), None),
    ]
    print(f"{'median of ' + str(args.repeats):60} {'ms':>8} {'target':>8}")
    for what, func, target in rows:
        print(f"{what:60} {timed(func, args.repeats):8.1f} {target or '-':>8}")
    store.close()


if __name__ == "__main__":
    main()

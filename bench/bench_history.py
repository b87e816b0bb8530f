"""History reads through the tiers against the raw read, on a 1 Hz 12-field node (``python -m bench.bench_history``).

In one run, for each ``--days`` (30 and 365 by default):

- builds a store file of that many days of a 1 Hz node with 12 number
  fields (`bench.bench_tiers.build`: random walks rounded to 0.1 like
  sensor readings that never repeat, `bench.bench_tiers.Walks`, the tiers
  of every day and the compacted raw rows of the last 30, ending at the
  last midnight UTC, so the default retention keeps them) and reports the
  build time, the bytes per value (per raw value kept and per value
  recorded over the store's days) and the tiers' share;
- times the raw read as every read went before the tiers:
  `sisock.store.Store.get_data` of 2 fields over 30 days (or the store's
  days if fewer), then `sisock.node.downsample.downsample` to 1,000 points;
- times ``get_data`` of 1,000 points (``min_stride = span / 1000``) of 2
  fields over 24 h, 30 d and 365 d (those the store covers), end to end
  through a real router: a router on a free loopback port and one
  `bench.history_node` process per store serving the built file
  (``--data-dir``), called with `sisock.client` from this process.

Then records, each in a fresh process (`bench.history_record`), into new
files: today's store with its defaults (tiers and compaction) against the
same store with ``rollups=()``, and against the store of commit `PREVIOUS`
(before the tiers) when this checkout has that commit; samples/s in blocks
of 1 and of 60 samples (``--record-samples`` samples, 15 times as many in
blocks of 60, so that each run lasts about a second), and memory in blocks
of 1: the allocations of Python and NumPy still live after the close per
sample recorded (the slope between runs of a tenth of ``--record-samples``
and of all of them, so the store's fixed state does not count), the most
live at once while recording, and the RSS growth (which also counts what
CPython's allocator keeps after freeing).

Prints a table (medians of ``--repeats``) with each target next to its
number, or JSON with ``--json``. The times depend on the machine's load,
printed with them.
"""

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

import crochet
import numpy as np

from bench import history_record
from bench.bench_tiers import DAY, build, columns
from bench.history_node import FIELDS, TIMELINE
from bench.measure import blocking
from bench.stack import Stack, log, run_and_report
from sisock import client
from sisock.node.downsample import downsample
from sisock.router.directory import PROJECT_DIR
from sisock.store import Store

#: The commit whose store the recording is compared with: the last one before the tiers.
PREVIOUS = "8bebd69"
#: The fields read.
READ = ["f0", "f5"]
#: Points of a downsampled read.
POINTS = 1000
#: Spans of the reads through the router, days, with their targets in ms (None: no target).
SPANS = {1: None, 30: 50.0, 365: 100.0}
#: Blocks of the recording runs, samples.
BLOCKS = (1, 60)
#: Per block size, how many times ``--record-samples`` a run records: each run lasts about a second
#: (20,000 samples in blocks of 60 took 50 ms, too short to time).
RECORD_SCALE = {1: 1, 60: 15}


def timed(func, repeats):
    """``(median seconds, last result)`` of ``repeats`` calls of ``func()``."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def ensure_store(directory, days):
    """The store file of ``days`` days in ``directory`` (built unless there) and its sizes.

    Returns
    -------
    dict
        ``days``, ``path``, ``name`` (of the node serving it), ``end`` (the
        time after the last sample: a midnight UTC), ``build_s`` (None for
        a file that was there already), ``file_bytes``, ``raw_values``
        (raw samples held x fields), ``bytes_per_value`` (the file's per
        raw value kept), ``bytes_per_recorded`` (the file's per value
        recorded over the ``days``: ``days`` x 86400 x fields),
        ``raw_bytes_per_value`` (the raw rows', times included) and
        ``tier_share`` (of the file's bytes).
    """
    name = f"history{days}"
    path = os.path.join(directory, f"{name}.sqlite")
    build_s = None
    if not os.path.exists(path):
        start = time.perf_counter()
        build(path, columns(None, FIELDS), np.floor(time.time() / DAY) * DAY, days)
        build_s = time.perf_counter() - start
    db = sqlite3.connect(path)
    last, raw_bytes, raw_n = db.execute("SELECT max(t1), total(size), total(n) FROM block").fetchone()
    tier_bytes = db.execute("SELECT total(size) FROM rollup").fetchone()[0]
    db.close()
    size = os.path.getsize(path)
    return {"days": days, "path": path, "name": name, "end": float(np.ceil(last / DAY) * DAY), "build_s": build_s,
            "file_bytes": size, "raw_values": raw_n * FIELDS, "bytes_per_value": size / (raw_n * FIELDS),
            "bytes_per_recorded": size / (days * DAY * FIELDS),
            "raw_bytes_per_value": raw_bytes / (raw_n * FIELDS), "tier_share": tier_bytes / size}


def raw_read(store, repeats):
    """Median seconds of the raw read over ``min(days, 30)`` days, down to `POINTS` points; sets
    ``store["raw_read_s"]`` and ``store["raw_read_days"]``."""
    days = min(store["days"], 30)
    start, end = store["end"] - days * DAY, store["end"]
    s = Store()
    s.declare(TIMELINE, {f"f{i}": {} for i in range(FIELDS)}, interval=1.0)
    s.open(store["path"], retention=None, max_bytes=None)

    def read():
        got = s.get_data(READ, start, end)
        return downsample(got["timeline"][TIMELINE]["t"], got["data"], start, (end - start) / POINTS)

    try:
        store["raw_read_s"], (t, _) = timed(read, repeats)
    finally:
        s.close()
    if not 0 < len(t) <= POINTS:
        raise RuntimeError(f"the raw read of {days} days gave {len(t)} points")
    store["raw_read_days"] = days


def router_reads(session, store, spans, repeats):
    """``{span days: median seconds}`` of ``get_data`` of `POINTS` points through the router, of each of ``spans``
    (days) the store covers."""
    out = {}
    for days in (d for d in spans if d <= store["days"]):
        start, end = store["end"] - days * DAY, store["end"]

        def call(start=start, end=end):
            result = blocking(session.get_data, store["name"], READ, start, end, (end - start) / POINTS)
            return len(result["timeline"][TIMELINE]["t"])

        call()  # warm-up: the node's first read of the file
        out[days], points = timed(call, repeats)
        if not 0 < points <= POINTS:
            raise RuntimeError(f"get_data of {days} days from {store['name']} gave {points} points")
    return out


def serve(stack, directory, store):
    """Start a `bench.history_node` on ``stack`` serving ``store``'s file from ``directory``."""
    stack.python(store["name"], "bench.history_node", "--name", store["name"], "--data-dir", directory, timeout=600)


def bench_row(stack, args):
    """The history row of ``python -m bench``, on ``stack`` (its router running).

    Builds a store of ``args.history_days`` days in the stack's directory,
    times its raw read (`raw_read`) and, through the router, ``get_data``
    of `POINTS` points over the whole store (a `bench.history_node` started
    here), ``args.repeats`` times each.

    Returns
    -------
    dict
        ``{"days", "raw_s", "router_s"}``, median seconds.
    """
    store = ensure_store(stack.dir, args.history_days)
    raw_read(store, args.repeats)
    serve(stack, stack.dir, store)
    session = blocking(client.connect, stack.url)
    try:
        router_s = router_reads(session, store, [store["days"]], args.repeats)[store["days"]]
    finally:
        blocking(session.close)
    return {"days": store["days"], "raw_s": store["raw_read_s"], "router_s": router_s}


#: Relative resolution of the memory held per sample: equal within it counts as not above.
HELD_RESOLUTION = 0.01


def record_runs(store, directory, samples, blocks, memory=False):
    """The JSON lines of one `bench.history_record` process: a run per block of ``blocks``."""
    done = subprocess.run([sys.executable, "-m", "bench.history_record", "--store", store, "--dir", directory,
                           "--samples", str(samples), "--blocks", *map(str, blocks), *(["--memory"] if memory else [])],
                          cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"recording with the {store} store failed:\n{done.stderr[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines()]


def recording(directory, args):
    """``{"runs": {block: {store: median samples/s}}, "memory": {store: median B/sample}, "held": {store:
    B/sample}, "peak": {store: B/sample}, "previous": why}``.

    ``memory`` is the RSS growth, ``held`` and ``peak`` the traced allocations
    (module docstring). ``previous`` says why the previous store was not
    measured, None if it was.
    """
    stores = ["current", "no-tiers"]
    previous = None
    try:
        stores.append("previous:" + history_record.extract_previous(PREVIOUS, os.path.join(directory, "previous")))
    except (OSError, subprocess.CalledProcessError) as exc:
        previous = f"commit {PREVIOUS} not in this checkout ({exc})"
    found = {s: {block: [] for block in BLOCKS} for s in stores}
    record_dir = os.path.join(directory, "record")
    os.makedirs(record_dir, exist_ok=True)
    for _ in range(args.repeats):
        for s in stores:
            for block in BLOCKS:
                found[s][block] += record_runs(s, record_dir, args.record_samples * RECORD_SCALE[block], [block])
    label = {s: s.partition(":")[0] for s in stores}
    runs = {block: {label[s]: statistics.median(r["samples_per_s"] for r in found[s][block]) for s in stores}
            for block in BLOCKS}
    memory = {label[s]: statistics.median(r["bytes_per_sample"] for r in found[s][BLOCKS[0]]) for s in stores}
    held, peak = {}, {}
    for s in stores:
        small, large = (record_runs(s, record_dir, n, [1], memory=True)[0]
                        for n in (args.record_samples // 10, args.record_samples))
        held[label[s]] = (large["held_bytes"] - small["held_bytes"]) / (large["samples"] - small["samples"])
        peak[label[s]] = large["peak_bytes"] / large["samples"]
    return {"runs": runs, "memory": memory, "held": held, "peak": peak, "previous": previous}


def measure(stack, args):
    """Every measurement of the module docstring; the results of `run_and_report`."""
    directory = args.keep or stack.dir
    os.makedirs(directory, exist_ok=True)
    results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "load": [os.getloadavg()[0]]}
    stores = []
    for days in args.days:
        log(f"store of {days} days in {directory}")
        stores.append(ensure_store(directory, days))
        raw_read(stores[-1], args.repeats)
    log("router and one node per store")
    stack.start_router()
    for store in stores:
        serve(stack, directory, store)
    session = blocking(client.connect, stack.url)
    for store in stores:
        store["router_s"] = router_reads(session, store, SPANS, args.repeats)
    blocking(session.close)
    log("recording")
    results["record"] = recording(stack.dir, args)
    results["load"].append(os.getloadavg()[0])
    results["stores"] = stores
    results["targets"] = targets(results)
    return results


def targets(results):
    """``[(target, measured text, met)]``."""
    rows = []
    for store in results["stores"]:
        for days, seconds in store["router_s"].items():
            if SPANS[days] is not None:
                rows.append((f"get_data of {POINTS} points over {days} d ({store['days']}-day store) via the "
                             f"router < {SPANS[days]:g} ms", f"{seconds * 1e3:.1f} ms", seconds * 1e3 < SPANS[days]))
        for key, what in (("bytes_per_value", "per raw value kept (file / raw samples x fields)"),
                          ("bytes_per_recorded", "per value recorded (file / days x 86400 x fields)")):
            rows.append((f"bytes {what} <= 3 ({store['days']}-day store, non-repeating random walks)",
                         f"{store[key]:.2f}", store[key] <= 3))
    record = results["record"]
    for block, rates in record["runs"].items():
        for other in (s for s in ("no-tiers", "previous") if s in rates):
            ratio = rates["current"] / rates[other]
            rows.append((f"recording in blocks of {block} >= 90 % of the {other} store", f"{100 * ratio:.0f} %",
                         ratio >= 0.9))
    held = record["held"]
    for other in (s for s in ("no-tiers", "previous") if s in held):
        rows.append((f"memory held per sample recorded not above the {other} store's (within "
                     f"{100 * HELD_RESOLUTION:g} %)", f"{held['current']:.1f} B vs {held[other]:.1f} B",
                     held["current"] <= held[other] * (1 + HELD_RESOLUTION)))
    return rows


def table(results, args):
    """The report as text."""
    stores, record = results["stores"], results["record"]
    load = results["load"]
    lines = [f"sisock history bench  {results['when']}  {os.cpu_count()} CPUs  load average {load[0]:.1f} at the "
             f"start, {load[1]:.1f} at the end (a loaded machine inflates the times)",
             f"1 Hz x {FIELDS} number fields, reads of {len(READ)} fields, medians of {args.repeats}", "",
             f"{'store':52}" + "".join(f"{str(s['days']) + ' days':>12}" for s in stores) + f"{'target':>10}"]

    def row(what, values, target="-"):
        lines.append(f"{what:52}" + "".join(f"{v:>12}" for v in values) + f"{target:>10}")

    row("build, s", [f"{s['build_s']:.1f}" if s["build_s"] is not None else "reused" for s in stores])
    row("file, MiB", [f"{s['file_bytes'] / 2**20:.1f}" for s in stores])
    row("bytes per raw value kept (file / raw values)", [f"{s['bytes_per_value']:.2f}" for s in stores], "<= 3")
    row(f"bytes per value recorded (file / days x 86400 x {FIELDS})",
        [f"{s['bytes_per_recorded']:.2f}" for s in stores], "<= 3")
    row("  raw rows alone", [f"{s['raw_bytes_per_value']:.2f}" for s in stores])
    row("  tiers' share of the file", [f"{100 * s['tier_share']:.0f} %" for s in stores])
    row("raw get_data + downsample, ms", [f"{s['raw_read_s'] * 1e3:.0f}" for s in stores])
    row("  over days", [str(s["raw_read_days"]) for s in stores])
    for days, target in SPANS.items():
        row(f"get_data {POINTS} points via router, {'24 h' if days == 1 else f'{days} d'}, ms",
            [f"{s['router_s'][days] * 1e3:.1f}" if days in s["router_s"] else "-" for s in stores],
            f"< {target:g}" if target else "-")
    largest = BLOCKS[-1]
    lines += ["", f"recording {args.record_samples} samples ({args.record_samples * RECORD_SCALE[largest]} in blocks "
                  f"of {largest}), each run a fresh process (median samples/s)",
              f"{'block':>8}" + "".join(f"{s:>12}" for s in record["runs"][BLOCKS[0]])]
    for block, rates in record["runs"].items():
        lines.append(f"{block:>8}" + "".join(f"{v:>12.0f}" for v in rates.values()))
    for key, what in (("held", "allocations live after the close, per sample recorded (slope)"),
                      ("peak", "most allocations live at once while recording, per sample"),
                      ("memory", "RSS growth per sample (with what the allocator keeps after freeing)")):
        lines.append(f"{key + ' B':>8}" + "".join(f"{v:>12.1f}" for v in record[key].values()) + f"   {what}")
    if record["previous"]:
        lines.append(f"previous store not measured: {record['previous']}")
    lines += ["", "targets"] + [f"  {'MET ' if ok else 'MISS'}  {name}: {value}"
                                 for name, value, ok in results["targets"]]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.bench_history", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[30, 365], help="days of each store (default 30 365)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of each measurement (median)")
    parser.add_argument("--record-samples", type=int, default=20_000, help="samples of each recording run")
    parser.add_argument("--keep", metavar="DIR", help="build the stores in DIR and keep them; reuse those there")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    if min(args.days) < 1 or args.repeats < 1 or args.record_samples < max(BLOCKS):
        parser.error(f"--days and --repeats must be >= 1, --record-samples >= {max(BLOCKS)}")
    stack = Stack(chunk_bytes=1 << 20)
    crochet.setup()
    return run_and_report(stack, lambda: measure(stack, args), table, args)


if __name__ == "__main__":
    sys.exit(main())

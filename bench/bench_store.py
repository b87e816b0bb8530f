"""The node store in-process: recording and reading, in memory against SQLite (``python -m bench.bench_store``).

Prints one table, medians of ``--repeats`` runs, each row in memory only
(`Store` not opened) and persisted (`Store.open`, the default of every
node), so the cost of durability is read off the same run:

- record: blocks appended through `Store.append`; for the persisted store
  the clock stops when the last block's commit was acknowledged (the
  point from which it survives ``kill -9``).
- get_data: one range of ``--read`` samples, answered from memory and, with
  a buffer smaller than the range, from the file.
- reopen: open an existing file and load ``capacity`` samples into memory.
"""

import argparse
import os
import statistics
import tempfile
import threading
import time

import numpy as np

from sisock.store.store import Store

T0 = 1.5e9


def _store(path, fields, capacity):
    store = Store()
    store.declare("tl", {f: {} for f in fields}, capacity=capacity)
    if path:
        store.open(path, retention=None, max_bytes=None)
    return store


def record(path, blocks, block, n_fields):
    """Seconds to append ``blocks`` blocks of ``block`` samples (committed if ``path``)."""
    fields = [f"f{i}" for i in range(n_fields)]
    store = _store(path, fields, capacity=blocks * block)
    values = {f: np.random.default_rng(i).random(block) for i, f in enumerate(fields)}
    committed = threading.Semaphore(0)
    start = time.perf_counter()
    for k in range(blocks):
        store.append("tl", T0 + k * block + np.arange(block), values, done=lambda error: committed.release())
    for _ in range(blocks):
        committed.acquire()
    seconds = time.perf_counter() - start
    store.close()
    return seconds


def read(path, n, capacity):
    """Seconds of one get_data of ``n`` samples from a store holding ``capacity`` in memory."""
    store = _store(path, ["x"], capacity)
    try:
        start = time.perf_counter()
        result = store.get_data(["x"], T0, T0 + n)
        assert len(result["data"]["x"]) == n
        return time.perf_counter() - start
    finally:
        store.close()


def reopen(path, capacity):
    start = time.perf_counter()
    store = _store(path, ["x"], capacity)
    seconds = time.perf_counter() - start
    store.close()
    return seconds


def median(func, repeats, *args):
    return statistics.median(func(*args) for _ in range(repeats))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--blocks", type=int, default=2000, help="blocks of 1000 samples recorded")
    parser.add_argument("--read", type=int, default=1_000_000, help="samples in one get_data")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        def fresh():
            return os.path.join(tmp, f"{time.monotonic_ns()}.sqlite")

        for block, n_fields, blocks in ((1000, 1, args.blocks), (1000, 4, args.blocks // 4), (1, 30, 5000)):
            samples = blocks * block
            mem = median(lambda b=blocks, k=block, f=n_fields: record(None, b, k, f), args.repeats)
            disk = median(lambda b=blocks, k=block, f=n_fields: record(fresh(), b, k, f), args.repeats)
            rows.append((f"record {blocks} blocks x {block} samples x {n_fields} fields", "samples/s",
                         samples / mem, samples / disk))
        path = os.path.join(tmp, "read.sqlite")
        store = _store(path, ["x"], 1)
        for k in range(0, args.read, 10_000):
            store.append("tl", T0 + k + np.arange(10_000), {"x": np.arange(10_000.0)})
        store.close()
        rows.append((f"get_data {args.read} samples", "ms",
                     1e3 * median(read, args.repeats, path, args.read, args.read),
                     1e3 * median(read, args.repeats, path, args.read, 1)))
        rows.append((f"reopen, load {args.read} samples", "ms", float("nan"),
                     1e3 * median(reopen, args.repeats, path, args.read)))
    print(f"{'median of ' + str(args.repeats):48} {'unit':>10} {'memory':>14} {'sqlite':>14}")
    for what, unit, *values in rows:
        print(f"{what:48} {unit:>10}", *(f"{v:14,.0f}" if v == v else f"{'-':>14}" for v in values))


if __name__ == "__main__":
    main()

"""Recording with a store file, in a process of its own (``python -m bench.history_record``).

For each of ``--blocks``, records ``--samples`` samples of the built file's
fields (`bench.bench_tiers.columns`, 1 Hz, ending now) into a new store file
in ``--dir``, in blocks of that many samples, as
`sisock.node.recording.Recording.record` appends them, then closes the
store (every block committed). Prints one JSON line a run:
``samples_per_s`` (appends to close) and ``bytes_per_sample``, the RSS
growth from the store's open to after the close per sample held in memory
(the timeline's capacity holds them all; meaningful for the first run of
the process only). With ``--memory``, Python's tracemalloc follows every
allocation of Python and NumPy from before the store is made, and the line
also has ``held_bytes`` (allocations still live after the close: the
samples in memory and the store's own state) and ``peak_bytes`` (the most
live at once while recording); tracing slows the run, so its
``samples_per_s`` is not comparable.

``--store`` picks the store: ``current`` (`sisock.store.Store`, default
options: tiers and compaction), ``no-tiers`` (the same with ``rollups=()``)
or ``previous:DIR``, the package `extract_previous` wrote into ``DIR``.
"""

import argparse
import gc
import importlib
import json
import os
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import psutil

from bench.bench_tiers import columns
from sisock.router.directory import PROJECT_DIR

#: The package name of an extracted previous store.
PREVIOUS = "sisock_store_previous"


def extract_previous(commit, directory):
    """Write ``sisock/store/`` of ``commit`` into ``directory/PREVIOUS`` as an importable package.

    Its imports of ``sisock.store`` become imports of `PREVIOUS`; the rest of
    ``sisock`` it imports is today's.

    Returns
    -------
    str
        ``directory``.

    Raises
    ------
    subprocess.CalledProcessError
        If the checkout has no such commit (a shallow clone) or no git.
    """
    names = subprocess.run(["git", "ls-tree", "--name-only", f"{commit}:sisock/store/"], cwd=PROJECT_DIR,
                           check=True, capture_output=True, text=True).stdout.split()
    os.makedirs(os.path.join(directory, PREVIOUS), exist_ok=True)
    for name in (n for n in names if n.endswith(".py")):
        text = subprocess.run(["git", "show", f"{commit}:sisock/store/{name}"], cwd=PROJECT_DIR, check=True,
                              capture_output=True, text=True).stdout
        with open(os.path.join(directory, PREVIOUS, name), "w") as fp:
            fp.write(text.replace("sisock.store", PREVIOUS))
    return directory


def store_class(which):
    """``(Store class, keyword arguments of its open)`` for ``--store``."""
    if which.startswith("previous:"):
        sys.path.insert(0, which.partition(":")[2])
        return importlib.import_module(f"{PREVIOUS}.store").Store, {}
    from sisock.store import Store

    return Store, {"current": {}, "no-tiers": {"rollups": ()}}[which]


def record(which, path, samples, block, trace=False):
    """Record into a new store file ``path``; the measurements printed by `main`."""
    store_type, options = store_class(which)
    n = samples // block * block
    t, values = columns(None).series(np.floor(time.time()) - n, n)
    pieces = [(t[i:i + block], {f: v[i:i + block] for f, v in values.items()}) for i in range(0, n, block)]
    if trace:
        tracemalloc.start()
    store = store_type()
    store.declare("tl", {f: {} for f in values}, interval=1.0, capacity=n)
    store.open(path, **options)
    process = psutil.Process()
    rss_before = process.memory_info().rss
    start = time.perf_counter()
    for piece_t, piece in pieces:
        store.append("tl", piece_t, piece)
    store.close()
    seconds = time.perf_counter() - start
    gc.collect()
    run = {"store": which, "samples": n, "block": block, "seconds": seconds, "samples_per_s": n / seconds,
           "bytes_per_sample": (process.memory_info().rss - rss_before) / n}
    if trace:
        run["held_bytes"], run["peak_bytes"] = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="current", help="current, no-tiers or previous:DIR")
    parser.add_argument("--dir", required=True, help="directory of the new store files")
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--blocks", type=int, nargs="+", default=[1],
                        help="samples a block, one run (and file) each, in this order (a 1 Hz node records 1)")
    parser.add_argument("--memory", action="store_true", help="trace allocations (held_bytes, peak_bytes)")
    args = parser.parse_args(argv)
    for block in args.blocks:
        path = os.path.join(args.dir, f"record-{args.store.partition(':')[0]}-{block}-{os.getpid()}.sqlite")
        print(json.dumps(record(args.store, path, args.samples, block, args.memory)), flush=True)


if __name__ == "__main__":
    main()

"""A process that records into a store until it is killed: ``python -m tests.store_writer PATH T0``.

Sample ``i`` of timeline ``tl`` is at ``T0 + i`` seconds with ``x = i`` and
``y = sin(i)``; the process resumes after the newest sample in the file,
records bursts of one-sample blocks (many small rows for compaction to
merge), prints ``acked I`` once every sample up to ``I`` is committed, and
pauses between bursts so that the writer thread compacts.
"""

import sys
import threading
import time

import numpy as np

from sisock.store.store import Store

BURST = 600


def main():
    path, t0 = sys.argv[1], float(sys.argv[2])
    store = Store()
    store.declare("tl", {"x": {}, "y": {}}, capacity=1000)
    store.open(path, retention=None, max_bytes=None)
    latest = store.latest().get("tl")
    i = 0 if latest is None else int(round(latest["t"][-1] - t0)) + 1
    print(f"start {i}", flush=True)
    committed = threading.Semaphore(0)
    while True:
        for j in range(i, i + BURST):
            store.append("tl", [t0 + j], {"x": [float(j)], "y": [np.sin(j)]}, done=lambda error: committed.release())
        for _ in range(BURST):
            committed.acquire()
        i += BURST
        print(f"acked {i - 1}", flush=True)
        time.sleep(0.05)


if __name__ == "__main__":
    main()

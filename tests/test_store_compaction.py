"""Compaction and compression of the store file: nothing lost or doubled, even by kill -9 in the middle."""

import math
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np

from sisock.store import rollup
from sisock.store.store import Store
from tests.conftest import ROOT, wait_until

DAY = 86400.0
T0 = math.floor(time.time() / DAY) * DAY - DAY - 900   # a day of the 60 s tier ends after 900 samples


def test_a_store_killed_again_and_again_while_compacting_keeps_every_sample_exactly_once(tmp_path):
    path = tmp_path / "node.sqlite"
    acked, kills, rng = -1, 0, np.random.default_rng(7)
    while kills < 6:
        child = subprocess.Popen([sys.executable, "-m", "tests.store_writer", str(path), repr(T0)], cwd=ROOT,
                                 stdout=subprocess.PIPE, text=True)
        start = int(child.stdout.readline().split()[1])
        assert start > acked, f"acknowledged sample {acked} was lost: the file resumes at {start}"
        time.sleep(rng.uniform(0.3, 1.2))   # bursts of small blocks, compacted in the pauses between them
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        acked = max([acked, *(int(line.split()[1]) for line in out.splitlines() if line.startswith("acked"))])
        kills += 1
    with sqlite3.connect(path) as db:
        codecs = dict(db.execute("SELECT codec, count(*) FROM block GROUP BY codec").fetchall())
    assert codecs.get(1, 0) > 0, f"nothing was compacted: {codecs}"
    store = Store()
    store.declare("tl", {"x": {}, "y": {}}, capacity=1000)
    store.open(str(path), retention=None, max_bytes=None)

    def joined():   # the finished day of the tiers, compacted during the kills or now
        with sqlite3.connect(path) as db:
            return db.execute("SELECT count(*) FROM rollup WHERE codec = 1").fetchone()[0] > 0
    try:
        wait_until(joined, 60, "the finished day of the tiers compacted")
        got = store.get_data(["x", "y"], T0 - 1, T0 + 1e7)
        t, x = got["timeline"]["tl"]["t"], got["data"]["x"]
        assert len(t) > acked
        np.testing.assert_array_equal(t, T0 + np.arange(len(t)))        # every sample once, no gap
        np.testing.assert_array_equal(x, np.arange(len(t), dtype=float))
        np.testing.assert_array_equal(got["data"]["y"], np.sin(np.arange(len(t))))
        for width in store.rollup_widths[:2]:                             # the tiers agree with the samples
            summary = store.read_rollup("tl", width, ["x", "y"], [[0, 2 * T0]])
            want = rollup.summarize(t, {"x": x, "y": got["data"]["y"]}, {"x": "number", "y": "number"}, width)
            want = rollup.take(want, want[0] + width <= t[-1])
            np.testing.assert_array_equal(summary[0], want[0])
            np.testing.assert_array_equal(summary[1], want[1])
            for stat in ("count", "min", "max", "tmin", "tmax", "first", "last"):
                np.testing.assert_array_equal(summary[2]["y"][stat], want[2]["y"][stat])
            np.testing.assert_allclose(summary[2]["y"]["sum"], want[2]["y"]["sum"], rtol=1e-9)
    finally:
        store.close()

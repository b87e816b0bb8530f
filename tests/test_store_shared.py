"""The stores of many nodes of one process in one file (`sisock.store.shared.SharedFile`)."""

import sqlite3
import threading
import time

import numpy as np
import pytest

from sisock.store import StoreError
from sisock.store import sqlite as sqlstore
from sisock.store.shared import SharedFile
from tests.conftest import wait_until

T0 = time.time() - 3600.0   # an hour ago


def stores(path, names=("fleet.a", "fleet.b"), **options):
    """One store per node name, declared and opened on the one file ``path``."""
    shared = SharedFile()
    made = {name: shared.store(name) for name in names}
    for store in made.values():
        store.declare("tl", {"x": {}}, interval=1.0, capacity=5)
        store.open(str(path), **options)
    return made


def committed(store, t, x):
    """Append a block and wait until it is in the file."""
    done = threading.Event()
    store.append("tl", t, {"x": x}, done=lambda error: done.set())
    assert done.wait(30), "the block was never committed"


def test_nodes_sharing_a_file_keep_each_their_own_history_and_get_it_back(tmp_path):
    path = tmp_path / "fleet.sqlite"
    first = stores(path)
    for k, store in enumerate(first.values()):
        committed(store, T0 + np.arange(20.0), k * 100 + np.arange(20.0))   # 20 samples, 5 in memory
    for store in first.values():
        store.close()
    with sqlite3.connect(path) as db:
        assert sorted(r[0] for r in db.execute("SELECT DISTINCT timeline FROM block")) == ["fleet.a/tl", "fleet.b/tl"]
    again = stores(path)
    try:
        for k, store in enumerate(again.values()):   # the older 15 samples come from the file
            result = store.get_data(["x"], 1, time.time())
            assert result["timeline"]["tl"]["t"].tolist() == (T0 + np.arange(20.0)).tolist()
            assert result["data"]["x"].tolist() == (k * 100 + np.arange(20.0)).tolist()
            timeline = store.get_fields(1, time.time())[1]["tl"]
            assert (timeline["first"], timeline["last"]) == (T0, T0 + 19)
            assert store.latest()["tl"]["t"].tolist() == (T0 + np.arange(20.0)).tolist()
    finally:
        for store in again.values():
            store.close()
    with pytest.raises(ValueError, match="no '/'"):
        SharedFile().store("a/b")


def test_retention_of_a_shared_file_drops_old_samples_from_the_memory_of_their_own_node(tmp_path):
    made = stores(tmp_path / "fleet.sqlite", retention=1800.0)   # T0 is too old
    a, b = made.values()
    try:
        committed(a, [T0], [1.0])
        committed(b, [time.time()], [2.0])
        assert len(a.get_data(["x"], 1, time.time())["timeline"]["tl"]["t"]) == 1
        a.append("tl", [time.time()], {"x": [3.0]})
        wait_until(lambda: a.get_data(["x"], 1, time.time())["data"]["x"].tolist() == [3.0],
                   10 * sqlstore.RETENTION_INTERVAL + 10, "the old sample of fleet.a dropped from its memory")
        assert b.get_data(["x"], 1, time.time() + 1)["data"]["x"].tolist() == [2.0]
        b.close()
        a.close()   # the last store of the file closes it
        with pytest.raises(StoreError, match="closed"):
            b.get_fields(1, time.time())
    finally:
        for store in made.values():
            store.close()

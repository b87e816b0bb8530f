"""The node store: in-memory buffers in front of one SQLite file per node."""

import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psutil
import pytest

from sisock.store import sqlite as sqlstore
from sisock.store.store import Store, StoreError
from sisock.wire.errors import InvalidArgument
from tests.conftest import wait_until

FIELDS = {"x": {"units": "V"}, "name": {"type": "string"}, "ok": {"type": "bool"}}
T0 = time.time() - 3600.0   # an hour ago: well within the default retention
BLOCK = 50


def block(k, n=BLOCK):
    """Block ``k``: times T0 + k + i/n, values derived from k and i."""
    i = np.arange(n)
    t = T0 + k + i / n
    return t, {"x": k * 1000.0 + i, "name": [f"b{k}"] * n, "ok": [k % 2 == 0] * n}


def open_store(path, capacity=10 * BLOCK, fields=FIELDS, **options):
    store = Store()
    store.declare("tl", fields, interval=1.0 / BLOCK, capacity=capacity)
    store.open(str(path), **options)
    return store


def record(store, blocks, timeline="tl"):
    """Append blocks and wait until each is committed; returns the errors passed to ``done``."""
    errors, committed = [], threading.Semaphore(0)

    def done(error):
        errors.append(error)
        committed.release()

    for k in blocks:
        store.append(timeline, *block(k), done=done)
    for _ in blocks:
        assert committed.acquire(timeout=30), "a block was never committed"
    return errors


def check_blocks(result, blocks):
    """The result holds exactly ``blocks``, complete and uncorrupted."""
    t = result["timeline"]["tl"]["t"]
    data = result["data"]
    assert np.all(np.diff(t) > 0)
    k = np.floor(t - T0 + 1e-9).astype(int)
    assert sorted(set(k.tolist())) == sorted(blocks)
    assert len(t) == BLOCK * len(blocks)
    np.testing.assert_allclose(data["x"], k * 1000.0 + np.round((t - T0 - k) * BLOCK))
    assert data["name"].tolist() == [f"b{j}" for j in k]
    assert data["ok"].tolist() == [j % 2 == 0 for j in k]


def rows(path, sql="SELECT count(*) FROM block"):
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchone()[0]


def test_a_reopened_store_serves_everything_recorded_from_memory_and_file(tmp_path):
    path = tmp_path / "node.sqlite"
    store = open_store(path)
    assert record(store, range(30)) == [None] * 30
    store.close()
    again = open_store(path)
    try:
        # memory holds the newest 10 blocks (its capacity); the rest is read from the file
        assert again.get_data(["x"], T0 + 25, T0 + 26)["data"]["x"].tolist() == [25000.0 + i for i in range(BLOCK)]
        check_blocks(again.get_data(list(FIELDS), T0 - 1, T0 + 100), range(30))
        check_blocks(again.get_data(list(FIELDS), T0 + 3, T0 + 7), range(3, 7))
        field, timeline = again.get_fields(T0 + 2, T0 + 3)
        assert set(field) == set(FIELDS) and timeline["tl"]["field"] == sorted(FIELDS)
        assert again.get_fields(T0 + 2.99, T0 + 2.995) == ({}, {})   # between two samples
        latest = again.latest()["tl"]
        assert latest["t"].tolist() == block(29)[0].tolist()
        assert latest["data"]["name"].tolist() == ["b29"] * BLOCK
    finally:
        again.close()


def test_a_read_from_memory_alone_answers_small_held_ranges_and_gives_up_on_the_rest(tmp_path):
    store = open_store(tmp_path / "node.sqlite")   # memory: the newest 10 blocks
    try:
        assert record(store, range(30)) == [None] * 30
        held = store.get_data(list(FIELDS), T0 + 25, T0 + 27, most=2 * BLOCK)
        check_blocks(held, [25, 26])
        assert store.get_data(["x"], T0 + 25, T0 + 28, most=2 * BLOCK) is None   # more than `most`
        assert store.get_data(["x"], T0 + 5, T0 + 6, most=10 * BLOCK) is None    # older than memory: the file
        check_blocks(store.get_data(list(FIELDS), T0 + 5, T0 + 6), [5])          # which the full read reads
    finally:
        store.close()


def test_reads_beyond_memory_do_not_miss_blocks_still_being_committed(tmp_path):
    store = open_store(tmp_path / "node.sqlite", capacity=BLOCK)
    try:
        for k in range(40):
            store.append("tl", *block(k))
        check_blocks(store.get_data(list(FIELDS), T0 - 1, T0 + 100), range(40))
    finally:
        store.close()


def test_range_reads_seek_the_time_index_instead_of_scanning(tmp_path):
    path = tmp_path / "node.sqlite"
    open_store(path).close()
    with sqlite3.connect(path) as db:
        plan = " / ".join(row[-1] for row in db.execute(
            "EXPLAIN QUERY PLAN " + sqlstore.RANGE_SQL, {"tl": "tl", "start": T0, "end": T0 + 1}))
    assert "USING INDEX block_time (timeline=? AND t0>? AND t0<?)" in plan, plan
    assert "INDEX block_time (timeline=? AND t0<?)" in plan, plan
    assert "SCAN" not in plan, plan


def test_the_file_is_in_wal_mode(tmp_path):
    path = tmp_path / "node.sqlite"
    open_store(path).close()
    assert rows(path, "PRAGMA journal_mode") == "wal"


def test_retention_by_age_drops_old_blocks_from_the_file_and_from_memory(tmp_path):
    path = tmp_path / "node.sqlite"
    store = open_store(path, retention=1800.0)  # T0 is an hour ago: every block is too old
    try:
        record(store, range(3))
        assert len(store.get_data(["x"], T0 - 1, T0 + 10)["timeline"]["tl"]["t"]) == 3 * BLOCK
        store.append("tl", [time.time()], {"x": [0.0]})
        wait_until(lambda: len(store.get_data(["x"], T0 - 1, T0 + 10)["timeline"]["tl"]["t"]) == 0,
                   10 * sqlstore.RETENTION_INTERVAL + 10, "old blocks dropped from memory")
        recent = store.get_data(["x"], T0 + 10, time.time() + 10)
        assert len(recent["timeline"]["tl"]["t"]) == 1  # the recent sample stays
    finally:
        store.close()
    assert rows(path, f"SELECT count(*) FROM block WHERE t1 < {T0 + 10}") == 0


def test_retention_by_size_keeps_the_newest_blocks_within_max_bytes(tmp_path):
    path = tmp_path / "node.sqlite"
    store = open_store(path)
    record(store, range(20))
    store.close()
    # (compaction may have merged blocks into fewer rows: the cap drops whole rows, oldest first)
    sizes = [r[0] for r in sqlite3.connect(path).execute("SELECT size FROM block ORDER BY t0").fetchall()]
    limit = sum(sizes) / 2
    store = open_store(path, max_bytes=limit)
    store.close()  # closing runs a retention pass
    kept = rows(path, "SELECT total(size) FROM block")
    assert 0 < kept <= limit
    again = open_store(path)
    try:
        t = again.get_data(["x"], T0 - 1, T0 + 100)["timeline"]["tl"]["t"]
        first = int(np.floor(t[0] - T0 + 1e-9))
        assert 0 < first < 20
        check_blocks(again.get_data(list(FIELDS), T0 - 1, T0 + 100), range(first, 20))
    finally:
        again.close()


def test_appends_from_many_threads_are_all_committed(tmp_path):
    path = tmp_path / "node.sqlite"
    store = Store()
    for j in range(4):
        store.declare(f"tl{j}", {f"v{j}": {}}, capacity=100)
    store.open(str(path))
    done = threading.Semaphore(0)

    def writer(j):
        for k in range(50):
            store.append(f"tl{j}", [T0 + k], {f"v{j}": [k]}, done=lambda error: error is None and done.release())

    threads = [threading.Thread(target=writer, args=(j,)) for j in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for _ in range(200):
        assert done.acquire(timeout=30)
    assert rows(path, "SELECT sum(n) FROM block") == 200  # samples: compaction may have merged rows meanwhile
    store.close()


def test_fields_that_change_between_runs_keep_their_history(tmp_path):
    path = tmp_path / "node.sqlite"
    store = open_store(path)
    record(store, range(2))
    store.close()
    changed = {"x": {}, "fan": {}}  # "name" and "ok" gone, "fan" new
    again = open_store(path, fields=changed)
    try:
        again.append("tl", [T0 + 5], {"x": [1.0], "fan": [1200.0]})
        result = again.get_data(["x", "fan"], T0 - 1, T0 + 10)
        assert result["data"]["x"].tolist()[:BLOCK] == [float(i) for i in range(BLOCK)]
        assert np.isnan(result["data"]["fan"][:2 * BLOCK]).all() and result["data"]["fan"][-1] == 1200.0
    finally:
        again.close()


@pytest.mark.parametrize("t, data, named", [
    ([T0], {"nope": [1.0]}, "'nope'"),
    ([T0, T0 + 1], {"x": [1.0]}, "data['x']"),
    ([T0], {"x": ["a string"]}, "data['x']"),
    ([T0], {"name": [3]}, "data['name']"),
    ([T0], {"ok": ["yes"]}, "data['ok']"),
    ([T0 + 1, T0], {"x": [1.0, 2.0]}, "t"),
    ([T0 - 100], {"x": [1.0]}, "not after the last"),
    ([float("nan")], {"x": [1.0]}, "finite"),
    ([T0], [1.0], "data"),
])
def test_bad_blocks_raise_invalid_argument_naming_what_is_wrong_and_store_nothing(tmp_path, t, data, named):
    store = open_store(tmp_path / "node.sqlite")
    try:
        store.append("tl", [T0 - 10], {"x": [0.0]})
        with pytest.raises(InvalidArgument, match=named.replace("[", r"\[").replace("]", r"\]")):
            store.append("tl", t, data)
        with pytest.raises(InvalidArgument, match="'other'"):
            store.append("other", [T0], {"x": [1.0]})
        assert store.get_data(["x"], 0, T0 + 100)["data"]["x"].tolist() == [0.0]
    finally:
        store.close()


def test_a_store_that_cannot_be_opened_says_which_file_and_why(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(StoreError, match=f"cannot open the store {not_a_dir}/node.sqlite"):
        open_store(not_a_dir / "node.sqlite")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError, match="garbage.sqlite: file is not a database"):
        open_store(garbage)


def test_the_file_opens_at_the_first_declare_when_opened_before_any(tmp_path):
    path = tmp_path / "sub" / "node.sqlite"
    store = Store()
    store.open(str(path))
    assert not path.exists()   # an archive node that records nothing gets no file
    store.declare("tl", FIELDS)
    assert path.exists()
    store.close()


def open_connections(path):
    """Descriptors this process holds on the store file or its WAL (``-wal``, ``-shm``)."""
    return [f.path for f in psutil.Process().open_files() if f.path.startswith(str(path))]


def test_closing_the_store_closes_the_connections_of_every_reader_thread(tmp_path):
    path = tmp_path / "node.sqlite"
    store = open_store(path, capacity=BLOCK)  # memory holds one block: reads go to the file
    record(store, range(5))
    with ThreadPoolExecutor(3) as readers:  # threads that outlive the store, as a reactor's pool does
        started = threading.Barrier(3)

        def read():
            started.wait(10)  # one read in each thread, so each opens its own connection
            return store.get_data(list(FIELDS), T0, T0 + 5)

        for result in [readers.submit(read) for _ in range(3)]:
            check_blocks(result.result(timeout=30), range(5))
        store.close()
        assert open_connections(path) == []
        with pytest.raises(StoreError, match=f"cannot read the store {path}: it is closed"):
            readers.submit(store.get_data, ["x"], T0, T0 + 5).result(timeout=30)


def test_reader_threads_that_come_and_go_do_not_pile_up_open_files(tmp_path):
    path = tmp_path / "node.sqlite"
    store = open_store(path, capacity=BLOCK)

    def read_in_a_thread_of_its_own():
        reader = threading.Thread(target=store.get_data, args=(["x"], T0, T0 + 5))
        reader.start()
        reader.join()

    try:
        record(store, range(5))
        read_in_a_thread_of_its_own()
        # (SQLite may keep one closed connection's descriptor for its next open, so compare after one.)
        after_one = len(open_connections(path))
        for _ in range(5):
            read_in_a_thread_of_its_own()
        assert len(open_connections(path)) == after_one
    finally:
        store.close()


def test_get_fields_tells_each_timelines_first_and_last_sample_from_file_and_memory(tmp_path):
    path = tmp_path / "node.sqlite"
    store = open_store(path)
    assert store.get_fields(1, 2e9)[1] == {}
    assert record(store, range(30)) == [None] * 30
    store.close()
    again = open_store(path)   # memory holds the newest 10 blocks; the oldest 20 only the file
    try:
        first, last = block(0)[0][0], block(29)[0][-1]
        timeline = again.get_fields(T0 + 5, T0 + 6)[1]["tl"]   # of the whole history, whatever the range
        assert (timeline["first"], timeline["last"]) == (first, last)
        again.append("tl", *block(30))                          # in memory, maybe not yet in the file
        assert again.get_fields(1, 2e9)[1]["tl"]["last"] == block(30)[0][-1]
    finally:
        again.close()
    memory_only = Store()
    memory_only.declare("tl", FIELDS, capacity=100)
    memory_only.append("tl", *block(3))
    timeline = memory_only.get_fields(1, 2e9)[1]["tl"]
    assert (timeline["first"], timeline["last"]) == (block(3)[0][0], block(3)[0][-1])


def test_the_blocks_of_one_commit_become_a_row_a_minute_the_newest_block_alone(tmp_path):
    path = tmp_path / "node.sqlite"
    store = open_store(path, capacity=1000)
    start = np.floor(T0 / 60) * 60
    with store._log._cond:   # hold the writer thread: the 300 blocks are queued, then taken as one batch
        for k in range(300):
            store.append("tl", [start + k], {"x": [float(k)], "name": [f"n{k}"], "ok": [k % 3 == 0]})
    store.close()
    assert rows(path) == 6   # five minutes, and the newest block on its own
    assert rows(path, "SELECT n FROM block ORDER BY t0 DESC LIMIT 1") == 1
    again = open_store(path, capacity=1000)
    try:
        got = again.get_data(list(FIELDS), start - 1, start + 400)
        np.testing.assert_array_equal(got["timeline"]["tl"]["t"], start + np.arange(300))
        assert got["data"]["name"].tolist() == [f"n{k}" for k in range(300)]
        assert got["data"]["ok"].tolist() == [k % 3 == 0 for k in range(300)]
        assert again.latest()["tl"]["t"].tolist() == [start + 299]
    finally:
        again.close()

"""A store file written by the schema 1 code opens, is upgraded in place, and gets its tiers."""

import json
import math
import sqlite3
import time

import numpy as np
import pytest

from sisock.store import rollup
from sisock.store.rollup import STATS
from sisock.store.store import Store, StoreError
from tests.conftest import wait_until

DAY = 86400.0
T0 = math.floor(time.time() / DAY) * DAY - 2 * DAY

#: The tables as schema 1 (sisock before the summary tiers) created them.
SCHEMA_1 = """
CREATE TABLE layout (
    id INTEGER PRIMARY KEY, timeline TEXT NOT NULL, fields TEXT NOT NULL, UNIQUE (timeline, fields));
CREATE TABLE block (
    id INTEGER PRIMARY KEY, timeline TEXT NOT NULL, t0 REAL NOT NULL, t1 REAL NOT NULL, n INTEGER NOT NULL,
    layout INTEGER NOT NULL REFERENCES layout (id), t BLOB NOT NULL, num BLOB, txt TEXT, size INTEGER NOT NULL);
CREATE INDEX block_time ON block (timeline, t0);
PRAGMA user_version = 1;
"""


def write_schema_1(path, t, x, word, per_block=10):
    """A file as schema 1 wrote it: blocks of ``per_block`` samples, float64 bytes, JSON strings."""
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_1)
    layout = db.execute("INSERT INTO layout (timeline, fields) VALUES ('tl', ?)",
                        (json.dumps([["x", "number"], ["word", "string"]]),)).lastrowid
    for a in range(0, len(t), per_block):
        tb = np.ascontiguousarray(t[a:a + per_block], "<f8").tobytes()
        num = np.column_stack([x[a:a + per_block]]).astype("<f8").tobytes()
        txt = json.dumps([word[a:a + per_block]])
        db.execute("INSERT INTO block (timeline, t0, t1, n, layout, t, num, txt, size)"
                   " VALUES ('tl', ?, ?, ?, ?, ?, ?, ?, ?)",
                   (t[a], t[min(a + per_block, len(t)) - 1], len(tb) // 8, layout, tb, num, txt,
                    len(tb) + len(num) + len(txt)))
    db.commit()
    db.close()


#: What schema 2 added to schema 1: the blocks' codec, the tiers in segments of 60 buckets, plain float64.
SCHEMA_2 = """
ALTER TABLE block ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
CREATE INDEX block_plain ON block (timeline, t0) WHERE codec = 0;
CREATE TABLE rollup (
    id INTEGER PRIMARY KEY, timeline TEXT NOT NULL, width REAL NOT NULL, field TEXT NOT NULL, seg INTEGER NOT NULL,
    t0 REAL NOT NULL, nb INTEGER NOT NULL, kind TEXT NOT NULL, codec INTEGER NOT NULL, data BLOB NOT NULL,
    size INTEGER NOT NULL);
CREATE INDEX rollup_seg ON rollup (timeline, width, field, seg, t0);
CREATE INDEX rollup_age ON rollup (width, seg);
PRAGMA user_version = 2;
"""


def write_schema_2_tiers(path, t, x, word, piece=7):
    """The tiers as schema 2 wrote them (after `write_schema_1`): plain rows of ``piece`` finished buckets,
    in segments of 60 buckets, times of the min and max as UNIX seconds."""
    kinds = {"x": "number", "word": "string"}
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_2)
    for width in (60.0, 3600.0, DAY):
        t0, n, stats = rollup.summarize(t, {"x": x, "word": np.array(word, dtype=object)}, kinds, width)
        done = np.flatnonzero(t0 + width <= t[-1])
        seg = np.floor(t0 / (width * 60)).astype(np.int64)
        pieces = [k[a:a + piece] for s in np.unique(seg[done]) for k in [done[seg[done] == s]]
                  for a in range(0, len(k), piece)]
        for k in pieces:
            rows = [("", "n", np.column_stack([t0[k], n[k]]).astype("<f8").tobytes()),
                    ("x", "number", np.column_stack([stats["x"][s][k] for s in STATS["number"]]).astype("<f8")
                     .tobytes()),
                    ("word", "string", json.dumps([stats["word"]["first"][k].tolist(),
                                                   stats["word"]["last"][k].tolist()]).encode())]
            for field, kind, blob in rows:
                db.execute("INSERT INTO rollup (timeline, width, field, seg, t0, nb, kind, codec, data, size)"
                           " VALUES ('tl', ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                           (width, field, int(seg[k[0]]), float(t0[k[0]]), len(k), kind, blob, len(blob)))
    db.commit()
    db.close()


def recorded():
    """``(t, x, word)``: 1.6 days every 7 s."""
    t = T0 + 13 + np.arange(20000) * 7.0
    return t, np.round(np.sin(t / 5000.0) * 100, 1), [f"w{i % 5}" for i in range(len(t))]


def assert_tiers(store, t, x, word):
    """Every tier of ``store`` holds what summarising the samples gives (times of the min and max exact)."""
    kinds = {"x": "number", "word": "string"}
    for width in store.rollup_widths:
        summary = store.read_rollup("tl", width, ["x", "word"], [[0, 2 * T0]])
        want = rollup.summarize(t, {"x": x, "word": np.array(word, dtype=object)}, kinds, width)
        want = rollup.take(want, want[0] + width <= t[-1])
        assert len(want[0]) > 0
        np.testing.assert_array_equal(summary[0], want[0])
        np.testing.assert_array_equal(summary[1], want[1])
        for stat in ("max", "tmax", "tmin", "first"):
            np.testing.assert_array_equal(summary[2]["x"][stat], want[2]["x"][stat])
        assert summary[2]["word"]["last"].tolist() == want[2]["word"]["last"].tolist()


def test_a_schema_2_file_is_upgraded_in_place_its_tier_rows_joined_into_a_pcodec_row_a_day(tmp_path):
    path = tmp_path / "node.sqlite"
    t, x, word = recorded()
    write_schema_1(path, t, x, word)
    write_schema_2_tiers(path, t, x, word)
    store = Store()
    store.declare("tl", {"x": {}, "word": {"type": "string"}}, capacity=100)
    store.open(str(path))

    def joined():
        with sqlite3.connect(path) as db:
            return db.execute("SELECT count(*), min(codec) FROM rollup WHERE width = 60 AND t0 < ?",
                              (T0 + DAY,)).fetchone() == (3, 1)
    try:
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == 3
        assert_tiers(store, t, x, word)
        wait_until(joined, 60, "the first day of the 60 s tier joined into one pcodec row per field")
        assert_tiers(store, t, x, word)
    finally:
        store.close()


def test_a_schema_1_file_is_upgraded_in_place_and_gets_its_tiers_and_compaction(tmp_path):
    path = tmp_path / "node.sqlite"
    t, x, word = recorded()
    write_schema_1(path, t, x, word)
    store = Store()
    store.declare("tl", {"x": {}, "word": {"type": "string"}}, capacity=100)
    store.open(str(path))
    try:
        got = store.get_data(["x", "word"], T0, T0 + 3 * DAY)
        np.testing.assert_array_equal(got["timeline"]["tl"]["t"], t)
        np.testing.assert_array_equal(got["data"]["x"], x)
        assert got["data"]["word"].tolist() == word
        assert_tiers(store, t, x, word)
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == 3

        def compacted():
            with sqlite3.connect(path) as db:
                return db.execute("SELECT count(*) FROM block WHERE codec = 0").fetchone()[0] <= 2
        wait_until(compacted, 60, "the upgraded blocks compacted")
        np.testing.assert_array_equal(store.get_data(["x"], T0, T0 + 3 * DAY)["data"]["x"], x)
    finally:
        store.close()


def test_a_file_of_a_newer_schema_is_refused_naming_it(tmp_path):
    path = tmp_path / "node.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 4")
    store = Store()
    store.declare("tl", {"x": {}})
    with pytest.raises(StoreError, match=f"{path}: schema version 4 is not 3"):
        store.open(str(path))

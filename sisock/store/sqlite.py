"""The persistent half of a node's store: one SQLite file, written by one thread.

A :class:`SqliteLog` appends recorded blocks to ``<data_dir>/<node>.sqlite``
from a writer thread of its own, reads ranges back in any thread, and
enforces retention by age and by size. `sisock.store.store.Store` puts it behind
the in-memory buffers; node authors never use it directly.

Schema (``PRAGMA user_version`` 1)
----------------------------------
``layout(id, timeline, fields)``
    The field names and types of a block, JSON ``[[name, type], ...]``; one
    row per distinct set, so a node whose fields change between runs still
    reads its old blocks.
``block(id, timeline, t0, t1, n, layout, t, num, txt, size)``
    One row per recorded block, encoded by `sisock.store.blocks` (``t``
    times, ``num`` the number and bool fields, ``txt`` the string fields);
    ``size`` the bytes of the three.
    Index ``block_time(timeline, t0)``: a range read seeks to the block that
    holds ``start`` and walks forward, never scanning the table.

One row per block rather than per sample: a block of 1000 samples is one
B-tree insert and one index entry instead of 1000 of each, so recording
runs at memory-copy speed (``bench/bench_store.py``), the file is about
8 bytes per value, and reading a range decodes whole arrays with
``numpy.frombuffer``. Blocks of one timeline never overlap in time (each is
after the last), which is what makes the seek exact.

Durability
----------
The file is in WAL mode with ``synchronous=NORMAL``: a block whose
transaction has committed (its ``done`` callback was called with None)
survives the process being killed at any moment (``kill -9``, a crash),
and the file is never left corrupt. After a power loss or an OS crash the
last transactions before it may be lost (never corrupted); guaranteeing
them too needs ``synchronous=FULL``, an fsync per commit.
"""

import json
import os
import sqlite3
import threading
import time
from collections import deque
from contextlib import contextmanager

import numpy as np
from twisted.logger import Logger

from sisock.store import blocks
from sisock.store.buffer import FIELD_TYPES
from sisock.store.readers import ConnectionClosed, ThreadConnections

_log = Logger()

SCHEMA_VERSION = 1
#: Default seconds of history kept on disk (30 days).
DEFAULT_RETENTION = 30 * 86400.0
#: Default most bytes of recorded data kept on disk (1 GiB).
DEFAULT_MAX_BYTES = 1 << 30
#: A batch is committed this many seconds after its first block arrived...
COMMIT_INTERVAL = 0.05
#: ...or once it holds this many blocks, whichever comes first.
COMMIT_BLOCKS = 1000
#: Seconds between retention passes of the writer thread.
RETENTION_INTERVAL = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS layout (
    id INTEGER PRIMARY KEY, timeline TEXT NOT NULL, fields TEXT NOT NULL, UNIQUE (timeline, fields));
CREATE TABLE IF NOT EXISTS block (
    id INTEGER PRIMARY KEY, timeline TEXT NOT NULL, t0 REAL NOT NULL, t1 REAL NOT NULL, n INTEGER NOT NULL,
    layout INTEGER NOT NULL REFERENCES layout (id), t BLOB NOT NULL, num BLOB, txt TEXT, size INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS block_time ON block (timeline, t0);
"""

#: Blocks that may hold samples in ``[:start, :end)``, in time order: from
#: the last block starting at or before ``start`` (found by an index seek).
RANGE_SQL = """
SELECT t0, t1, layout, t, num, txt FROM block
WHERE timeline = :tl AND t0 < :end AND t0 >= coalesce(
    (SELECT t0 FROM block WHERE timeline = :tl AND t0 <= :start ORDER BY t0 DESC LIMIT 1), :start)
ORDER BY t0"""


class StoreError(RuntimeError):
    """The store file cannot be opened or written; the message names the file and why."""


class SqliteLog:
    """Recorded blocks of one node in one SQLite file.

    Parameters
    ----------
    path : str
        The file; its directory is created if missing.
    retention : float or None
        Seconds: blocks that ended more than this before now are deleted.
        None keeps them regardless of age.
    max_bytes : int or None
        Most bytes of recorded data (the ``size`` of all blocks) kept; the
        oldest blocks go first. None for no limit. The file is this plus
        the index and page overhead (freed pages are returned to the file
        system: ``auto_vacuum=INCREMENTAL``).
    on_drop : callable, optional
        ``on_drop(timeline, t)`` after retention deleted every block of
        ``timeline`` with times ``<= t``; called in the writer thread.

    Raises
    ------
    StoreError
        If the file cannot be created, is not a sisock store, or cannot be
        put in WAL mode.
    """

    def __init__(self, path, retention=DEFAULT_RETENTION, max_bytes=DEFAULT_MAX_BYTES, on_drop=None):
        self.path = os.path.abspath(path)
        self.retention = retention
        self.max_bytes = max_bytes
        self._on_drop = on_drop or (lambda timeline, t: None)
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._db = self._connect(check_same_thread=False)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise StoreError(f"cannot open the store {self.path}: schema version {version} is not "
                                 f"{SCHEMA_VERSION} (written by another sisock version)")
            self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes effect on a new file only
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"cannot open the store {self.path}: journal mode stays {mode!r}, not 'wal'")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA journal_size_limit = 67108864")
            self._db.executescript(_SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")
            self._bytes = int(self._db.execute("SELECT total(size) FROM block").fetchone()[0])
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from None
        self._layout_ids = {}        # writer: (timeline, fields JSON) -> id
        self._layouts = {}           # any thread: id -> [(name, type)]
        self._readers = ThreadConnections(lambda: self._connect(check_same_thread=False))
        self._queue = []             # blocks written, not yet taken by the writer thread
        self._cond = threading.Condition()
        self._arrived = threading.Event()  # the queue holds a block: a batch starts gathering
        self._urgent = threading.Event()   # commit now: the batch is full, a reader syncs, or closing
        self._closing = False
        self._pending = {}           # timeline -> deque of (seq, t0) queued, not yet committed
        self._queued = self._committed = 0
        self._thread = threading.Thread(target=self._run, name=f"sisock-store {os.path.basename(path)}",
                                        daemon=True)
        self._thread.start()

    def _connect(self, check_same_thread=True):
        return sqlite3.connect(self.path, isolation_level=None, timeout=30.0,
                               check_same_thread=check_same_thread)

    # -- writing (caller thread -> writer thread) --------------------------
    def write(self, timeline, t, data, kinds, done=None):
        """Queue a block for the writer thread; returns at once.

        Parameters
        ----------
        timeline : str
        t : numpy.ndarray, float64, shape (n,)
            UNIX seconds UTC, increasing, after every block of ``timeline``
            written before.
        data : dict of str to numpy.ndarray, each shape (n,)
            float64 (number), bool or object arrays of str/None (string).
        kinds : dict of str to str
            ``{field: "number"|"string"|"bool"}`` for every key of ``data``.
        done : callable, optional
            ``done(error)`` from the writer thread once the block's
            transaction committed (``error`` None) or failed (a
            `StoreError`).
        """
        with self._cond:
            self._queued += 1
            seq = self._queued
            self._pending.setdefault(timeline, deque()).append((seq, float(t[0])))
            self._queue.append((seq, timeline, t, data, kinds, done))
            if len(self._queue) == 1:
                self._arrived.set()
            elif len(self._queue) >= COMMIT_BLOCKS:
                self._urgent.set()

    def sync(self, timeline, before):
        """Wait until every queued block of ``timeline`` starting before ``before`` is committed."""
        with self._cond:
            pending = self._pending.get(timeline)
            if pending and pending[0][1] < before:
                target = pending[-1][0]
                self._urgent.set()
                self._cond.wait_for(lambda: self._committed >= target or not self._thread.is_alive())

    def close(self):
        """Commit what is queued, stop the writer thread and close every connection (idempotent).

        A read still running in another thread finishes first; reading
        afterwards raises `StoreError`.
        """
        with self._cond:
            self._closing = True
            self._arrived.set()
            self._urgent.set()
        self._thread.join()
        self._readers.close()

    def _run(self):
        # The thread wakes once per batch, not once per block: at the first
        # block it waits COMMIT_INTERVAL (less if the batch fills up, a reader
        # syncs or the log closes), then takes every queued block at once.
        next_retention = 0.0
        while True:
            self._arrived.wait(timeout=max(0.0, next_retention - time.monotonic()))
            if self._arrived.is_set():
                self._urgent.wait(COMMIT_INTERVAL)
            with self._cond:
                batch, self._queue = self._queue, []
                closing = self._closing
                if not closing:
                    self._arrived.clear()
                    self._urgent.clear()
            if batch:
                self._commit(batch)
            if time.monotonic() >= next_retention or closing:
                self._enforce_retention()
                next_retention = time.monotonic() + RETENTION_INTERVAL
            if closing:
                break
        self._db.close()

    def _commit(self, batch):
        error, added = None, 0
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for _, timeline, t, data, kinds, _ in batch:
                row = blocks.encode(t, data, kinds)
                layout = self._layout_id(timeline, [[f, kinds[f]] for f in data])
                self._db.execute("INSERT INTO block (timeline, t0, t1, n, layout, t, num, txt, size)"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (timeline, *row[:3], layout, *row[3:]))
                added += row[-1]
            self._db.execute("COMMIT")
            self._bytes += added
        except Exception as exc:  # the writer thread must outlive any failure, and report it
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._layout_ids.clear()
            error = StoreError(f"cannot write to the store {self.path}: {exc}")
            _log.error("sisock: {error}", error=error)
        with self._cond:
            self._committed = batch[-1][0]
            for _, timeline, *_ in batch:
                self._pending[timeline].popleft()
            self._cond.notify_all()
        for *_, done in batch:
            if done is not None:
                done(error)

    def _layout_id(self, timeline, fields):
        key = (timeline, json.dumps(fields))
        if key not in self._layout_ids:
            self._db.execute("INSERT OR IGNORE INTO layout (timeline, fields) VALUES (?, ?)", key)
            self._layout_ids[key] = self._db.execute(
                "SELECT id FROM layout WHERE timeline = ? AND fields = ?", key).fetchone()[0]
        return self._layout_ids[key]

    def _enforce_retention(self):
        """Delete blocks older than `retention`, then the oldest beyond `max_bytes`."""
        dropped = {}  # timeline -> newest time deleted
        try:
            self._db.execute("BEGIN IMMEDIATE")
            if self.retention is not None:
                cutoff = time.time() - self.retention
                timelines = [r[0] for r in self._db.execute("SELECT DISTINCT timeline FROM layout")]
                for tl in timelines:
                    where = "WHERE timeline = ? AND t0 < ? AND t1 < ?"
                    t1, size = self._db.execute(f"SELECT max(t1), total(size) FROM block {where}",
                                                (tl, cutoff, cutoff)).fetchone()
                    if t1 is not None:
                        self._db.execute(f"DELETE FROM block {where}", (tl, cutoff, cutoff))
                        self._bytes -= int(size)
                        dropped[tl] = t1
            if self.max_bytes is not None and self._bytes > self.max_bytes:
                excess, last = self._bytes - self.max_bytes, None
                oldest = self._db.execute("SELECT id, timeline, t1, size FROM block ORDER BY id")
                for row_id, tl, t1, size in oldest:
                    dropped[tl] = max(t1, dropped.get(tl, t1))
                    excess -= size
                    last = row_id
                    if excess <= 0:
                        break
                oldest.close()
                if last is not None:
                    self._bytes -= int(self._db.execute("SELECT total(size) FROM block WHERE id <= ?",
                                                        (last,)).fetchone()[0])
                    self._db.execute("DELETE FROM block WHERE id <= ?", (last,))
            self._db.execute("COMMIT")
            if dropped:
                self._db.execute("PRAGMA incremental_vacuum")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            _log.warn("sisock: retention of the store {path} failed, retried later: {exc}", path=self.path, exc=exc)
            return
        for tl, t in dropped.items():
            self._on_drop(tl, t)

    # -- reading (any thread) ----------------------------------------------
    @contextmanager
    def _reading(self):
        """This thread's read-only connection (`ThreadConnections`); `StoreError` once closed."""
        try:
            with self._readers.connection() as db:
                yield db
        except ConnectionClosed:
            raise StoreError(f"cannot read the store {self.path}: it is closed") from None

    def _layout_fields(self, db):
        """``layout_fields(id) -> [(name, type), ...]`` for `blocks.decode`, cached, reading with ``db``."""
        def layout_fields(layout):
            fields = self._layouts.get(layout)
            if fields is None:
                text = db.execute("SELECT fields FROM layout WHERE id = ?", (layout,)).fetchone()[0]
                fields = self._layouts[layout] = [tuple(f) for f in json.loads(text)]
            return fields
        return layout_fields

    def read(self, timeline, kinds, start, end):
        """Samples of ``timeline`` with ``start <= t < end``, from the file.

        Parameters
        ----------
        timeline : str
        kinds : dict of str to str
            ``{field: type}`` of the fields wanted (their declared types).
        start, end : float
            UNIX seconds UTC.

        Returns
        -------
        t : numpy.ndarray, float64, shape (m,)
        data : dict of str to numpy.ndarray, each shape (m,)
            float64, bool or object per type; a block that lacks a field (or
            recorded it with another type) fills it with NaN, False or None.
        """
        with self._reading() as db:
            rows = [row[2:] for row in db.execute(RANGE_SQL, {"tl": timeline, "start": start, "end": end})
                    if row[1] >= start]
            t, data = blocks.decode(rows, kinds, self._layout_fields(db))
        lo, hi = np.searchsorted(t, [start, end], side="left")
        return t[lo:hi], {f: v[lo:hi] for f, v in data.items()}

    def has_samples(self, timeline, start, end):
        """Whether ``timeline`` has a sample with ``start <= t < end`` in the file."""
        with self._reading() as db:
            rows = db.execute(RANGE_SQL + " LIMIT 2", {"tl": timeline, "start": start, "end": end}).fetchall()
        for t0, t1, _, tb, _, _ in rows:
            if t0 >= start:
                return True
            t = np.frombuffer(tb, "<f8")
            if t1 >= start and np.any((t >= start) & (t < end)):
                return True
        return False

    def load(self, timeline, kinds, capacity):
        """The newest samples of ``timeline`` (at most ``capacity``) and its newest block.

        Only blocks within `retention` of now are read, newest first, until
        ``capacity`` samples are found.

        Returns
        -------
        t : numpy.ndarray, float64, shape (m,), m <= capacity
        data : dict of str to numpy.ndarray, each shape (m,)
            One array per field of ``kinds``, filled where a block lacks it.
        latest : tuple or None
            ``(t, {field: ndarray})`` of the newest block, with the fields it
            was recorded with (those still declared with the same type);
            None if the file has no block of ``timeline``.
        """
        since = -np.inf if self.retention is None else time.time() - self.retention
        rows, count = [], 0
        with self._reading() as db:
            for t1, n, *row in db.execute("SELECT t1, n, layout, t, num, txt FROM block WHERE timeline = ?"
                                          " ORDER BY t0 DESC", (timeline,)):
                if t1 < since or count >= capacity:
                    break
                rows.append(tuple(row))
                count += n
            if not rows:
                return np.empty(0), {f: np.empty(0, FIELD_TYPES[k][0]) for f, k in kinds.items()}, None
            layout_fields = self._layout_fields(db)
            present = {f: k for f, k in layout_fields(rows[0][0]) if kinds.get(f) == k}
            latest = blocks.decode(rows[:1], present, layout_fields)
            t, data = blocks.decode(rows[::-1], kinds, layout_fields)
        return t[-capacity:], {f: v[-capacity:] for f, v in data.items()}, latest


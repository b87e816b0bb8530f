"""The persistent half of a node's store: one SQLite file, written by one thread.

A :class:`SqliteLog` appends recorded blocks to ``<data_dir>/<node>.sqlite``
from a writer thread of its own, builds the summary tiers of every
timeline as they are committed (`sisock.store.tiers`), compacts and
compresses finished blocks (`sisock.store.compaction`), reads ranges back
in any thread, and enforces retention (`sisock.store.retention`).
`sisock.store.store.Store` puts it behind the in-memory buffers; node
authors never use it directly.

File layout (schema 3, `sisock.store.schema`; pages of `PAGE_SIZE` bytes)
---------------------------------------------
``layout(id, timeline, fields)``
    The field names and types of a block, JSON ``[[name, type], ...]``; one
    row per distinct set, so a node whose fields change between runs still
    reads its old blocks.
``block(id, timeline, t0, t1, n, layout, t, num, txt, size, codec)``
    Raw samples, encoded by `sisock.store.blocks`: one row per recorded
    block as it is committed, or per run of a batch's blocks that start in
    the same span (`sisock.store.batches`) (``codec`` 0, uncompressed float64), later
    merged by compaction into one row per `compaction.SPAN` seconds
    (at most `compaction.MOST_SAMPLES` samples) with each column compressed
    by pcodec (``codec`` 1); ``size`` the bytes of ``t``, ``num`` and
    ``txt``. Index ``block_time(timeline, t0)``: a range read seeks to the
    block that holds ``start`` and walks forward, never scanning the table;
    ``block_plain`` (partial, ``codec = 0``) finds what is left to compact.
``rollup(id, timeline, width, field, seg, t0, nb, kind, codec, data, size)``
    The summary tiers (`sisock.store.tiers`): per timeline, width, field and
    segment of `tiers.SEGMENT_BUCKETS` buckets (a day of the 60 s tier), the
    statistics of the finished buckets, uncompressed as the writer thread
    writes them, one pcodec row per field once compaction joined a finished
    segment. Index ``rollup_seg(timeline, width, field, seg, t0)``;
    ``rollup_age(width, seg)`` for retention.

Blocks of one timeline never overlap in time (each is after the last),
which is what makes the seek exact; compaction keeps it so (it merges
neighbours only, and the merged row takes the smallest id of the rows it
replaces, so the size cap still drops the oldest first).

Durability
----------
The file is in WAL mode with ``synchronous=NORMAL``: a block whose
transaction has committed (its ``done`` callback was called with None)
survives the process being killed at any moment (``kill -9``, a crash),
and the file is never left corrupt. The tier buckets a batch of blocks
finishes are written in the next transaction (after the blocks are
acknowledged) and rebuilt from the blocks at open if a crash came in
between; each compaction merge is one transaction (new row
in, old rows out), so a kill at any moment loses and duplicates nothing.
After a power loss or an OS crash the last transactions before it may be
lost (never corrupted); guaranteeing them too needs ``synchronous=FULL``,
an fsync per commit.
"""

import json
import os
import sqlite3
import threading
import time
from collections import deque

import numpy as np
from twisted.logger import Logger

from sisock.store import batches, blocks, compaction, rebuild, retention, schema, tiers
from sisock.store.logreads import RANGE_SQL, LogReads, StoreError
from sisock.store.readers import ThreadConnections

_log = Logger()

__all__ = ["RANGE_SQL", "SqliteLog", "StoreError"]

SCHEMA_VERSION = schema.VERSION
#: Default seconds of history kept on disk (30 days).
DEFAULT_RETENTION = 30 * 86400.0
#: Default most bytes of recorded data kept on disk (1 GiB).
DEFAULT_MAX_BYTES = 1 << 30
#: Default summary tiers: ``(width, retention)`` seconds, None keeping them forever.
DEFAULT_ROLLUPS = ((60.0, 365 * 86400.0), (3600.0, None), (86400.0, None))
#: A batch is committed this many seconds after its first block arrived...
COMMIT_INTERVAL = 0.05
#: ...or once it holds this many blocks, whichever comes first.
COMMIT_BLOCKS = 1000
#: Seconds between retention passes of the writer thread.
RETENTION_INTERVAL = 1.0
#: Bytes of a page of a new file: compacted rows of a minute (1-4 KB) fill 4 KB pages badly (one or two
#: rows a page, a quarter of the file left empty), 16 KB ones to within a few per cent.
PAGE_SIZE = 16384

class SqliteLog(LogReads):
    """Recorded blocks of one node in one SQLite file, with their summary tiers.

    Parameters
    ----------
    path : str
        The file; its directory is created if missing.
    retention : float or None
        Seconds: blocks that ended more than this before now are deleted.
        None keeps them regardless of age.
    max_bytes : int or None
        Most bytes of recorded raw data (the ``size`` of all blocks) kept;
        the oldest blocks go first. None for no limit. The file is this
        plus the tiers, the index and page overhead (freed pages are
        returned to the file system: ``auto_vacuum=INCREMENTAL``).
    on_drop : callable, optional
        ``on_drop(timeline, t)`` after retention deleted every block of
        ``timeline`` with times ``<= t``; called in the writer thread.
    rollups : sequence of (float, float or None)
        The summary tiers, ``(width, retention)`` in seconds (None: kept
        forever), widths ascending, each a multiple of the one before.

    Raises
    ------
    StoreError
        If the file cannot be created, is not a sisock store, or cannot be
        put in WAL mode.
    """

    def __init__(self, path, retention=DEFAULT_RETENTION, max_bytes=DEFAULT_MAX_BYTES, on_drop=None,
                 rollups=DEFAULT_ROLLUPS):
        self.path = os.path.abspath(path)
        self.retention = retention
        self.max_bytes = max_bytes
        self.rollups = tuple((float(w), keep) for w, keep in rollups)
        self.widths = tuple(w for w, _ in self.rollups)
        self._on_drop = on_drop or (lambda timeline, t: None)
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._db = self._connect(check_same_thread=False)
            self._db.execute(f"PRAGMA page_size = {PAGE_SIZE}")    # these two take effect on a new file only
            self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"cannot open the store {self.path}: journal mode stays {mode!r}, not 'wal'")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA journal_size_limit = 67108864")
            schema.prepare(self._db)
            self._bytes = int(self._db.execute("SELECT total(size) FROM block").fetchone()[0])
        except schema.SchemaError as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from None
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from None
        self._layout_ids = {}        # writer: (timeline, fields JSON) -> id
        self._layouts = {}           # any thread: id -> [(name, type)]
        self._builders = {}          # writer: timeline -> TierBuilder
        self._compacted = {}         # writer: (timeline, width) -> first tier segment compaction has not seen
        self._unsettled = set()      # writer: timelines that may have rows to compact
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
    def declare(self, timeline, kinds):
        """Give the writer thread the fields of ``timeline`` (``{field: type}``), before its first block.

        The writer rebuilds the timeline's open tier buckets from the file
        (`sisock.store.rebuild`) before it commits the blocks written after.
        """
        self._enqueue(timeline, -np.inf, None, dict(kinds), None, None)

    def write(self, timeline, t, data, kinds, done=None):
        """Queue a block for the writer thread; returns at once.

        Parameters
        ----------
        timeline : str
            A timeline given to `declare`.
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
        self._enqueue(timeline, float(t[0]), t, data, kinds, done)

    def _enqueue(self, timeline, t0, t, data, kinds, done):
        with self._cond:
            self._queued += 1
            seq = self._queued
            self._pending.setdefault(timeline, deque()).append((seq, t0))
            self._queue.append((seq, timeline, t, data, kinds, done))
            if len(self._queue) == 1:
                self._arrived.set()
            elif len(self._queue) >= COMMIT_BLOCKS:
                self._urgent.set()

    def sync(self, timeline, before=np.inf):
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
        # Idle, it compacts, one merge (one transaction) at a time.
        next_retention, compacting = 0.0, True
        while True:
            self._arrived.wait(timeout=0.0 if compacting else max(0.0, next_retention - time.monotonic()))
            if self._arrived.is_set():
                self._urgent.wait(COMMIT_INTERVAL)
            with self._cond:
                batch, self._queue = self._queue, []
                closing = self._closing
                if not closing:
                    self._arrived.clear()
                    self._urgent.clear()
            start = 0
            for i, item in enumerate(batch):
                if item[2] is None:   # a declare: commit the blocks before it, then rebuild the tiers
                    self._commit(batch[start:i])
                    self._declare(item)
                    start = i + 1
            self._commit(batch[start:])
            compacting = compacting or bool(batch)
            if time.monotonic() >= next_retention or closing:
                self._enforce_retention()
                next_retention = time.monotonic() + RETENTION_INTERVAL
            if closing:
                break
            if compacting and not self._arrived.is_set():
                compacting = self._compact()
        self._db.close()

    def _declare(self, item):
        seq, timeline, _, kinds, _, _ = item
        try:
            now = time.time()
            since = {w: (now - keep) // (w * tiers.SEGMENT_BUCKETS) * (w * tiers.SEGMENT_BUCKETS)
                     for w, keep in self.rollups if keep is not None}
            self._builders[timeline] = rebuild.rebuild(self._db, timeline, kinds, self.widths,
                                                       self._layout_fields(self._db), since)
            self._unsettled.add(timeline)
        except Exception as exc:  # the writer thread must outlive any failure, and report it
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._builders[timeline] = tiers.TierBuilder(kinds, self.widths)
            _log.error("sisock: cannot rebuild the summary tiers of {timeline} in {path}: {exc}",
                       timeline=timeline, path=self.path, exc=exc)
        if seq is not None:
            self._done([item])

    def _commit(self, batch):
        """Insert a batch of blocks in one transaction, acknowledge them, then add their tier buckets.

        The consecutive blocks of a timeline with the same fields that start
        in the same span of compaction (`compaction.SPAN`) are joined into one
        row (one encoding and one insert, not one per block), as compaction
        would join them, but for the newest block, which keeps a row of its
        own: the newest row of a timeline is its latest block at the next
        open (`load`).
        """
        if not batch:
            return
        error, added, fed = None, 0, {}
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for timeline, fields, parts in batches.runs(batch):
                kinds = dict(fields)
                layout = self._layout_id(timeline, [list(f) for f in fields])
                t, data = batches.joined(parts, kinds)
                for rows in batches.rows(parts):
                    row = blocks.encode(t[rows], {f: v[rows] for f, v in data.items()}, kinds)
                    self._db.execute("INSERT INTO block (timeline, t0, t1, n, layout, t, num, txt, size)"
                                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (timeline, *row[:3], layout, *row[3:]))
                    added += row[-1]
                fed.setdefault(timeline, []).append((t, data))
            self._db.execute("COMMIT")
            self._bytes += added
            self._unsettled.update(fed)
        except Exception as exc:  # the writer thread must outlive any failure, and report it
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._layout_ids.clear()
            fed = {}
            error = StoreError(f"cannot write to the store {self.path}: {exc}")
            _log.error("sisock: {error}", error=error)
        for *_, done in batch:   # durable from here: a crash now loses no sample, and the tiers are rebuilt
            if done is not None:
                done(error)
        self._summarize(fed)
        self._done(batch)

    def _summarize(self, fed):
        """Add the committed blocks ``{timeline: [(t, data), ...]}`` to the tiers, in one transaction.

        If it fails, each timeline's tiers are rebuilt from the file (which
        holds the blocks), as at open.
        """
        states = {tl: self._builders[tl].state() for tl in fed if tl in self._builders}
        if not states:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for timeline in states:
                builder = self._builders[timeline]
                tiers.write(self._db, timeline, builder.add(*batches.joined(fed[timeline], builder.kinds)))
            self._db.execute("COMMIT")
        except Exception as exc:  # the writer thread must outlive any failure, and report it
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            _log.error("sisock: cannot write the summary tiers to {path}, rebuilding them: {exc}",
                       path=self.path, exc=exc)
            for timeline in states:
                self._declare((None, timeline, None, self._builders[timeline].kinds, None, None))

    def _done(self, batch):
        """The items of ``batch`` are written: wake whoever syncs on them."""
        with self._cond:
            self._committed = max(self._committed, batch[-1][0])
            for _, timeline, *_ in batch:
                self._pending[timeline].popleft()
            self._cond.notify_all()

    def _layout_id(self, timeline, fields):
        key = (timeline, json.dumps(fields))
        if key not in self._layout_ids:
            self._db.execute("INSERT OR IGNORE INTO layout (timeline, fields) VALUES (?, ?)", key)
            self._layout_ids[key] = self._db.execute(
                "SELECT id FROM layout WHERE timeline = ? AND fields = ?", key).fetchone()[0]
        return self._layout_ids[key]

    def _compact(self):
        """One compaction merge (`sisock.store.compaction`); whether more may be left."""
        try:
            more, delta = compaction.step(self._db, self._unsettled, {tl: b.last for tl, b in self._builders.items()},
                                          self.widths, self._layout_fields(self._db), self._layout_id,
                                          self._compacted)
        except Exception as exc:  # the writer thread must outlive any failure, and report it
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            _log.warn("sisock: compaction of the store {path} failed, retried later: {exc}", path=self.path, exc=exc)
            return False
        self._bytes += delta
        return more

    def _enforce_retention(self):
        """Delete blocks older than `retention`, then the oldest beyond `max_bytes`, then old tier segments."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            dropped, freed = retention.enforce(self._db, self.retention, self.max_bytes, self._bytes, self.rollups)
            self._db.execute("COMMIT")
            self._bytes -= freed
            if dropped:
                self._db.execute("PRAGMA incremental_vacuum")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            _log.warn("sisock: retention of the store {path} failed, retried later: {exc}", path=self.path, exc=exc)
            return
        for tl, t in dropped.items():
            self._on_drop(tl, t)

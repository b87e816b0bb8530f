"""The reading half of `sisock.store.sqlite.SqliteLog`: ranges, windows, tiers, in any thread.

Each reading thread has its own read-only connection (`sisock.store.readers`);
WAL mode lets reads run while the writer thread commits.
"""

import json
import time
from contextlib import contextmanager

import numpy as np

from sisock.store import blocks, packing, rebuild, tiers
from sisock.store.buffer import FIELD_TYPES
from sisock.store.readers import ConnectionClosed

#: Blocks that may hold samples in ``[:start, :end)``, in time order: from
#: the last block starting at or before ``start`` (found by an index seek).
RANGE_SQL = """
SELECT t0, t1, layout, codec, n, t, num, txt FROM block
WHERE timeline = :tl AND t0 < :end AND t0 >= coalesce(
    (SELECT t0 FROM block WHERE timeline = :tl AND t0 <= :start ORDER BY t0 DESC LIMIT 1), :start)
ORDER BY t0"""

#: The first and last sample times of a timeline in the file, by two seeks of the time index.
SPAN_SQL = """
SELECT (SELECT min(t0) FROM block WHERE timeline = :tl),
       (SELECT t1 FROM block WHERE timeline = :tl ORDER BY t0 DESC LIMIT 1)"""

#: The blocks of `RANGE_SQL` for each window ``[lo, hi]`` of the JSON array ``:w`` in turn (the windows
#: drive the join: one index seek each); a block shared by neighbouring windows comes once per window.
WINDOWS_SQL = """
SELECT b.t0, b.t1, b.layout, b.codec, b.n, b.t, b.num, b.txt
FROM json_each(:w) AS w CROSS JOIN block AS b
WHERE b.timeline = :tl AND b.t0 < json_extract(w.value, '$[1]') AND b.t1 >= json_extract(w.value, '$[0]')
  AND b.t0 >= coalesce(
    (SELECT t0 FROM block WHERE timeline = :tl AND t0 <= json_extract(w.value, '$[0]') ORDER BY t0 DESC LIMIT 1),
    json_extract(w.value, '$[0]'))"""


class StoreError(RuntimeError):
    """The store file cannot be opened or written; the message names the file and why."""


class LogReads:
    """Reads of a store file; mixed into `sisock.store.sqlite.SqliteLog` (uses its path, readers, layouts,
    widths and retention)."""

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
        return self.read_windows(timeline, kinds, np.array([[start, end]], dtype=np.float64))

    def read_windows(self, timeline, kinds, windows):
        """Samples of ``timeline`` with ``lo <= t < hi`` for a row ``[lo, hi)`` of ``windows``, from the file.

        ``windows`` is a float64 array (k, 2), sorted and disjoint; the
        rest as `read`.
        """
        windows = np.asarray(windows, dtype=np.float64).reshape(-1, 2)
        with self._reading() as db:
            if len(windows) == 1:
                found = db.execute(RANGE_SQL, {"tl": timeline, "start": windows[0, 0], "end": windows[0, 1]})
            else:
                found = db.execute(WINDOWS_SQL, {"tl": timeline, "w": json.dumps(windows.tolist())})
            unique = {row[0]: row[2:] for row in found if row[1] >= windows[0, 0]}   # a block of two windows once
            rows = [unique[t0] for t0 in sorted(unique)]
            t, data = blocks.decode(rows, kinds, self._layout_fields(db))
        if len(windows) == 1:
            lo, hi = np.searchsorted(t, windows[0], side="left")
            return t[lo:hi], {f: v[lo:hi] for f, v in data.items()}
        k = np.searchsorted(windows[:, 0], t, side="right") - 1
        inside = (k >= 0) & (t < windows[np.maximum(k, 0), 1])
        return t[inside], {f: v[inside] for f, v in data.items()}

    def read_rollup(self, timeline, width, kinds, windows, stats=None):
        """Finished buckets of tier ``width`` whose start lies in a row ``[lo, hi)`` of ``windows``.

        ``stats`` names the statistics wanted of number fields (all by default).

        Returns
        -------
        tuple
            A `sisock.store.rollup` summary ``(t0, n, {field: {stat: ndarray}})``
            of the fields of ``kinds``, in time order.
        """
        segs = tiers.segments(windows, width)
        with self._reading() as db:
            return tiers.read(db, timeline, width, kinds, segs, stats, windows)

    def span(self, timeline):
        """``(first, last)``: the times of the oldest and newest sample of ``timeline`` in the file, or
        ``(None, None)``."""
        with self._reading() as db:
            first, last = db.execute(SPAN_SQL, {"tl": timeline}).fetchone()
        return first, last

    def coverage(self, timeline):
        """``{"raw": (first t0, last t1), width: (first bucket start, end of the last finished bucket)}``.

        From the file alone (NaN pairs for nothing); the tier ends are the
        ends of their last rows.
        """
        with self._reading() as db:
            raw = db.execute(SPAN_SQL, {"tl": timeline}).fetchone()
            out = {"raw": tuple(np.nan if v is None else float(v) for v in raw)}
            for width in self.widths:
                first = db.execute("SELECT min(seg) FROM rollup WHERE timeline = ? AND width = ? AND field = ''",
                                   (timeline, width)).fetchone()[0]
                if first is None:
                    out[width] = (np.nan, np.nan)
                    continue
                summary = tiers.read(db, timeline, width, {}, np.array([first]))
                out[width] = (float(summary[0][0]), rebuild.finished_end(db, timeline, width))
        return out

    def has_samples(self, timeline, start, end):
        """Whether ``timeline`` has a sample with ``start <= t < end`` in the file."""
        with self._reading() as db:
            rows = db.execute(RANGE_SQL + " LIMIT 2", {"tl": timeline, "start": start, "end": end}).fetchall()
        for t0, t1, _, codec, n, tb, _, _ in rows:
            if t0 >= start:
                return True
            t = packing.unpack_columns(tb, 1, n, codec)[0]
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
            for t1, n, *row in db.execute("SELECT t1, n, layout, codec, n, t, num, txt FROM block"
                                          " WHERE timeline = ? ORDER BY t0 DESC", (timeline,)):
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

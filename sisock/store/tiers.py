"""The summary tiers of a store file: built as blocks are committed, kept as rows, read by windows.

Every timeline has one tier per configured width (60 s, 1 h and 1 d by
default), each a `sisock.store.rollup` summary per epoch-aligned bucket.
The writer thread feeds each committed block to the timeline's
`TierBuilder`: the finest tier is summarised from the samples, each coarser
one from the finished buckets of the one below (cascading, never re-reading
the file). A bucket is finished once a sample at or after its end was
committed; finished buckets are written in the transaction right after
the one of the blocks that finished them, the open bucket of each tier
stays in memory, and both are rebuilt at open from the rows and the raw
blocks since (`sisock.store.rebuild`).

Rows (table ``rollup``)
-----------------------
One row per timeline, width, field and piece of a segment: a segment is
`SEGMENT_BUCKETS` consecutive buckets (a day of the 60 s tier) starting at
a multiple of ``SEGMENT_BUCKETS * width``, so the segments a window needs
are computed, not searched. The row of field ``''`` holds the bucket starts
and sample counts (``t0``, ``n``); the row of a field the same buckets'
statistics (number: the 8 columns of `rollup.STATS`; bool: 2 columns of
0/1; string: JSON ``[firsts, lasts]``), written in the same transaction
with the same ``t0`` (its first bucket), so a field row lines up with its
``''`` row. As the writer thread writes them, the columns are plain
float64 (`packing.PLAIN`, sample-major). Compaction
(`sisock.store.compaction`) later joins the pieces of a finished segment
into one row per field compressed with pcodec (`packing.PCO`), where
``tmin`` and ``tmax`` are seconds after their bucket's start (exact: the
difference of two float64 less than a bucket apart is; it takes a few bits
where the time itself takes dozens). A read decodes only the statistics
it asks for.
"""

import itertools
import json

import numpy as np

from sisock.store import packing, rollup
from sisock.store.rollup import STATS

#: Buckets per segment of a tier (a row after compaction holds at most this many): a day of the 60 s tier.
SEGMENT_BUCKETS = 1440
#: The statistics stored as seconds after their bucket's start in compressed rows.
_OFFSETS = ("tmin", "tmax")

_INSERT = ("INSERT INTO rollup (timeline, width, field, seg, t0, nb, kind, codec, data, size)"
           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


class TierBuilder:
    """The open buckets of one timeline's tiers, turning committed samples into finished buckets.

    Parameters
    ----------
    kinds : dict of str to str
        The timeline's declared ``{field: type}``.
    widths : sequence of float
        Tier widths in seconds, ascending, each a multiple of the one before.
    finished : dict of float to float, optional
        Per width, the end of the last bucket already on disk: buckets
        before it fed in again are ignored (replay after a restart).
    """

    def __init__(self, kinds, widths, finished=None):
        self.kinds = dict(kinds)
        self.widths = tuple(widths)
        self._empty = rollup.empty(self.kinds)   # shared: nothing writes into a summary's arrays
        self.open = {w: self._empty for w in self.widths}
        self.finished = {w: -np.inf for w in self.widths} | dict(finished or {})
        self.last = -np.inf   # newest sample time fed

    def add(self, t, data):
        """Feed samples (after every sample fed before); returns ``{width: finished summary}``.

        Parameters
        ----------
        t : numpy.ndarray, float64, shape (m,)
        data : dict of str to numpy.ndarray, each (m,)
            Fields of `kinds`; a missing one counts as NaN, False or None.
        """
        if len(t) == 0:
            return {}
        self.last = float(t[-1])
        if not self.widths:
            return {}
        fresh = rollup.summarize(t, data, self.kinds, self.widths[0])
        out = {}
        for w in self.widths:
            if len(fresh[0]) and fresh[0][0] < self.finished[w]:   # replayed after a restart
                fresh = rollup.take(fresh, fresh[0] >= self.finished[w])
            merged = self._merged(w, fresh)
            done = int(np.count_nonzero(merged[0] + w <= self.last))   # a prefix: the buckets finished
            self.open[w] = rollup.take(merged, np.arange(done, len(merged[0]))) if done else merged  # a copy
            fresh = rollup.take(merged, slice(0, done)) if done else self._empty
            if done:
                out[w] = fresh
                self.finished[w] = float(fresh[0][-1]) + w
        return out

    def _merged(self, w, fresh):
        """The open bucket of tier ``w`` followed by ``fresh`` (finer buckets, or of width ``w``), in buckets of ``w``.

        Fresh buckets of width ``w`` (the finest tier's) are merged only where
        one continues the open bucket, the first, not all coarsened again.
        """
        open_ = self.open[w]
        if w != self.widths[0] or not len(fresh[0]):
            return rollup.coarsen(rollup.concat([open_, fresh], self.kinds), self.kinds, w)
        if not len(open_[0]) or open_[0][-1] != fresh[0][0]:
            return rollup.concat([open_, fresh], self.kinds)
        head = rollup.coarsen(rollup.concat([open_, rollup.take(fresh, [0])], self.kinds), self.kinds, w)
        return rollup.concat([head, rollup.take(fresh, slice(1, None))], self.kinds)

    def state(self):
        """A copy of the state, for `restore` after a failed transaction."""
        return dict(self.open), dict(self.finished), self.last

    def restore(self, state):
        open_, finished, self.last = state
        self.open, self.finished = dict(open_), dict(finished)


def write(db, timeline, finished, codec=packing.PLAIN):
    """Insert the rows of finished buckets ``{width: summary}`` (inside the caller's transaction).

    Returns the bytes written.
    """
    size = 0
    for width, summary in finished.items():
        t0 = summary[0]
        if not len(t0):
            continue
        seg = rollup.bucket_index(t0, width * SEGMENT_BUCKETS)
        starts = np.concatenate(([0], np.flatnonzero(np.diff(seg)) + 1, [len(seg)]))
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            size += write_piece(db, timeline, width, int(seg[a]), rollup.take(summary, slice(a, b)), codec)
    return size


def write_piece(db, timeline, width, seg, summary, codec):
    """Insert the rows of one piece of segment ``seg`` (field ``''`` and every field); returns the bytes."""
    t0, n, stats = summary
    rows = [("", "n", packing.pack_columns([t0, n.astype(np.float64)], codec))]
    for name, columns in stats.items():
        kind = "number" if "count" in columns else ("string" if columns["first"].dtype == object else "bool")
        rows.append((name, kind, _encode(kind, columns, codec, t0)))
    key = (timeline, float(width), None, seg, float(t0[0]), len(t0))
    for name, kind, blob in rows:
        db.execute(_INSERT, (*key[:2], name, *key[3:], kind, codec, blob, len(blob)))
    return sum(len(blob) for _, _, blob in rows)


def _encode(kind, columns, codec, t0):
    if kind == "string":
        return json.dumps([columns["first"].tolist(), columns["last"].tolist()]).encode()
    shift = codec != packing.PLAIN
    return packing.pack_columns([columns[s] - t0 if shift and s in _OFFSETS else columns[s].astype(np.float64)
                                 for s in STATS[kind]], codec)


def _decode(kind, row, wanted, t0):
    """The ``wanted`` statistics of one field row ``(field, t0, nb, kind, codec, data)``; ``t0`` its buckets'."""
    _, _, nb, _, codec, blob = row
    if kind == "string":
        first, last = json.loads(blob)
        out = {"first": np.empty(nb, object), "last": np.empty(nb, object)}
        out["first"][:], out["last"][:] = first, last
        return out
    names = STATS[kind]
    out = dict(zip(wanted, packing.unpack_columns(blob, len(names), nb, codec, [names.index(s) for s in wanted]),
                   strict=True))
    if codec != packing.PLAIN:
        out |= {s: out[s] + t0 for s in _OFFSETS if s in out}
    return out


def _typed(kind, columns):
    """Float64 ``columns`` of a field as `rollup` keeps them: ``count`` int64, bool fields bool."""
    if kind == "number":
        return columns | ({"count": columns["count"].astype(np.int64)} if "count" in columns else {})
    return {s: v != 0 for s, v in columns.items()}


def segments(windows, width):
    """The segments (int64, ascending, unique) holding the buckets that start in any ``[lo, hi)`` of ``windows``."""
    windows = np.asarray(windows, dtype=np.float64).reshape(-1, 2)
    span = width * SEGMENT_BUCKETS
    first = rollup.bucket_index(windows[:, 0] - width + width * 1e-9, width) + 1   # first bucket start >= lo
    last = rollup.bucket_index(windows[:, 1] - width * 1e-9, width)                # last bucket start < hi
    keep = last >= first
    s0 = rollup.bucket_index(first[keep] * width, span)
    s1 = rollup.bucket_index(last[keep] * width, span)
    counts = s1 - s0 + 1
    if counts.sum() == 0:
        return np.empty(0, np.int64)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.unique(np.repeat(s0, counts) + offsets)


def read(db, timeline, width, kinds, segs, stats=None, windows=None):
    """The finished buckets of segments ``segs`` on disk, fields ``kinds`` (a summary, in time order).

    ``stats`` names the statistics wanted of number fields (all of
    `rollup.STATS` by default); bool and string fields get all of theirs.
    With ``windows`` (float64 (k, 2), sorted, disjoint), only the buckets
    whose start lies in a ``[lo, hi)`` row are kept (each row is decoded,
    then cut, so nothing more than those is put together).
    """
    names = ["", *kinds]
    sql = (f"SELECT field, t0, nb, kind, codec, data FROM rollup WHERE timeline = ? AND width = ?"
           f" AND field IN ({', '.join('?' * len(names))}) AND seg IN (SELECT value FROM json_each(?))")
    rows = db.execute(sql, (timeline, float(width), *names, json.dumps(segs.tolist()))).fetchall()
    rows.sort(key=lambda row: row[1])   # by t0 (faster here than an ORDER BY, which sorts the blobs too)
    index = [r for r in rows if r[0] == ""]
    if not index:
        return rollup.empty(kinds)
    t0, n = _columns(index, 2, [0, 1])
    keep = np.ones(len(t0), bool) if windows is None else _in_windows(t0, windows)
    offset = dict(zip((r[1] for r in index), np.cumsum([0] + [r[2] for r in index]).tolist(), strict=False))
    out = {}
    for name, kind in kinds.items():
        wanted = tuple(STATS[kind] if stats is None or kind != "number" else stats)
        mine = [r for r in rows if r[0] == name and r[3] == kind and r[1] in offset]
        if len(mine) == len(index) and kind != "string":   # the usual case: a row for every index row
            which = [STATS[kind].index(s) for s in wanted]
            out[name] = _typed(kind, dict(zip(wanted, _columns(mine, len(STATS[kind]), which, t0, wanted, keep),
                                              strict=True)))
            continue
        kept = np.cumsum(keep) - keep   # where each bucket goes among the kept ones
        blank = rollup.blank({name: kind}, t0[keep], n[keep].astype(np.int64))[2][name]
        out[name] = {s: blank[s] for s in wanted}   # a field missing from some rows: filled
        for r in mine:
            at = offset[r[1]]
            mask = keep[at:at + r[2]]
            part = _decode(kind, r, wanted, t0[at:at + r[2]])
            for s, v in (_typed(kind, part) if kind != "string" else part).items():
                out[name][s][kept[at]:kept[at] + mask.sum()] = v[mask]
    return t0[keep], n[keep].astype(np.int64), out


def _columns(rows, ncols, which, t0=None, names=(), keep=None):
    """Columns ``which`` (named ``names``) of rows ``(field, t0, nb, kind, codec, data)`` in order, the
    buckets ``t0``, those of ``keep`` only (a bool mask, all by default): runs of plain rows joined and
    read at once, compressed rows decoded each (those with a bucket kept)."""
    parts, at = [], 0
    for codec, run in itertools.groupby(rows, key=lambda r: r[4]):
        run = list(run)
        size = sum(r[2] for r in run)
        if codec == packing.PLAIN:
            matrix = np.frombuffer(b"".join(r[5] for r in run), "<f8").reshape(-1, ncols)
            mask = slice(None) if keep is None else keep[at:at + size]
            parts.append([matrix[:, i][mask] for i in which])
            at += size
            continue
        for r in run:
            mask = slice(None) if keep is None else keep[at:at + r[2]]
            if keep is None or mask.any():
                columns = packing.unpack_columns(r[5], ncols, r[2], codec, which)
                parts.append([c[mask] + t0[at:at + r[2]][mask] if s in _OFFSETS else c[mask]
                              for c, s in itertools.zip_longest(columns, names)])
            at += r[2]
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return [np.empty(0) for _ in which]
    return [np.concatenate([p[i] for p in parts]) for i in range(len(which))]


def _in_windows(t0, windows):
    """Whether each of the sorted ``t0`` lies in a ``[lo, hi)`` row of ``windows`` (sorted, disjoint)."""
    bounds = np.searchsorted(t0, np.asarray(windows, dtype=np.float64).reshape(-1, 2))
    edges = np.zeros(len(t0) + 1, np.int64)
    np.add.at(edges, bounds[:, 0], 1)
    np.add.at(edges, bounds[:, 1], -1)
    return np.cumsum(edges[:-1]) > 0

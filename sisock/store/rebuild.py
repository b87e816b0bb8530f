"""The tiers of a timeline at open: finished buckets missing from the file are built, open ones rebuilt.

Finished buckets are written in the transaction right after the one of
the blocks that finished them (the blocks are acknowledged in between);
what lives only in memory is each tier's open bucket, and a crash may also
lose the finished buckets of the last blocks. `rebuild` recomputes both
from what the file holds:
the finest tier from the raw blocks since its last finished bucket, each
coarser tier from the rows of the tier below since its own last finished
bucket. The same pass builds every bucket the file lacks altogether: the
tiers of a file upgraded from schema 1, or a tier added to the
configuration. It reads in chunks (`CHUNK_SAMPLES` raw samples,
`CHUNK_SEGMENTS` segments of a tier) and commits the finished buckets of
each chunk in a transaction of its own, so memory stays bounded and an
interrupted rebuild resumes where it stopped.
"""

import numpy as np

from sisock.store import blocks, packing, rollup, tiers

#: Raw samples summarised at once.
CHUNK_SAMPLES = 200_000
#: Segments of a tier merged at once.
CHUNK_SEGMENTS = 200


def finished_end(db, timeline, width):
    """End of the last bucket of tier ``width`` in the file (-inf if none)."""
    row = db.execute("SELECT nb, codec, data FROM rollup WHERE timeline = ? AND width = ? AND field = ''"
                     " ORDER BY seg DESC, t0 DESC LIMIT 1", (timeline, width)).fetchone()
    if row is None:
        return -np.inf
    t0 = packing.unpack_columns(row[2], 2, row[0], row[1])[0]
    return float(t0[-1]) + width


def rebuild(db, timeline, kinds, widths, layout_fields, since=None):
    """A `tiers.TierBuilder` for ``timeline`` whose open buckets continue the file.

    Parameters
    ----------
    db : sqlite3.Connection
        The writer's connection, outside a transaction.
    timeline : str
    kinds : dict of str to str
        The timeline's declared fields and types.
    widths : sequence of float
        The tiers, ascending.
    layout_fields : callable
        ``layout_fields(layout id) -> [(name, type), ...]``.
    since : dict of float to float, optional
        Per width, the oldest time its tier keeps (its retention): nothing
        older is built, only for retention to delete it again.
    """
    since = since or {}
    builder = tiers.TierBuilder(kinds, widths, {w: max(finished_end(db, timeline, w), since.get(w, -np.inf))
                                                for w in widths})
    last = db.execute("SELECT t1 FROM block WHERE timeline = ? ORDER BY t0 DESC LIMIT 1", (timeline,)).fetchone()
    last = None if last is None else last[0]
    builder.last = -np.inf if last is None else float(last)
    for i, width in enumerate(widths):
        source = _raw_chunks(db, timeline, kinds, width, builder, layout_fields) if i == 0 else \
            _tier_chunks(db, timeline, kinds, widths[i - 1], builder.finished[width], builder.last)
        open_ = rollup.empty(kinds)
        for fresh, progress in source:
            fresh = rollup.take(fresh, fresh[0] >= builder.finished[width])
            merged = rollup.coarsen(rollup.concat([open_, fresh], kinds), kinds, width)
            done = merged[0] + width <= progress
            open_ = rollup.take(merged, ~done)
            if done.any():
                finished = rollup.take(merged, done)
                db.execute("BEGIN IMMEDIATE")
                tiers.write(db, timeline, {width: finished})
                db.execute("COMMIT")
                builder.finished[width] = float(finished[0][-1]) + width
        builder.open[width] = open_
    return builder


def _raw_chunks(db, timeline, kinds, width, builder, layout_fields):
    """``(summary of width, progress)`` of the raw samples since the tier's last finished bucket, in chunks."""
    since = builder.finished[width]
    rows, count = [], 0
    cursor = db.execute("SELECT layout, codec, n, t, num, txt FROM block WHERE timeline = :tl AND t0 >= coalesce("
                        "(SELECT t0 FROM block WHERE timeline = :tl AND t0 <= :since ORDER BY t0 DESC LIMIT 1),"
                        " :since) ORDER BY t0", {"tl": timeline, "since": since if np.isfinite(since) else -1e300})
    for row in cursor:
        rows.append(row)
        count += row[2]
        if count >= CHUNK_SAMPLES:
            yield _summary(rows, kinds, width, since, layout_fields)
            rows, count = [], 0
    if rows:
        yield _summary(rows, kinds, width, since, layout_fields)


def _summary(rows, kinds, width, since, layout_fields):
    t, data = blocks.decode(rows, kinds, layout_fields)
    keep = t >= since
    return rollup.summarize(t[keep], {f: v[keep] for f, v in data.items()}, kinds, width), float(t[-1])


def _tier_chunks(db, timeline, kinds, below, start, last):
    """``(summary, progress)`` of the finished buckets of tier ``below`` from ``start`` on, in chunks.

    ``last`` is the newest raw sample time: every bucket of ``below`` that
    ends before it is finished (on disk, or empty).
    """
    span = below * tiers.SEGMENT_BUCKETS
    first = db.execute("SELECT min(seg) FROM rollup WHERE timeline = ? AND width = ? AND field = ''",
                       (timeline, below)).fetchone()[0]
    if first is None:
        return
    if not np.isfinite(last):  # no raw sample left: every bucket of the tier below on disk is finished
        top = db.execute("SELECT max(seg) FROM rollup WHERE timeline = ? AND width = ? AND field = ''",
                         (timeline, below)).fetchone()[0]
        last = (int(top) + 1) * span
    end = np.floor(last / below) * below
    seg = max(int(first), int(start // span) if np.isfinite(start) else int(first))
    stop = int(end // span) + 1
    while seg < stop:
        segs = np.arange(seg, min(seg + CHUNK_SEGMENTS, stop))
        seg = int(segs[-1]) + 1
        yield tiers.read(db, timeline, below, kinds, segs), min(end, seg * span)

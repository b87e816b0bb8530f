"""Compaction of a store file: small rows of finished spans merged into large compressed ones.

The writer thread commits each recorded block as it comes (one row, plain
float64) and the finished tier buckets of each commit as pieces of their
segment. Once final, they are merged, by the writer thread when it has
nothing to commit (`step`, one merge a call):

raw blocks
    The plain blocks of a timeline whose time lies wholly within a
    finished epoch-aligned span of `SPAN` seconds (the newest sample is
    after it) become one row of at most `MOST_SAMPLES` samples, its
    columns compressed with pcodec (`sisock.store.packing.PCO`).
tier pieces
    The pieces of a finished segment (`sisock.store.tiers.SEGMENT_BUCKETS`
    buckets, a day of the 60 s tier) become one row per field, its columns
    compressed with pcodec.

Each merge is one transaction: the new row goes in (taking the smallest id
of those it replaces) and the old rows go out together, so a process killed
at any moment leaves either the old rows or the new one, never both and
never neither.

Sizes (`sisock.store.packing` has the measurements): a read of a window
of one minute decodes one or two rows; at 1 Hz a row of 60 s holds 60
samples, which pcodec stores in 3.4 bytes a value on host metrics (2.6 in
rows of 600, but a one-minute window would then decode ten times more).
"""

import numpy as np

from sisock.store import blocks, packing, tiers

#: Seconds of the epoch-aligned spans that raw blocks are merged over.
SPAN = 60.0
#: Most samples of a merged raw row.
MOST_SAMPLES = 4096
#: Plain rows looked at per merge.
_BATCH = 2000


def step(db, unsettled, lasts, widths, layout_fields, layout_id, progress):
    """Do one merge, if there is one to do; returns ``(whether more may be left, raw bytes added)``.

    Parameters
    ----------
    db : sqlite3.Connection
        The writer's connection, outside a transaction.
    unsettled : set of str
        The timelines that may have something to merge (recorded to since
        they were last found settled); those found with nothing are removed.
    lasts : dict of str to float
        Per timeline, its newest committed sample time.
    widths : sequence of float
        The tiers.
    layout_fields : callable
        ``layout_fields(layout id) -> [(name, type), ...]``.
    layout_id : callable
        ``layout_id(timeline, [[name, type], ...]) -> id`` (inside the transaction).
    progress : dict
        The caller's memory of ``(timeline, width) -> first segment not
        yet looked at``, updated here.
    """
    for timeline in sorted(unsettled):
        last = lasts.get(timeline, -np.inf)
        delta = _raw(db, timeline, np.floor(last / SPAN) * SPAN, layout_fields, layout_id)
        if delta is not None:
            return True, delta
        for width in widths:
            first = progress.get((timeline, width), -(1 << 62))
            span = width * tiers.SEGMENT_BUCKETS
            limit = int(np.floor(np.floor(last / width) * width / span))   # segments before it are finished
            row = db.execute("SELECT seg FROM rollup WHERE timeline = ? AND width = ? AND field = '' AND seg >= ?"
                             " AND seg < ? GROUP BY seg HAVING count(*) > 1 OR min(codec) = 0 ORDER BY seg LIMIT 1",
                             (timeline, width, first, limit)).fetchone()
            if row is not None:
                _segment(db, timeline, width, row[0])
                progress[(timeline, width)] = row[0] + 1
                return True, 0
            progress[(timeline, width)] = max(first, limit)
        unsettled.discard(timeline)
    return False, 0


def _raw(db, timeline, limit, layout_fields, layout_id):
    """Merge the first plain blocks of ``timeline`` ending before ``limit``; bytes added, or None for none."""
    rows = db.execute("SELECT id, t0, layout, n, size FROM block"
                      " WHERE timeline = ? AND codec = 0 AND t1 < ? ORDER BY t0 LIMIT ?",
                      (timeline, limit, _BATCH)).fetchall()
    if not rows:
        return None
    span = np.floor(rows[0][1] / SPAN)
    group, kinds, count = [], {}, 0
    for row in rows:
        fields = dict(layout_fields(row[2]))
        if group and (np.floor(row[1] / SPAN) != span or count + row[3] > MOST_SAMPLES
                      or any(kinds.get(f, k) != k for f, k in fields.items())):
            break
        group.append(row)
        kinds.update(fields)
        count += row[3]
    found = db.execute(f"SELECT layout, codec, n, t, num, txt FROM block WHERE id IN ({', '.join('?' * len(group))})"
                       " ORDER BY t0", [r[0] for r in group]).fetchall()   # the blobs of the group only
    t, data = blocks.decode(found, kinds, layout_fields)
    row = blocks.encode(t, data, kinds, packing.PCO)
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(f"DELETE FROM block WHERE id IN ({', '.join('?' * len(group))})", [r[0] for r in group])
        layout = layout_id(timeline, [[f, k] for f, k in kinds.items()])
        db.execute("INSERT INTO block (id, timeline, t0, t1, n, layout, t, num, txt, size, codec)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (group[0][0], timeline, *row[:3], layout, *row[3:], packing.PCO))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return row[-1] - sum(r[4] for r in group)


def _segment(db, timeline, width, seg):
    """Merge the pieces of segment ``seg`` of tier ``width`` into one compressed row per field."""
    kinds = dict(db.execute("SELECT DISTINCT field, kind FROM rollup WHERE timeline = ? AND width = ? AND seg = ?"
                            " AND field != ''", (timeline, width, seg)).fetchall())
    summary = tiers.read(db, timeline, width, kinds, np.array([seg]))
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("DELETE FROM rollup WHERE timeline = ? AND width = ? AND seg = ?", (timeline, width, seg))
        tiers.write_piece(db, timeline, width, seg, summary, packing.PCO)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise

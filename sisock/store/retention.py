"""Retention of a store file: raw blocks by age and by size, summary tiers by their own age.

Run by the writer thread of `sisock.store.sqlite.SqliteLog`, inside one
transaction it opens and commits.
"""

import time

import numpy as np

from sisock.store.tiers import SEGMENT_BUCKETS


def enforce(db, retention, max_bytes, total_bytes, rollups, now=None):
    """Delete what is beyond the limits; returns ``({timeline: newest raw time deleted}, raw bytes freed)``.

    Parameters
    ----------
    db : sqlite3.Connection
        The writer's connection, inside a transaction.
    retention : float or None
        Seconds: raw blocks that ended more than this before ``now`` go.
    max_bytes : float or None
        Most bytes of raw blocks (their ``size``) kept: the oldest beyond go.
    total_bytes : int
        The ``size`` of every raw block now.
    rollups : sequence of (float, float or None)
        ``(width, retention seconds or None)`` per tier: the segments of a
        tier that ended more than its retention before ``now`` go.
    now : float, optional
        UNIX seconds UTC; the clock by default.
    """
    now = time.time() if now is None else now
    dropped, freed = {}, 0
    if retention is not None:
        cutoff = now - retention
        for (tl,) in db.execute("SELECT DISTINCT timeline FROM layout").fetchall():
            where = "WHERE timeline = ? AND t0 < ? AND t1 < ?"
            t1, size = db.execute(f"SELECT max(t1), total(size) FROM block {where}", (tl, cutoff, cutoff)).fetchone()
            if t1 is not None:
                db.execute(f"DELETE FROM block {where}", (tl, cutoff, cutoff))
                freed += int(size)
                dropped[tl] = t1
    if max_bytes is not None and total_bytes - freed > max_bytes:
        excess, last = total_bytes - freed - max_bytes, None
        oldest = db.execute("SELECT id, timeline, t1, size FROM block ORDER BY id")
        for row_id, tl, t1, size in oldest:
            dropped[tl] = max(t1, dropped.get(tl, t1))
            excess -= size
            last = row_id
            if excess <= 0:
                break
        oldest.close()
        if last is not None:
            freed += int(db.execute("SELECT total(size) FROM block WHERE id <= ?", (last,)).fetchone()[0])
            db.execute("DELETE FROM block WHERE id <= ?", (last,))
    for width, keep in rollups:
        if keep is not None and np.isfinite(keep):
            span = width * SEGMENT_BUCKETS
            db.execute("DELETE FROM rollup WHERE width = ? AND seg < ?", (width, (now - keep) // span))
    return dropped, freed

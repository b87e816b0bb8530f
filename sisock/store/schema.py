"""The tables of a store file, and the upgrade of older files in place.

Schema (``PRAGMA user_version``)
--------------------------------
1
    ``layout`` and ``block`` (one row per recorded block, uncompressed).
2
    ``block`` gains ``codec`` (`sisock.store.packing`: 0 plain as in 1, 1
    compacted and compressed); table ``rollup`` holds the summary tiers
    (`sisock.store.tiers`). A file of version 1 is upgraded when opened: the
    column and the table are added in one transaction (its blocks stay as
    they are, read as codec 0), and its tiers are built from its blocks by
    the writer thread as if they had just been recorded.
3
    A tier segment is 1440 buckets (a day of the 60 s tier), not 60, and
    compaction joins a finished segment's rows into pcodec rows
    (`sisock.store.tiers`). A file of version 2 is upgraded when opened:
    its tier rows are numbered in the larger segments (24 old segments
    make one new one), in one transaction; they stay plain, read as they
    are, and compaction joins each finished segment later, one transaction
    a segment, as it does for new rows.
"""

import sqlite3

VERSION = 3
#: Old segments of 60 buckets in one of `sisock.store.tiers.SEGMENT_BUCKETS` (1440).
_REGROUP = 24

_TABLES = """
CREATE TABLE IF NOT EXISTS layout (
    id INTEGER PRIMARY KEY, timeline TEXT NOT NULL, fields TEXT NOT NULL, UNIQUE (timeline, fields));
CREATE TABLE IF NOT EXISTS block (
    id INTEGER PRIMARY KEY, timeline TEXT NOT NULL, t0 REAL NOT NULL, t1 REAL NOT NULL, n INTEGER NOT NULL,
    layout INTEGER NOT NULL REFERENCES layout (id), t BLOB NOT NULL, num BLOB, txt TEXT, size INTEGER NOT NULL
    {codec});
CREATE INDEX IF NOT EXISTS block_time ON block (timeline, t0);
CREATE INDEX IF NOT EXISTS block_plain ON block (timeline, t0) WHERE codec = 0;
"""

_CODEC = ", codec INTEGER NOT NULL DEFAULT 0"

_ROLLUP = """
CREATE TABLE IF NOT EXISTS rollup (
    id INTEGER PRIMARY KEY, timeline TEXT NOT NULL, width REAL NOT NULL, field TEXT NOT NULL, seg INTEGER NOT NULL,
    t0 REAL NOT NULL, nb INTEGER NOT NULL, kind TEXT NOT NULL, codec INTEGER NOT NULL, data BLOB NOT NULL,
    size INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS rollup_seg ON rollup (timeline, width, field, seg, t0);
CREATE INDEX IF NOT EXISTS rollup_age ON rollup (width, seg);
"""


class SchemaError(RuntimeError):
    """The file is of a schema this version cannot read."""


def prepare(db):
    """Create the tables of `VERSION` in a new file, or upgrade a file of version 1 or 2; returns the old version.

    Parameters
    ----------
    db : sqlite3.Connection
        In autocommit mode (``isolation_level=None``).

    Raises
    ------
    SchemaError
        If the file is of another version (written by a newer sisock).
    sqlite3.Error
        If it cannot be read or written.
    """
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, 1, 2, VERSION):
        raise SchemaError(f"schema version {version} is not {VERSION} (written by another sisock version)")
    if version == VERSION:
        return version
    db.execute("BEGIN IMMEDIATE")
    try:
        if version == 1:
            db.execute("ALTER TABLE block ADD COLUMN" + _CODEC.removeprefix(","))
        if version == 2:   # floor division of the segment numbers (never negative for times after 1970)
            db.execute(f"UPDATE rollup SET seg = (seg - (seg < 0) * {_REGROUP - 1}) / {_REGROUP}")
        for statement in (_TABLES.format(codec=_CODEC) + _ROLLUP).split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {VERSION}")
        db.execute("COMMIT")
    except sqlite3.Error:
        db.execute("ROLLBACK")
        raise
    return version

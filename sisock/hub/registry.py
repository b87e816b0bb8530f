"""The hub's registry: every data node ever added, kept in an embedded SQLite file.

The records live in memory (a dict by name) and every change is written
through to SQLite at once, so listing and filtering never touch the disk
and a hub or router restart loses nothing: `Registry` loads the file at
start and marks every node offline until it adds itself again. A node that
comes back under its name updates the same record (same ``first_seen``).

Schema (``PRAGMA user_version`` = `SCHEMA_VERSION`), one row per name::

    nodes(name TEXT PRIMARY KEY, description TEXT, status TEXT  -- online | offline | disabled
          connected INTEGER, first_seen REAL, last_seen REAL,   -- UNIX seconds UTC
          authid TEXT, host TEXT, pid INTEGER, version TEXT,
          latitude REAL, longitude REAL, tags TEXT,             -- JSON object
          fields INTEGER)                                       -- count of fields

Writes never block the caller (the hub's reactor): each change updates
memory at once and queues one transaction (one row, or one ``executemany``
for a bulk enable/disable) for a writer thread of the registry's own,
which commits them in order, in WAL mode with ``synchronous=NORMAL``.
`sync` gives a future that is done once every change made before it is
committed; the hub waits for it before it answers a call that changed the
registry, so an answered change survives a killed hub (the last ones may
be lost if the machine loses power). Heartbeats only move ``last_seen`` in
memory (`touch`); `flush` queues them as one transaction, which the hub
does every few seconds and at shutdown.
"""

import json
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from twisted.logger import Logger

_log = Logger()

SCHEMA_VERSION = 2
#: File name of the registry inside the hub's data directory.
FILE_NAME = os.path.join("hub", "registry.sqlite3")

_COLUMNS = ("name", "description", "status", "connected", "first_seen", "last_seen", "authid", "host", "pid",
            "version", "latitude", "longitude", "tags", "fields", "overrides")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('online', 'offline', 'disabled')),
    connected   INTEGER NOT NULL DEFAULT 0,
    first_seen  REAL NOT NULL,
    last_seen   REAL NOT NULL,
    authid      TEXT,
    host        TEXT,
    pid         INTEGER,
    version     TEXT,
    latitude    REAL,
    longitude   REAL,
    tags        TEXT NOT NULL DEFAULT '{}',
    fields      INTEGER,
    overrides   TEXT NOT NULL DEFAULT '{}'
)"""
#: Schema 1 -> 2: the admin's overrides of tags and location.
_MIGRATE_1 = "ALTER TABLE nodes ADD COLUMN overrides TEXT NOT NULL DEFAULT '{}'"
_UPSERT = f"INSERT OR REPLACE INTO nodes ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"



@dataclass(slots=True)
class NodeRecord:
    """What the registry knows about one data node.

    ``status`` is ``"disabled"`` when an admin disabled the node (connected
    or not), else ``"online"`` while a session owns the name, else
    ``"offline"``. Times are UNIX seconds UTC.
    """

    name: str
    description: str = ""
    enabled: bool = True
    connected: bool = False
    first_seen: float = 0.0
    last_seen: float = 0.0
    authid: str | None = None
    host: str | None = None
    pid: int | None = None
    version: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    tags: dict = field(default_factory=dict)
    fields: int | None = None
    overrides: dict = field(default_factory=dict)

    @property
    def current_tags(self):
        """The node's own tags with the admin's overrides applied (an override of None removes a tag)."""
        tags = dict(self.tags)
        for key, value in self.overrides.get("tags", {}).items():
            if value is None:
                tags.pop(key, None)
            else:
                tags[key] = value
        return tags

    @property
    def current_location(self):
        """``(lat, lon)`` in degrees: the admin's location if set, else the node's own, else None."""
        located = self.overrides.get("location")
        if located is not None:
            return located["lat"], located["lon"]
        return None if self.latitude is None else (self.latitude, self.longitude)

    @property
    def status(self):
        """``"online"``, ``"offline"`` or ``"disabled"``."""
        if not self.enabled:
            return "disabled"
        return "online" if self.connected else "offline"

    def to_wire(self):
        """The record as the ``hub.nodes.*`` procedures answer it.

        Returns
        -------
        dict
            ``{name, description, status, enabled, connected, first_seen,
            last_seen, authid, host, pid, version, location: {lat, lon} or
            None, tags, fields, own: {tags, location}, overrides: {tags,
            location}}``: ``tags`` and ``location`` are current, ``own`` the
            node's, ``overrides`` the admin's (a tag None: removed).
        """
        own = None if self.latitude is None else {"lat": self.latitude, "lon": self.longitude}
        return dict(self.to_public(), own={"tags": dict(self.tags), "location": own},
                    overrides={"tags": dict(self.overrides.get("tags", {})),
                               "location": self.overrides.get("location")},
                    status=self.status, enabled=self.enabled, connected=self.connected,
                    first_seen=self.first_seen, last_seen=self.last_seen, authid=self.authid, host=self.host,
                    pid=self.pid, version=self.version, fields=self.fields)

    def to_public(self):
        """What consumers may read of the record: ``{name, description, tags, location}``.

        ``tags`` and ``location`` (``{lat, lon}`` in degrees or None) are
        the current ones, the admin's overrides applied.
        """
        location = self.current_location
        return {"name": self.name, "description": self.description, "tags": self.current_tags,
                "location": None if location is None else {"lat": location[0], "lon": location[1]}}

    def _row(self):
        return (self.name, self.description, self.status, int(self.connected), self.first_seen, self.last_seen,
                self.authid, self.host, self.pid, self.version, self.latitude, self.longitude,
                json.dumps(self.tags, sort_keys=True), self.fields, json.dumps(self.overrides, sort_keys=True))


class Registry:
    """Every data node ever added, in memory and in an SQLite file.

    Parameters
    ----------
    path : str
        The SQLite file; created with its directory if missing.

    Attributes
    ----------
    records : dict
        ``{name: NodeRecord}``.
    """

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # then the writer's
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{path} has registry schema {version}, newer than this sisock's {SCHEMA_VERSION}")
        with self._db:
            self._db.execute(_SCHEMA)
            if version == 1:
                self._db.execute(_MIGRATE_1)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self.records = {}
        self._dirty = set()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sisock-registry")
        self._failed = None  # the first write that failed since the last sync
        for row in self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM nodes"):
            values = dict(zip(_COLUMNS, row, strict=True))
            status, tags, overrides = values.pop("status"), values.pop("tags"), values.pop("overrides")
            self.records[values["name"]] = NodeRecord(**values, enabled=status != "disabled",
                                                      tags=json.loads(tags), overrides=json.loads(overrides))
        self.disconnect_all()

    def _save(self, records):
        if records:
            self._write(_UPSERT, [r._row() for r in records])  # rows taken now: later changes are later writes

    def _write(self, sql, rows):
        def commit():
            try:
                with self._db:
                    self._db.executemany(sql, rows)
            except sqlite3.Error as exc:
                _log.error("sisock: cannot write the registry {path}: {exc}", path=self.path, exc=exc)
                self._failed = self._failed or exc

        self._writer.submit(commit)

    def sync(self):
        """A `concurrent.futures.Future` done once every change made before this call is committed.

        Its result is None; it fails with the `sqlite3.Error` of the first
        write that failed since the previous `sync` (the change stays in
        memory).
        """
        def check():
            failed, self._failed = self._failed, None
            if failed is not None:
                raise failed

        return self._writer.submit(check)

    def get(self, name):
        """The record of ``name``, or None."""
        return self.records.get(name)

    def disconnect_all(self):
        """Mark every node not connected (the hub starts, or rejoins a restarted router)."""
        connected = [r for r in self.records.values() if r.connected]
        for record in connected:
            record.connected = False
        self._save(connected)

    def seen(self, name, description, info, authid, now):
        """A node was added: create or update its record, connected.

        Parameters
        ----------
        name, description, authid : str
        info : dict
            From `sisock.hub.info.check_info`; keys absent keep their stored value.
        now : float
            UNIX seconds UTC.

        Returns
        -------
        (NodeRecord, bool)
            The record and whether it was created now.
        """
        record = self.records.get(name)
        created = record is None
        if created:
            record = self.records[name] = NodeRecord(name, first_seen=now)
        record.description, record.authid, record.connected, record.last_seen = description, authid, True, now
        for key, value in info.items():
            if key != "heartbeat":
                setattr(record, key, value)
        self._save([record])
        return record, created

    def left(self, name, when):
        """``name`` is no longer connected, last seen at ``when``; its record, or None."""
        record = self.records.get(name)
        if record is not None:
            record.connected, record.last_seen = False, max(record.last_seen, when)
            self._dirty.discard(name)
            self._save([record])
        return record

    def set_enabled(self, records, enabled):
        """Enable or disable ``records``; the list of those that changed."""
        changed = [r for r in records if r.enabled != bool(enabled)]
        for record in changed:
            record.enabled = bool(enabled)
        self._save(changed)
        return changed

    def override(self, record, tags=None, untag=(), location=False):
        """Edit the admin's overrides of ``record`` and queue the write; the record.

        Parameters
        ----------
        record : NodeRecord
        tags : dict, optional
            ``{key: value}`` set over the node's own tags.
        untag : iterable of str
            Keys removed: an admin's tag is dropped, a node's own tag hidden.
        location : dict or None or False
            ``{lat, lon}`` degrees set over the node's own location; None
            goes back to the node's own; False leaves it.
        """
        edits = record.overrides.setdefault("tags", {})
        for key in untag:
            if key in record.tags:
                edits[key] = None
            else:
                edits.pop(key, None)
        edits.update(tags or {})
        if location is not False:
            record.overrides["location"] = location
        self._save([record])
        return record

    def forget(self, name):
        """Remove the record of ``name`` from memory and (queued) from the file."""
        self.records.pop(name, None)
        self._dirty.discard(name)
        self._write("DELETE FROM nodes WHERE name = ?", [(name,)])

    def touch(self, names, now):
        """Move ``last_seen`` of ``names`` to ``now`` in memory (written by `flush`)."""
        for name in names:
            record = self.records.get(name)
            if record is not None:
                record.last_seen = now
                self._dirty.add(name)

    def flush(self):
        """Queue the ``last_seen`` moved by `touch` since the last flush as one write."""
        dirty, self._dirty = self._dirty, set()
        self._save([self.records[n] for n in dirty if n in self.records])

    def select(self, accept):
        """Records for which ``accept(record)`` is true, sorted by name."""
        return [r for _, r in sorted(self.records.items()) if accept(r)]

    def close(self):
        """Flush, wait for every queued write and close the file."""
        self.flush()
        self._writer.shutdown(wait=True)
        self._db.close()

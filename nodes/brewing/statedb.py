"""The brewing node's own SQLite file: IO configuration, profiles, settings and alarms.

Every change is one transaction, committed before the procedure that made
it answers, so what a caller was told is stored survives a restart and
``kill -9``. The methods block: the node calls them in threads, one at a
time (a lock). Reads come from an in-memory copy kept in step with the
file, so the control loop never waits for the disk.

References are checked here: a chamber names an existing controller (and
profile), a device an existing chamber, a controller's IO slot belongs to
one device only and a chamber has one device per function; a record that
others refer to cannot be deleted; names are unique per kind.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading

from nodes.brewing import schema
from sisock.wire.errors import InvalidArgument

#: Settings the node reads, with their defaults (all numbers; C, or hours).
DEFAULT_SETTINGS = {"setpoint_min": 0.0, "setpoint_max": 30.0, "alarm_beer_high": 28.0,
                    "alarm_probe_min": -5.0, "alarm_probe_max": 60.0, "alarm_setpoint_hours": 12.0,
                    "alarm_setpoint_tolerance": 1.0}
#: Who refers to whom: kind -> [(key, kind referred to)].
LINKS = {"chamber": [("controller", "controller"), ("profile", "profile")], "device": [("chamber", "chamber")]}

SCHEMA = """
CREATE TABLE IF NOT EXISTS record (kind TEXT, id INTEGER, body TEXT NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS setting (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alarm (id INTEGER PRIMARY KEY AUTOINCREMENT, chamber TEXT, code TEXT NOT NULL,
    severity TEXT NOT NULL, message TEXT NOT NULL, raised REAL NOT NULL, cleared REAL, acked REAL, acked_by TEXT);
CREATE INDEX IF NOT EXISTS alarm_raised ON alarm (raised);
"""


class StateDb:
    """The node's state file (see the module docstring).

    Parameters
    ----------
    path : str
        SQLite file, created if missing.

    Attributes
    ----------
    records : dict
        ``{kind: {id: record}}`` as stored.
    settings : dict
        ``{key: value}`` as stored (without the defaults).
    """

    def __init__(self, path: str):
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.records = {kind: {} for kind in schema.MODELS}
        for kind, rid, body in self.db.execute("SELECT kind, id, body FROM record"):
            self.records.setdefault(kind, {})[rid] = json.loads(body)
        self.settings = {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM setting")}

    def close(self) -> None:
        """Close the file."""
        with self.lock:
            self.db.close()

    @contextlib.contextmanager
    def transaction(self):
        """One write transaction under the lock: committed at the end, rolled back on an exception."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # -- settings ------------------------------------------------------------
    def setting(self, key: str) -> object:
        """The value of ``key``: stored, else its default (`DEFAULT_SETTINGS`), else None."""
        return self.settings.get(key, DEFAULT_SETTINGS.get(key))

    def set_setting(self, key: str, value: object) -> None:
        """Store ``key = value``.

        Raises
        ------
        InvalidArgument
            A key that is not 1 to 80 characters of text, a value that is
            not JSON, or a known setting (`DEFAULT_SETTINGS`) that is not a
            finite number (``setpoint_min`` below ``setpoint_max``).
        """
        if not isinstance(key, str) or not 0 < len(key) <= 80:
            raise InvalidArgument(f"key must be text of 1 to 80 characters, got {key!r:.40}")
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise InvalidArgument(f"value of setting {key!r} must be JSON, got {value!r:.40}") from None
        if key in DEFAULT_SETTINGS and not _finite(value):
            raise InvalidArgument(f"setting {key!r} must be a finite number, got {value!r:.40}")
        low = value if key == "setpoint_min" else self.setting("setpoint_min")
        high = value if key == "setpoint_max" else self.setting("setpoint_max")
        if key in ("setpoint_min", "setpoint_max") and not low < high:
            raise InvalidArgument(f"setpoint_min must be below setpoint_max, got {low} and {high}")
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO setting VALUES (?, ?)", (key, text))
        self.settings[key] = value

    def delete_setting(self, key: str) -> None:
        """Delete ``key`` (it falls back to its default). Raises `InvalidArgument` for a key not set."""
        if key not in self.settings:
            raise InvalidArgument(f"no setting {key!r:.40}; set are: {', '.join(sorted(self.settings)) or 'none'}")
        with self.transaction() as db:
            db.execute("DELETE FROM setting WHERE key = ?", (key,))
        del self.settings[key]

    # -- records ---------------------------------------------------------------
    def get(self, kind: str, rid: object) -> dict:
        """The record ``rid`` of ``kind``. Raises `InvalidArgument` for an unknown kind or id."""
        if kind not in schema.MODELS:
            raise InvalidArgument(f"kind must be one of {sorted(schema.MODELS)}, got {kind!r:.40}")
        found = self.records[kind].get(rid) if isinstance(rid, int) and not isinstance(rid, bool) else None
        if found is None:
            known = ", ".join(map(str, sorted(self.records[kind]))) or "none"
            raise InvalidArgument(f"no {kind} with id {rid!r:.40}; ids are: {known}")
        return found

    def listing(self, kind: str) -> list[dict]:
        """Every record of ``kind`` as ``dict(record, id=id)``, by id."""
        if kind not in schema.MODELS:
            raise InvalidArgument(f"kind must be one of {sorted(schema.MODELS)}, got {kind!r:.40}")
        return [dict(body, id=rid) for rid, body in sorted(self.records[kind].items())]

    def find(self, kind: str, name: str) -> int | None:
        """The id of the record of ``kind`` named ``name``, or None."""
        return next((rid for rid, body in self.records[kind].items() if body.get("name") == name), None)

    def create(self, kind: str, record: dict) -> dict:
        """Check and store a new record; returns it with its ``id``. Raises `InvalidArgument`."""
        body = schema.check(kind, record)
        with self.lock:
            rid = max(self.records[kind], default=0) + 1
            self._check(kind, rid, body)
            self._write(kind, rid, body)
        return dict(body, id=rid)

    def update(self, kind: str, rid: int, changes: dict) -> dict:
        """Change keys of record ``rid``; returns the whole record with its ``id``. Raises `InvalidArgument`."""
        if not isinstance(changes, dict):
            raise InvalidArgument(f"changes must be an object, got {type(changes).__name__}")
        with self.lock:
            body = schema.check(kind, {**self.get(kind, rid), **changes})
            self._check(kind, rid, body)
            self._write(kind, rid, body)
        return dict(body, id=rid)

    def delete(self, kind: str, rid: int) -> dict:
        """Delete record ``rid``; returns it. Raises `InvalidArgument` if unknown or referred to."""
        with self.lock:
            body = self.get(kind, rid)
            for other, links in LINKS.items():
                for key, target in links:
                    users = [i for i, b in self.records[other].items() if target == kind and b.get(key) == rid]
                    if users:
                        raise InvalidArgument(f"{kind} {rid} is used by {other} {users[0]}; change or delete it first")
            with self.transaction() as db:
                db.execute("DELETE FROM record WHERE kind = ? AND id = ?", (kind, rid))
            del self.records[kind][rid]
        return dict(body, id=rid)

    def _write(self, kind, rid, body):
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO record VALUES (?, ?, ?)", (kind, rid, json.dumps(body)))
        self.records[kind][rid] = body

    def _check(self, kind, rid, body):
        """Names unique, references existing, one device per slot and per chamber function, setpoints safe."""
        others = {i: b for i, b in self.records[kind].items() if i != rid}
        if "name" in body and any(b["name"] == body["name"] for b in others.values()):
            raise InvalidArgument(f"name: a {kind} named {body['name']!r} exists already")
        for key, target in LINKS.get(kind, ()):
            if body.get(key) is not None:
                self.get(target, body[key])
        if kind == "device":
            self._check_device(body, others)
        if kind == "chamber":
            needs = {"beer": "beer_set", "fridge": "fridge_set", "profile": "profile"}.get(body["mode"])
            if needs and body[needs] is None:
                raise InvalidArgument(f"mode: mode {body['mode']} needs a {needs}; set it first or with the mode")
            for key in ("beer_set", "fridge_set"):
                if body[key] is not None:
                    self.check_setpoint(key, body[key])
        if kind == "profile":
            for point in body["points"]:
                self.check_setpoint("profile temperature", point["temperature"])

    def _check_device(self, body, others):
        controller = self.get("chamber", body["chamber"])["controller"]
        for i, b in others.items():
            if b["chamber"] == body["chamber"] and b["function"] == body["function"]:
                raise InvalidArgument(f"function: chamber {body['chamber']} already has a {b['function']} (device {i})")
            if self.records["chamber"][b["chamber"]]["controller"] == controller and b["slot"] == body["slot"]:
                raise InvalidArgument(f"slot: slot {body['slot']} of controller {controller} is device {i} "
                                      f"in chamber {b['chamber']} already; a device is in one chamber only")

    def check_setpoint(self, name: str, value: float) -> None:
        """Raise `InvalidArgument` unless ``value`` (C) is within the settings setpoint_min and setpoint_max."""
        low, high = self.setting("setpoint_min"), self.setting("setpoint_max")
        if not _finite(value) or not low <= value <= high:
            raise InvalidArgument(f"{name} must be a temperature from {low} to {high} C "
                                  f"(settings setpoint_min, setpoint_max), got {value!r:.40}")


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

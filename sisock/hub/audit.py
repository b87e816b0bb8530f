"""The audit trail: who did what, when, to which node or user, and how it ended.

Every admin and operator action is one **entry**::

    {"id": int, "t": float,          # UNIX seconds UTC, when the outcome was known (the hub's clock)
     "who": str,                     # the caller's authid, as the router disclosed it
     "action": str,                  # "nodes.disable", "command.dim", "settings.set", "users.add", ...
     "target": str | None,           # the node, filter or user acted on
     "args": object,                 # the call's arguments ({parameter: value}), JSON
     "outcome": str,                 # "ok", or the WAMP error URI the caller got
     "message": str | None}          # the error's message (None when ok)

Who did it always comes from the router's disclosure of the caller
(``details.caller_authid``), never from an argument: callers in the hub
use `AuditLog.audited` (a procedure wrapper) or pass the authid the router
disclosed to `AuditLog.record`. Node sessions report the runs of their
nodes' commands with ``hub.audit.report`` (`sisock.hub.auditapi`).

The entries are kept in an SQLite file next to the registry
(`FILE_NAME`, in the hub's data directory), written and read by one
thread of the log's own, in order, so the reactor never waits on the
disk. Growth is bounded: entries older than ``retention`` seconds
(`RETENTION`, 365 days, ``sisock hub --audit-days``) and all but the
newest ``max_entries`` (`MAX_ENTRIES`) are deleted at start and then every
`PRUNE_EVERY` entries or `PRUNE_INTERVAL` seconds; an entry's arguments
are cut to `sisock.wire.audit.MAX_ARGS` characters of JSON.

Schema (``PRAGMA user_version`` = `SCHEMA_VERSION`)::

    entries(id INTEGER PRIMARY KEY AUTOINCREMENT, t REAL, who TEXT, action TEXT,
            target TEXT, args TEXT, outcome TEXT, message TEXT)
"""

import json
import os
import sqlite3
import time

from twisted.internet import defer, threads
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from sisock.wire.audit import OK, args_json, named_args, outcome_of

_log = Logger()

SCHEMA_VERSION = 1
#: File name of the audit trail inside the hub's data directory (beside the registry).
FILE_NAME = os.path.join("hub", "audit.sqlite3")
#: Default seconds an entry is kept.
RETENTION = 365 * 86400.0
#: Default most entries kept.
MAX_ENTRIES = 1_000_000
#: Entries, and seconds, between two prunes.
PRUNE_EVERY = 1000
PRUNE_INTERVAL = 3600.0
#: Most entries one `AuditLog.list` answers.
MAX_LIST = 10000

_COLUMNS = ("id", "t", "who", "action", "target", "args", "outcome", "message")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    t       REAL NOT NULL,
    who     TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT,
    args    TEXT NOT NULL DEFAULT 'null',
    outcome TEXT NOT NULL,
    message TEXT
);
CREATE INDEX IF NOT EXISTS entries_t ON entries (t);
"""


class AuditLog:
    """The audit trail in an SQLite file (see the module docstring).

    Parameters
    ----------
    path : str
        The SQLite file; created with its directory if missing.
    retention : float
        Seconds an entry is kept.
    max_entries : int
        Most entries kept (the newest).

    Attributes
    ----------
    listeners : list of callable
        Each is called in the reactor with every entry (a dict) once it is
        written (the hub publishes ``hub.audit.recorded``).
    """

    def __init__(self, path, retention=RETENTION, max_entries=MAX_ENTRIES):
        self.path, self.retention, self.max_entries = path, float(retention), int(max_entries)
        self.listeners = []
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # then the pool's thread
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{path} has audit schema {version}, newer than this sisock's {SCHEMA_VERSION}")
        self._db.executescript(_SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")
        self._since_prune, self._pruned = 0, 0.0
        self._prune()
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="sisock-audit")

    def _run(self, func, *args):
        from twisted.internet import reactor

        if not self._pool.started:  # at first use: a thread started before the reactor would keep a process
            self._pool.start()      # that fails to start (a bad log level) from exiting
        return threads.deferToThreadPool(reactor, self._pool, func, *args)

    def record(self, who, action, target=None, args=None, outcome=OK, message=None):
        """Write one entry; entries are written in the order of the calls.

        Parameters
        ----------
        who : str
            The authid of the person or program that acted, as the router
            disclosed the caller (``details.caller_authid``).
        action : str
            What was done: the procedure's name under ``hub.``
            (``nodes.enable``, ``users.add``, ``alerts.ack``) or, for a
            node, under the node (``command.<name>``, ``settings.set``).
        target : str, optional
            The node, filter or user acted on.
        args : object, optional
            The arguments, JSON-able (other values are kept as their
            ``repr``); cut to `sisock.wire.audit.MAX_ARGS` characters.
        outcome : str
            ``"ok"`` or the WAMP error URI the caller got
            (`sisock.wire.audit.outcome_of`).
        message : str, optional
            The error's message.

        Returns
        -------
        Deferred
            Of the entry (a dict, see the module docstring) once it is
            committed. A write that fails is logged and the Deferred fails
            with its `sqlite3.Error`.
        """
        entry = {"t": time.time(), "who": str(who), "action": str(action),
                 "target": None if target is None else str(target), "args": args_json(args),
                 "outcome": str(outcome), "message": None if message is None else str(message)}
        d = self._run(self._insert, entry)
        d.addCallbacks(self._recorded, self._failed)
        return d

    def _insert(self, entry):
        with self._db:
            cursor = self._db.execute(f"INSERT INTO entries ({', '.join(_COLUMNS[1:])}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                      [entry[c] for c in _COLUMNS[1:]])
        self._since_prune += 1
        if self._since_prune >= PRUNE_EVERY or time.monotonic() - self._pruned > PRUNE_INTERVAL:
            self._prune()
        return dict(entry, id=cursor.lastrowid, args=json.loads(entry["args"]))

    def _recorded(self, entry):
        for listener in self.listeners:
            try:
                listener(entry)
            except Exception:
                _log.failure("sisock: audit listener failed")
        return entry

    def _failed(self, failure):
        _log.error("sisock: cannot write the audit trail {path}: {why}", path=self.path,
                   why=failure.getErrorMessage())
        return failure

    def _prune(self):
        with self._db:
            self._db.execute("DELETE FROM entries WHERE t < ?", (time.time() - self.retention,))
            self._db.execute("DELETE FROM entries WHERE id <= (SELECT MAX(id) FROM entries) - ?", (self.max_entries,))
        self._since_prune, self._pruned = 0, time.monotonic()

    def run(self, who, action, target, args, func, *call_args, **call_kwargs):
        """Call ``func(*call_args, **call_kwargs)`` and record its outcome; Deferred of its result or failure.

        The entry is committed before the Deferred fires (a caller that
        got the answer finds the entry); a failure to write it is logged,
        and the action's own result is answered all the same.

        Parameters
        ----------
        who, action, target, args
            As for `record`.
        func : callable
            The action; it may return a Deferred.
        """
        done = defer.maybeDeferred(func, *call_args, **call_kwargs)

        def write(result):
            ended = (OK, None) if not isinstance(result, defer.Failure) else outcome_of(result)
            d = self.record(who, action, target, args, *ended)
            return d.addBoth(lambda _: result)

        return done.addBoth(write)

    def audited(self, action, func, target=None):
        """A procedure that runs ``func`` and records who called it with what, and how it ended.

        Register it with ``RegisterOptions(details_arg="details")``: the
        caller is the authid the router discloses.

        Parameters
        ----------
        action : str
            The entry's action (``"nodes.enable"``).
        func : callable
            The procedure (without a ``details`` parameter).
        target : str, optional
            The name of ``func``'s parameter that names the target
            (``"name"``, ``"filter"``); its value is the entry's target.

        Returns
        -------
        callable
            ``(*args, details=None, **kwargs) -> Deferred``. A call whose
            router did not disclose the caller is recorded as by ``"?"``.
        """
        def procedure(*args, details=None, **kwargs):
            named = named_args(func, args, kwargs)
            who = getattr(details, "caller_authid", None) or "?"
            return self.run(who, action, named.get(target) if target else None, named, func, *args, **kwargs)

        return procedure

    def list(self, since=None, until=None, user=None, node=None, action=None, limit=1000):
        """The entries that match, newest first; Deferred.

        Parameters
        ----------
        since, until : float, optional
            UNIX seconds UTC: entries with ``since <= t < until``.
        user : str, optional
            Only the entries of this authid (``who``).
        node : str, optional
            Only the entries whose target is this node (or user) name.
        action : str, optional
            Only this action, or those under it: ``"nodes"`` matches
            ``nodes.enable`` and every other ``nodes.*``.
        limit : int
            Most entries answered (the newest), at most `MAX_LIST`.

        Returns
        -------
        Deferred
            Of a list of entries (dicts, see the module docstring).
        """
        where, params = [], []
        for column, op, value in (("t", ">=", since), ("t", "<", until), ("who", "=", user), ("target", "=", node)):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(value)
        if action is not None:
            where.append("(action = ? OR substr(action, 1, ?) = ?)")
            params += [action, len(action) + 1, action + "."]
        sql = (f"SELECT {', '.join(_COLUMNS)} FROM entries {'WHERE ' + ' AND '.join(where) if where else ''} "
               "ORDER BY id DESC LIMIT ?")
        return self._run(self._select, sql, [*params, int(limit)])

    def _select(self, sql, params):
        rows = [dict(zip(_COLUMNS, row, strict=True)) for row in self._db.execute(sql, params)]
        for row in rows:
            row["args"] = json.loads(row["args"])
        return rows

    def close(self):
        """Wait for every queued write and close the file."""
        self._pool.stop()
        self._db.close()

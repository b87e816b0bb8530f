"""What the alert service keeps: the rules file, and an SQLite file of history and silences.

The **rules file** (``$SISOCK_HOME/alerts.json``, or ``SISOCK_ALERTS_FILE``)
is JSON, written back whole (to a temporary file, then renamed) on every
``rules.add`` / ``rules.remove``::

    {"notify": ["json://127.0.0.1:8000/hook"],   Apprise URLs (sisock.alerts.notify)
     "repeat": 3600,                              seconds between reminders of a firing alert
     "alarm_nodes": ["brewing"],                  nodes whose alarms are listed with the alerts
     "next_id": 3,
     "rules": [{"id": "r1", "text": "weather windspeed > 50 for 5m", "severity": "warning", "name": null}, ...]}

The **history file** (``<data dir>/alerts.sqlite``) has two tables:
``change`` (every state change, ack and silence of an alert, with the alert
as it was then) and ``silence``, each row kept `RETENTION` (a year). Every method of `AlertStore` blocks: the
service calls them through `AlertStore.run`, on one thread of their own.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading

from twisted.internet import threads
from twisted.python.threadpool import ThreadPool

#: Rules file name in ``SISOCK_HOME``; the history file name in the data directory.
RULES_FILE, HISTORY_FILE = "alerts.json", "alerts.sqlite"
#: Seconds between reminders of a firing alert not acknowledged, by default.
DEFAULT_REPEAT = 3600.0
#: Seconds the history keeps a record (and an ended silence), and records written between two prunes.
RETENTION, PRUNE_EVERY = 365 * 86400.0, 1000
DEFAULTS = {"notify": [], "repeat": DEFAULT_REPEAT, "alarm_nodes": ["brewing"], "next_id": 1, "rules": []}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS change (
    id INTEGER PRIMARY KEY, t REAL NOT NULL, alert TEXT NOT NULL, rule TEXT NOT NULL,
    change TEXT NOT NULL, by TEXT, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS change_t ON change (t);
CREATE TABLE IF NOT EXISTS silence (
    id INTEGER PRIMARY KEY, matcher TEXT NOT NULL, start REAL NOT NULL, until REAL NOT NULL,
    comment TEXT, by TEXT, removed REAL);
"""


def read_settings(path: str) -> dict:
    """The rules file at ``path`` with `DEFAULTS` for what it does not say (all defaults if it is missing).

    Raises
    ------
    ValueError
        The file is not a JSON object, or a value has the wrong type.
    """
    try:
        with open(path) as fp:
            found = json.load(fp)
    except FileNotFoundError:
        found = {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(found, dict):
        raise ValueError(f"{path}: must hold a JSON object")
    settings = {**DEFAULTS, **found}
    if not (isinstance(settings["notify"], list) and all(isinstance(u, str) for u in settings["notify"])):
        raise ValueError(f"{path}: 'notify' must be a list of Apprise URLs")
    if isinstance(settings["repeat"], bool) or not isinstance(settings["repeat"], int | float) \
            or settings["repeat"] <= 0:
        raise ValueError(f"{path}: 'repeat' must be seconds above zero")
    if not isinstance(settings["rules"], list) or not all(isinstance(r, dict) and "text" in r
                                                          for r in settings["rules"]):
        raise ValueError(f"{path}: 'rules' must be a list of {{id, text, severity, name}}")
    return settings


def write_settings(path: str, settings: dict) -> None:
    """Write ``settings`` to the rules file ``path`` atomically (a temporary file renamed over it)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".alerts-", dir=folder)
    try:
        with os.fdopen(fd, "w") as fp:
            json.dump(settings, fp, indent=2)
            fp.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def update_rules(path: str, rules: list, next_id: int) -> None:
    """Write ``rules`` and ``next_id`` into the rules file ``path``, keeping what else it says as it is now."""
    try:
        settings = read_settings(path)
    except ValueError:
        settings = dict(DEFAULTS)
    write_settings(path, {**settings, "rules": rules, "next_id": next_id})


class AlertStore:
    """The history file (``change`` and ``silence`` tables), used from one thread of its own.

    Parameters
    ----------
    path : str
        The SQLite file; its folder is created.
    """

    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._pool = ThreadPool(1, 1, "sisock-alerts")  # started at first use
        self._local = threading.local()
        self._written = PRUNE_EVERY  # records written since the last prune: the first record prunes

    @property
    def db(self):
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.path)
            db.executescript(_SCHEMA)
        return db

    def run(self, func, *args):
        """Deferred of ``func(*args)`` run on the store's thread (fires in the reactor)."""
        from twisted.internet import reactor

        if not self._pool.started:
            self._pool.start()
        return threads.deferToThreadPool(reactor, self._pool, func, *args)

    def record(self, rows: list) -> None:
        """Append ``[(t, change, by, alert dict), ...]`` to the history; every `PRUNE_EVERY` records,
        forget those (and the ended silences) older than `RETENTION`."""
        with self.db as db:
            db.executemany("INSERT INTO change (t, alert, rule, change, by, record) VALUES (?, ?, ?, ?, ?, ?)",
                           [(t, a["id"], a["rule"], change, by, json.dumps(a)) for t, change, by, a in rows])
        self._written += len(rows)
        if self._written >= PRUNE_EVERY:
            self._written = 0
            oldest = rows[-1][0] - RETENTION
            with self.db as db:
                db.execute("DELETE FROM change WHERE t < ?", (oldest,))
                db.execute("DELETE FROM silence WHERE until < ? OR removed < ?", (oldest, oldest))

    def history(self, since: float | None, until: float | None, rule: str | None, limit: int) -> list[dict]:
        """The newest ``limit`` history records in ``[since, until)`` (of ``rule``), newest first:
        ``[{t, change, by, alert}, ...]``."""
        where, params = ["1"], []
        for clause, value in (("t >= ?", since), ("t < ?", until), ("rule = ?", rule)):
            if value is not None:
                where.append(clause)
                params.append(value)
        rows = self.db.execute(f"SELECT t, change, by, record FROM change WHERE {' AND '.join(where)} "
                               "ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        return [{"t": t, "change": change, "by": by, "alert": json.loads(record)} for t, change, by, record in rows]

    def add_silence(self, matcher: str, start: float, until: float, comment: str | None, by: str | None) -> dict:
        """Store a silence; answers it as `silence_dict` does."""
        with self.db as db:
            sid = db.execute("INSERT INTO silence (matcher, start, until, comment, by) VALUES (?, ?, ?, ?, ?)",
                             (matcher, start, until, comment, by)).lastrowid
        return silence_dict((sid, matcher, start, until, comment, by))

    def end_silence(self, sid: int, t: float) -> bool:
        """End silence ``sid`` at ``t``; False if there is no such silence still on."""
        with self.db as db:
            return db.execute("UPDATE silence SET removed = ? WHERE id = ? AND removed IS NULL AND until > ?",
                              (t, sid, t)).rowcount > 0

    def silences(self, now: float) -> list[dict]:
        """The silences on at ``now``, oldest first."""
        rows = self.db.execute("SELECT id, matcher, start, until, comment, by FROM silence "
                               "WHERE removed IS NULL AND until > ? ORDER BY id", (now,)).fetchall()
        return [silence_dict(row) for row in rows]

    def close(self) -> None:
        """Finish the pending work and close the file."""

        def close():
            db = getattr(self._local, "db", None)
            if db is not None:
                db.close()

        if self._pool.started:
            self._pool.callInThread(close)
            self._pool.stop()  # runs what is queued, then joins the thread


def silence_dict(row) -> dict:
    """``{id, matcher, start, until, comment, by}`` of a silence row (times UNIX seconds UTC)."""
    sid, matcher, start, until, comment, by = row
    return {"id": sid, "matcher": matcher, "start": start, "until": until, "comment": comment, "by": by}

"""One read-only SQLite connection per reading thread, all closed with the log.

A node reads its history in whatever thread asks (the reactor's thread
pool, a test's thread): SQLite connections are not shared between threads
that may read at once, so each thread gets its own, opened at its first
read. `ThreadConnections` closes a thread's connection when the thread ends
and every remaining one when it is closed.
"""

import threading
import weakref
from contextlib import contextmanager


class ConnectionClosed(RuntimeError):
    """A read was attempted after `ThreadConnections.close`."""


class ThreadConnections:
    """Read-only connections, one per thread, from ``connect()``.

    Parameters
    ----------
    connect : callable
        ``connect() -> sqlite3.Connection`` opening a new connection that
        may be closed from another thread (``check_same_thread=False``).
    """

    def __init__(self, connect):
        self._connect = connect
        self._local = threading.local()    # thread -> its _Reader
        self._open = weakref.WeakSet()     # every _Reader not yet collected
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self):
        """This thread's connection, for the ``with`` block.

        Raises
        ------
        ConnectionClosed
            If `close` was called.
        """
        with self._lock:
            reader = getattr(self._local, "reader", None)
            if reader is None and not self._closed:
                reader = self._local.reader = _Reader(self._connect())
                self._open.add(reader)
        if reader is None:
            raise ConnectionClosed("closed")
        with reader.lock:
            if reader.db is None:
                raise ConnectionClosed("closed")
            yield reader.db

    def close(self):
        """Close every connection (a read in progress finishes first); later reads raise (idempotent)."""
        with self._lock:
            self._closed = True
            readers = list(self._open)
        for reader in readers:
            reader.close()


class _Reader:
    """One thread's connection.

    Closed by `ThreadConnections.close`, or when its thread ends (the
    thread-local slot that holds it goes, and with it the last reference).
    ``lock`` is held while the connection is in use.
    """

    __slots__ = ("db", "lock", "__weakref__")

    def __init__(self, db):
        db.execute("PRAGMA query_only = ON")
        self.db, self.lock = db, threading.Lock()

    def close(self):
        """Close the connection once (waiting for a read in progress); later reads fail with `StoreError`."""
        with self.lock:
            if self.db is not None:
                self.db.close()
                self.db = None

    def __del__(self):
        if self.db is not None:
            self.db.close()

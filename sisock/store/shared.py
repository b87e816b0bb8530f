"""One store file for the stores of many data nodes of one process: `SharedFile`.

A process that serves many nodes over one session (`sisock.node.session.NodeSession`;
``python -m nodes.fleet`` runs hundreds of lamps) keeps their history in
one SQLite file rather than one per node. Each node gets its own `Store`
from `SharedFile.store`; opened with the file's path like any store
(`sisock.node.run.open_stores`), it records, loads and reads as usual,
through one `SqliteLog` for the whole file (one writer thread, one read
connection per reading thread), in which the node's timeline ``tl`` is
kept as ``<node name>/<tl>``. Retention and rollup tiers apply to every
timeline of the file, and the size cap (``max_bytes``) to the file as a
whole. The file is closed, everything committed, when the last of its
stores is closed.
"""

from sisock.store.sqlite import SqliteLog
from sisock.store.store import Store, StoreError

#: Between a node's name (which never holds it) and its timeline's in the file.
SEPARATOR = "/"


class SharedFile:
    """The store file shared by the nodes of one process, opened by the first of their stores to open."""

    def __init__(self):
        self._log = None
        self._options = None
        self._stores = {}   # node name -> its open Store

    def store(self, node):
        """A new `Store` of the node named ``node`` (no ``/`` in it), kept in this file once opened.

        Raises
        ------
        ValueError
            If ``node`` holds `SEPARATOR`.
        """
        if SEPARATOR in node:
            raise ValueError(f"a node name sharing a store file has no {SEPARATOR!r}, got {node!r}")
        return _NodeStore(self, node)

    def _part(self, store, node, options):
        """``store``'s part of the file's log, the file opened with ``options`` if it is not yet."""
        if self._log is None:
            path, retention, max_bytes, rollups = self._options = options
            self._log = SqliteLog(path, retention, max_bytes, on_drop=self._dropped, rollups=rollups)
        elif options != self._options:
            raise StoreError(f"the store file {self._options[0]} is open already, with other options")
        self._stores[node] = store
        return _Part(self, node)

    def _dropped(self, timeline, t):
        """Retention deleted blocks of ``<node>/<timeline>`` up to ``t``: that node's store forgets them."""
        node, _, name = timeline.partition(SEPARATOR)
        store = self._stores.get(node)
        if store is not None:
            store._dropped(name, t)

    def _release(self, node):
        """``node``'s store is closed; the last one closes the file."""
        self._stores.pop(node, None)
        if not self._stores and self._log is not None:
            log, self._log = self._log, None
            log.close()


class _NodeStore(Store):
    """A node's `Store` whose log is its part of a `SharedFile`."""

    def __init__(self, file, node):
        super().__init__()
        self._file, self._node = file, node

    def _new_log(self, path, retention, max_bytes, rollups):
        return self._file._part(self, self._node, (path, retention, max_bytes, rollups))


class _Part:
    """One node's timelines of a shared `SqliteLog`: its methods, every one of which but ``close``
    takes the timeline first, with the node's name put before the timeline's."""

    def __init__(self, file, node):
        self._file, self._node, self._prefix = file, node, node + SEPARATOR

    def close(self):
        self._file._release(self._node)

    def __getattr__(self, name):
        if self._node not in self._file._stores:
            raise StoreError(f"the store of {self._node} is closed")
        method = getattr(self._file._log, name)

        def on_timeline(timeline, *args, **kwargs):
            return method(self._prefix + timeline, *args, **kwargs)

        return on_timeline

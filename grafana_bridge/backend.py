"""The bridge's data source: a sisock consumer session, called from Flask threads.

Flask runs under ``twisted.web.wsgi`` in the reactor's thread pool; each
method here hands its WAMP work to the reactor with
``blockingCallFromThread`` and waits, so the reactor itself never blocks.
"""

from twisted.internet import defer
from twisted.internet.threads import blockingCallFromThread

from grafana_bridge.errors import BackendUnavailable
from sisock.wire.errors import NoSuchNode

#: Seconds a request waits for the nodes before it gives up.
CALL_TIMEOUT = 30.0


class WampBackend:
    """Answers the Flask app from the live nodes through one consumer session.

    Parameters
    ----------
    session : sisock.client.ConsumerSession
        Connected (and reconnecting) by the caller.
    reactor : twisted reactor
    """

    def __init__(self, session, reactor):
        self.session = session
        self.reactor = reactor
        self._timeline_of = {}  # node -> {field: timeline}, from get_fields over all time

    def _blocking(self, func, *args):
        if not self.session.is_attached():
            raise BackendUnavailable("router not reachable: the bridge is reconnecting, try again shortly")

        def call():
            return defer.maybeDeferred(func, *args).addTimeout(CALL_TIMEOUT, self.reactor)

        try:
            return blockingCallFromThread(self.reactor, call)
        except defer.TimeoutError as exc:
            raise BackendUnavailable(f"no answer from the nodes within {CALL_TIMEOUT:.0f} s") from exc

    def list_targets(self):
        """Every ``node::field`` of the live nodes, sorted.

        Fields are those any time since the epoch up to now (``get_fields(1, 0)``).
        """
        return self._blocking(self._list_targets)

    @defer.inlineCallbacks
    def _list_targets(self):
        nodes = [n["name"] for n in (yield self.session.get_data_node())]
        answers = yield defer.DeferredList([self._fields_of(n) for n in nodes], consumeErrors=True)
        return sorted(f"{node}::{f}" for node, (ok, fields) in zip(nodes, answers) if ok for f in fields)

    @defer.inlineCallbacks
    def _fields_of(self, node):
        """Deferred ``{field: timeline}`` of ``node`` over all time (``get_fields(1, 0)``), cached."""
        field, _ = yield self.session.get_fields(node, 1, 0)
        self._timeline_of[node] = {f: meta["timeline"] for f, meta in field.items()}
        return self._timeline_of[node]

    def get_data_many(self, requests):
        """Fetch ``[(node, fields, start, end, min_stride, downsample), ...]`` in parallel, one call each.

        ``downsample`` is one of `sisock.node.downsample.HOW` (``"minmax"``: the
        envelope, two samples per ``2*min_stride``); it may be left out.

        Returns
        -------
        list
            In the order of ``requests``: the get_data result (NumPy arrays)
            with ``field_timeline`` ``{field: timeline}`` added, or None for a
            node that is gone, or the exception a node raised.
        """
        return self._blocking(self._get_data_many, requests)

    def _get_data_many(self, requests):
        d = defer.DeferredList([self._get_one(*req) for req in requests], consumeErrors=True)
        return d.addCallback(lambda answers: [a if ok else a.value for ok, a in answers])

    @defer.inlineCallbacks
    def _get_one(self, node, fields, start, end, min_stride, downsample=None):
        """One get_data call; ``get_fields`` only when a field with data is not in the cached map."""
        try:
            result = yield self.session.get_data(node, fields, start, end, min_stride, downsample)
            timeline_of = self._timeline_of.get(node, {})
            if any(len(result["data"][f]) and f not in timeline_of for f in fields):
                timeline_of = yield self._fields_of(node)
        except NoSuchNode:
            self._timeline_of.pop(node, None)
            return None
        result["field_timeline"] = {f: timeline_of[f] for f in fields if f in timeline_of}
        return result

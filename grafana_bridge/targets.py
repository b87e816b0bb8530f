"""The bridge's list of targets: each node asked for its fields once, again only after the hub says it changed.

Asking every node for its fields on every ``/search`` costs one call per
node (501 with a fleet of 500 lamps). `TargetCache` asks the hub which
nodes are live (one call, answered from the hub's memory) and keeps each
node's fields until ``consumer.data_node_added``,
``consumer.data_node_subtracted`` or ``consumer.node_changed`` speaks of
that node: then it asks that node alone, at the next request that needs
the list. The node list itself comes from the hub on every request, so a
node the hub forgot without an event (the hub restarted) is not listed.
After the bridge's session (re)joins, events may have been missed:
`reset` forgets every node's fields.

Everything here runs in the reactor thread.
"""

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from grafana_bridge.errors import BackendUnavailable
from sisock.wire import uri

#: Seconds a node has to list its fields; one that does not is left out and asked again next time.
FIELDS_TIMEOUT = 10.0


class TargetCache:
    """``node::field`` of the live nodes, each node's fields cached until an event about it.

    Parameters
    ----------
    session : sisock.client.ConsumerSession
        The bridge's session; the cache follows the hub's topics on it
        (subscribed again after every reconnect).
    reactor : twisted reactor
    """

    def __init__(self, session, reactor):
        self.session = session
        self.reactor = reactor
        self._fields = {}    # node -> sorted field names, as it last answered get_fields(1, 0)
        self._version = {}   # node -> count of events about it, to spot answers made stale by one
        self._epoch = 0      # bumped by reset, to drop answers to questions asked before it
        self._lock = defer.DeferredLock()
        for topic in (uri.DATA_NODE_ADDED, uri.DATA_NODE_SUBTRACTED, uri.NODE_CHANGED):
            session.follow(topic, self._on_event)

    def reset(self):
        """Forget every node's fields: the next `targets` asks each live node again (after a (re)join)."""
        self._epoch += 1
        self._fields.clear()

    @defer.inlineCallbacks
    def targets(self):
        """Deferred sorted list of every ``node::field`` of the live nodes.

        Fields are those any time since the epoch up to now
        (``get_fields(1, 0)``). One ``get_data_node`` call to the hub, and
        ``get_fields`` only of the nodes not asked since the last event
        about them; a node that fails to answer is left out and asked
        again next time.

        Raises (in the Deferred)
        ------------------------
        grafana_bridge.errors.BackendUnavailable
            If no hub answers ``get_data_node`` (it is not running).
        """
        try:
            live = yield self.session.get_data_node()
        except ApplicationError as exc:
            if exc.error != "wamp.error.no_such_procedure":
                raise
            raise BackendUnavailable("no hub is running: the list of nodes is unknown, try again shortly") from None
        nodes = [entry["name"] for entry in live]
        fields = yield self._lock.run(self._fields_of, nodes)
        return sorted(f"{node}::{f}" for node in nodes for f in fields.get(node, ()))

    @defer.inlineCallbacks
    def _fields_of(self, nodes):
        """Deferred ``{node: [field, ...]}`` of ``nodes``, asking those not cached; forgets the others."""
        live = set(nodes)
        for gone in [n for n in self._fields if n not in live]:
            del self._fields[gone]
        fields = {n: self._fields[n] for n in nodes if n in self._fields}
        missing = [n for n in nodes if n not in self._fields]
        answers = yield defer.DeferredList([self._ask(n) for n in missing], consumeErrors=True)
        fields.update((n, answer) for n, (ok, answer) in zip(missing, answers, strict=True) if ok)
        return fields

    @defer.inlineCallbacks
    def _ask(self, node):
        """Deferred sorted fields of ``node``; cached unless an event about it came meanwhile."""
        epoch, version = self._epoch, self._version.get(node)
        field, _ = yield self.session.get_fields(node, 1, 0).addTimeout(FIELDS_TIMEOUT, self.reactor)
        names = sorted(field)
        if epoch == self._epoch and self._version.get(node) == version:
            self._fields[node] = names
        return names

    def _on_event(self, event):
        """A node came, went or changed: forget its fields (``{name, ...}``, any of the three topics)."""
        name = event["name"]
        self._version[name] = self._version.get(name, 0) + 1
        self._fields.pop(name, None)

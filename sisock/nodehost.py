"""Many data nodes in one process, over one WAMP session: `NodeHost` and `HostedNode`.

One session per node is the simple shape (`sisock.node.run_node`), but a
fleet of hundreds of small devices simulated or proxied by one program
would open hundreds of connections, authentications, heartbeats and
registrations. A `NodeHost` instead joins once, as node authid ``A``, and
serves every node named ``A.<something>``:

- the router lets a node session register and publish under
  ``consumer.A.``, and the hub lets it add the names ``A.*``
  (`sisock.routerauth`, `sisock.hub`);
- one **prefix registration** of ``consumer.A.`` receives every call to
  ``consumer.A.x.get_fields``, ``get_data``, ``get_latest``, ``command``
  and ``get_api``; the host routes it to node ``A.x`` by the procedure the
  router names in the call details. A name it does not host answers
  ``wamp.error.no_such_procedure``, as an absent node does;
- one heartbeat covers every node of the session, and the hub's
  ``hub.node_state`` events set each node's enabled state (`sisock.presence`);
- each node is added to the hub with its own metadata (location, tags,
  fields), again on every join and on ``hub.online``.

Each node is a `HostedNode`: a `DataNodeServer` without a connection of its
own, so everything a node author writes (``declare``, ``record``, the
blocking readers, ``@command`` methods) works unchanged; its live events
go out through the host's session.
"""

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions
from twisted.internet import defer

from sisock import commands, presence, uri, validate
from sisock.connection import SisockSession
from sisock.node import ADD_RETRY, DataNodeServer

#: Procedure suffixes a host routes to a node's method of the same name.
METHODS = ("get_fields", "get_data", "get_latest")
#: Most ``data_node.add`` calls a host has in flight at once.
ADD_CONCURRENCY = 32


class HostedNode(DataNodeServer):
    """A data node served by a `NodeHost` instead of a session of its own.

    Parameters
    ----------
    name : str
        ``<host authid>.<something>``.
    description : str, optional
        Replaces the class attribute ``description``.
    """

    def __init__(self, name, description=None):
        super().__init__(None)
        self.name = name
        if description is not None:
            self.description = description
        self.host = None

    def is_attached(self):
        """Whether the host's session is joined."""
        return self.host is not None and self.host.is_attached()

    def publish(self, topic, *args, **kwargs):
        """Publish through the host's session."""
        return self.host.publish(topic, *args, **kwargs)


class NodeHost(SisockSession):
    """One session serving many `HostedNode` objects (see the module docstring).

    Parameters
    ----------
    config : autobahn.wamp.types.ComponentConfig
        ``extra["connection"]`` authenticates as a node; its authid ``A``
        is the prefix of every hosted name.
    nodes : list of HostedNode
        Named ``A.<something>``, unique.
    heartbeat : float
        Seconds between the session's heartbeats.

    Raises
    ------
    sisock.errors.InvalidArgument
        A name is not a valid node name.
    ValueError
        A name is not under the authid, or is used twice.
    """

    def __init__(self, config, nodes, heartbeat=presence.HEARTBEAT_INTERVAL):
        super().__init__(config)
        self.heartbeat = heartbeat
        prefix = f"{self.connection.authid}."
        self.nodes = {}
        for node in nodes:
            validate.node_name(node.name, "hosted node name")
            if not node.name.startswith(prefix) or node.name in self.nodes:
                raise ValueError(f"hosted node {node.name!r} must be named {prefix}<something>, once")
            node.host = self
            self.nodes[node.name] = node
        self._added = set()
        self._retries = {}  # name -> DelayedCall of the next add of a refused name

    @property
    def ready_label(self):
        """``READY`` text of a node host: its authid and how many nodes it hosts."""
        return f"host {self.connection.authid} of {len(self.nodes)} nodes"

    @defer.inlineCallbacks
    def onJoin(self, details):
        self._added.clear()
        yield self.subscribe(self._on_hub_online, uri.HUB_ONLINE)
        yield presence.join(self, list(self.nodes.values()), self.heartbeat)
        yield self.register(self._route, uri.node_prefix(self.connection.authid),
                            RegisterOptions(match="prefix", details_arg="details"))
        yield self._add_all()
        SisockSession.onJoin(self, details)

    def _route(self, *args, details=None, **kwargs):
        """The prefix-registered procedure: ``consumer.<node>.<method>`` to the node's method."""
        name, _, method = details.procedure[len(uri.uri("consumer.")):].rpartition(".")
        node = self.nodes.get(name)
        if node is not None and method == "command":
            return commands.dispatch(node, args, kwargs)
        if node is not None and method == "get_api":
            return commands.describe(node)
        handler = getattr(node, method, None) if method in METHODS else None
        if handler is None:
            raise ApplicationError(ApplicationError.NO_SUCH_PROCEDURE, f"no procedure {details.procedure}")
        return handler(*args, **kwargs)

    def _on_hub_online(self, *args, **kwargs):
        self._added.clear()
        return self._add_all()

    @defer.inlineCallbacks
    def _add_all(self):
        """Add every node not added yet, `ADD_CONCURRENCY` at a time, and log how it went."""
        limit = defer.DeferredSemaphore(ADD_CONCURRENCY)
        results = yield defer.gatherResults([limit.run(self._add, node) for node in self.nodes.values()])
        failed = [r for r in results if r is not None]
        self.log.info("sisock: {n} of {total} hosted nodes added to the hub{more}", n=len(self._added),
                      total=len(self.nodes), more=f"; not added: {failed[0]}" if failed else "")

    @defer.inlineCallbacks
    def _add(self, node):
        """Ask the hub to add ``node``; a refused name is retried every `ADD_RETRY` s.

        Returns a Deferred of None, or of a sentence saying why it was not added.
        """
        if node.name in self._added or not self.is_attached():
            return None
        info = yield presence.describe(node, self.heartbeat)
        try:
            ok = yield self.call(uri.DATA_NODE_ADD, node.name, node.description, self._session_id, **info)
        except ApplicationError as exc:
            if exc.error == ApplicationError.NO_SUCH_PROCEDURE:
                return "the hub is not up yet; nodes are added when it is"
            return f"{node.name}: {exc}"
        if ok:
            self._added.add(node.name)
            return None
        if node.name not in self._retries:
            from twisted.internet import reactor

            self._retries[node.name] = reactor.callLater(ADD_RETRY, self._retry, node)
        return f"another live session owns {node.name}; retrying every {ADD_RETRY:g} s"

    def _retry(self, node):
        del self._retries[node.name]
        return self._add(node)

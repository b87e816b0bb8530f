"""`NodeSession`: the one WAMP session adapter that serves data nodes, one or many.

A `sisock.node.base.DataNode` knows nothing of WAMP; a `NodeSession` joins
the router as node authid ``A`` and serves every node it is given, named
``A`` itself (`sisock.node.server.DataNodeServer`, one node per process)
or ``A.<something>`` (a fleet of hundreds of devices over one connection):

- one **prefix registration** of ``consumer.A.`` receives every call to
  ``consumer.<node>.get_fields``, ``get_data``, ``get_latest``,
  ``command``, ``get_api`` and the node's own procedures
  (`sisock.node.procedures`); the session routes it to the node by the
  procedure the router names in the call details, checks the arguments
  against the method's signature, and a node's own procedure's against
  its annotations (`sisock.node.argtypes`; ``invalid_argument`` if they
  do not fit) and passes the call details on, so a large ``get_data`` goes out
  in chunks to a caller that asked for progressive results. A name or
  procedure it does not serve answers ``wamp.error.no_such_procedure``,
  as an absent node does. A session with few procedure URIs in all (a
  node of its own, a small fleet) also registers each of them exactly,
  which the router matches faster (`NodeSession._register_exact`);
- every node is added to the hub with its own metadata (location, tags,
  fields), on every join and again when the hub publishes ``hub.online``;
  a name the hub refuses (another live session owns it) is retried every
  `ADD_RETRY` seconds, one retry at a time per name;
- a person's command or change (an admin's or operator's call of
  ``command`` or of a procedure restricted to some roles) is reported to
  the hub's audit trail (`sisock.node.audit`);
- one heartbeat covers every node of the session, and the hub's
  ``hub.node_state`` events set each node's enabled state
  (`sisock.node.presence`);
- a node's live blocks are published through the session
  (``DataNode.session``).

The router lets a node session register and publish only under
``consumer.A.``, and the hub lets it add only ``A`` and ``A.*``
(`sisock.router.auth`, `sisock.hub.hub`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable
from typing import Any

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions
from twisted.internet import defer

from sisock.connection import SisockSession
from sisock.node import argtypes, audit, presence
from sisock.node.base import DataNode
from sisock.node.procedures import STANDARD, procedures_of
from sisock.wire import uri, validate
from sisock.wire.errors import NotAuthorized

#: Seconds between attempts to add a node to the hub while its name is refused.
ADD_RETRY = 2.0
#: Most ``data_node.add`` calls a session has in flight at once.
ADD_CONCURRENCY = 32
#: Most procedure URIs a session also registers exactly (see `NodeSession._register_exact`).
EXACT_MAX = 64


class NodeSession(SisockSession):
    """One session serving `DataNode` objects (see the module docstring).

    Parameters
    ----------
    config : autobahn.wamp.types.ComponentConfig
        ``extra["connection"]`` authenticates as a node; its authid ``A``
        is the name of the node, or the prefix of every hosted name.
    nodes : iterable of DataNode
        Named ``A`` or ``A.<something>``, each once.
    heartbeat : float
        Seconds between the session's heartbeats.

    Raises
    ------
    sisock.wire.errors.InvalidArgument
        A name is not a valid node name.
    ValueError
        A name is not the authid or under it, or is used twice.
    """

    heartbeat = presence.HEARTBEAT_INTERVAL
    _added: set[str]  # names the hub added in this join
    _retries: dict[str, Any]  # name -> DelayedCall of the next add of a refused name
    _routes: dict[str, tuple[Any, str, frozenset[str] | None, bool]]  # procedure URI -> `_route_of` it

    def __init__(self, config: Any, nodes: Iterable[DataNode] = (), heartbeat: float | None = None):
        super().__init__(config)
        if heartbeat is not None:
            self.heartbeat = heartbeat
        self._nodes: dict[str, DataNode] = {}
        for node in nodes:
            authid = self.connection.authid
            name = validate.node_name(node.name, "node name")
            if not (name == authid or name.startswith(f"{authid}.")) or name in self._nodes:
                raise ValueError(f"node {name!r} must be named {authid} or {authid}.<something>, once")
            node.session = self
            self._nodes[name] = node

    @property
    def nodes(self) -> dict[str, DataNode]:
        """``{name: node}`` of the nodes this session serves."""
        return self._nodes

    def _ready_text(self) -> str:
        """``READY`` text: ``node <name>`` for one node named as the authid, else the host and its count."""
        names = list(self.nodes)
        if names == [self.connection.authid]:
            return f"node {names[0]}"
        return f"host {self.connection.authid} of {len(names)} nodes"

    # -- joining -------------------------------------------------------------
    @defer.inlineCallbacks
    def onJoin(self, details):
        for node in self.nodes.values():
            validate.node_name(node.name, "node name")
        self._added, self._routes = set(), {}
        if not hasattr(self, "_retries"):  # a subclass may have skipped our __init__ (original sisock nodes)
            self._retries = {}
        yield self.subscribe(self._on_hub_online, uri.HUB_ONLINE)
        yield presence.join(self, list(self.nodes.values()), self.heartbeat)
        yield self.register(self._route, uri.node_prefix(self.connection.authid),
                            RegisterOptions(match="prefix", details_arg="details"))
        yield self._register_exact()
        yield self._add_all()
        yield defer.maybeDeferred(self.after_onJoin, details)
        self.ready_label = self._ready_text()
        SisockSession.onJoin(self, details)

    def after_onJoin(self, details):
        """Called after every join, once procedures are registered and the hub was asked to add the nodes."""

    def _register_exact(self):
        """Register every procedure URI of the nodes exactly too, when they number at most `EXACT_MAX`.

        The router finds an exact registration with one dictionary lookup
        and a prefix one by walking a trie of URIs, which made a 1-sample
        ``get_data`` up to 0.06 ms slower (0.03 ms on average over five
        runs, docs/scaling.md). Both end in `_route`; the prefix still
        serves a large fleet (a join of thousands of registrations would be
        slow) and answers names nobody serves. A registration refused (say
        ``procedure_already_exists``) fails the join with its own error.
        """
        uris = {uri.node_uri(name, procedure) for name, node in self.nodes.items() for procedure in procedures_of(node)}
        if len(uris) > EXACT_MAX:
            return defer.succeed(None)
        options = RegisterOptions(details_arg="details")
        return defer.gatherResults([self.register(self._route, u, options) for u in sorted(uris)],
                                   consumeErrors=True).addErrback(lambda failure: failure.value.subFailure)

    def _route(self, *args, details=None, **kwargs):
        """The registered procedure (prefix and exact): ``consumer.<node>.<procedure>`` to the node's method.

        A person's command or change is reported to the hub's audit trail (`sisock.node.audit`).
        """
        route = self._routes.get(details.procedure) or self._route_of(details.procedure)
        if audit.wanted(route[1], route[2], details):
            node = self._find(details.procedure[len(uri.uri("consumer.")):])[0]
            return audit.run(self, node, route[1], route[0], args, kwargs, details,
                             lambda: self._call(route, args, kwargs, details))
        return self._call(route, args, kwargs, details)

    def _call(self, route, args, kwargs, details):
        """Call the node's method of ``route`` (`_route_of`) with the caller's arguments."""
        method, name, roles, takes_details = route
        if roles is not None and getattr(details, "caller_authrole", None) not in roles:
            raise NotAuthorized(f"{details.procedure} may be called by {' or '.join(sorted(roles))} sessions only")
        if takes_details:
            kwargs["details"] = details
        result = validate.call(method, args, kwargs, name)
        if isinstance(result, defer.Deferred) and not result.called:
            return result.addBoth(_answered, details)
        return _answered(result, details)

    def _route_of(self, procedure: str) -> tuple[Any, str, frozenset[str] | None, bool]:
        """``(method, procedure name, roles or None, takes details)`` of a procedure URI, kept in `_routes`.

        Raises ``wamp.error.no_such_procedure`` for one this session does not serve.
        """
        node, name = self._find(procedure[len(uri.uri("consumer.")):])
        entry = procedures_of(node).get(name) if node is not None else None
        if entry is None:
            raise ApplicationError(ApplicationError.NO_SUCH_PROCEDURE, f"no procedure {procedure}")
        method = getattr(node, entry[0])
        takes_details = _takes_details(method)
        if name not in STANDARD:
            method = argtypes.checked(method, name)
        self._routes[procedure] = route = (method, name, entry[1], takes_details)
        return route

    def _find(self, rest: str) -> tuple[DataNode | None, str]:
        """``(node, procedure name)`` of ``<node name>.<procedure name>`` (both may hold dots)."""
        dot = len(rest)
        while (dot := rest.rfind(".", 0, dot)) > 0:
            node = self.nodes.get(rest[:dot])
            if node is not None:
                return node, rest[dot + 1:]
        return None, rest

    # -- the hub -------------------------------------------------------------
    def _on_hub_online(self, *args, session=None, **kwargs):
        """``hub.online``: add every node again, unless the event names another session.

        The hub names the session it asks (`sisock.hub.liveness.Liveness._on_heartbeat`);
        behind a router link the event reaches every session there.
        """
        if session is not None and session != self._session_id:
            return None
        self._added.clear()
        return self._add_all()

    @defer.inlineCallbacks
    def _add_all(self):
        """Add every node not added yet, `ADD_CONCURRENCY` at a time, and log how it went."""
        limit = defer.DeferredSemaphore(ADD_CONCURRENCY)
        results = yield defer.gatherResults([limit.run(self._add, node) for node in self.nodes.values()])
        failed = [r for r in results if r is not None]
        if self._added:
            presence.beat(self)
        if failed:
            self.log.warn("sisock: {n} of {total} nodes added to the hub; not added: {why}", n=len(self._added),
                          total=len(self.nodes), why=failed[0])
        else:
            self.log.info("sisock: {n} of {total} nodes added to the hub", n=len(self._added), total=len(self.nodes))

    @defer.inlineCallbacks
    def _add(self, node):
        """Ask the hub to add ``node``; a refused name is retried every `ADD_RETRY` s, one retry at a time.

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
            return f"the hub refused {node.name}: {exc}"
        if ok:
            self._added.add(node.name)
            return None
        if node.name not in self._retries:
            from twisted.internet import reactor

            self._retries[node.name] = reactor.callLater(ADD_RETRY, self._retry, node)
        return f"another live session owns {node.name}; retrying every {ADD_RETRY:g} s"

    @defer.inlineCallbacks
    def _retry(self, node):
        del self._retries[node.name]
        refused = yield self._add(node)
        if refused is not None:
            self.log.warn("sisock: {why}", why=refused)


def _answered(result, details):
    """Drop the call's progress callback once the call has answered; returns ``result``.

    Autobahn hands a callee the caller's keyword arguments as the dict it
    decoded, adds the call details to that dict, and the details' progress
    callback refers back to the message holding it: a reference cycle per
    call with keyword arguments and progressive results (every sisock
    client's ``get_data``), left to Python's cycle collector. Nothing may
    send progress after the answer, so the callback can go.
    """
    details.progress = None
    return result


@functools.lru_cache(maxsize=256)
def _takes_details_of(func) -> bool:
    return "details" in inspect.signature(func).parameters


def _takes_details(method) -> bool:
    """Whether a node method takes the call details (a ``details`` parameter, as `DataNode.get_data`)."""
    return _takes_details_of(getattr(method, "__func__", method))

"""The hub: which data nodes exist, who owns each name, and when they go.

Procedures (original sisock names, see `sisock.wire.uri`):

``data_node.add(name, description, session_id, **info) -> bool``
    True and one ``consumer.data_node_added`` event ``{name, description}``;
    True again (no event) if the caller already owns ``name``; False if a
    live session owns it. The owner is the caller the router discloses,
    not the ``session_id`` argument. ``info`` is optional metadata kept in
    the registry: ``host``, ``pid``, ``version``, ``location``
    (``{lat, lon}``), ``tags``, ``fields`` (count) and ``heartbeat``
    (seconds between the node's heartbeats); see
    `sisock.hub.info.check_info`.
``data_node.subtract(name, session_id) -> None``
    Only the owner may; one ``consumer.data_node_subtracted`` event.
``consumer.get_data_node(filter=None, every=False) -> [{name, description}, ...]``
    The live, enabled nodes, sorted by name; with a registry ``filter``,
    those matching it with their tags and location (what queries across
    nodes select, `sisock.hub.fanout`); with ``every=True`` too, every
    record matching it, disabled and offline ones included, each with its
    ``status`` and ``last_seen`` (what the fleet reports read,
    `sisock.hub.reports`).
``hub.nodes.*``
    Management of the registry, for admins: `sisock.hub.management`.
``consumer.alerts.*``, ``hub.alerts.*``
    The alert service on the hub's session: `sisock.alerts`.
``hub.audit.*``
    The audit trail of admin and operator actions: `sisock.hub.auditapi`.

Every node ever added is kept in the registry (`sisock.hub.registry`, an
SQLite file under the data directory), with its status ``online``,
``offline`` or ``disabled``; every change of a record publishes
``consumer.node_changed`` ``{name, change, node}``.

A node goes offline when its session leaves (goodbye, crash, kill -9,
network loss: the router's ``wamp.session.on_leave`` meta event) or, for a
session that declared a ``heartbeat``, when nothing arrived on
``hub.heartbeat`` from it for ``heartbeat_timeout`` seconds (a frozen
process whose connection the router has not dropped yet; `sisock.hub.liveness`).
Either way one ``consumer.data_node_subtracted`` event is published, never
two: the events track entering and leaving the list of `get_data_node`,
which a disabled node also leaves (and enabling it enters again). A session
that heartbeats while it owns no name here (expired this way, or joined its
router before the hub or a link to the hub was there, so that its
``data_node.add`` found no hub) is sent ``hub.online`` naming it (unless
it called ``data_node.add`` within ``heartbeat_timeout``: a refused name is
retried by its node) and adds its nodes again. Each time the hub
joins it publishes ``hub.online``, and nodes add themselves again: a hub
or router restart needs no manual step.
"""

import argparse
import os
import time

from autobahn.wamp.types import ComponentConfig, RegisterOptions, SubscribeOptions
from twisted.internet import defer, task

from sisock import config
from sisock.alerts import attach as attach_alerts
from sisock.connection import SisockSession, run
from sisock.hub.audit import FILE_NAME as AUDIT_FILE
from sisock.hub.audit import RETENTION, AuditLog
from sisock.hub.auditapi import AuditApi
from sisock.hub.info import check_info
from sisock.hub.liveness import HEARTBEAT_TIMEOUT, Liveness, LiveSession
from sisock.hub.management import NodesApi
from sisock.hub.registry import FILE_NAME, Registry
from sisock.hub.selection import parse_filter
from sisock.wire import uri, validate
from sisock.wire.audit import AUDITED_ROLES
from sisock.wire.errors import InvalidArgument, NoSuchNode, NotAuthorized

#: Seconds between writes of ``last_seen`` moved by heartbeats.
FLUSH_INTERVAL = 5.0


class Hub(Liveness, SisockSession):
    """The hub session.

    Parameters
    ----------
    config : autobahn.wamp.types.ComponentConfig
        ``extra["connection"]`` as for every sisock session.
    registry : sisock.hub.registry.Registry
        The persistent registry (kept across reconnects).
    audit : sisock.hub.audit.AuditLog
        The audit trail (kept across reconnects).
    heartbeat_timeout : float
        Seconds of silence after which a heartbeating node is offline.

    Attributes
    ----------
    nodes : dict
        ``{name: {"name", "description", "session"}}`` of the connected nodes.
    sessions : dict
        ``{session_id: LiveSession}`` of the sessions owning them.
    """

    ready_label = "hub"
    #: The alert service (`sisock.alerts`) that `main` attaches; None: no alerts.
    alerts = None

    def __init__(self, config, registry, audit, heartbeat_timeout=HEARTBEAT_TIMEOUT):
        super().__init__(config)
        self.registry = registry
        self.audit = audit
        self.heartbeat_timeout = heartbeat_timeout
        self.nodes = {}
        self.sessions = {}
        self._heard = {}  # {session_id: monotonic time} of the last add or ask of a session owning no name
        self.api = NodesApi(self)
        self.audit_api = AuditApi(self)
        self._loops = []

    @defer.inlineCallbacks
    def onJoin(self, details):
        # Sessions from before this join are gone (router restart) or will
        # add themselves again on hub.online (hub restart): start empty.
        self.nodes.clear()
        self.sessions.clear()
        self._heard.clear()
        self.registry.disconnect_all()
        yield self.subscribe(self._on_session_leave, uri.SESSION_ON_LEAVE)
        yield self.subscribe(self._on_heartbeat, uri.HUB_HEARTBEAT, SubscribeOptions(details_arg="details"))
        with_caller = RegisterOptions(details_arg="details")
        yield self.register(self.add, uri.DATA_NODE_ADD, with_caller)
        yield self.register(self.subtract, uri.DATA_NODE_SUBTRACT, with_caller)
        yield self.register(self.get_data_node, uri.GET_DATA_NODE)
        yield self.api.register()
        if self.alerts is not None:
            yield self.alerts.start()
        yield self.audit_api.register()
        if not self._loops:
            self.log.info("sisock: registry {path} holds {n} node(s)", path=self.registry.path,
                          n=len(self.registry.records))
            check = min(1.0, self.heartbeat_timeout / 4)
            self._loops = [task.LoopingCall(self._expire), task.LoopingCall(self.registry.flush)]
            self._loops[0].start(check, now=False)
            self._loops[1].start(FLUSH_INTERVAL, now=False)
        yield self.publish(uri.HUB_ONLINE)
        SisockSession.onJoin(self, details)

    @staticmethod
    def _caller(details):
        if details is None or details.caller is None:
            raise NotAuthorized("the router did not disclose the caller; check the role's disclose setting")
        return details.caller

    @defer.inlineCallbacks
    def add(self, name, description, session_id=None, details=None, **info):
        """``data_node.add``; see the module docstring.

        Raises
        ------
        InvalidArgument
            Bad ``name``, ``description`` or ``info``.
        NotAuthorized
            A node session adding a name other than its authid (or
            ``authid.*``).
        """
        validate.node_name(name)
        description = validate.description(description)
        info = check_info(info)
        caller = self._caller(details)
        authid = details.caller_authid
        if details.caller_authrole == "node" and not (name == authid or name.startswith(f"{authid}.")):
            raise NotAuthorized(f"node {authid!r} may not add a data node named {name!r}")
        self._heard[caller] = time.monotonic()  # a refused session retries by itself: no need to ask it
        entry = self.nodes.get(name)
        if entry is not None and entry["session"] != caller:
            alive = yield self._session_alive(entry["session"])
            if alive:
                return False
            self._depart(name, time.time())
        entry = self.nodes.get(name)
        if entry is not None and entry["session"] != caller:
            return False  # another session took the name while we asked the router
        record, created = self.registry.seen(name, description, info, authid, time.time())
        live = self.sessions.setdefault(caller, LiveSession())  # behind a link: its heartbeats tell (`_route`)
        live.names.add(name)
        live.last = time.monotonic()
        if info.get("heartbeat"):
            live.heartbeat = info["heartbeat"]
        self._heard.pop(caller, None)
        if entry is not None:
            entry["description"] = description
            self._tell_state(name)
            yield self.synced()
            return True
        self.nodes[name] = {"name": name, "description": description, "session": caller}
        self._tell_state(name)
        if record.enabled:
            self.publish(uri.DATA_NODE_ADDED, {"name": name, "description": description})
        self.changed(record, "added" if created else "online")
        self.log.info("sisock: data node {name} added (session {s})", name=name, s=caller)
        yield self.synced()
        return True

    def subtract(self, name, session_id=None, details=None):
        """``data_node.subtract``; see the module docstring. A person's (an admin's) is in the audit trail.

        Raises
        ------
        NoSuchNode
            ``name`` is not a live node.
        NotAuthorized
            The caller does not own ``name``.
        """
        if getattr(details, "caller_authrole", None) in AUDITED_ROLES:
            return self.audit.run(details.caller_authid, "data_node.subtract", name, {"name": name},
                                  self._subtract, name, details)
        return self._subtract(name, details)

    def _subtract(self, name, details):
        validate.node_name(name)
        caller = self._caller(details)
        entry = self.nodes.get(name)
        if entry is None:
            raise NoSuchNode(f"name {name!r} is not a live data node")
        if entry["session"] != caller and details.caller_authrole not in ("hub", "admin"):
            raise NotAuthorized(f"only the session that added {name!r} may subtract it")
        self._depart(name, time.time())
        return self.synced().addCallback(lambda _: None)

    def get_data_node(self, filter=None, every=False):
        """``consumer.get_data_node``: the live, enabled nodes, by name.

        Parameters
        ----------
        filter : str, optional
            A registry filter (`sisock.hub.selection`: ``fleet.lamp*``,
            ``zone=north kind=led``, ``ALL``). Without it, the original
            answer.
        every : bool
            With ``filter``: every record it matches, not only the live,
            enabled nodes.

        Returns
        -------
        list of dict
            ``[{name, description}, ...]``; with ``filter``, the matching
            nodes as ``[{name, description, tags, location}, ...]``
            (`sisock.hub.registry.NodeRecord.to_public`), what consumers
            may read of the registry; with ``every``, each also with
            ``status`` (``online``, ``offline``, ``disabled``),
            ``connected`` and ``last_seen`` (UNIX seconds UTC).

        Raises
        ------
        InvalidArgument
            A malformed ``filter``, or ``every`` not a bool.
        """
        live = [self.registry.get(name) for name in sorted(self.nodes)]
        live = [r for r in live if r.enabled]
        if filter is None:
            return [{"name": r.name, "description": self.nodes[r.name]["description"]} for r in live]
        accept = parse_filter(filter)
        if not isinstance(every, bool):
            raise InvalidArgument(f"every must be true or false, got {every!r:.40}")
        if every:
            return [dict(r.to_public(), status=r.status, connected=r.connected, last_seen=r.last_seen)
                    for r in self.registry.select(accept)]
        return [r.to_public() for r in live if accept(r)]

    # -- changes -------------------------------------------------------------
    def synced(self):
        """Deferred that fires (in the reactor) once the registry has committed every change made so far.

        A call that changed the registry waits for it before it answers;
        it fails with the `sqlite3.Error` of a write that failed
        (`sisock.hub.registry.Registry.sync`).
        """
        from twisted.internet import reactor

        d = defer.Deferred()

        def done(future):
            exc = future.exception()
            reactor.callFromThread(d.errback if exc else d.callback, exc)

        self.registry.sync().add_done_callback(done)
        return d

    def changed(self, record, change):
        """Publish ``consumer.node_changed`` ``{name, change, node}`` (node None once forgotten)."""
        node = None if change == "forgotten" else record.to_wire()
        self.publish(uri.NODE_CHANGED, {"name": record.name, "change": change, "node": node})
        if self.alerts is not None:
            self.alerts.node_changed(record, change)

    def set_enabled(self, records, enabled):
        """Enable or disable ``records``; connected ones enter or leave `get_data_node` and are told.

        Returns
        -------
        list of NodeRecord
            Those whose state changed.
        """
        changed = self.registry.set_enabled(records, enabled)
        for record in changed:
            entry = self.nodes.get(record.name)
            if entry is not None:
                topic = uri.DATA_NODE_ADDED if enabled else uri.DATA_NODE_SUBTRACTED
                self.publish(topic, {"name": record.name, "description": entry["description"]})
                self._tell_state(record.name)
            self.changed(record, "enabled" if enabled else "disabled")
        return changed

    def _depart(self, name, when):
        """``name`` is no longer connected: offline, and one subtracted event if it was listed."""
        entry = self.nodes.pop(name)
        live = self.sessions.get(entry["session"])
        if live is not None:
            live.names.discard(name)
            if not live.names:
                del self.sessions[entry["session"]]
        record = self.registry.left(name, when)
        if record.enabled:
            self.publish(uri.DATA_NODE_SUBTRACTED, {"name": name, "description": entry["description"]})
        self.changed(record, "offline")
        self.log.info("sisock: data node {name} subtracted", name=name)


def main(argv=None):
    """Command-line entry point of the hub (``sisock hub``)."""
    parser = argparse.ArgumentParser(prog="sisock hub", description="Run the sisock hub and its alert service.")
    config.add_connection_arguments(parser, default_authid="hub")
    parser.add_argument("--heartbeat-timeout", type=float, default=HEARTBEAT_TIMEOUT,
                        help="seconds without a heartbeat after which a node is offline (default %(default)s)")
    parser.add_argument("--audit-days", type=float, default=RETENTION / 86400,
                        help="days the audit trail keeps an entry (default %(default)g)")
    args = parser.parse_args(argv)
    if not args.heartbeat_timeout > 0:
        parser.error("--heartbeat-timeout must be a positive number of seconds")
    if not args.audit_days > 0:
        parser.error("--audit-days must be a positive number of days")
    try:
        conn = config.connection_from_args(args, "hub")
    except config.SecretsError as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")
    data_dir = os.path.abspath(args.data_dir or config.data_dir())
    registry = Registry(os.path.join(data_dir, FILE_NAME))
    audit = AuditLog(os.path.join(data_dir, AUDIT_FILE), args.audit_days * 86400)
    from twisted.internet import reactor

    reactor.addSystemEventTrigger("after", "shutdown", registry.close)
    reactor.addSystemEventTrigger("after", "shutdown", audit.close)
    hub = Hub(ComponentConfig(args.realm, {"connection": conn}), registry, audit, args.heartbeat_timeout)
    try:
        attach_alerts(hub, os.path.abspath(args.data_dir or config.data_dir()))
    except ValueError as exc:
        registry.close()
        audit.close()
        parser.exit(2, f"{parser.prog}: {exc}\n")
    run(hub, args.log_level)


if __name__ == "__main__":
    main()

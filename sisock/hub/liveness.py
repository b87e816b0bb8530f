"""Which node sessions are alive: the hub's heartbeats, expiry and sessions leaving (`Liveness`).

A node goes offline when its session leaves (the router's
``wamp.session.on_leave``), or, for a session that declared a
``heartbeat``, when nothing arrived on ``hub.heartbeat`` from it for
``heartbeat_timeout`` seconds. A node behind a router link is known by its
session on the other router and the link's session it comes through
(`LiveSession.route`, learned from its heartbeats: events disclose the
link they came through, calls do not): no ``wamp.session.on_leave``
crosses a link, so its heartbeats tell, and all of them go offline when
the link's session leaves. A heartbeating session that owns no name is asked to add its
nodes (``hub.online`` naming it). See `sisock.hub.hub` for the rest of the hub.
"""

import time
from dataclasses import dataclass, field

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions
from twisted.internet import defer

from sisock.wire import uri

#: Seconds without a heartbeat after which a node that heartbeats is offline.
HEARTBEAT_TIMEOUT = 5.0


@dataclass
class LiveSession:
    """A WAMP session that owns node names."""

    names: set = field(default_factory=set)
    heartbeat: float | None = None  # seconds between its heartbeats, if it sends them
    route: int | None = None  # the router link's session it reaches us through, if behind a link (heartbeats tell)
    last: float = field(default_factory=time.monotonic)  # monotonic time of its last sign of life


class Liveness:
    """`sisock.hub.hub.Hub` methods that tell which node sessions are alive.

    The hub provides ``sessions`` (``{session_id: LiveSession}``), ``_heard``
    (``{session_id: monotonic time}`` of the last add or ask of a session
    owning no name), ``heartbeat_timeout``, ``registry``, ``_depart(name,
    when)``, ``nodes`` (``{name: {session, ...}}``) and the session's
    ``call`` and ``publish``.
    """

    sessions: dict
    nodes: dict
    _heard: dict
    heartbeat_timeout: float

    @staticmethod
    def _route(details):
        """The router link's session an event came through (the last ``forward_for``), or None.

        The router lets only a link's session send ``forward_for``
        (`sisock.router.auth`), and appends that session itself, so the
        disclosed publisher is then the node's session on the other router.
        Only events tell: Autobahn's call details carry no ``forward_for``.
        """
        forward = getattr(details, "forward_for", None)
        return forward[-1]["session"] if forward else None

    def _tell_state(self, name):
        """Publish ``hub.node_state`` ``{name, enabled}`` to the session owning ``name`` (through its link)."""
        record = self.registry.get(name)
        self.publish(uri.NODE_STATE, {"name": name, "enabled": record.enabled},
                     options=PublishOptions(eligible=[self._address(self.nodes[name]["session"])]))

    def _address(self, session_id):
        """The session to name in ``eligible`` to reach ``session_id`` (its link's, behind a link)."""
        live = self.sessions.get(session_id)
        return live.route if live is not None and live.route else session_id

    def _on_session_leave(self, session_id, *args, **kwargs):
        """A session left this router; if it was a router link, the sessions behind it are gone too.

        Crossbar does not forward ``wamp.session.on_leave`` over a link: a
        node leaving the other router is noticed by its heartbeats, and
        all of them at once when the link itself leaves (those sessions
        may come back with the link: their heartbeats tell, `_on_heartbeat`).
        """
        self._heard.pop(session_id, None)
        behind = [s for s, live in self.sessions.items() if live.route == session_id]
        if behind:
            self.log.info("sisock: router link session {s} left; {n} node(s) behind it offline", s=session_id,
                          n=sum(len(self.sessions[s].names) for s in behind))
        for gone in [session_id, *behind]:
            live = self.sessions.get(gone)
            for name in sorted(live.names if live else ()):
                self._depart(name, time.time())

    def _on_heartbeat(self, *args, details=None, **kwargs):
        """A node session's heartbeat: it is alive; one that owns no name here is asked to add its nodes.

        The first heartbeat of a session behind a router link tells the
        link (`_route`): its nodes are then told their enabled state,
        which the add could not address.

        A session owns no name when the hub expired it for silence, or when
        it joined its router before the hub (or the router link the hub is
        behind) was there, so that its ``data_node.add`` found no hub. It is
        sent ``hub.online`` naming it, unless it called ``data_node.add`` or
        was asked within ``heartbeat_timeout`` (a session whose names are all
        refused retries by itself, and keeps heartbeating).
        """
        session_id, now = details.publisher, time.monotonic()
        live = self.sessions.get(session_id)
        if live is not None:
            live.last = now
            self.registry.touch(live.names, time.time())
            route = self._route(details)
            if route != live.route:
                live.route = route
                for name in sorted(live.names):
                    self._tell_state(name)
            return
        heard = self._heard.get(session_id)
        if heard is not None and now - heard < self.heartbeat_timeout:
            return
        self._heard[session_id] = now
        self.log.info("sisock: session {s} heartbeats and owns no node here; asking it to add its nodes",
                      s=session_id)
        address = self._route(details) or session_id
        self.publish(uri.HUB_ONLINE, session=session_id, options=PublishOptions(eligible=[address]))

    def _expire(self):
        """Take offline the nodes of heartbeating sessions silent for ``heartbeat_timeout`` seconds."""
        if not self.is_attached():
            return
        now, wall = time.monotonic(), time.time()
        for session_id, live in list(self.sessions.items()):
            silent = now - live.last
            if live.heartbeat and silent > self.heartbeat_timeout:
                self.log.warn("sisock: no heartbeat from session {s} for {t:.1f} s; {n} node(s) offline",
                              s=session_id, t=silent, n=len(live.names))
                for name in sorted(live.names):
                    self._depart(name, wall - silent)
        self._heard = {s: heard for s, heard in self._heard.items() if now - heard < 2 * self.heartbeat_timeout}

    @defer.inlineCallbacks
    def _session_alive(self, session_id):
        live = self.sessions.get(session_id)
        if live is not None and live.route:
            # behind a link, the router here does not know the session: its heartbeats tell
            return time.monotonic() - live.last <= self.heartbeat_timeout
        try:
            yield self.call("wamp.session.get", session_id)
        except ApplicationError as exc:
            if exc.error == "wamp.error.no_such_session":
                return False
            raise
        return True

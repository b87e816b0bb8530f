"""A node session's presence at the hub: what it says about itself, its heartbeat, its enabled state.

Used by `sisock.node.session.NodeSession`, so a
node author writes none of it.

- `describe` is the metadata sent with ``data_node.add``: host, pid,
  version, heartbeat interval, the count of fields, and the node's optional
  class attributes ``location = (lat, lon)`` (degrees north, east),
  ``tags = {key: value}`` and ``version = "..."`` (else sisock's version).
- `join` starts, once per process, one heartbeat per session: an event with
  no payload on ``hub.heartbeat`` every `HEARTBEAT_INTERVAL` seconds (the
  hub takes the nodes of a session silent for its timeout offline), and
  follows ``hub.node_state``, on which the hub tells the owning session
  whether each of its nodes is enabled; `beat` sends one at once, after
  the session added its nodes.
- `sisock.node.base.DataNode.check_enabled` is what ``get_data`` asks
  first: a node an admin disabled answers ``node_disabled``.
"""

import os
import socket
import time
from importlib import metadata

from twisted.internet import defer, task, threads

from sisock.wire import uri

#: Seconds between heartbeats of a node session.
HEARTBEAT_INTERVAL = 1.0


def _version():
    try:
        return metadata.version("sisock")
    except metadata.PackageNotFoundError:
        return None


@defer.inlineCallbacks
def describe(node, heartbeat=HEARTBEAT_INTERVAL):
    """Deferred keyword arguments of ``data_node.add`` for ``node`` (see `sisock.hub.info.check_info`).

    The count of fields is that of ``node._get_fields_blocking(1, now)``,
    run in a thread; None if it fails.
    """
    info = {"host": socket.gethostname(), "pid": os.getpid(),
            "version": getattr(node, "version", None) or _version(), "heartbeat": heartbeat}
    location = getattr(node, "location", None)
    if location is not None:
        info["location"] = {"lat": float(location[0]), "lon": float(location[1])}
    tags = getattr(node, "tags", None)
    if tags:
        info["tags"] = dict(tags)
    try:
        field, _ = yield threads.deferToThread(node._get_fields_blocking, 1, time.time())
        info["fields"] = len(field)
    except Exception:  # a node failing to list its fields is still added; get_fields will say why
        info["fields"] = None
    return info


class _Presence:
    """Heartbeat loop and enabled state of the nodes of one session (see `join`)."""

    def __init__(self, session, nodes, interval):
        self.session, self.nodes = session, {n.name: n for n in nodes}
        self.loop = task.LoopingCall(self.beat)
        self.loop.start(interval, now=False)

    def beat(self):
        """Publish one (empty) heartbeat on ``hub.heartbeat`` if the session is joined."""
        if self.session.is_attached():
            self.session.publish(uri.HUB_HEARTBEAT)

    def on_state(self, event):
        node = self.nodes.get(event.get("name"))
        if node is not None:
            node.hub_enabled = bool(event.get("enabled", True))


def beat(session):
    """Heartbeat at once (after adding nodes): behind a router link, the hub learns the link from it.

    The hub sees which link a node's events come through, not its calls
    (`sisock.hub.liveness.Liveness._route`): until this heartbeat, it
    could neither take the node offline when that link leaves nor tell it
    its enabled state.
    """
    session._presence.beat()


def join(session, nodes, interval=HEARTBEAT_INTERVAL):
    """Follow ``hub.node_state`` for ``nodes`` and heartbeat; call in every ``onJoin`` before adding.

    Parameters
    ----------
    session : sisock.connection.SisockSession
        The joined session that adds ``nodes`` to the hub.
    nodes : list of sisock.node.base.DataNode
        The nodes it owns; each has ``name``.
    interval : float
        Seconds between heartbeats (the first join of the process sets it).

    Returns
    -------
    Deferred
        Fires once subscribed.
    """
    presence = getattr(session, "_presence", None)
    if presence is None:
        presence = session._presence = _Presence(session, nodes, interval)
    return session.subscribe(presence.on_state, uri.NODE_STATE)

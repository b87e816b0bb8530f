"""WAMP names of sisock: the base URI and every procedure and topic built on it.

This is the one place where the base URI is spelled. Everything else asks
these helpers for a name, so a deployment that changes ``SISOCK_BASE_URI``
changes every procedure, topic and error URI at once.

The names are compatible with the original sisock (Simons Observatory):
``org.simonsobservatory.data_node.add``, ``...consumer.NAME.get_data`` etc.
"""

import os
import re

#: Base of every URI; override with the environment variable ``SISOCK_BASE_URI``.
BASE_URI = os.environ.get("SISOCK_BASE_URI", "org.simonsobservatory")

#: A data node name: one or more dot-separated components of letters, digits,
#: ``_`` and ``-``; 128 characters at most.
NODE_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}(\.[A-Za-z0-9_\-]{1,64})*$")
NODE_NAME_MAX = 128


def uri(suffix):
    """Compose a full URI from the part after the base.

    Parameters
    ----------
    suffix : str
        The part after the base URI, e.g. ``"data_node.add"``.

    Returns
    -------
    str
        ``BASE_URI + "." + suffix``.
    """
    return f"{BASE_URI}.{suffix}"


def node_uri(name, suffix):
    """URI of a procedure or topic of data node ``name``.

    Parameters
    ----------
    name : str
        Data node name.
    suffix : str
        ``"get_fields"``, ``"get_data"``, ``"data"`` (the live topic), ...

    Returns
    -------
    str
        ``BASE_URI.consumer.<name>.<suffix>``.
    """
    return uri(f"consumer.{name}.{suffix}")


def node_prefix(authid):
    """Prefix under which a node session with ``authid`` may register and publish.

    Parameters
    ----------
    authid : str
        The WAMP authid of the node session.

    Returns
    -------
    str
        ``BASE_URI.consumer.<authid>.`` (with the trailing dot).
    """
    return uri(f"consumer.{authid}.")


#: First parts of names no data node may take: ``consumer.alerts.*`` are the alert service's.
RESERVED_NODE_NAMES = ("alerts",)


def is_valid_node_name(name):
    """Whether ``name`` can be used as a data node name (see `NODE_NAME_RE`; not under `RESERVED_NODE_NAMES`)."""
    return (isinstance(name, str) and len(name) <= NODE_NAME_MAX and bool(NODE_NAME_RE.match(name))
            and name.split(".")[0] not in RESERVED_NODE_NAMES)


# Hub procedures and topics (original sisock names).
DATA_NODE_ADD = uri("data_node.add")
DATA_NODE_SUBTRACT = uri("data_node.subtract")
GET_DATA_NODE = uri("consumer.get_data_node")
DATA_NODE_ADDED = uri("consumer.data_node_added")
DATA_NODE_SUBTRACTED = uri("consumer.data_node_subtracted")
#: Published by the hub each time it (re)joins: nodes add themselves again.
HUB_ONLINE = uri("hub.online")

# Registry and liveness (sisock.hub, sisock.node.presence, sisock.hub.management).
#: Published by every node session about once a second, no payload: "still here".
HUB_HEARTBEAT = uri("hub.heartbeat")
#: Published by the hub to the owning session only: ``{name, enabled}``.
NODE_STATE = uri("hub.node_state")
#: Published by the hub on every registry change: ``{name, change, node}``.
NODE_CHANGED = uri("consumer.node_changed")
#: Prefix of the hub's management procedures (``hub.nodes.list`` ...).
HUB_NODES = uri("hub.nodes.")

# The audit trail (sisock.hub.audit, sisock.node.audit; docs/roles.md).
#: Prefix of the hub's audit procedures (``hub.audit.list``, ``hub.audit.report``).
HUB_AUDIT = uri("hub.audit.")
#: Called by node sessions: one run of an audited procedure of one of their nodes.
HUB_AUDIT_REPORT = uri("hub.audit.report")
#: Published by the hub for every audit entry it recorded (admins and operators may subscribe).
HUB_AUDIT_RECORDED = uri("hub.audit.recorded")

#: Router meta events the hub follows to notice sessions that leave.
SESSION_ON_LEAVE = "wamp.session.on_leave"

#: Procedure that the router-side auth component registers.
AUTHENTICATE = uri("auth.authenticate")

# Named users, served by the router's auth component (sisock.router.usersapi; docs/roles.md).
#: Prefix of the user procedures (``hub.users.add``, ``list``, ``rotate``, ``remove``), for admins.
HUB_USERS = uri("hub.users.")
#: Published by the router on every user change: ``{name, change, role, by, t}``.
HUB_USERS_CHANGED = uri("hub.users.changed")

"""The hub: which data nodes exist, who owns each name, and when they go.

Procedures (original sisock names, see `sisock.uri`):

``data_node.add(name, description, session_id) -> bool``
    True and one ``consumer.data_node_added`` event ``{name, description}``;
    True again (no event) if the caller already owns ``name``; False if a
    live session owns it. The owner is the caller the router discloses,
    not the ``session_id`` argument.
``data_node.subtract(name, session_id) -> None``
    Only the owner may; one ``consumer.data_node_subtracted`` event.
``consumer.get_data_node() -> [{name, description}, ...]``
    Sorted by name.

A node whose session leaves for any reason (goodbye, crash, kill -9,
network loss) is subtracted when the router's ``wamp.session.on_leave``
meta event arrives, so its name is free at once. Each time the hub joins it
publishes ``hub.online``, and nodes add themselves again: a hub or router
restart needs no manual step.
"""

import argparse

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig, RegisterOptions
from twisted.internet import defer

from sisock import config, uri, validate
from sisock.connection import SisockSession, run
from sisock.errors import NoSuchNode, NotAuthorized


class Hub(SisockSession):
    """The hub session.

    Attributes
    ----------
    nodes : dict
        ``{name: {"name", "description", "session"}}`` of the live nodes.
    """

    ready_label = "hub"

    def __init__(self, config=None):
        super().__init__(config)
        self.nodes = {}

    @defer.inlineCallbacks
    def onJoin(self, details):
        # Sessions from before this join are gone (router restart) or will
        # add themselves again on hub.online (hub restart): start empty.
        self.nodes.clear()
        yield self.subscribe(self._on_session_leave, uri.SESSION_ON_LEAVE)
        with_caller = RegisterOptions(details_arg="details")
        yield self.register(self.add, uri.DATA_NODE_ADD, with_caller)
        yield self.register(self.subtract, uri.DATA_NODE_SUBTRACT, with_caller)
        yield self.register(self.get_data_node, uri.GET_DATA_NODE)
        yield self.publish(uri.HUB_ONLINE)
        SisockSession.onJoin(self, details)

    @staticmethod
    def _caller(details):
        if details is None or details.caller is None:
            raise NotAuthorized("the router did not disclose the caller; check the role's disclose setting")
        return details.caller

    @defer.inlineCallbacks
    def add(self, name, description, session_id=None, details=None):
        """``data_node.add``; see the module docstring.

        Raises
        ------
        InvalidArgument
            Bad ``name`` or ``description``.
        NotAuthorized
            A node session adding a name other than its authid (or
            ``authid.*``).
        """
        validate.node_name(name)
        description = validate.description(description)
        caller = self._caller(details)
        if details.caller_authrole == "node" and not (
                name == details.caller_authid or name.startswith(f"{details.caller_authid}.")):
            raise NotAuthorized(f"node {details.caller_authid!r} may not add a data node named {name!r}")
        entry = self.nodes.get(name)
        if entry is not None and entry["session"] != caller:
            alive = yield self._session_alive(entry["session"])
            if alive:
                return False
            self._drop(name)
        if entry is not None and entry["session"] == caller:
            entry["description"] = description
            return True
        self.nodes[name] = {"name": name, "description": description, "session": caller}
        self.publish(uri.DATA_NODE_ADDED, {"name": name, "description": description})
        self.log.info("sisock: data node {name} added (session {s})", name=name, s=caller)
        return True

    def subtract(self, name, session_id=None, details=None):
        """``data_node.subtract``; see the module docstring.

        Raises
        ------
        NoSuchNode
            ``name`` is not a live node.
        NotAuthorized
            The caller does not own ``name``.
        """
        validate.node_name(name)
        caller = self._caller(details)
        entry = self.nodes.get(name)
        if entry is None:
            raise NoSuchNode(f"name {name!r} is not a live data node")
        if entry["session"] != caller and details.caller_authrole not in ("hub", "admin"):
            raise NotAuthorized(f"only the session that added {name!r} may subtract it")
        self._drop(name)

    def get_data_node(self):
        """``consumer.get_data_node``: ``[{name, description}, ...]`` sorted by name."""
        return [{"name": e["name"], "description": e["description"]} for _, e in sorted(self.nodes.items())]

    def _drop(self, name):
        entry = self.nodes.pop(name)
        self.publish(uri.DATA_NODE_SUBTRACTED, {"name": name, "description": entry["description"]})
        self.log.info("sisock: data node {name} subtracted", name=name)

    def _on_session_leave(self, session_id, *args, **kwargs):
        for name in [n for n, e in self.nodes.items() if e["session"] == session_id]:
            self._drop(name)

    @defer.inlineCallbacks
    def _session_alive(self, session_id):
        try:
            yield self.call("wamp.session.get", session_id)
        except ApplicationError as exc:
            if exc.error == "wamp.error.no_such_session":
                return False
            raise
        return True


def main(argv=None):
    """Command-line entry point of the hub (``sisock hub``)."""
    parser = argparse.ArgumentParser(prog="sisock hub", description="Run the sisock hub.")
    config.add_connection_arguments(parser, default_authid="hub")
    args = parser.parse_args(argv)
    try:
        conn = config.connection_from_args(args, "hub")
    except config.SecretsError as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")
    run(Hub(ComponentConfig(args.realm, {"connection": conn})), args.log_level)


if __name__ == "__main__":
    main()

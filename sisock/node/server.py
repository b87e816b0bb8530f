"""`DataNodeServer`: one data node that is its own session, the shape of every node process.

``class MyNode(DataNodeServer)`` is a `sisock.node.base.DataNode` (what the
node serves) and a `sisock.node.session.NodeSession` serving just itself,
so one object is both, as in the original sisock: a subclass that calls
``ApplicationSession.__init__`` itself and is run by autobahn's
``ApplicationRunner`` still works, and joins as node ``name`` with the node
secret. `sisock.node.run.run_node` runs one from the command line.
"""

from __future__ import annotations

from typing import Any, cast

from sisock import config
from sisock.node.base import DataNode
from sisock.node.session import NodeSession


class DataNodeServer(DataNode, NodeSession):
    """Parent class of a data node run as one process with one session.

    Parameters
    ----------
    config : autobahn.wamp.types.ComponentConfig, optional
        ``extra["connection"]`` (a `sisock.config.Connection`) and
        ``extra["args"]`` (the parsed command line) when run by
        `sisock.node.run.run_node`.

    Attributes
    ----------
    See `sisock.node.base.DataNode`; ``name`` is also the WAMP authid the
    node joins with.
    """

    def __init__(self, config: Any = None):
        DataNode.__init__(self)
        NodeSession.__init__(self, config)

    @property
    def nodes(self) -> dict[str, DataNode]:
        """The one node this session serves: itself (named as it is now)."""
        return {cast(str, self.name): self}

    @property
    def session(self) -> DataNodeServer:
        """The session serving this node: itself."""
        return self

    @property
    def connection(self) -> config.Connection:
        """How to join: from `run_node`, or (run by autobahn's ``ApplicationRunner``
        like an original sisock node) as node ``name`` with the node secret."""
        conn = (self.config.extra or {}).get("connection")
        if conn is None:
            conn = config.Connection(realm=self.config.realm, authid=self.name,
                                     secret=config.load_secret("node", authid=self.name))
        return conn

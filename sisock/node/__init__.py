"""Data nodes: the node model, the session that serves it, recording, commands, presence.

- `sisock.node.base.DataNode`: what a node serves, apart from any session;
- `sisock.node.session.NodeSession`: the session that serves one node or many;
- `sisock.node.server.DataNodeServer`: a node that is its own session;
- `sisock.node.run.run_node`: its command line.

``from sisock.node import DataNodeServer, run_node`` is all a node author needs.
"""

from sisock.node.base import DataNode
from sisock.node.procedures import procedure
from sisock.node.run import run_node
from sisock.node.server import DataNodeServer
from sisock.node.session import NodeSession

__all__ = ["DataNode", "DataNodeServer", "NodeSession", "procedure", "run_node"]

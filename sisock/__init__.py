"""sisock: a distributed data hub on WAMP (Crossbar.io, Autobahn|Python, Twisted).

The public API:

- `DataNodeServer`, `run_node` and `command` to write a data node
  (`sisock.node`); `DataNode` and `NodeSession` to serve many nodes over
  one session;
- `Client` to read from Python (`sisock.client`); `sisock.aio.connect` to read from asyncio code
  (`sisock.aio`, imported on first use);
- the errors every procedure may answer (`sisock.wire.errors`);
- `sisock_to_unix_time`, as in the original sisock (`sisock.wire.timeutil`).

`sisock.base` holds the original sisock's names, so its node files
(``import sisock``, then ``sisock.base.DataNodeServer``) run unmodified.

The parts and how a call flows through them are described in ``docs/``.
"""

from sisock import numpy_abi  # noqa: F401  first, before autobahn is imported (see it)

# isort: split
from sisock import base
from sisock.client import Client
from sisock.node import DataNode, DataNodeServer, NodeSession, procedure, run_node
from sisock.node.commands import command
from sisock.wire.errors import (
    InvalidArgument,
    NodeDisabled,
    NodeError,
    NoSuchCommand,
    NoSuchNode,
    NotAuthorized,
    SisockError,
    TooLarge,
)
from sisock.wire.timeutil import sisock_to_unix_time

__all__ = [
    "Client", "DataNode", "DataNodeServer", "NodeSession", "run_node", "command", "procedure", "sisock_to_unix_time",
    "base",
    "SisockError", "InvalidArgument", "TooLarge", "NoSuchNode", "NodeError", "NotAuthorized", "NodeDisabled",
    "NoSuchCommand",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``sisock.aio`` on first use: its asyncio flavour of autobahn is loaded only by those who read with it."""
    if name == "aio":
        import sisock.aio

        return sisock.aio
    raise AttributeError(f"module 'sisock' has no attribute {name!r}")

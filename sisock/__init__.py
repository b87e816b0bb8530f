"""sisock: a distributed data hub on WAMP (Crossbar.io, Autobahn|Python, Twisted).

The public API: `DataNodeServer` to write a data node, `Client` to read
from Python, `sisock_to_unix_time` as in the original sisock; URIs are
built with `sisock.wire.uri.uri`. `sisock.base` holds the original
sisock's names, so its node files (``import sisock``, then
``sisock.base.DataNodeServer``) run unmodified.
"""

from sisock import base
from sisock.client import Client
from sisock.node import DataNodeServer
from sisock.wire.timeutil import sisock_to_unix_time

__all__ = ["Client", "DataNodeServer", "base", "sisock_to_unix_time"]
__version__ = "0.1.0"

"""sisock: a distributed data hub on WAMP (Crossbar.io, Autobahn|Python, Twisted).

The public API: `DataNodeServer` to write a data node, `Client` to read
from Python, `sisock_to_unix_time` and `uri` as in the original sisock.
"""

from sisock.client import Client
from sisock.node import DataNodeServer
from sisock.timeutil import sisock_to_unix_time
from sisock.uri import uri

__all__ = ["Client", "DataNodeServer", "sisock_to_unix_time", "uri"]
__version__ = "0.1.0"

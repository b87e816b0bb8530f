"""`sisock.base`: the public names of the original sisock (Simons Observatory), for its node files.

A data node written for the original sisock does ``import sisock`` and
uses ``sisock.base.DataNodeServer``, ``sisock.base.sisock_to_unix_time``,
``sisock.base.uri`` and the connection constants; this module gives those
names the same meanings here, so such a file runs unmodified, best with
``sisock legacy-node FILE.py`` (`sisock.cli.legacy`).

=========================  =====================================================
name                       here
=========================  =====================================================
`DataNodeServer`           the original parent class, both styles of subclass
`sisock_to_unix_time`      the time convention (`sisock.wire.timeutil`)
`uri`, `BASE_URI`          WAMP names (`sisock.wire.uri`; ``SISOCK_BASE_URI``)
`REALM`                    ``SISOCK_REALM`` (default ``sisock``)
`SISOCK_HOST`              host of ``SISOCK_URL`` (default ``127.0.0.1``)
`SISOCK_PORT`              port of ``SISOCK_URL`` (default ``8080``)
`WAMP_USER`                ``"node"``: the secret role data node servers join with
=========================  =====================================================

The constants are read from the environment once, at import. No secret
lives here: a node authenticates with its ``name`` as authid and the node
secret (``SISOCK_NODE_SECRET`` or the secrets file; `sisock.config`).
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlparse

from twisted.internet import threads

from sisock import config
from sisock.node import server
from sisock.node.base import DataNode, Fields
from sisock.wire.errors import TooLarge
from sisock.wire.timeutil import sisock_to_unix_time
from sisock.wire.uri import BASE_URI, uri

__all__ = ["BASE_URI", "REALM", "SISOCK_HOST", "SISOCK_PORT", "WAMP_USER", "DataNodeServer",
           "sisock_to_unix_time", "uri"]

_URL = urlparse(config.env("URL", config.DEFAULT_URL))
#: WAMP realm (``SISOCK_REALM``).
REALM = config.env("REALM", config.DEFAULT_REALM)
#: Host name of the router (``SISOCK_URL``).
SISOCK_HOST = _URL.hostname
#: TCP port of the router (``SISOCK_URL``; 443 or 80 when the URL names none).
SISOCK_PORT = _URL.port or (443 if _URL.scheme == "wss" else 80)
#: The role whose secret data node servers authenticate with; each joins with its ``name`` as authid.
WAMP_USER = "node"


class DataNodeServer(server.DataNodeServer):
    """Parent class of original-sisock data node servers, with this project's features.

    A subclass sets ``name`` and ``description`` (as class attributes, or in
    an ``__init__(self, config, ...)`` that calls
    ``ApplicationSession.__init__(self, config)``) and answers in either
    style of the original:

    - ``get_fields(start, end)`` and ``get_data(field, start, end,
      min_stride=None)`` overridden directly: they run in the reactor thread
      and may return the answer or a Deferred of it;
    - ``_get_fields_blocking`` and ``_get_data_blocking`` overridden: they
      run in a thread pool.

    Both styles can be mixed. Their answers are the original's:
    ``(field, timeline)``, and ``{"data": {f: [...]}, "timeline": {tl:
    {"t": [...], "finalized_until": t}}}`` with lists or arrays, times in
    UNIX seconds UTC; ``False`` for "too much data" is answered as
    ``too_large``. ``after_onJoin(details)`` is called after every join.

    Served through `sisock.node.base.DataNode` (`LegacyReader`), the node
    gains, with no change of its code: validated arguments (its methods
    receive ``start``/``end`` already as UNIX seconds, ``field`` as a list
    of str), ``min_stride`` downsampling in buckets of what it returns
    (it is still handed ``min_stride``), progressive answers, heartbeats,
    and being added to the hub again after a router restart. It joins as
    authid ``name`` with the node secret.
    """

    @functools.cached_property
    def _reader(self) -> LegacyReader:
        return LegacyReader(self)

    @property
    def nodes(self) -> dict[str, DataNode]:
        """The one node this session serves: its `LegacyReader`, named as the server is now."""
        return {self.name: self._reader}


def _of_server(attr: str, doc: str) -> property:
    return property(lambda self: getattr(self.server, attr, None), doc=doc)


class LegacyReader(DataNode):
    """The `DataNode` that serves an original-sisock `DataNodeServer` by calling its methods.

    Parameters
    ----------
    server : DataNodeServer
        The node it reads through; name, description, location, tags,
        version and size limits are the server's.
    """

    name = _of_server("name", "The server's name.")
    description = _of_server("description", "The server's description.")
    location = _of_server("location", "The server's location, if any.")
    tags = _of_server("tags", "The server's tags, if any.")
    version = _of_server("version", "The server's version, if any.")
    chunk_bytes = _of_server("chunk_bytes", "The server's chunk size, if any.")
    max_message_bytes = _of_server("max_message_bytes", "The server's largest message, if any.")
    session = _of_server("session", "The session serving the node: the server.")

    def __init__(self, server: DataNodeServer):
        self.server = server

    def _get_fields_blocking(self, start: float, end: float) -> Fields:
        """The server's ``get_fields`` (called in the reactor) or ``_get_fields_blocking``, each
        timeline given its ``field`` list; see `timeline_fields`."""
        if _overrides(self.server, "get_fields"):
            from twisted.internet import reactor

            answer = threads.blockingCallFromThread(reactor, self.server.get_fields, start, end)
        else:
            answer = self.server._get_fields_blocking(start, end)
        field, timeline = answer
        return field, timeline_fields(field, timeline)

    def _get_data_blocking(self, field: list[str], start: float, end: float,
                           min_stride: float | None = None) -> dict[str, Any]:
        """The server's ``get_data`` (called in the reactor) or ``_get_data_blocking``.

        Raises
        ------
        sisock.wire.errors.TooLarge
            If the server answers ``False``, the original's "too much data".
        """
        if _overrides(self.server, "get_data"):
            from twisted.internet import reactor

            answer = threads.blockingCallFromThread(reactor, self.server.get_data, field, start, end, min_stride)
        else:
            answer = self.server._get_data_blocking(field, start, end, min_stride)
        if answer is False:
            raise TooLarge(f"node {self.name} refused: too much data in [{start}, {end}); ask for a shorter range")
        return answer


def _overrides(node: DataNodeServer, method: str) -> bool:
    """Whether the class of ``node`` defines its own ``method`` instead of `DataNode`'s."""
    return getattr(type(node), method) is not getattr(DataNode, method)


def timeline_fields(field: dict[str, dict[str, Any]], timeline: dict[str, dict[str, Any]]) -> dict[str, dict]:
    """Timelines of a ``get_fields`` answer, each with its ``field`` list as the wire contract has it.

    Original nodes sometimes name a timeline's one field as a string, or
    leave the list out; this makes it a list, or finds the fields that
    name the timeline.

    Parameters
    ----------
    field : dict
        ``{f: {"timeline": tl, ...}}``.
    timeline : dict
        ``{tl: {"interval": seconds or None, "field": [f, ...] or f or missing}}``.

    Returns
    -------
    dict
        A copy of ``timeline`` with ``field`` a list of str in each.
    """
    out = {}
    for tl, info in (timeline or {}).items():
        members = info.get("field")
        if isinstance(members, str):
            members = [members]
        elif members is None:
            members = [f for f, about in field.items() if about.get("timeline") == tl]
        out[tl] = dict(info, field=list(members))
    return out

"""The hub's management procedures ``<base>.hub.nodes.*``, for admins.

The router lets only the ``admin`` role call them (`sisock.router.auth`);
anonymous consumers are refused with ``wamp.error.not_authorized``.
Filters, bounding boxes and pages are described in `sisock.hub.selection`;
records in `sisock.hub.registry.NodeRecord.to_wire`.

``hub.nodes.list(filter="ALL", limit=100, offset=0)``
    ``{"total": int, "offset": int, "limit": int, "counts": {"online": int,
    "disabled": int, "offline": int}, "nodes": [record, ...]}``: what
    matters first, the online nodes, then the disabled, then the offline,
    each by name (`STATUS_ORDER`); ``total`` counts every match and
    ``counts`` the matches of each status, ``nodes`` holds the page.
``hub.nodes.get(name) -> record``
    Raises ``no_such_node`` for a name never added (or forgotten).
``hub.nodes.enable(filter)``, ``hub.nodes.disable(filter)``
    ``{"matched": int, "changed": [name, ...]}``. An empty filter is an
    ``invalid_argument`` error that says to pass ``ALL``; a plain name that
    is not in the registry is ``no_such_node``. A disabled node stays
    connected but is left out of ``consumer.get_data_node`` and its
    ``get_data`` answers ``node_disabled``.
``hub.nodes.forget(name) -> None``
    Removes an offline record; a connected node is ``invalid_argument``.
``hub.nodes.search(bbox, filter="ALL", limit=100, offset=0)``
    As ``list``, for nodes whose location is inside ``bbox``
    ``[west, south, east, north]`` (degrees, GeoJSON order).

``hub.nodes.tag(name, tags)``, ``hub.nodes.untag(name, keys)``, ``hub.nodes.locate(name, lat, lon)``
    The admin's overrides of a node's tags and location, kept in the
    registry across restarts and over what the node itself declares
    (``locate(name, None, None)`` goes back to the node's own location;
    ``untag`` hides a node's own tag). Each answers the record, whose
    ``own`` holds the node's values and ``overrides`` the admin's; filters
    and ``search`` see the result.

Every change publishes ``consumer.node_changed`` (see `sisock.hub`); an
edit of the attributes has ``change`` ``"edited"``. Every call of
``enable``, ``disable``, ``forget``, ``tag``, ``untag`` and ``locate``, refused or
not, is an entry of the audit trail (`sisock.hub.audit`), by the caller's authid.
"""

from autobahn.wamp.types import RegisterOptions
from twisted.internet import defer

from sisock.hub.info import check_info
from sisock.hub.selection import in_bbox, page, parse_bbox, parse_filter
from sisock.wire import uri, validate
from sisock.wire.errors import InvalidArgument, NoSuchNode

#: Default page size of ``list`` and ``search``.
DEFAULT_LIMIT = 100
#: The procedures that change the registry, recorded in the audit trail: {name: the parameter naming the target}.
AUDITED = {"enable": "filter", "disable": "filter", "forget": "name", "tag": "name", "untag": "name",
           "locate": "name"}
#: The order of the pages of ``list`` and ``search``: the online nodes first, the offline last (by name within).
STATUS_ORDER = ("online", "disabled", "offline")


class NodesApi:
    """The ``hub.nodes.*`` procedures of a `sisock.hub.Hub`.

    Parameters
    ----------
    hub : sisock.hub.Hub
        Gives the registry and publishes the changes.
    """

    def __init__(self, hub):
        self.hub = hub

    def register(self):
        """Register every procedure on the hub's session; Deferred.

        The changes (`AUDITED`) are recorded in the audit trail with the
        caller the router discloses (`sisock.hub.audit.AuditLog.audited`).
        """
        procedures = {"list": self.list, "get": self.get, "enable": self.enable, "disable": self.disable,
                      "forget": self.forget, "search": self.search, "tag": self.tag, "untag": self.untag,
                      "locate": self.locate}
        registered = []
        for name, proc in procedures.items():
            options = None
            if name in AUDITED:
                proc = self.hub.audit.audited(f"nodes.{name}", validate.rpc(proc), target=AUDITED[name])
                options = RegisterOptions(details_arg="details")
            registered.append(self.hub.register(proc, uri.HUB_NODES + name, options))
        return defer.gatherResults(registered, consumeErrors=True)

    def _select(self, text, required=False):
        accept = parse_filter(text, required)
        found = self.hub.registry.select(accept)
        if not found and accept.name is not None:
            raise NoSuchNode(f"no node named {accept.name!r} in the registry")
        return found

    @staticmethod
    def _page(records, limit, offset):
        """The page of ``records`` (sorted by name) in `STATUS_ORDER`, with the count of each status."""
        limit, offset = page(limit, offset)
        counts = dict.fromkeys(STATUS_ORDER, 0)
        for record in records:
            counts[record.status] += 1
        ordered = sorted(records, key=lambda r: STATUS_ORDER.index(r.status))  # stable: by name within
        return {"total": len(records), "offset": offset, "limit": limit, "counts": counts,
                "nodes": [r.to_wire() for r in ordered[offset:offset + limit]]}

    def list(self, filter=None, limit=DEFAULT_LIMIT, offset=0):
        """``hub.nodes.list``: a page of the records matching ``filter`` (every record if empty)."""
        records = self.hub.registry.select(parse_filter(filter))
        return self._page(records, limit, offset)

    def get(self, name):
        """``hub.nodes.get``: the record of ``name``.

        Raises
        ------
        NoSuchNode
        """
        return self._record(name).to_wire()

    def enable(self, filter):
        """``hub.nodes.enable``: enable every node matching ``filter``."""
        return self._set(filter, True)

    def disable(self, filter):
        """``hub.nodes.disable``: disable every node matching ``filter``."""
        return self._set(filter, False)

    def _set(self, text, enabled):
        records = self._select(text, required=True)
        changed = self.hub.set_enabled(records, enabled)
        answer = {"matched": len(records), "changed": [r.name for r in changed]}
        return self.hub.synced().addCallback(lambda _: answer)

    def forget(self, name):
        """``hub.nodes.forget``: remove the record of an offline node.

        Raises
        ------
        NoSuchNode
            ``name`` is not in the registry.
        InvalidArgument
            The node is connected.
        """
        record = self._record(name)
        if record.connected:
            raise InvalidArgument(f"node {name!r} is connected; only an offline node can be forgotten "
                                  "(stop it first)")
        self.hub.registry.forget(name)
        self.hub.changed(record, "forgotten")
        return self.hub.synced().addCallback(lambda _: None)

    def search(self, bbox, filter=None, limit=DEFAULT_LIMIT, offset=0):
        """``hub.nodes.search``: a page of the records located inside ``bbox`` and matching ``filter``."""
        box = parse_bbox(bbox)
        accept = parse_filter(filter)
        records = self.hub.registry.select(lambda r: in_bbox(r, box) and accept(r))
        return self._page(records, limit, offset)

    def _record(self, name):
        validate.node_name(name)
        record = self.hub.registry.get(name)
        if record is None:
            raise NoSuchNode(f"no node named {name!r} in the registry")
        return record

    def _edited(self, record):
        self.hub.changed(record, "edited")
        return self.hub.synced().addCallback(lambda _: record.to_wire())

    def tag(self, name, tags):
        """``hub.nodes.tag``: set the admin's ``tags`` ``{key: str | number | bool}`` on ``name``; the record.

        Raises
        ------
        NoSuchNode, InvalidArgument
        """
        record = self._record(name)
        if not tags:
            raise InvalidArgument("tags must name at least one tag, e.g. {'zone': 'south'}")
        tags = check_info({"tags": tags})["tags"]
        return self._edited(self.hub.registry.override(record, tags=tags))

    def untag(self, name, keys):
        """``hub.nodes.untag``: remove tags ``keys`` (a list of str) from ``name``; the record.

        Raises
        ------
        NoSuchNode, InvalidArgument
        """
        record = self._record(name)
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
            raise InvalidArgument(f"keys must be a non-empty list of tag names, got {keys!r:.80}")
        return self._edited(self.hub.registry.override(record, untag=keys))

    def locate(self, name, lat, lon):
        """``hub.nodes.locate``: place ``name`` at ``lat``, ``lon`` degrees (None, None: its own); the record.

        Raises
        ------
        NoSuchNode, InvalidArgument
        """
        record = self._record(name)
        location = None if lat is None and lon is None else {"lat": lat, "lon": lon}
        for what, value, limit in (("latitude", lat, 90), ("longitude", lon, 180)):
            if location is not None and not (validate.is_number(value) and -limit <= value <= limit):
                raise InvalidArgument(f"location: {what} must be in [-{limit}, {limit}] degrees, got {value!r:.40}")
        checked = check_info({"location": location})
        if location is not None:
            location = {"lat": checked["latitude"], "lon": checked["longitude"]}
        return self._edited(self.hub.registry.override(record, location=location))

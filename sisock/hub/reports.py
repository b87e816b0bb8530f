"""Reports across nodes: what went wrong (fault events) and how much energy was used, on every node a filter selects.

Like `sisock.hub.fanout`, a report runs on the caller's session: the hub
selects every node of its registry the filter matches, the session asks
each connected one (a bounded number at a time), and a node that fails or
does not answer is listed in ``errors`` by name. No node drops out
silently: a disabled node still answers for its recorded history (and is
listed in ``disabled``); an offline one cannot be asked and is listed in
``unread`` with the reason, and its going offline is a fault event
(`OFFLINE`) when it happened in the range.
"""

import datetime as dt
from collections import Counter

from twisted.internet import defer

from sisock.hub import fanout
from sisock.hub import tariff as tariffs
from sisock.hub.selection import parse_filter
from sisock.wire import uri, validate

#: The code of the fault event of a node that went offline.
OFFLINE = "offline"


def _iso(t):
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@defer.inlineCallbacks
def _selection(session, filter):
    """Deferred ``(records, names to ask, unread {name: reason}, disabled [name, ...])`` of the nodes ``filter``
    matches in the hub's registry (`sisock.hub.fanout.select` with ``every``)."""
    records = yield fanout.select(session, filter, every=True)
    unread = {r["name"]: f"offline since {_iso(r['last_seen'])} (last seen): not read"
              for r in records if not r["connected"]}
    asked = [r["name"] for r in records if r["connected"]]
    disabled = [r["name"] for r in records if r["connected"] and r["status"] == "disabled"]
    return records, asked, unread, disabled


@defer.inlineCallbacks
def faults(session, filter, start, end, concurrency=fanout.DEFAULT_CONCURRENCY, timeout=fanout.CALL_TIMEOUT,
           reactor=None):
    """The fault events of every node ``filter`` selects in ``[start, end)``, with counts.

    Each node answers ``consumer.NAME.get_faults`` (`sisock.node.faults`).

    Parameters
    ----------
    session : sisock.client.ConsumerSession
    filter : str
        Registry filter (`sisock.hub.selection`).
    start, end : float
        sisock times (UNIX seconds UTC, or <= 0 relative to now).
    concurrency : int
        Node calls in flight at once.
    timeout : float
        Seconds each node has to answer.
    reactor : twisted reactor, optional

    Returns
    -------
    Deferred of dict
        ``{"start", "end" (UNIX seconds UTC), "selected": [name, ...],
        "errors": {name: reason}, "unread": {name: reason} (offline nodes,
        not asked), "disabled": [name, ...] (asked all the same), "events":
        [{"t", "node", "code", "message"}, ...] (ascending in time; an
        offline node's going offline, at its ``last_seen``, is code
        `OFFLINE` when it is in the range), "counts": {node: {code: n}}
        (nodes with events only), "by_code": {code: n}, "total": n}``.

    Raises (in the Deferred)
    ------------------------
    InvalidArgument
        A bad filter or time range.
    """
    parse_filter(filter, required=True)
    start, end = fanout.time_range(start, end)
    records, names, unread, disabled = yield _selection(session, filter)
    answers, errors = yield fanout.each(
        names, lambda name: session.call(uri.node_uri(name, "get_faults"), start, end), concurrency, timeout, reactor)
    gone = [{"t": r["last_seen"], "node": r["name"], "code": OFFLINE,
             "message": f"went offline (last seen {_iso(r['last_seen'])})"}
            for r in records if r["name"] in unread and start <= r["last_seen"] < end]
    events = sorted([*({"t": t, "node": name, "code": code, "message": message}
                       for name, a in answers.items()
                       for t, code, message in zip(a["t"], a["code"], a["message"], strict=True)), *gone],
                    key=lambda e: (e["t"], e["node"]))
    counts = {}
    for e in events:
        counts.setdefault(e["node"], Counter())[e["code"]] += 1
    return {"start": start, "end": end, "selected": [r["name"] for r in records], "errors": errors,
            "unread": unread, "disabled": disabled, "events": events,
            "counts": {n: dict(c) for n, c in sorted(counts.items())},
            "by_code": dict(Counter(e["code"] for e in events).most_common()), "total": len(events)}


#: The counter field `energy` reads by default (the lamps' meter, kWh).
ENERGY_FIELD = "energy_kwh"


@defer.inlineCallbacks
def energy(session, filter, start, end, tariff=tariffs.UNPRICED, group_by=None, field=ENERGY_FIELD,
           concurrency=fanout.DEFAULT_CONCURRENCY, timeout=fanout.CALL_TIMEOUT, reactor=None):
    """Energy used in ``[start, end)`` by every node ``filter`` selects, per node, per group and in total, priced.

    Each node answers ``consumer.NAME.get_increase(field, edges)``
    (`sisock.node.counters`): the increase of its recorded counter between
    the times where the tariff's period changes, counter resets handled.

    Parameters
    ----------
    session : sisock.client.ConsumerSession
    filter : str
        Registry filter (`sisock.hub.selection`).
    start, end : float
        sisock times (UNIX seconds UTC, or <= 0 relative to now).
    tariff : sisock.hub.tariff.Tariff
        Prices per kWh; `sisock.hub.tariff.UNPRICED` (energy only) by default.
    group_by : str, optional
        Tag whose values group the nodes (``"zone"``).
    field : str
        The counter, kWh.
    concurrency : int
        Node calls in flight at once.
    timeout : float
        Seconds each node has to answer.
    reactor : twisted reactor, optional

    Returns
    -------
    Deferred of dict
        ``{"start", "end" (UNIX seconds UTC), "field", "group_by", "tariff"
        (`Tariff.describe`), "selected": [name, ...], "errors": {name:
        reason}, "unread": {name: reason} (offline nodes, not asked),
        "disabled": [name, ...] (asked all the same: their recorded
        history counts), "no_data": [name, ...] (nodes that recorded no
        ``field`` in the range), "nodes": {name: row}, "groups": {group: row},
        "total": row}``, where a row is ``{"kwh", "periods": {period:
        kwh}, "cost" (None without prices), "resets", "nodes"}`` and a
        node's group is ``"all"`` without ``group_by``, ``""`` if it lacks
        the tag.

    Raises (in the Deferred)
    ------------------------
    InvalidArgument
        A bad filter, time range or field.
    """
    parse_filter(filter, required=True)
    start, end = fanout.time_range(start, end)
    validate.field_list([field])
    edges, names = tariff.intervals(start, end)
    nodes, asked, unread, disabled = yield _selection(session, filter)
    selected = [n["name"] for n in nodes]
    answers, errors = yield fanout.each(
        asked, lambda name: session.call(uri.node_uri(name, "get_increase"), field, edges),
        concurrency, timeout, reactor)
    for name in [n for n, a in answers.items() if len(a.get("increase", ())) != len(names)]:
        errors[name] = f"answered {len(answers.pop(name).get('increase', ()))} intervals for {len(names)}"
    tags = {n["name"]: n.get("tags") or {} for n in nodes}
    report = {"start": start, "end": end, "field": field, "group_by": group_by, "tariff": tariff.describe(),
              "selected": selected, "errors": errors, "unread": unread, "disabled": disabled,
              "no_data": [n for n, a in answers.items() if not a["samples"]]}
    report.update(bill(tariff, names, {n: a for n, a in answers.items() if a["samples"]}, tags, group_by))
    return report


def _row(tariff, periods, resets, nodes):
    prices = {p.name: p.price for p in tariff.periods}
    return {"kwh": sum(periods.values()), "periods": periods, "resets": resets, "nodes": nodes,
            "cost": sum(kwh * prices[p] for p, kwh in periods.items()) if tariff.priced else None}


def bill(tariff, names, answers, tags, group_by=None):
    """Rows of an energy report from the nodes' ``get_increase`` answers (see `energy`).

    Parameters
    ----------
    tariff : sisock.hub.tariff.Tariff
    names : list of str
        The period of each interval the nodes were asked about.
    answers : dict
        ``{node: {"increase": [kWh per interval], "resets": int}}``.
    tags : dict
        ``{node: {tag: value}}``.
    group_by : str, optional

    Returns
    -------
    dict
        ``{"nodes": {name: row}, "groups": {group: row}, "total": row}``, rows as `energy` describes.
    """
    def periods_of(increase):
        out = dict.fromkeys((p.name for p in tariff.periods), 0.0)
        for name, kwh in zip(names, increase, strict=True):
            out[name] += kwh
        return out

    nodes = {n: _row(tariff, periods_of(a["increase"]), a["resets"], 1) for n, a in sorted(answers.items())}
    members = {}
    for n in nodes:
        group = fanout.ALL_GROUP if group_by is None else str(tags.get(n, {}).get(group_by, fanout.NO_GROUP))
        members.setdefault(group, []).append(nodes[n])

    def combined(rows):
        periods = {p.name: sum(r["periods"][p.name] for r in rows) for p in tariff.periods}
        return _row(tariff, periods, sum(r["resets"] for r in rows), len(rows))

    return {"nodes": nodes, "groups": {g: combined(rows) for g, rows in sorted(members.items())},
            "total": combined(list(nodes.values()))}


def energy_rows(report):
    """An energy report (see `energy`) as a table: one row per group (per node without ``group_by``), then TOTAL.

    Returns
    -------
    header : list of str
        The group's tag (or ``node``), ``nodes``, the kWh of each period when
        the tariff has several, ``kwh``, ``resets``, ``cost``.
    rows : list of list
        ``[name, nodes (int), kWh (float), ..., resets (int), cost (float or None)]``;
        the last row is named ``TOTAL``, a group without the tag ``(no tag)``,
        a disabled node ``NAME (disabled)``. Before TOTAL, one row
        ``[NAME (offline, not read), 0, None, ...]`` per node in ``unread``.
    """
    periods = list(report["tariff"]["periods"]) if len(report["tariff"]["periods"]) > 1 else []
    lines = report["groups"] if report["group_by"] else report["nodes"]
    header = [report["group_by"] or "node", "nodes", *(f"kwh_{p}" for p in periods), "kwh", "resets", "cost"]
    disabled = set(report.get("disabled", ())) if not report["group_by"] else set()

    def row(name, r):
        return [name, r["nodes"], *(r["periods"][p] for p in periods), r["kwh"], r["resets"], r["cost"]]

    rows = [row(f"{name} (disabled)" if name in disabled else name or "(no tag)", r) for name, r in lines.items()]
    rows += [[f"{name} (offline, not read)", 0, *(None for _ in periods), None, None, None]
             for name in report.get("unread", ())]
    return header, [*rows, row("TOTAL", report["total"])]

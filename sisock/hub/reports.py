"""Reports across nodes: what went wrong (fault events) on every node a filter selects.

Like `sisock.hub.fanout`, a report runs on the caller's session: the hub
selects the live, enabled nodes, the session asks each one (a bounded
number at a time), and a node that fails or does not answer is listed in
``errors`` by name.
"""

from collections import Counter

from twisted.internet import defer

from sisock.hub import fanout
from sisock.hub.selection import parse_filter
from sisock.wire import uri


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
        "errors": {name: reason}, "events": [{"t", "node", "code",
        "message"}, ...] (ascending in time), "counts": {node: {code: n}}
        (nodes with events only), "by_code": {code: n}, "total": n}``.

    Raises (in the Deferred)
    ------------------------
    InvalidArgument
        A bad filter or time range.
    """
    parse_filter(filter, required=True)
    start, end = fanout.time_range(start, end)
    nodes = yield fanout.select(session, filter)
    names = [n["name"] for n in nodes]
    answers, errors = yield fanout.each(
        names, lambda name: session.call(uri.node_uri(name, "get_faults"), start, end), concurrency, timeout, reactor)
    events = sorted(({"t": t, "node": name, "code": code, "message": message}
                     for name, a in answers.items()
                     for t, code, message in zip(a["t"], a["code"], a["message"], strict=True)),
                    key=lambda e: (e["t"], e["node"]))
    counts = {}
    for e in events:
        counts.setdefault(e["node"], Counter())[e["code"]] += 1
    return {"start": start, "end": end, "selected": names, "errors": errors, "events": events,
            "counts": {n: dict(c) for n, c in sorted(counts.items())},
            "by_code": dict(Counter(e["code"] for e in events).most_common()), "total": len(events)}

"""Queries across nodes: one call over every node a registry filter selects, per node or aggregated.

Whoever asks runs the query on their own session: the Grafana bridge and
the web client as consumers, the ``sisock`` command line as admin. The hub
selects the nodes (``consumer.get_data_node(filter=...)``: the live,
enabled nodes matching a filter such as ``fleet.lamp*`` or ``zone=north
kind=led``, with their tags), then the caller's session calls each of them,
at most ``concurrency`` calls in flight. A node that fails, or does not
answer within ``timeout`` seconds, is reported in ``errors`` by name with
the reason; the others are answered. Nothing is hidden: ``selected`` lists
every node the filter chose.

An **aggregate** puts every node on one time grid, the left edges
``start + k*min_stride`` of the buckets in which each node downsamples its
samples (see ``docs/wire.md``, ``min_stride``). A node's samples in one
bucket are averaged first (a node sparser than ``min_stride`` answers raw
samples); then, per bucket and per group of nodes (all of them, or one
group per value of the tag ``group_by``), the ``sum``, ``mean``, ``min``
or ``max`` over the nodes that have a value there, or their ``count``.
Buckets where no node has a value are left out.

`query` runs one ``get_data`` this way; `each` runs any per-node call
(faults, energy) with the same concurrency and error reporting.
"""

import math
import re
import time
import warnings
from dataclasses import dataclass

import numpy as np
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, threads

from sisock.hub.selection import parse_filter
from sisock.wire import uri, validate
from sisock.wire.errors import InvalidArgument, SisockError

#: What ``aggregate`` may be.
AGGREGATES = ("sum", "mean", "min", "max", "count")
#: Node calls in flight at once, by default, and at most.
DEFAULT_CONCURRENCY, MAX_CONCURRENCY = 32, 512
#: Seconds a node has to answer one call.
CALL_TIMEOUT = 20.0
#: Most grid buckets of an aggregate.
MAX_BUCKETS = 200_000
#: Group name of an aggregate without ``group_by``.
ALL_GROUP = "all"
#: Group name of the nodes without the ``group_by`` tag.
NO_GROUP = ""


@dataclass(frozen=True)
class Query:
    """A checked query across nodes (see `parse`).

    Attributes
    ----------
    filter : str
        Registry filter selecting the nodes.
    field : list of str
        Fields to read on every node.
    start, end : float
        UNIX seconds UTC, ``start < end``.
    min_stride : float or None
        Seconds; the grid of an aggregate.
    aggregate : str or None
        One of `AGGREGATES`; None for per-node results.
    group_by : str or None
        Tag whose values group the nodes of an aggregate.
    downsample : str
        How each node reduces a bucket (``mean``, ``min``, ``max``).
    concurrency : int
        Node calls in flight at once.
    timeout : float
        Seconds each node has to answer.
    """

    filter: str
    field: list
    start: float
    end: float
    min_stride: float | None = None
    aggregate: str | None = None
    group_by: str | None = None
    downsample: str = "mean"
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = CALL_TIMEOUT

    @property
    def buckets(self):
        """Number of grid buckets ``ceil((end - start) / min_stride)`` (0 without a stride)."""
        return math.ceil((self.end - self.start) / self.min_stride) if self.min_stride else 0


def parse(filter, field, start, end, min_stride=None, aggregate=None, group_by=None, downsample="mean",
          concurrency=DEFAULT_CONCURRENCY, timeout=CALL_TIMEOUT, now=None):
    """Check the arguments of a query across nodes.

    Parameters
    ----------
    filter : str
        Registry filter (`sisock.hub.selection`); ``ALL`` for every node.
    field : str or list of str
        One field or a list of fields.
    start, end : float
        sisock times (UNIX seconds UTC, or <= 0 relative to ``now``).
    min_stride : float or None
        Seconds; required with ``aggregate``.
    aggregate : {"sum", "mean", "min", "max", "count"} or None
    group_by : str or None
        A tag key.
    downsample : {"mean", "min", "max"}
    concurrency : int
        1 to `MAX_CONCURRENCY`.
    timeout : float
        Seconds, > 0.
    now : float, optional
        UNIX seconds for relative times; ``time.time()`` by default.

    Returns
    -------
    Query

    Raises
    ------
    InvalidArgument
        Naming the argument at fault.
    """
    parse_filter(filter, required=True)
    fields = validate.field_list([field] if isinstance(field, str) else field)
    if not fields:
        raise InvalidArgument("field must name at least one field")
    start, end = time_range(start, end, now)
    min_stride = validate.min_stride_arg(min_stride)
    if aggregate is not None:
        validate.choice("aggregate", aggregate, AGGREGATES)
        if min_stride is None:
            raise InvalidArgument("min_stride is required with aggregate: it is the common time grid (seconds)")
    if group_by is not None and (not isinstance(group_by, str) or not 0 < len(group_by) <= 64):
        raise InvalidArgument(f"group_by must be a tag name of 1 to 64 characters, got {group_by!r:.40}")
    validate.choice("downsample", downsample, ("mean", "min", "max"))
    if not validate.is_count(concurrency) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidArgument(f"concurrency must be an integer from 1 to {MAX_CONCURRENCY}, got {concurrency!r:.40}")
    query = Query(filter, fields, start, end, min_stride, aggregate, group_by, downsample, concurrency,
                  validate.positive_seconds("timeout", timeout))
    if query.buckets > MAX_BUCKETS:
        raise InvalidArgument(f"min_stride {min_stride:g} s cuts the range into {query.buckets} buckets; at most "
                              f"{MAX_BUCKETS}: use a larger min_stride")
    return query


def time_range(start, end, now=None):
    """``(start, end)``, sisock times, as UNIX seconds UTC converted with one "now".

    Raises
    ------
    InvalidArgument
        Not finite numbers, or ``start`` not before ``end``.
    """
    now = time.time() if now is None else now
    start, end = validate.time_arg("start", start, now), validate.time_arg("end", end, now)
    if not start < end:
        raise InvalidArgument(f"end ({end}) must be after start ({start})")
    return start, end


#: The hub's procedure that selects the nodes of a query (any role may call it).
SELECT = uri.GET_DATA_NODE


def select(session, filter, every=False):
    """Deferred ``[{name, description, tags, location}, ...]`` of the live, enabled nodes matching ``filter``.

    Asks the hub (``consumer.get_data_node(filter=...)``), which any role may call. With
    ``every``, every node of the registry matching ``filter``, disabled and offline ones
    included, each also with ``status``, ``connected`` and ``last_seen`` (UNIX seconds UTC).
    """
    return session.call(SELECT, filter=filter, **({"every": True} if every else {}))


def reason(value):
    """One plain line saying why a node's call failed with exception ``value`` (a WAMP error's message,
    never its repr); the same for Twisted's and asyncio's timeouts."""
    if isinstance(value, (defer.TimeoutError, TimeoutError)):
        return "no answer in time"
    if isinstance(value, SisockError):
        return value.message
    if isinstance(value, ApplicationError):
        message = str(value.args[0]) if value.args else ""
        if value.error == ApplicationError.NO_SUCH_PROCEDURE:
            called = re.search(r"<([^>]+)>", message)
            procedure = called.group(1).rsplit(".", 1)[-1] if called else "the procedure"
            return f"the node does not answer {procedure} (it runs an older sisock, or has just gone)"
        line = f"{value.error.rsplit('.', 1)[-1].replace('_', ' ')}: {message}" if message else value.error
    else:
        line = f"{type(value).__name__}: {value}"
    return " ".join(line.split())[:300]


def each(names, call, concurrency=DEFAULT_CONCURRENCY, timeout=CALL_TIMEOUT, reactor=None):
    """Run ``call(name)`` for every name, at most ``concurrency`` at a time.

    Parameters
    ----------
    names : list of str
    call : callable
        ``call(name) -> Deferred`` (or a value).
    concurrency : int
        Calls in flight at once.
    timeout : float
        Seconds each call may take; a slower one is cancelled and reported.
    reactor : twisted reactor, optional

    Returns
    -------
    Deferred of (dict, dict)
        ``({name: answer}, {name: reason})``: answers of the calls that
        succeeded, and a one-line reason for each that failed.
    """
    if reactor is None:
        from twisted.internet import reactor
    limit = defer.DeferredSemaphore(concurrency)
    answers, errors = {}, {}

    def one(name):
        d = defer.maybeDeferred(call, name).addTimeout(timeout, reactor)
        d.addCallbacks(lambda answer: answers.__setitem__(name, answer),
                       lambda failure: errors.__setitem__(name, reason(failure.value)))
        return d

    done = defer.gatherResults([limit.run(one, name) for name in names])
    return done.addCallback(lambda _: ({n: answers[n] for n in names if n in answers},
                                       {n: errors[n] for n in names if n in errors}))


@defer.inlineCallbacks
def query(session, q, reactor=None):
    """Run query ``q`` (from `parse`) on ``session``.

    Parameters
    ----------
    session : sisock.client.ConsumerSession
        Joined, as consumer or admin.
    q : Query
    reactor : twisted reactor, optional

    Returns
    -------
    Deferred of dict
        ``{"start", "end", "min_stride", "field": [f, ...], "selected":
        [name, ...], "errors": {name: reason}}`` and, without an
        aggregate, ``"results": {name: get_data result}`` (NumPy arrays,
        as `sisock.client.ConsumerSession.get_data` gives them); with one,
        ``"aggregate"``, ``"group_by"``, ``"t"`` (float64 (K,), UNIX
        seconds UTC, the left edges of the buckets that have data) and
        ``"groups": {group: {"nodes": [name, ...], "data": {f: float64
        (K,)}, "count": {f: int64 (K,)}}}``, NaN where a group has no
        value. A node whose field is not numeric is in ``errors``.

    Raises (in the Deferred)
    ------------------------
    InvalidArgument
        The hub refused the filter.
    """
    nodes = yield select(session, q.filter)
    names = [n["name"] for n in nodes]
    answers, errors = yield each(
        names, lambda name: session.get_data(name, q.field, q.start, q.end, q.min_stride, q.downsample),
        q.concurrency, q.timeout, reactor)
    return (yield threads.deferToThread(answer, q, nodes, answers, errors))


def answer(q, nodes, answers, errors):
    """The answer of `query` from the selected ``nodes`` and what `each` gave (aggregated: CPU, run it in a thread).

    Parameters
    ----------
    q : Query
    nodes : list of dict
        The hub's selection (`select`): ``name`` and ``tags`` of each node.
    answers, errors : dict
        ``{name: get_data result}`` and ``{name: reason}``.

    Returns
    -------
    dict
        ``{start, end, min_stride, field, selected, errors}`` and either ``results`` (``answers`` as
        they are) or, with ``q.aggregate``, what `aggregate` adds.
    """
    out = {"start": q.start, "end": q.end, "min_stride": q.min_stride, "field": q.field,
           "selected": [n["name"] for n in nodes], "errors": errors}
    if q.aggregate is None:
        out["results"] = answers
        return out
    out.update(aggregate(q, {n["name"]: n["tags"] for n in nodes}, answers, errors))
    return out


def field_series(result, field):
    """``(t, values)`` of ``field`` in a ``get_data`` result, or None if the answer has none.

    The field's timeline is the one whose ``field`` list names it; a node
    that sends no lists (the original sisock's) has it on its only
    timeline when the lengths agree.
    """
    timelines = result["timeline"]
    for tl in timelines.values():
        if field in tl.get("field", ()):
            return tl["t"], result["data"][field]
    values = result["data"].get(field)
    if len(timelines) == 1 and values is not None:
        [tl] = timelines.values()
        if "field" not in tl and len(tl["t"]) == len(values):
            return tl["t"], values
    return None


def _bucket_means(t, values, q):
    """Mean of each grid bucket of one node's samples: float64 (K,), NaN where it has none."""
    values = np.asarray(values, dtype=np.float64)
    k = np.floor((np.asarray(t, dtype=np.float64) - q.start) / q.min_stride + 1e-9).astype(np.int64)
    ok = np.isfinite(values) & (k >= 0) & (k < q.buckets)
    n = np.bincount(k[ok], minlength=q.buckets)
    total = np.bincount(k[ok], weights=values[ok], minlength=q.buckets)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / n


class _Accumulator:
    """Sum, count, min and max per bucket over the nodes of one group and field."""

    def __init__(self, k):
        self.sum, self.count = np.zeros(k), np.zeros(k, dtype=np.int64)
        self.min, self.max = np.full(k, np.inf), np.full(k, -np.inf)

    def add(self, means):
        ok = np.isfinite(means)
        self.sum[ok] += means[ok]
        self.count += ok
        np.fmin(self.min, means, out=self.min, where=ok)
        np.fmax(self.max, means, out=self.max, where=ok)

    def result(self, how):
        if how == "count":
            return self.count.astype(np.float64)
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            value = {"sum": self.sum, "mean": self.sum / self.count, "min": self.min, "max": self.max}[how]
        return np.where(self.count > 0, value, np.nan)


def aggregate(q, tags, answers, errors):
    """Combine per-node ``get_data`` answers on the grid of ``q`` (see the module docstring).

    Parameters
    ----------
    q : Query
        With ``aggregate`` and ``min_stride``.
    tags : dict
        ``{name: {tag: value}}`` of the selected nodes.
    answers : dict
        ``{name: get_data result}``.
    errors : dict
        ``{name: reason}``; a node whose field is not numeric is added.

    Returns
    -------
    dict
        ``{"aggregate", "group_by", "t", "groups"}`` as `query` describes.
    """
    groups = {}
    for name, result in answers.items():
        group = ALL_GROUP if q.group_by is None else str(tags.get(name, {}).get(q.group_by, NO_GROUP))
        try:
            means = {f: _bucket_means(*found, q) for f in q.field if (found := field_series(result, f))}
        except (TypeError, ValueError):
            errors[name] = f"a field of {', '.join(q.field)} is not numeric on this node"
            continue
        entry = groups.setdefault(group, {"nodes": [], "acc": {f: _Accumulator(q.buckets) for f in q.field}})
        entry["nodes"].append(name)
        for f, m in means.items():
            entry["acc"][f].add(m)
    counts = [acc.count for g in groups.values() for acc in g["acc"].values()]
    keep = np.logical_or.reduce(counts) if counts else np.zeros(q.buckets, dtype=bool)
    t = q.start + np.arange(q.buckets)[keep] * q.min_stride
    return {"aggregate": q.aggregate, "group_by": q.group_by, "t": t,
            "groups": {g: {"nodes": e["nodes"],
                           "data": {f: acc.result(q.aggregate)[keep] for f, acc in e["acc"].items()},
                           "count": {f: acc.count[keep] for f, acc in e["acc"].items()}}
                       for g, e in sorted(groups.items())}}

"""The soak's client processes (``python -m bench.soak_client consumers|subscriber``).

``consumers``
    ``--count`` consumer sessions (`sisock.client.ConsumerSession`, one process,
    one reactor), each looping over the calls of `OPERATIONS` on a random
    node of ``--nodes`` with ``--pause`` seconds between calls. A call that
    raises, times out (`CALL_TIMEOUT`) or answers something other than
    what the soak nodes record (`bench.soak_node`) is an error, counted by
    exception type.
``subscriber``
    one session following ``consumer.NAME.data`` of every node: per node
    the events received, the first and last block number (``seq``) and
    when they were recorded (``first_t``, ``last_t``), the blocks skipped
    between them and those arriving out of order, and the delay from a
    block's recording (its ``recorded`` field) to its arrival; it also counts
    ``consumer.data_node_subtracted`` events (a node dropped).

Both print ``READY <mode>`` once connected and run until they receive
SIGUSR1 (the soak's end) or ``--duration`` seconds passed (every loop also
bounded by a count), then write their results as JSON to ``--out`` and
exit. Every session counts its joins (`CountingSession`): one more than
the first is a session that was dropped and came back.
"""

import argparse
import bisect
import collections
import json
import random
import signal
import time

import numpy as np
import txaio
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer, task

from sisock import client, config, connection
from sisock.wire import uri

#: Seconds a consumer call may take before it counts as an error.
CALL_TIMEOUT = 30.0
#: Seconds the sessions may take to say goodbye at the end (an overloaded router may not answer).
CLOSE_TIMEOUT = 5.0
#: Seconds of recent history each get_data and get_fields asks for.
WINDOW = 60.0
#: The consumer calls, in the order each consumer cycles through them.
OPERATIONS = ("get_data", "get_data_stride", "get_fields", "get_data_node")
#: Stride (seconds) of the ``get_data_stride`` call.
STRIDE = 1.0
#: The fields of the soak nodes (`bench.soak_node`).
FIELDS = ("seq", "recorded")


class BadAnswer(Exception):
    """A call answered without error but not what the soak nodes hold."""


class Histogram:
    """Latencies in fixed log-spaced bins (1 us to 100 s, 2.3 % wide): memory does not grow with the run.

    Parameters
    ----------
    counts : list of int, optional
        Bin counts from `to_list` (to merge or summarise a saved histogram).
    """

    EDGES = np.logspace(-6, 2, 801)
    _EDGES = EDGES.tolist()  # for bisect: one lookup per live event, cheaper than a NumPy call

    def __init__(self, counts=None):
        self.counts = np.zeros(len(self.EDGES) + 1, dtype=np.int64) if counts is None else np.asarray(counts)

    def add(self, seconds):
        """Count one latency of ``seconds``."""
        self.counts[bisect.bisect_left(self._EDGES, seconds)] += 1

    def __add__(self, other):
        """The histogram of both runs' latencies."""
        return Histogram(self.counts + other.counts)

    @property
    def n(self):
        """int: latencies counted."""
        return int(self.counts.sum())

    def percentile(self, q):
        """The ``q``-th percentile (0 to 100) in milliseconds, as its bin's geometric centre; None if empty."""
        if self.n == 0:
            return None
        i = int(np.searchsorted(np.cumsum(self.counts), q / 100 * self.n))
        lo, hi = self.EDGES[max(i - 1, 0)], self.EDGES[min(i, len(self.EDGES) - 1)]
        return float(np.sqrt(lo * hi) * 1e3)

    def to_list(self):
        """The bin counts as a JSON-able list (`Histogram(counts)` reads it back)."""
        return self.counts.tolist()


class CountingSession(client.ConsumerSession):
    """A consumer session that counts its joins: more than one means its connection was dropped."""

    joins = 0

    def onJoin(self, details):
        self.joins += 1
        return super().onJoin(details)


def connect(url):
    """Deferred `CountingSession` joined to the router at ``url`` anonymously (a consumer)."""
    realm = config.env("REALM", config.DEFAULT_REALM)
    session = CountingSession(ComponentConfig(realm, {"connection": config.Connection(url, realm)}))
    connection.start(session)
    return session.when_joined()


def error_kind(exc):
    """How an error is counted: its type, and for a plain WAMP error its URI (``ApplicationError <uri>``)."""
    return f"ApplicationError {exc.error}" if type(exc) is ApplicationError else type(exc).__name__


def close_all(reactor, sessions):
    """Deferred that fires once every session said goodbye, or after `CLOSE_TIMEOUT` seconds."""
    d = defer.DeferredList([s.close() for s in sessions], consumeErrors=True)
    return d.addTimeout(CLOSE_TIMEOUT, reactor).addErrback(lambda failure: None)


def check_data(result, stride):
    """Raise `BadAnswer` unless ``result`` holds both fields over a non-empty ``main`` timeline."""
    t = result["timeline"].get("main", {}).get("t", ())
    if not len(t) or any(len(result["data"].get(f, ())) != len(t) for f in FIELDS):
        raise BadAnswer(f"get_data answered {len(t)} samples or mismatched fields")
    if stride and len(t) > WINDOW / stride + 1:
        raise BadAnswer(f"get_data with min_stride={stride} answered {len(t)} samples")


def call(session, operation, node, nodes):
    """Deferred of one consumer call, failing with `BadAnswer` on an answer that does not fit."""
    if operation == "get_data_node":
        def listed(answer):
            missing = set(nodes) - {entry["name"] for entry in answer}
            if missing:
                raise BadAnswer(f"get_data_node lacks {len(missing)} node(s), e.g. {sorted(missing)[0]}")
        return session.get_data_node().addCallback(listed)
    if operation == "get_fields":
        def fields(answer):
            if not set(FIELDS) <= set(answer[0]):
                raise BadAnswer(f"get_fields of {node} lacks {set(FIELDS) - set(answer[0])}")
        return session.get_fields(node, -WINDOW, 0).addCallback(fields)
    stride = STRIDE if operation == "get_data_stride" else None
    return session.get_data(node, list(FIELDS), -WINDOW, 0, stride).addCallback(check_data, stride)


@defer.inlineCallbacks
def consumer_loop(reactor, session, index, args, stats, stop):
    """Call `OPERATIONS` in turn until ``stop`` fired, ``args.duration`` elapsed or the count bound is reached."""
    rng = random.Random(index)
    deadline = time.monotonic() + args.duration
    for i in range(int(args.duration / args.pause) + 1):
        if stop.called or time.monotonic() >= deadline:
            break
        operation = OPERATIONS[(index + i) % len(OPERATIONS)]
        start = time.perf_counter()
        try:
            yield call(session, operation, rng.choice(args.nodes), args.nodes).addTimeout(CALL_TIMEOUT, reactor)
        except Exception as exc:  # any exception is a soak error, counted by type
            kind = error_kind(exc)
            stats["errors"][operation][kind] += 1
            stats["messages"].setdefault(kind, str(exc)[:300])
        stats["latency"][operation].add(time.perf_counter() - start)
        yield task.deferLater(reactor, args.pause, lambda: None)


@defer.inlineCallbacks
def run_consumers(reactor, args, stop):
    """Run ``args.count`` `consumer_loop` sessions until ``stop``; their results (module docstring)."""
    sessions = yield defer.gatherResults([connect(args.url) for _ in range(args.count)])
    stats = {"latency": {op: Histogram() for op in OPERATIONS},
             "errors": {op: collections.Counter() for op in OPERATIONS}, "messages": {}}
    connection.announce_ready("consumers")
    yield defer.gatherResults([consumer_loop(reactor, s, i, args, stats, stop) for i, s in enumerate(sessions)])
    reconnects = sum(s.joins - 1 for s in sessions)
    yield close_all(reactor, sessions)
    return {"latency": {op: h.to_list() for op, h in stats["latency"].items()},
            "errors": {op: dict(c) for op, c in stats["errors"].items()}, "messages": stats["messages"],
            "reconnects": reconnects}


@defer.inlineCallbacks
def run_subscriber(reactor, args, stop):
    """Count every node's live events until ``stop``; the counts (module docstring)."""
    session = yield connect(args.url)
    counts = {n: {"received": 0, "first": None, "last": None, "first_t": None, "last_t": None, "skipped": 0,
                  "out_of_order": 0} for n in args.nodes}
    delay, subtracted = Histogram(), []

    def on_data(node, event):
        recorded, seq, c = event["data"]["recorded"][-1], int(event["data"]["seq"][0]), counts[node]
        delay.add(time.time() - recorded)
        c["received"] += 1
        if c["last"] is None:
            c["first"], c["first_t"] = seq, recorded
            c["last"], c["last_t"] = seq, recorded
        elif seq > c["last"]:
            c["skipped"] += seq - c["last"] - 1
            c["last"], c["last_t"] = seq, recorded
        else:
            c["out_of_order"] += 1

    # A subscription lost with a dropped connection is made again at the next join (follow);
    # the drop itself shows in the joins.
    follows = [session.subscribe_data(n, lambda event, n=n: on_data(n, event)) for n in args.nodes]
    follows.append(session.follow(uri.DATA_NODE_SUBTRACTED, lambda info: subtracted.append(info.get("name"))))
    yield defer.DeferredList(follows, consumeErrors=True)
    yield session.when_joined()
    connection.announce_ready("subscriber")
    timeout = reactor.callLater(args.duration, lambda: stop.called or stop.callback(None))
    yield stop
    if timeout.active():
        timeout.cancel()
    result = {"nodes": counts, "delay": delay.to_list(), "subtracted": subtracted,
              "reconnects": session.joins - 1}
    yield close_all(reactor, [session])
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description="sisock soak clients")
    parser.add_argument("mode", choices=("consumers", "subscriber"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--nodes", required=True, type=lambda s: s.split(","), help="comma-separated node names")
    parser.add_argument("--duration", type=float, required=True, help="most seconds to run once connected")
    parser.add_argument("--out", required=True, help="JSON file for the results")
    parser.add_argument("--count", type=int, default=10, help="consumer sessions (consumers mode)")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between a consumer's calls")
    args = parser.parse_args(argv)
    txaio.use_twisted()
    txaio.start_logging(level="info")  # READY goes through the log (stdout is redirected)

    @defer.inlineCallbacks
    def run(reactor):
        stop = defer.Deferred()
        signal.signal(signal.SIGUSR1, lambda *_: reactor.callFromThread(lambda: stop.called or stop.callback(None)))
        result = yield (run_consumers if args.mode == "consumers" else run_subscriber)(reactor, args, stop)
        with open(args.out, "w") as fp:
            json.dump(result, fp)

    task.react(run)


if __name__ == "__main__":
    main()

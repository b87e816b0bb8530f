"""What the benchmark measures, as Twisted coroutines run in the reactor thread.

Each get_data variant returns ``(seconds, n_samples)`` for one call; the
live ones return rates and latencies measured at the subscriber.
"""

import time

import crochet
import numpy as np
from autobahn.wamp.types import CallOptions
from twisted.internet import defer, task

from bench.bare import NAME as BARE
from bench.node import DT, NAME, T0
from sisock.wire import uri


@crochet.run_in_reactor
def _in_reactor(func, *args):
    return func(*args)


def blocking(func, *args, timeout=600.0):
    """Run a Deferred-returning ``func(*args)`` in the reactor thread (crochet's) and wait for its result."""
    return _in_reactor(func, *args).wait(timeout)


def _span(n, first=0):
    return T0 + first * DT, T0 + (first + n) * DT


@defer.inlineCallbacks
def _timed(call):
    start = time.perf_counter()
    result = yield call()
    return time.perf_counter() - start, result


@defer.inlineCallbacks
def sisock_get_data(session, n, encoding=None, first=0):
    """``get_data`` of samples ``[first, first + n)`` through the sisock client (raw arrays over
    MessagePack, chunked above 1 MiB; ``encoding="list"`` for lists)."""
    seconds, result = yield _timed(lambda: session.get_data(NAME, ["x"], *_span(n, first), encoding=encoding))
    return seconds, len(result["data"]["x"])


def list_get_data(session, n):
    """``get_data`` as lists (the old way) in this session's serializer, chunked, decoded to arrays."""
    return sisock_get_data(session, n, "list")


#: Most samples of one JSON call: a larger one queues more than the router's 2 s WebSocket ping
#: timeout of JSON decoding ahead of the router's ping to the caller, which is then dropped.
JSON_PIECE = 100_000


@defer.inlineCallbacks
def json_get_data(session, n):
    """``get_data`` over a JSON session (lists), in calls of at most `JSON_PIECE` samples; summed."""
    seconds = got = 0
    for first in range(0, n, JSON_PIECE):
        s, m = yield sisock_get_data(session, min(JSON_PIECE, n - first), first=first)
        seconds, got = seconds + s, got + m
    return seconds, got


@defer.inlineCallbacks
def bare_get_raw(session, n):
    """The ceiling: a bare RPC returning the same samples as prepared raw bytes, copied into arrays."""
    t, x = np.empty(n), np.empty(n)

    def place(piece, lo=0):
        m = len(piece["t"]) // 8
        t[lo:lo + m] = np.frombuffer(piece["t"], np.float64)
        x[lo:lo + m] = np.frombuffer(piece["x"], np.float64)

    def call():
        d = session.call(uri.node_uri(BARE, "raw"), n,
                         options=CallOptions(on_progress=lambda p: place(p, p["offset"])))
        return d.addCallback(lambda final: "n" in final or place(final))

    seconds, _ = yield _timed(call)
    return seconds, n


class Subscriber:
    """Receive times and sample times of the events of one topic."""

    def __init__(self):
        self.events = []

    def __call__(self, event):
        self.events.append((time.time(), event["t"][-1], len(event["t"])))

    @defer.inlineCallbacks
    def wait(self, count, timeout):
        from twisted.internet import reactor

        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            yield task.deferLater(reactor, 0.05, lambda: None)


@defer.inlineCallbacks
def live(session, publisher, n, block, rate, timeout=120.0):
    """Drive ``consumer.<publisher>.live`` and measure at a subscriber of ``consumer.<publisher>.data``.

    Returns
    -------
    dict
        ``events_per_s`` and ``samples_per_s`` (first to last event
        received), ``p50_ms`` / ``p99_ms`` (receive time minus the sample
        time of each event's last sample), ``received`` of ``n``.
    """
    sub = Subscriber()
    subscription = yield session.subscribe(sub, uri.node_uri(publisher, "data"))
    try:
        yield session.call(uri.node_uri(publisher, "live"), n, block, rate)
        yield sub.wait(n, timeout)
    finally:
        yield subscription.unsubscribe()
    received = np.array(sub.events)
    out = {"received": len(received), "sent": n}
    if len(received) > 1:
        elapsed = received[-1, 0] - received[0, 0]
        out["events_per_s"] = float((len(received) - 1) / elapsed)
        out["samples_per_s"] = float(received[1:, 2].sum() / elapsed)
        latency = (received[:, 0] - received[:, 1]) * 1e3
        out["p50_ms"], out["p99_ms"] = (float(np.percentile(latency, q)) for q in (50, 99))
    return out

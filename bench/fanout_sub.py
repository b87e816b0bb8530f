"""Subscribers of the fan-out benchmark (``python -m bench.fanout_sub``), one process, one reactor.

Opens ``--sessions`` anonymous consumer sessions to ``--url``, subscribes
each to ``consumer.bench.data``, prints ``READY fanout`` once all have
subscribed, then counts events until every session has ``--events`` of
them or ``--timeout`` seconds have passed since the first event, and
writes ``{"received": total, "first": t, "last": t, "cpu_s": s}`` (receive
times, seconds UTC; CPU seconds of this process since ``READY``) as JSON
to ``--out``.
"""

import argparse
import json
import time

from twisted.internet import defer, task

from bench.node import NAME
from sisock import client
from sisock.wire import uri


class Counter:
    """Events received by all sessions, and when the first and the last arrived."""

    def __init__(self):
        self.received, self.first, self.last = 0, None, None

    def __call__(self, event):
        now = time.time()
        self.received += 1
        self.first = self.first or now
        self.last = now


@defer.inlineCallbacks
def run(reactor, args):
    counter = Counter()
    sessions = []
    for _ in range(args.sessions):
        session = yield client.connect(args.url)
        yield session.subscribe(counter, uri.node_uri(NAME, "data"))
        sessions.append(session)
    print("READY fanout", flush=True)
    cpu = time.process_time()
    wanted = args.sessions * args.events
    while counter.received < wanted and (counter.first is None or time.time() - counter.first < args.timeout):
        yield task.deferLater(reactor, 0.05, lambda: None)
    with open(args.out, "w") as fp:
        json.dump({"received": counter.received, "first": counter.first, "last": counter.last,
                   "cpu_s": time.process_time() - cpu}, fp)
    yield defer.DeferredList([s.close() for s in sessions])


def main(argv=None):
    parser = argparse.ArgumentParser(description="fan-out benchmark subscribers")
    parser.add_argument("--url", required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--events", type=int, required=True, help="events each session waits for")
    parser.add_argument("--timeout", type=float, default=120.0, help="most seconds after the first event")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    task.react(lambda reactor: run(reactor, args))


if __name__ == "__main__":
    main()

"""The soak's data node: a real `DataNodeServer` recording at a fixed rate (``python -m bench.soak_node``).

``start()`` records ``--rate`` blocks of ``--samples`` samples of two
fields per second from a `twisted.internet.task.LoopingCall` in the
reactor, each block recorded with its own `record` call, published as its
own event on ``consumer.NAME.data`` and written to the node's store file
(``<data dir>/<name>.sqlite``), as a live instrument node does. The loop
wakes up ``--rate / --burst`` times a second and records ``--burst``
consecutive blocks each time, as a node reading an instrument's buffer
does (``--burst 1``: one wake-up per block). Timeline ``main``:

``seq``
    the block's number (0, 1, 2, ...) repeated over its samples, so that a
    subscriber can tell a lost event from a late one;
``recorded``
    the wall clock (UNIX seconds) when the block was recorded, so that a
    subscriber can measure the delay to it (sample times may run a few
    milliseconds ahead when the loop catches up).

The in-memory history is ``--history`` seconds (older ranges come from
the file). One extra procedure reports what the loop achieved:

``consumer.NAME.soak_stats() -> {blocks, missed_ticks, errors, seconds}``
    blocks recorded, ticks the loop could not run on time (it was late by
    more than one interval), ``{exception type: count}`` of failed records
    and store writes, and seconds since the loop started (monotonic).
"""

import collections
import time

import numpy as np
from twisted.internet import task

from sisock.node import DataNodeServer, run_node
from sisock.wire import uri

TIMELINE = "main"


class SoakNode(DataNodeServer):
    """Soak-test node: records ``--rate`` blocks of ``--samples`` samples per second."""

    name = "soak"
    description = "sisock soak-test node"

    def __init__(self, config=None):
        super().__init__(config)
        args = self.config.extra["args"]
        self.rate, self.samples, self.burst = args.rate, args.samples, args.burst
        self.dt = 1.0 / (self.rate * self.samples)  # seconds between samples
        self.declare(TIMELINE, {"seq": {"description": "block number"},
                                "recorded": {"units": "s", "description": "wall clock at recording"}},
                     interval=self.dt, capacity=max(1, int(args.history * self.rate * self.samples)))
        self.blocks = self.missed = 0
        self.errors = collections.Counter()
        self._last = 0.0
        self._started = None

    def start(self):
        self._started = time.monotonic()
        task.LoopingCall.withCount(self.tick).start(self.burst / self.rate, now=True)

    def tick(self, count):
        """Record ``--burst`` blocks, the newest sample at now; ``count`` is the number of intervals since the
        last call (LoopingCall)."""
        self.missed += count - 1
        now, n = time.time(), self.samples
        first = max(now - (self.burst * n - 1) * self.dt, self._last + self.dt)
        t = first + np.arange(self.burst * n) * self.dt
        self._last = t[-1]
        recorded = np.full(n, now)
        for k in range(self.burst):
            try:
                d = self.record(TIMELINE, t[k * n:(k + 1) * n], {"seq": np.full(n, float(self.blocks)),
                                                                 "recorded": recorded})
            except Exception as exc:  # counted and reported: the soak fails on any error
                self.errors[type(exc).__name__] += 1
                return
            self.blocks += 1
            d.addErrback(lambda f: self.errors.update([f.type.__name__]))

    def after_onJoin(self, details):
        return self.register(self.soak_stats, uri.node_uri(self.name, "soak_stats"))

    def soak_stats(self):
        """RPC ``consumer.NAME.soak_stats``; see the module docstring."""
        seconds = time.monotonic() - self._started if self._started is not None else 0.0
        return {"blocks": self.blocks, "missed_ticks": self.missed, "errors": dict(self.errors),
                "seconds": seconds}


def add_arguments(parser):
    """The soak node's options: ``--rate``, ``--burst``, ``--samples``, ``--history``."""
    parser.add_argument("--rate", type=float, default=100.0, help="blocks recorded per second (default %(default)s)")
    parser.add_argument("--burst", type=int, default=1,
                        help="blocks recorded at each wake-up of the loop (default %(default)s)")
    parser.add_argument("--samples", type=int, default=10, help="samples per block (default %(default)s)")
    parser.add_argument("--history", type=float, default=70.0,
                        help="seconds of history kept in memory (default %(default)s)")


if __name__ == "__main__":
    run_node(SoakNode, add_arguments=add_arguments)

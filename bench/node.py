"""The benchmark's data node: a real `DataNodeServer`, in memory (``python -m bench.node``).

It records ``--samples`` samples of one float64 field (timeline ``main``,
``DT`` seconds apart from ``T0``) before it connects, then serves them with
the inherited ``get_data``. Two extra procedures drive the live part:

``consumer.bench.live(n, block, rate)``
    record ``n`` blocks of ``block`` samples on timeline ``live`` (each
    recorded, encoded and published by `DataNodeServer.record`, as a real
    node does), ``rate`` blocks a second or as fast as possible for 0; the
    last time of each block is the wall clock when it was recorded. Returns
    when the last block is published.
``consumer.bench.memory()``
    ``{"rss_before", "rss_after", "samples"}``: RSS in bytes before the
    buffer was declared and after it was filled.

The store is not opened (no SQLite file): the numbers are those of the
in-memory buffer and the publishing path.
"""

import argparse
import time

import numpy as np
import psutil
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer, task

from sisock import config
from sisock.connection import run
from sisock.node import DataNodeServer
from sisock.wire import uri

T0 = 1.6e9
DT = 0.01
NAME = "bench"


def publish_loop(reactor, n, rate, publish_one):
    """Call ``publish_one(i)`` ``n`` times, ``rate`` a second (0: as fast as the reactor allows).

    Returns a Deferred that fires once the last call is made; the reactor
    runs between calls, so what is published leaves as it goes.
    """
    if rate <= 0:
        return task.cooperate(publish_one(i) for i in range(n)).whenDone()
    done, start = defer.Deferred(), time.monotonic()

    def step(i):
        publish_one(i)
        if i + 1 == n:
            done.callback(None)
            return
        reactor.callLater(max(0.0, start + (i + 1) / rate - time.monotonic()), step, i + 1)

    step(0) if n else done.callback(None)
    return done


class BenchNode(DataNodeServer):
    """Benchmark node: a large recorded buffer and a driven live timeline."""

    name = NAME
    description = "sisock benchmark node"

    def __init__(self, config, samples):
        super().__init__(config)
        process = psutil.Process()
        self.rss_before = process.memory_info().rss
        self.declare("main", {"x": {"units": "V"}}, interval=DT, capacity=max(samples, 1))
        self.declare("live", {"y": {"units": "V"}}, capacity=100_000)
        block = 100_000  # the store keeps the newest block for get_latest: keep it small
        for lo in range(0, samples, block):
            i = np.arange(lo, min(samples, lo + block))
            self.store.append("main", T0 + i * DT, {"x": np.sin(i * 1e-3)})
        self.samples = samples
        self.rss_after = process.memory_info().rss
        self._last = 0.0

    def after_onJoin(self, details):
        return defer.gatherResults([self.register(self.live, uri.node_uri(self.name, "live")),
                                    self.register(self.memory, uri.node_uri(self.name, "memory"))])

    def memory(self):
        """RPC ``consumer.bench.memory``; see the module docstring."""
        return {"rss_before": self.rss_before, "rss_after": self.rss_after, "samples": self.samples}

    def live(self, n, block, rate):
        """RPC ``consumer.bench.live``; see the module docstring."""
        from twisted.internet import reactor

        values = np.linspace(0.0, 1.0, int(block))
        offsets = np.arange(int(block) - 1, -1, -1) * 1e-6  # float64 resolves 0.24 us at 1.7e9 s

        def one(i):
            now = max(time.time(), self._last + len(offsets) * 1e-6)
            self._last = now
            self.record("live", now - offsets, {"y": values})

        return publish_loop(reactor, int(n), float(rate), one).addCallback(lambda _: int(n))


def main(argv=None):
    parser = argparse.ArgumentParser(description="sisock benchmark node")
    parser.add_argument("--samples", type=int, default=10_000_000)
    config.add_connection_arguments(parser, default_authid=NAME)
    args = parser.parse_args(argv)
    conn = config.connection_from_args(args, "node")
    node = BenchNode(ComponentConfig(args.realm, {"connection": conn}), args.samples)
    run(node, args.log_level)


if __name__ == "__main__":
    main()

"""A query across 500 lamps against 500 sequential calls (``python -m bench.bench_fleet_query``).

Starts a router, a hub and ``nodes.fleet --count N`` with a simulated day
of history (``--backfill 86400``, one sample a minute), then times, as a
consumer on one session:

- ``fanout sum, concurrency C``: `sisock.hub.fanout.query` of ``power_w``
  over ``fleet.lamp*``, 24 h at a 5 min grid, summed (and grouped by zone):
  the hub selects, the session calls every lamp, C calls in flight;
- ``sequential``: the same ``get_data`` of each lamp one after the other,
  summed in this process, the way a script without the helper would.

Prints the median seconds of ``--repeats`` runs of each, with the speed-up.
"""

import argparse
import statistics
import sys
import time

import numpy as np
from twisted.internet import defer, task

from bench.stack import Stack
from sisock import client
from sisock.hub import fanout

DAY, GRID = 86400.0, 300.0


@defer.inlineCallbacks
def _timed(call):
    began = time.perf_counter()
    result = yield call()
    return time.perf_counter() - began, result


@defer.inlineCallbacks
def sequential(session, names, start, end):
    """One ``get_data`` per lamp, one at a time, summed on the grid; the total of every bucket."""
    total = np.zeros(int(DAY // GRID))
    for name in names:
        result = yield session.get_data(name, ["power_w"], start, end, GRID)
        t, v = result["timeline"]["lamp"]["t"], result["data"]["power_w"]
        np.add.at(total, ((t - start) // GRID).astype(int), np.nan_to_num(v))
    return total


@defer.inlineCallbacks
def run_all(reactor, args):
    stack = Stack(chunk_bytes=1 << 20)
    try:
        stack.start_router()
        stack.python("hub", "sisock.hub")
        stack.python("fleet", "nodes.fleet", "--count", args.count, "--interval", 60, "--history", 90000,
                     "--backfill", DAY, timeout=600)
        session = yield client.connect(stack.url)
        end = time.time() - 120
        start = end - DAY
        names = [n["name"] for n in (yield fanout.select(session, "fleet.lamp*"))]
        rows = []
        for concurrency in args.concurrency:
            q = fanout.parse("fleet.lamp*", "power_w", start, end, GRID, "sum", "zone", concurrency=concurrency)
            times = []
            for _ in range(args.repeats):
                seconds, answer = yield _timed(lambda q=q: fanout.query(session, q))
                assert not answer["errors"], answer["errors"]
                times.append(seconds)
            rows.append((f"fanout sum by zone, concurrency {concurrency}", statistics.median(times)))
        times = []
        for _ in range(args.repeats):
            seconds, _ = yield _timed(lambda: sequential(session, names, start, end))
            times.append(seconds)
        rows.append((f"{len(names)} sequential get_data calls", statistics.median(times)))
        yield session.close()
    finally:
        stack.stop()
    print(f"\n{len(names)} lamps, power_w over 24 h at a {GRID:.0f} s grid (median of {args.repeats} runs)")
    print(f"{'what':<44} {'seconds':>8} {'vs sequential':>14}")
    for what, seconds in rows:
        print(f"{what:<44} {seconds:8.3f} {rows[-1][1] / seconds:13.1f}x")
    stack.remove()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.bench_fleet_query", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="lamps (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each (default %(default)s)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 128],
                        help="calls in flight to try (default %(default)s)")
    task.react(run_all, [parser.parse_args(argv)])


if __name__ == "__main__":
    sys.exit(main())

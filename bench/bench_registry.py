"""The hub's registry at scale: 1,000 nodes (``python -m bench.bench_registry``).

For each way of bringing ``--nodes`` nodes up, against a fresh hub each
time (new registry file) on one router:

- ``1 x N``: one session adds every name, as `sisock.node.session.NodeSession`
  and the fleet demo do (``bench.nNNNN`` under authid ``bench``);
- ``N/10 x 10``: a tenth as many sessions, ten names each;
- ``N x 1``: one session per node, as `sisock.node.run.run_node` does, but
  without heartbeats: one Python process cannot keep a thousand sessions
  heartbeating and answering the router's WebSocket pings on two cores
  (the router drops them), so this shape measures joining, adding and
  memory only.

it measures the time from the first ``data_node.add`` to the last answer
(sessions already joined; joining is its own row), the hub's resident
memory and, with every node heartbeating once a second, its CPU over 5 s.
With ``N/10 x 10`` it also times the ``hub.nodes.*`` procedures as an
admin and ``consumer.get_data_node`` (median of 50 calls each). A last
line times `Registry.seen` in this process: what one add costs its caller
(the hub's reactor; the write is queued) and the time until it is
committed by the registry's writer thread. Numbers are medians of ``--repeats`` runs.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import psutil
from twisted.internet import defer, task, threads

from bench.stack import Stack
from sisock import client, config
from sisock.hub.info import check_info
from sisock.hub.registry import Registry
from sisock.node import presence
from sisock.wire import uri

LIST, GET, SEARCH = uri.HUB_NODES + "list", uri.HUB_NODES + "get", uri.HUB_NODES + "search"
JOIN_CONCURRENCY = 50
ADD_CONCURRENCY = 64


def info(i, heartbeat=1.0):
    """Metadata of node ``i`` as a node would send it: a location on a grid, tags, fields."""
    return {"host": "bench-host", "pid": 1000 + i, "version": "bench", "heartbeat": heartbeat, "fields": 4,
            "location": {"lat": 46.0 + (i // 40) * 0.001, "lon": 6.0 + (i % 40) * 0.001},
            "tags": {"zone": "north" if i % 2 else "south", "kind": "led"}}


@defer.inlineCallbacks
def _bounded(calls, limit):
    semaphore = defer.DeferredSemaphore(limit)
    results = yield defer.gatherResults([semaphore.run(c) for c in calls], consumeErrors=True)
    return results


@defer.inlineCallbacks
def _timed(call):
    start = time.perf_counter()
    yield call()
    return time.perf_counter() - start


@defer.inlineCallbacks
def bring_up(stack, nodes, per_session, secret, heartbeat):
    """Join ``nodes / per_session`` node sessions, then add every name; ``(sessions, names, join s, add s)``."""
    count = nodes // per_session
    authids = ["bench"] if count == 1 else [f"bench{s:04d}" for s in range(count)]
    start = time.perf_counter()
    sessions = yield _bounded([lambda a=a: client.connect(stack.url, authid=a, secret=secret) for a in authids],
                              JOIN_CONCURRENCY)
    joined = time.perf_counter() - start
    for session in sessions if heartbeat else ():
        yield presence.join(session, [])  # heartbeat every second, as every node does
    adds, names = [], []
    for s, session in enumerate(sessions):
        for k in range(per_session):
            i = s * per_session + k
            name = f"{authids[s]}.n{i:04d}"
            names.append(name)
            adds.append(lambda n=name, se=session, i=i: se.call(
                uri.DATA_NODE_ADD, n, f"bench node {i}", se._session_id, **info(i, 1.0 if heartbeat else None)))
    start = time.perf_counter()
    answers = yield _bounded(adds, ADD_CONCURRENCY)
    added = time.perf_counter() - start
    assert all(answers), "the hub refused a name"
    return sessions, names, joined, added


@defer.inlineCallbacks
def latencies(admin, consumer, names, calls=50):
    """Median seconds of each management call and of get_data_node, with ``names`` registered."""
    nodes = len(names)
    probes = {
        "hub.nodes.list ALL, limit 100": lambda: admin.call(LIST, "ALL", 100),
        f"hub.nodes.list ALL, limit {nodes}": lambda: admin.call(LIST, "ALL", nodes),
        "hub.nodes.list zone=north, limit 100": lambda: admin.call(LIST, "zone=north", 100),
        "hub.nodes.search bbox (a quarter)": lambda: admin.call(SEARCH, [6.0, 46.0, 6.02, 46.0125]),
        "hub.nodes.get NAME": lambda: admin.call(GET, names[nodes // 2]),
        f"consumer.get_data_node ({nodes} listed)": consumer.get_data_node,
    }
    out = {}
    for label, probe in probes.items():
        times = []
        for _ in range(calls):
            times.append((yield _timed(probe)))
        out[label] = statistics.median(times)
    return out


@defer.inlineCallbacks
def one_run(reactor, stack, nodes, per_session, run):
    """One fresh hub, ``nodes`` nodes brought up ``per_session`` names per session; a dict of numbers."""
    heartbeat, probe = per_session > 1, per_session == 10
    data_dir = tempfile.mkdtemp(prefix="hub-", dir=stack.dir)
    hub = yield threads.deferToThread(stack.python, f"hub{run}", "sisock.hub", "--data-dir", data_dir)
    proc = psutil.Process(hub.pid)
    numbers = {"rss idle": proc.memory_info().rss}
    secrets_file = os.path.join(stack.dir, "home", "secrets.json")
    sessions, names, numbers["join"], numbers["add"] = yield bring_up(
        stack, nodes, per_session, config.load_secret("node", secrets_file), heartbeat)
    admin = yield client.connect(stack.url, authid="admin", secret=config.load_secret("admin", secrets_file))
    consumer = yield client.connect(stack.url)
    if probe:
        numbers.update((yield latencies(admin, consumer, names)))
    if heartbeat:
        proc.cpu_percent(None)
        yield task.deferLater(reactor, 5.0, lambda: None)
        numbers["cpu"] = proc.cpu_percent(None)
    numbers["rss"] = proc.memory_info().rss
    for session in sessions if heartbeat else ():
        session._presence.loop.stop()
    for session in [admin, consumer, *sessions]:
        yield session.close()
    hub.terminate()
    yield threads.deferToThread(hub.wait, 30)
    return numbers


def registry_write(nodes, repeats):
    """Median seconds per `Registry.seen` over ``nodes`` new names: ``(in the caller, until committed)``."""
    caller, committed = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as directory:
            registry = Registry(os.path.join(directory, "registry.sqlite3"))
            checked = [check_info(info(i)) for i in range(nodes)]
            start = time.perf_counter()
            for i in range(nodes):
                registry.seen(f"bench.n{i:04d}", "d", checked[i], "bench", time.time())
            caller.append((time.perf_counter() - start) / nodes)
            registry.sync().result()
            committed.append((time.perf_counter() - start) / nodes)
            registry.close()
    return statistics.median(caller), statistics.median(committed)


@defer.inlineCallbacks
def run_all(reactor, args):
    stack = Stack(chunk_bytes=1 << 20)
    shapes = [(args.nodes, f"1 x {args.nodes}"), (10, f"{args.nodes // 10} x 10"), (1, f"{args.nodes} x 1")]
    try:
        yield threads.deferToThread(stack.start_router)
        results = {}
        run = 0
        for per_session, label in shapes:
            for _ in range(args.repeats):
                run += 1
                numbers = yield one_run(reactor, stack, args.nodes, per_session, run)
                for key, value in numbers.items():
                    results.setdefault((label, key), []).append(value)
        print_table(args, shapes, {k: statistics.median(v) for k, v in results.items()})
    finally:
        stack.stop()


def print_table(args, shapes, m):
    n = args.nodes
    print(f"\nsisock registry, {n} nodes, median of {args.repeats} run(s); sessions x names per session\n")
    print(f"{'measure':<48}" + "".join(f"{label:>14}" for _, label in shapes))
    rows = [("join the node sessions (s)", "join", 1.0), (f"add {n} nodes (s)", "add", 1.0),
            ("adds per second", "add", None), ("hub RSS idle, empty registry (MiB)", "rss idle", 2**-20),
            (f"hub RSS with {n} nodes (MiB)", "rss", 2**-20), ("hub CPU, nodes heartbeating 1/s (%)", "cpu", 1.0)]
    for title, key, scale in rows:
        cells = []
        for _, label in shapes:
            value = m.get((label, key))
            value = None if value is None else (n / value if scale is None else value * scale)
            cells.append("-" if value is None else f"{value:.3g}" if value < 100 else f"{value:.0f}")
        print(f"{title:<48}" + "".join(f"{c:>14}" for c in cells))
    label = shapes[1][1]
    print(f"\nlatencies with {n} nodes ({label}, heartbeating), median of 50 calls, ms")
    for (shape, key), value in sorted(m.items()):
        if shape == label and (key.startswith("hub.nodes") or key.startswith("consumer.")):
            print(f"  {key:<46}{value * 1000:>10.2f}")
    caller, committed = registry_write(n, args.repeats)
    print(f"\nRegistry.seen in this process, us per add: {caller * 1e6:.0f} in the caller (the hub's reactor), "
          f"{committed * 1e6:.0f} until committed")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.bench_registry", description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000, help="nodes to register (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per shape (default %(default)s)")
    args = parser.parse_args(argv)
    if args.nodes < 10 or args.nodes % 10:
        parser.error("--nodes must be a multiple of 10")
    task.react(run_all, [args])


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench.bench_pixels``: the pixel display's speed next to a bare Autobahn pair, in one run.

Starts a router of its own on a free loopback port, the hub, a display
``benchpix`` (`nodes.pixels`, 8x8, 30 fps) and a bare Autobahn sink
``pixsink`` (``python -m bench.bench_pixels sink``: a plain
``ApplicationSession`` that receives the same events and calls, and
publishes one event once it has them all, or every one it is told to
echo), then measures, interleaved and repeated (medians):

``set`` events
    ``--commands`` single-pixel ``set`` s published as fast as the reactor
    allows on ``consumer.benchpix.set`` (by a session joined as node
    ``benchpix``, as a driver of the display is), until the frame that
    shows the last one reaches a subscriber; the display's command log
    must hold every one. Bare: the same events to the sink until it has
    them all;
``set`` calls
    ``--calls`` acknowledged ``set`` procedure calls, all in flight at
    once (each answered once its frame is recorded); bare: a procedure
    that answers at once;
``set_frame`` events
    whole frames (8 x 8 x 3 = 192 bytes) as above;
frames/s shown
    frame events received per second during each of those runs;
latency
    ``--frames`` ``set_frame`` events paced at 30 a second, each timed
    from its publish to the frame event that shows it; bare: the sink
    echoes each one (the same two trips through the router).

Prints a table with the targets, and how loaded the machine was:
load averages before and after, how busy all CPUs were during the run
and how much of it were the processes of this benchmark (the rest is
everybody else's). Loopback only; every wait has a timeout.
"""

import argparse
import os
import statistics
import struct
import sys
import time
from datetime import UTC, datetime

import crochet
import numpy as np
import psutil
from autobahn.twisted.wamp import ApplicationRunner, ApplicationSession
from autobahn.wamp import auth
from autobahn.wamp.serializer import MsgPackSerializer
from twisted.internet import defer

from bench.node import publish_loop
from bench.run import blocking, log
from bench.stack import Stack, run_and_report
from sisock import client, config
from sisock.wire import chunks, uri

DISPLAY, SINK = "benchpix", "pixsink"
WIDTH = HEIGHT = 8
FPS = 30.0
#: Seconds any one measurement may take before the benchmark fails.
TIMEOUT = 120.0


class Sink(ApplicationSession):
    """The bare baseline (see the module docstring), joined as node `SINK` so that it may publish."""

    def onConnect(self):
        self.join(self.config.realm, ["wampcra"], SINK)

    def onChallenge(self, challenge):
        return auth.compute_wcs(self.config.extra["secret"], challenge.extra["challenge"])

    @defer.inlineCallbacks
    def onJoin(self, details):
        self.expected, self.count, self.echo_all = 0, 0, False
        for name in ("set", "set_frame"):
            yield self.subscribe(self.event, uri.node_uri(SINK, name))
        yield self.register(lambda color, index: {"index": index}, uri.node_uri(SINK, "set"))
        yield self.register(self.expect, uri.node_uri(SINK, "expect"))
        print("READY sink", flush=True)

    def expect(self, n, echo_all=False):
        """Count from 0 again: publish on ``consumer.pixsink.echo`` at the ``n``-th event, or at every one."""
        self.expected, self.count, self.echo_all = n, 0, echo_all

    def event(self, *args, **kwargs):
        self.count += 1
        if self.echo_all or self.count == self.expected:
            self.publish(uri.node_uri(SINK, "echo"), {"count": self.count, "args": list(args), "kwargs": kwargs})


class Arrivals:
    """Events of one topic at the subscriber: how many, and when each ``key(event)`` first arrived."""

    def __init__(self, key):
        self.key, self.count, self.at, self._want = key, 0, {}, None

    def __call__(self, event):
        now = time.perf_counter()
        self.count += 1
        k = self.key(event)
        self.at.setdefault(k, now)
        if self._want is not None and self._want[0] == k:
            d, self._want = self._want[1], None
            d.callback(now)

    def wait(self, k, what):
        """Deferred arrival time of key ``k``; RuntimeError after `TIMEOUT` seconds, naming ``what``."""
        from twisted.internet import reactor

        if k in self.at:
            return defer.succeed(self.at[k])
        d = defer.Deferred()
        self._want = (k, d)

        def late(failure):
            failure.trap(defer.TimeoutError)
            raise RuntimeError(f"{what} did not arrive within {TIMEOUT:g} s ({self.count} events arrived)")

        return d.addTimeout(TIMEOUT, reactor).addErrback(late)


def frame_bytes(run, i):
    """Frame ``i`` of run ``run``: its first 8 bytes say which (``<II``), the rest a pattern; 192 bytes."""
    head = struct.pack("<II", run, i)
    return head + bytes((i + j) % 256 for j in range(WIDTH * HEIGHT * 3 - len(head)))


def frame_key(event):
    return bytes(event["rgb"][:8])


def echo_key(event):
    return event["count"]


def echoed_frame_key(event):
    return bytes(event["args"][0][:8])


def last_pixel_key(event):
    return tuple(event["pixels"][-1][-1])


@defer.inlineCallbacks
def flood(s, who, what, run, n):
    """Publish ``n`` ``what`` events (``set`` or ``set_frame``) to ``who`` as fast as possible.

    Returns ``{"per_s", "frames_per_s"}``: events per second from the first
    publish to the arrival of the frame (or echo) that shows the last one,
    and frame events received per second meanwhile.
    """
    display = who == DISPLAY
    if what == "set":  # the last set paints the last pixel a colour of this run
        marker = [run % 256, 77, 99]
        payloads = [((([i % 256, i // 256 % 256, 3]),), {"index": i % (WIDTH * HEIGHT - 1)}) for i in range(n - 1)]
        payloads.append(((marker,), {"index": WIDTH * HEIGHT - 1}))
        key, last = (last_pixel_key, tuple(marker)) if display else (echo_key, n)
    else:
        payloads = [((frame_bytes(run, i),), {}) for i in range(n)]
        key, last = (frame_key, frame_bytes(run, n - 1)[:8]) if display else (echo_key, n)
    arrivals = Arrivals(key)
    if not display:
        yield s["pub_sink"].call(uri.node_uri(SINK, "expect"), n)
    sub = yield s["sub"].subscribe(arrivals, uri.node_uri(who, "echo" if not display else "frame"))
    publisher, topic = s["pub_display" if display else "pub_sink"], uri.node_uri(who, what)
    t_start, start = time.time(), time.perf_counter()
    try:
        yield publish_loop(None, n, 0, lambda i: publisher.publish(topic, *payloads[i][0], **payloads[i][1]))
        end = yield arrivals.wait(last, f"the frame or echo of the last of {n} {what} events to {who}")
    finally:
        yield sub.unsubscribe()
    if display:
        yield applied(s["sub"], t_start, n)
    seconds = end - start
    return {"per_s": n / seconds, "frames_per_s": arrivals.count / seconds if display else None}


@defer.inlineCallbacks
def applied(session, since, n):
    """Check that the display logged ``n`` commands since ``since`` (UNIX s); RuntimeError if not."""
    got = yield session.get_data(DISPLAY, ["command"], since, time.time() + 1)
    if len(got["data"]["command"]) != n:
        raise RuntimeError(f"the display applied {len(got['data']['command'])} of {n} commands")


@defer.inlineCallbacks
def calls(s, who, n):
    """``n`` acknowledged ``set`` calls to ``who``, all in flight at once; calls per second."""
    procedure = uri.node_uri(who, "set")
    session = s["pub_display" if who == DISPLAY else "pub_sink"]
    start = time.perf_counter()
    yield defer.gatherResults([session.call(procedure, [i % 256, 0, 0], index=i % (WIDTH * HEIGHT))
                               for i in range(n)], consumeErrors=True)
    return {"per_s": n / (time.perf_counter() - start)}


@defer.inlineCallbacks
def latency(s, who, run, n):
    """``n`` ``set_frame`` events to ``who`` at `FPS` a second; p50 and p99 ms from publish to frame (echo)."""
    display = who == DISPLAY
    arrivals = Arrivals(frame_key if display else echoed_frame_key)
    if not display:
        yield s["pub_sink"].call(uri.node_uri(SINK, "expect"), n, echo_all=True)
    sub = yield s["sub"].subscribe(arrivals, uri.node_uri(who, "frame" if display else "echo"))
    publisher, topic = s["pub_display" if display else "pub_sink"], uri.node_uri(who, "set_frame")
    frames, sent = [frame_bytes(run, i) for i in range(n)], {}

    def one(i):
        sent[frames[i][:8]] = time.perf_counter()
        publisher.publish(topic, frames[i])

    from twisted.internet import reactor

    try:
        yield publish_loop(reactor, n, FPS, one)
        yield arrivals.wait(frames[-1][:8], f"the last of {n} paced frames to {who}")
    finally:
        yield sub.unsubscribe()
    ms = [(arrivals.at[k] - t) * 1e3 for k, t in sent.items() if k in arrivals.at]
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "received": len(ms), "sent": n}


class Load:
    """How busy the machine was while the benchmark ran, and how much of it was the benchmark."""

    def __init__(self):
        self.me = psutil.Process()
        self.before = os.getloadavg()
        psutil.cpu_percent()
        self.ours = self._ours()
        self.start = time.monotonic()

    def _ours(self):
        """CPU seconds of this process and every process it started (router, hub, display, sink)."""
        total = 0.0
        for p in [self.me, *self.me.children(recursive=True)]:
            try:
                times = p.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def report(self):
        """``{"load_before", "load_after", "busy_percent", "ours_percent", "cpus"}`` (percent of all CPUs)."""
        elapsed, cpus = time.monotonic() - self.start, os.cpu_count()
        return {"load_before": self.before, "load_after": os.getloadavg(), "cpus": cpus,
                "busy_percent": psutil.cpu_percent(),
                "ours_percent": 100 * (self._ours() - self.ours) / elapsed / cpus}


KINDS = ("set events", "set calls", "set_frame events", "latency")


def measure_all(s, args):
    """``{kind: {who: {measure: median}}}`` of every kind, sink and display interleaved, ``--repeats`` times."""
    samples = {kind: {who: [] for who in (SINK, DISPLAY)} for kind in KINDS}
    run = 0
    for _ in range(args.repeats):
        for kind in KINDS:
            for who in (SINK, DISPLAY):
                run += 1
                if kind == "set calls":
                    got = blocking(calls, s, who, args.calls, timeout=2 * TIMEOUT)
                elif kind == "latency":
                    got = blocking(latency, s, who, run, args.frames, timeout=2 * TIMEOUT)
                else:
                    got = blocking(flood, s, who, kind.split()[0], run, args.commands, timeout=2 * TIMEOUT)
                samples[kind][who].append(got)
                log(f"{kind} {who}: {got}")
    return {kind: {who: {m: (statistics.median(r[m] for r in rs) if rs[0][m] is not None else None) for m in rs[0]}
                   for who, rs in by.items()} for kind, by in samples.items()}


def targets(r):
    """``[(target, measured, met)]``: the targets next to the numbers."""
    ratio = r["set events"][DISPLAY]["per_s"] / r["set events"][SINK]["per_s"]
    p99 = r["latency"][DISPLAY]["p99_ms"]
    return [("single set events/s >= 90 % of bare events/s", f"{100 * ratio:.0f} %", ratio >= 0.9),
            (f"set_frame to subscriber p99 < 5 ms at {FPS:g} fps", f"{p99:.2f} ms", p99 < 5)]


def table(results, args):
    """The report as text."""
    r, load = results["results"], results["load"]
    lines = [f"sisock pixel bench  {results['when']}  router 127.0.0.1:{results['port']}  display {WIDTH}x{HEIGHT} "
             f"at {FPS:g} fps  median of {args.repeats}", "",
             f"{'':24} {'display/s':>10} {'bare/s':>10} {'ratio':>6} {'frames/s':>9}"]
    for kind, n in (("set events", args.commands), ("set calls", args.calls), ("set_frame events", args.commands)):
        d, b = r[kind][DISPLAY], r[kind][SINK]
        shown = f"{d['frames_per_s']:.1f}" if d.get("frames_per_s") is not None else "-"
        lines.append(f"{f'{kind} ({n:,})':24} {d['per_s']:>10,.0f} {b['per_s']:>10,.0f} "
                     f"{d['per_s'] / b['per_s']:>6.2f} {shown:>9}")
    d, b = r["latency"][DISPLAY], r["latency"][SINK]
    lines += ["", f"latency, {args.frames} set_frame events at {FPS:g}/s, publish -> frame event at a subscriber",
              f"{'':24} {'p50 ms':>10} {'p99 ms':>10}",
              f"{'display':24} {d['p50_ms']:>10.2f} {d['p99_ms']:>10.2f}",
              f"{'bare echo':24} {b['p50_ms']:>10.2f} {b['p99_ms']:>10.2f}",
              "", f"machine: {load['cpus']} CPUs, load average {load['load_before'][0]:.2f} before and "
                  f"{load['load_after'][0]:.2f} after (1 min); during the run all CPUs were "
                  f"{load['busy_percent']:.0f} % busy, {load['ours_percent']:.0f} % of them this benchmark's "
                  f"processes, the rest others'", "", "targets"]
    lines += [f"  {'MET ' if ok else 'MISS'}  {name}: {value}" for name, value, ok in results["targets"]]
    return "\n".join(lines)


def start(stack):
    """Router, hub, display and sink; the bench's sessions: publishers joined as the display and the sink."""
    stack.start_router()
    stack.python("hub", "sisock.hub")
    stack.python("display", "nodes.pixels", "--name", DISPLAY, "--width", WIDTH, "--height", HEIGHT, "--fps", FPS)
    stack.python("sink", "bench.bench_pixels", "sink")
    secret = config.load_secret("node", os.path.join(stack.env["SISOCK_HOME"], "secrets.json"))
    return {"pub_display": blocking(client.connect, stack.url, None, DISPLAY, secret),
            "pub_sink": blocking(client.connect, stack.url, None, SINK, secret),
            "sub": blocking(client.connect, stack.url)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.bench_pixels", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", choices=("bench", "sink"), default="bench",
                        help="run the benchmark (default), or be its bare sink")
    parser.add_argument("--commands", type=int, default=5000, help="events of each flood (default %(default)s)")
    parser.add_argument("--calls", type=int, default=2000, help="set calls in flight at once (default %(default)s)")
    parser.add_argument("--frames", type=int, default=150, help="frames of the latency run (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of everything (median; default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    if args.what == "sink":
        url, realm = config.env("URL", config.DEFAULT_URL), config.env("REALM", config.DEFAULT_REALM)
        ApplicationRunner(url, realm, extra={"secret": config.load_secret("node")},
                          serializers=[MsgPackSerializer()]).run(Sink)
        return 0
    stack = Stack(chunks.CHUNK_BYTES)
    crochet.setup()
    def run():
        log(f"starting router, hub, display {DISPLAY} and bare sink {SINK} in {stack.dir}")
        sessions = start(stack)
        load = Load()
        results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "port": stack.port,
                   "results": measure_all(sessions, args)}
        results["load"] = load.report()
        results["targets"] = targets(results["results"])
        for session in sessions.values():
            blocking(session.close)
        return results

    return run_and_report(stack, run, table, args)


if __name__ == "__main__":
    sys.exit(main())

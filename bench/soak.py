"""``python -m bench.soak``: load and soak, bounded in time, loopback only.

Starts a Crossbar router on a free loopback port, the hub, ``--nodes``
data nodes (`bench.soak_node`, one process each, recording ``--rate``
blocks/s of ``--samples`` samples x 2 fields, ``--burst`` blocks at each
wake-up, to memory, the live topic and their store files in the run's
temporary directory), one process of ``--consumers`` consumer sessions
querying without end (`get_data` over the last 60 s of a random node with
and without ``min_stride``, `get_fields`, `get_data_node`) and one
subscriber following the live events of ``--follow`` nodes, as a few open
displays do (`bench.soak_client`; the router passes on, and so authorizes,
only the events someone subscribed to). For ``--duration`` seconds it samples
the RSS and CPU time of every process it started (the router's controller
and worker included) every ``--sample-every`` seconds, then prints a table:
per process kind, RSS after ``--warmup`` and at the end, the change, whether
it stayed within 10 %, CPU; the calls with their errors and p50/p99
latency; live events published vs received; dropped sessions; the achieved
recording rate vs the target (`bench.soak_report`). ``--json`` prints the
same as JSON, with every process's RSS samples (``rss_mib``: [seconds, MiB]
pairs).

Exit code 0 only if no call or record failed, no live event was lost, no
session dropped (a node or the hub logged ``sisock: session left``, a
``data_node_subtracted`` event, a connection the router dropped, a client
that reconnected) and every process's RSS stayed within 10 % of its
value after warm-up. Everything started is stopped by PID at the end, on
Ctrl-C and on SIGTERM; the directory (logs, stores) is kept after a
failed run.
"""

import argparse
import json
import os
import signal
import sys
import time

import psutil

from bench.soak_client import error_kind
from bench.soak_report import FLAT, collect, table
from bench.stack import Stack
from sisock import client
from sisock.wire import chunks, uri

#: Seconds the clients may run past ``--duration`` (their bound if SIGUSR1 never comes) and take to finish.
CLIENT_GRACE = 60.0
#: Seconds the soak keeps asking nodes for their `soak_stats` (sessions dropped under overload come back).
STATS_PATIENCE = 30.0


def log(text):
    """Print a progress line on stderr (stdout holds the report)."""
    print(text, file=sys.stderr, flush=True)


class Sampler:
    """RSS and CPU time of every process the stack started (router children included), over time.

    Parameters
    ----------
    stack : bench.stack.Stack
        Its ``procs`` are sampled (the router's workers found with psutil).
    """

    def __init__(self, stack):
        self.stack = stack
        self.series = {}  # label -> {"kind", "pid", "samples": [(t, rss, cpu seconds)]}
        self._procs = {}

    def _targets(self):
        for name, popen in self.stack.procs.items():
            if name != "router":
                yield name, "node" if name.startswith("soak") else name, popen.pid
                continue
            yield "router controller", "router controller", popen.pid
            try:
                workers = psutil.Process(popen.pid).children(recursive=True)
            except psutil.Error:  # the router is gone: its workers too
                workers = []
            for child in workers:
                yield f"router worker {child.pid}", "router worker", child.pid

    def sample(self, t):
        """Record one sample of every live process at run time ``t`` (seconds)."""
        for label, kind, pid in list(self._targets()):
            try:
                proc = self._procs.setdefault(pid, psutil.Process(pid))
                with proc.oneshot():
                    if proc.status() == psutil.STATUS_ZOMBIE:
                        continue
                    cpu = proc.cpu_times()
                    entry = (t, proc.memory_info().rss, cpu.user + cpu.system)
            except psutil.Error:  # exited between listing and sampling
                continue
            self.series.setdefault(label, {"kind": kind, "pid": pid, "samples": []})["samples"].append(entry)

    def summary(self, warmup):
        """Each process from its first sample at or after ``warmup`` seconds to its last.

        Returns
        -------
        dict
            ``{label: {kind, pid, rss_warm, rss_end, change, max_dev, flat, cpu}}``: RSS in bytes at
            both ends, their relative change, the largest relative deviation from ``rss_warm`` of any
            sample in between, whether that is within `FLAT`, and CPU time over wall time (1.0 = one
            core); processes with fewer than two samples after warm-up are left out.
        """
        out = {}
        for label, s in self.series.items():
            after = [x for x in s["samples"] if x[0] >= warmup]
            if len(after) < 2:
                continue
            (t0, warm, c0), (t1, end, c1) = after[0], after[-1]
            dev = max(abs(rss - warm) / warm for _, rss, _ in after)
            out[label] = {"kind": s["kind"], "pid": s["pid"], "rss_warm": warm, "rss_end": end,
                          "change": (end - warm) / warm, "max_dev": dev, "flat": dev <= FLAT,
                          "cpu": (c1 - c0) / (t1 - t0)}
        return out


def node_stats(session, names):
    """``{name: soak_stats() answer}`` of every node, retried for `STATS_PATIENCE` seconds in all;
    ``{"failed": exception type}`` for one that did not answer by then."""
    out, deadline = {}, time.monotonic() + STATS_PATIENCE
    for name in names:
        while name not in out:
            session.timeout = min(10.0, max(1.0, deadline - time.monotonic()))
            try:
                out[name] = session.call(uri.node_uri(name, "soak_stats"))
            except Exception as exc:  # a node or this session dropped by an overloaded router: retried, reported
                if time.monotonic() > deadline:
                    out[name] = {"failed": error_kind(exc)}
                time.sleep(0.5)
    return out


def node_rates(before, after):
    """Per-node blocks/s between two `node_stats` snapshots, with the nodes' errors and missed ticks since
    they started; a ``soak_stats`` call that failed is an error (``soak_stats <exception type>``)."""
    errors, rates, missed = {}, {}, 0
    for name, stats in after.items():
        for kind, count in stats.get("errors", {}).items():
            errors[kind] = errors.get(kind, 0) + count
        failed = stats.get("failed") or before[name].get("failed")
        if failed:
            errors[f"soak_stats {failed}"] = errors.get(f"soak_stats {failed}", 0) + 1
            continue
        missed += stats["missed_ticks"]
        rates[name] = (stats["blocks"] - before[name]["blocks"]) / (stats["seconds"] - before[name]["seconds"])
    return {"rates": rates, "missed_ticks": missed, "errors": errors}


def run(stack, args):
    """Start everything, run the load for ``args.duration`` seconds, return the results."""
    names = [f"soak{i:02d}" for i in range(args.nodes)]
    log(f"starting router, hub, {args.nodes} nodes, consumers and subscriber in {stack.dir}")
    stack.start_router()
    stack.python("hub", "sisock.hub")
    for name in names:
        stack.python(name, "bench.soak_node", "--name", name, "--rate", args.rate, "--burst", args.burst,
                     "--samples", args.samples)
    out = {m: os.path.join(stack.dir, f"{m}.json") for m in ("consumers", "subscriber")}
    common = ["--url", stack.url, "--duration", args.duration + CLIENT_GRACE]
    stack.python("subscriber", "bench.soak_client", "subscriber", *common, "--out", out["subscriber"],
                 "--nodes", ",".join(names[:args.follow]))
    stack.python("consumers", "bench.soak_client", "consumers", *common, "--out", out["consumers"],
                 "--nodes", ",".join(names), "--count", args.consumers, "--pause", args.pause)
    sampler, session = Sampler(stack), client.Client(stack.url, timeout=10)
    start, before = time.monotonic(), None
    log(f"running {args.duration:g} s (warm-up {args.warmup:g} s)")
    while (now := time.monotonic() - start) < args.duration:
        sampler.sample(now)
        if before is None and now >= args.warmup:
            before = node_stats(session, names)
        wake = min(now + args.sample_every, args.duration, args.warmup if before is None else args.duration)
        time.sleep(max(0.0, wake - (time.monotonic() - start)))
    sampler.sample(time.monotonic() - start)
    for mode in ("subscriber", "consumers"):
        stack.procs[mode].send_signal(signal.SIGUSR1)
    rates = node_rates(before, node_stats(session, names))
    try:
        session.close()
    except Exception as exc:  # a router too busy to say goodbye to: the stack stops it anyway
        log(f"closing the soak's own session failed: {exc!r}")
    for mode in ("subscriber", "consumers"):
        stack.procs[mode].wait(CLIENT_GRACE)
    results = {}
    for mode, path in out.items():
        with open(path) as fp:
            results[mode] = json.load(fp)
    return collect(stack, sampler, names, results["consumers"], results["subscriber"], rates, args)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds of warm-up (default 20 %% of duration)")
    parser.add_argument("--nodes", type=int, default=20, help="data node processes (default %(default)s)")
    parser.add_argument("--rate", type=float, default=100.0, help="blocks/s per node (default %(default)s)")
    parser.add_argument("--burst", type=int, default=10,
                        help="blocks a node records at each wake-up, each its own event (default %(default)s)")
    parser.add_argument("--samples", type=int, default=10, help="samples per block (default %(default)s)")
    parser.add_argument("--consumers", type=int, default=10, help="consumer sessions (default %(default)s)")
    parser.add_argument("--follow", type=int, default=5,
                        help="nodes whose live events the subscriber follows (default %(default)s)")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between a consumer's calls")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = 0.2 * args.duration
    if not 0 <= args.warmup < args.duration or min(args.nodes, args.consumers, args.rate, args.burst,
                                                          args.samples, args.follow) < 1 \
            or args.follow > args.nodes:
        parser.error("need 0 <= --warmup < --duration, 1 <= --follow <= --nodes and --consumers, --rate, "
                     "--burst, --samples >= 1")

    def interrupted(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored (a background job)
        signal.signal(signum, interrupted)
    stack = Stack(chunks.CHUNK_BYTES)
    try:
        results = run(stack, args)
    except KeyboardInterrupt as exc:
        log(f"soak interrupted by {exc}; stopping everything it started; logs in {stack.dir}")
        return 130
    except BaseException:
        log(f"soak failed; logs of every process in {stack.dir}")
        raise
    finally:
        stack.stop()
    ok = all(met for _, met, _ in results["criteria"])
    if ok:
        stack.remove()
    else:
        log(f"criteria missed; logs of every process and the stores in {stack.dir}")
    if args.json:
        results["criteria"] = [{"criterion": n, "met": m, "measured": v} for n, m, v in results["criteria"]]
        print(json.dumps(results, indent=2, default=str))
    else:
        print(table(results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

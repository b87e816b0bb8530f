"""``python -m bench.soak``: load and soak (issue 6, item 4), bounded in time, loopback only.

Starts a Crossbar router on a free loopback port, the hub, ``--nodes``
data nodes (`bench.soak_node`, one process each, recording ``--rate``
blocks/s of ``--samples`` samples x 2 fields to memory, the live topic and
their store files in the run's temporary directory), one process of
``--consumers`` consumer sessions querying without end (`get_data` over
the last 60 s of a random node with and without ``min_stride``,
`get_fields`, `get_data_node`) and one subscriber following every node's
live events (`bench.soak_client`). For ``--duration`` seconds it samples
the RSS and CPU time of every process it started (the router's controller
and worker included) every ``--sample-every`` seconds, then prints a table:
per process kind, RSS after ``--warmup`` and at the end, the change, whether
it stayed within 10 %, CPU; the calls with their errors and p50/p99
latency; live events published vs received; dropped sessions; the achieved
recording rate vs the target. ``--json`` prints the same as JSON, with
every process's RSS samples (``rss_mib``: [seconds, MiB] pairs).

Exit code 0 only if no call or record failed, no live event was lost, no
session dropped (a node's ``READY`` line printed twice, a
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
import statistics
import sys
import time
from datetime import datetime, timezone

import psutil

from bench.soak_client import OPERATIONS, Histogram
from bench.stack import Stack
from sisock import chunks, client, uri

#: Largest RSS change after warm-up, as a fraction, for a process to count as flat.
FLAT = 0.10
#: Seconds the clients may run past ``--duration`` (their bound if SIGUSR1 never comes) and take to finish.
CLIENT_GRACE = 60.0


def log(text):
    print(text, file=sys.stderr, flush=True)


class Sampler:
    """RSS and CPU time of every process the stack started (router children included), over time."""

    def __init__(self, stack):
        self.stack = stack
        self.series = {}  # label -> {"kind", "pid", "samples": [(t, rss, cpu seconds)]}
        self._procs = {}

    def _targets(self):
        for name, popen in self.stack.procs.items():
            kind = "node" if name.startswith("soak") else name
            if name == "router":
                yield "router controller", "router controller", popen.pid
                for child in psutil.Process(popen.pid).children(recursive=True):
                    yield f"router worker {child.pid}", "router worker", child.pid
            else:
                yield name, kind, popen.pid

    def sample(self, t):
        """Record one sample of every live process at run time ``t`` (seconds)."""
        for label, kind, pid in list(self._targets()):
            try:
                proc = self._procs.setdefault(pid, psutil.Process(pid))
                with proc.oneshot():
                    cpu = proc.cpu_times()
                    entry = (t, proc.memory_info().rss, cpu.user + cpu.system)
            except psutil.Error:  # exited between listing and sampling
                continue
            self.series.setdefault(label, {"kind": kind, "pid": pid, "samples": []})["samples"].append(entry)

    def summary(self, warmup):
        """``{label: {kind, rss_warm, rss_end, change, max_dev, flat, cpu}}`` from the first sample at or
        after ``warmup`` seconds to the last one."""
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


def node_rates(session, names, before):
    """Per-node blocks/s between two `soak_stats` snapshots, and the errors and missed ticks since start."""
    after = {n: session.call(uri.node_uri(n, "soak_stats")) for n in names}
    rates = {n: (after[n]["blocks"] - before[n]["blocks"]) / (after[n]["seconds"] - before[n]["seconds"])
             for n in names}
    errors = {}
    for stats in after.values():
        for kind, count in stats["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
    return {"rates": rates, "missed_ticks": sum(s["missed_ticks"] for s in after.values()), "errors": errors}


def dropped_sessions(stack, names, consumers, subscriber):
    """Every sign of a session that was dropped during the run, by where it shows."""
    def read(name):
        with open(os.path.join(stack.dir, f"{name}.log"), errors="replace") as fp:
            return fp.read()
    return {"node rejoined (READY > 1)": sum(max(0, read(n).count("READY ") - 1) for n in names),
            "data_node_subtracted": len(subscriber["subtracted"]),
            "router dropped a connection": read("router").count("dropping connection"),
            "client reconnected": consumers["reconnects"] + subscriber["reconnects"]}


def collect(stack, sampler, names, consumers, subscriber, rates, args):
    """The results of a run as a JSON-able dict, with ``criteria`` [(name, met, measured)]."""
    calls = {}
    for op in OPERATIONS:
        h = Histogram(consumers["latency"][op])
        calls[op] = {"calls": h.n, "errors": sum(consumers["errors"][op].values()),
                     "p50_ms": h.percentile(50), "p99_ms": h.percentile(99)}
    total = sum((Histogram(consumers["latency"][op]) for op in OPERATIONS), Histogram())
    calls["all"] = {"calls": total.n, "errors": sum(c["errors"] for c in calls.values()),
                    "p50_ms": total.percentile(50), "p99_ms": total.percentile(99)}
    errors = {}
    for source in [*consumers["errors"].values(), rates["errors"]]:
        for kind, count in source.items():
            errors[kind] = errors.get(kind, 0) + count
    nodes = subscriber["nodes"]
    published = sum(c["last"] - c["first"] + 1 for c in nodes.values() if c["last"] is not None)
    events = {"published": published, "received": sum(c["received"] for c in nodes.values()),
              "skipped": sum(c["skipped"] for c in nodes.values()),
              "out_of_order": sum(c["out_of_order"] for c in nodes.values()),
              "silent_nodes": sum(c["last"] is None for c in nodes.values())}
    delay = Histogram(subscriber["delay"])
    events.update(delay_p50_ms=delay.percentile(50), delay_p99_ms=delay.percentile(99))
    dropped = dropped_sessions(stack, names, consumers, subscriber)
    processes = sampler.summary(args.warmup)
    lost = events["skipped"] + events["out_of_order"] + events["silent_nodes"]
    rate = list(rates["rates"].values())
    criteria = [("no error", not errors, f"{sum(errors.values())} errors"),
                ("no live event lost", lost == 0, f"{events['skipped']} skipped, {events['out_of_order']} "
                                                  f"out of order, {events['silent_nodes']} silent nodes"),
                ("no dropped session", not any(dropped.values()), f"{sum(dropped.values())} dropped"),
                (f"every RSS flat within {FLAT:.0%} after warm-up", all(p["flat"] for p in processes.values()),
                 f"max deviation {max(p['max_dev'] for p in processes.values()):.1%}")]
    return {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "port": stack.port,
            "cpus": os.cpu_count(), "args": {k: v for k, v in vars(args).items() if k != "json"},
            "rate": {"target": args.nodes * args.rate, "achieved": sum(rate), "node_median": statistics.median(rate),
                     "node_min": min(rate), "missed_ticks": rates["missed_ticks"]},
            "processes": processes, "calls": calls, "errors": errors, "messages": consumers["messages"],
            "events": events, "dropped": dropped, "criteria": criteria,
            "rss_mib": {label: [[round(t, 1), round(rss / 2**20, 1)] for t, rss, _ in s["samples"]]
                        for label, s in sampler.series.items()}}


def kind_rows(processes):
    """Table rows ``(label, count, row)`` per process kind: the process itself, or for several
    the median and the max of each column (flat only if all are)."""
    kinds = {}
    for p in processes.values():
        kinds.setdefault(p["kind"], []).append(p)
    for kind, ps in kinds.items():
        if len(ps) == 1:
            yield kind, 1, ps[0]
            continue
        for how, pick in (("median", statistics.median), ("max", max)):
            row = {k: pick(p[k] for p in ps) for k in ("rss_warm", "rss_end", "change", "max_dev", "cpu")}
            yield f"{kind} ({how})", len(ps), dict(row, flat=all(p["flat"] for p in ps))


def table(r):
    """The report as text."""
    a, rate, e = r["args"], r["rate"], r["events"]
    ms = lambda v: f"{v:.1f}" if v is not None else "-"
    lines = [f"sisock soak  {r['when']}  router 127.0.0.1:{r['port']}  {r['cpus']} CPUs  "
             f"{a['duration']:g} s, warm-up {a['warmup']:g} s",
             f"load: {a['nodes']} node processes x {a['rate']:g} blocks/s x {a['samples']} samples x 2 fields; "
             f"{a['consumers']} consumers, {a['pause']:g} s between calls; 1 subscriber",
             f"recording rate (after warm-up): target {rate['target']:.0f} blocks/s, achieved {rate['achieved']:.0f} "
             f"({rate['achieved'] / rate['target']:.1%}); per node median {rate['node_median']:.1f}/s, "
             f"min {rate['node_min']:.1f}/s; loop ticks missed {rate['missed_ticks']}", "",
             f"{'process':<22} {'n':>3} {'RSS warm MiB':>12} {'RSS end MiB':>11} {'change':>7} "
             f"{'max dev':>7} {'flat':>4} {'CPU %':>6}"]
    for label, n, p in kind_rows(r["processes"]):
        lines.append(f"{label:<22} {n:>3} {p['rss_warm'] / 2**20:>12.1f} {p['rss_end'] / 2**20:>11.1f} "
                     f"{p['change']:>+7.1%} {p['max_dev']:>7.1%} {'yes' if p['flat'] else 'NO':>4} "
                     f"{100 * p['cpu']:>6.1f}")
    lines += ["", f"{'call (last 60 s)':<22} {'calls':>7} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8}"]
    labels = {"get_data": "get_data", "get_data_stride": "get_data min_stride=1", "get_fields": "get_fields",
              "get_data_node": "get_data_node", "all": "all"}
    for op, c in r["calls"].items():
        lines.append(f"{labels[op]:<22} {c['calls']:>7} {c['errors']:>7} {ms(c['p50_ms']):>8} {ms(c['p99_ms']):>8}")
    errors = ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "none"
    lines += [f"errors by type: {errors}"]
    lines += [f"  {k}: {v}" for k, v in r["messages"].items()]
    lines += ["", f"live events: published {e['published']}, received {e['received']}, skipped {e['skipped']}, "
                  f"out of order {e['out_of_order']}, silent nodes {e['silent_nodes']}; record -> subscriber "
                  f"p50 {ms(e['delay_p50_ms'])} ms, p99 {ms(e['delay_p99_ms'])} ms",
              "dropped sessions: " + ", ".join(f"{k} {v}" for k, v in r["dropped"].items()), "", "criteria"]
    lines += [f"  {'MET ' if ok else 'MISS'}  {name}: {value}" for name, ok, value in r["criteria"]]
    return "\n".join(lines)


def run(stack, args):
    """Start everything, run the load for ``args.duration`` seconds, return the results."""
    names = [f"soak{i:02d}" for i in range(args.nodes)]
    log(f"starting router, hub, {args.nodes} nodes, consumers and subscriber in {stack.dir}")
    stack.start_router()
    stack.python("hub", "sisock.hub")
    for name in names:
        stack.python(name, "bench.soak_node", "--name", name, "--rate", args.rate, "--samples", args.samples)
    out = {m: os.path.join(stack.dir, f"{m}.json") for m in ("consumers", "subscriber")}
    common = ["--url", stack.url, "--nodes", ",".join(names), "--duration", args.duration + CLIENT_GRACE]
    stack.python("subscriber", "bench.soak_client", "subscriber", *common, "--out", out["subscriber"])
    stack.python("consumers", "bench.soak_client", "consumers", *common, "--out", out["consumers"],
                 "--count", args.consumers, "--pause", args.pause)
    sampler, session = Sampler(stack), client.Client(stack.url, timeout=60)
    start, before = time.monotonic(), None
    log(f"running {args.duration:g} s (warm-up {args.warmup:g} s)")
    while (now := time.monotonic() - start) < args.duration:
        sampler.sample(now)
        if before is None and now >= args.warmup:
            before = {n: session.call(uri.node_uri(n, "soak_stats")) for n in names}
        wake = min(now + args.sample_every, args.duration, args.warmup if before is None else args.duration)
        time.sleep(max(0.0, wake - (time.monotonic() - start)))
    rates = node_rates(session, names, before)
    sampler.sample(time.monotonic() - start)
    session.close()
    for mode in ("subscriber", "consumers"):
        stack.procs[mode].send_signal(signal.SIGUSR1)
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
    parser.add_argument("--samples", type=int, default=10, help="samples per block (default %(default)s)")
    parser.add_argument("--consumers", type=int, default=10, help="consumer sessions (default %(default)s)")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between a consumer's calls")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = 0.2 * args.duration
    if not 0 <= args.warmup < args.duration or min(args.nodes, args.consumers, args.rate, args.samples) < 1:
        parser.error("need 0 <= --warmup < --duration and --nodes, --consumers, --rate, --samples >= 1")

    def terminated(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminated)
    stack = Stack(chunks.CHUNK_BYTES)
    try:
        results = run(stack, args)
    except BaseException:
        stack.stop()
        log(f"soak failed or interrupted; logs of every process in {stack.dir}")
        raise
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

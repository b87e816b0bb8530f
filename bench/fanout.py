"""``python -m bench.fanout``: one node's live data fanned out to many subscribers, with and without proxies.

For each number of proxy workers (``--proxies``, default 0 and 2) and each
number of subscribers (``--subscribers``, default 50 and 200), it starts a
router (`bench.stack`, with that many Crossbar proxy workers on the web
port), the benchmark node (`bench.node`) connected to the router worker
through its Unix socket, as ``sisock up`` connects its own parts, and the
subscribers as WebSocket consumers spread over ``--processes`` processes
(`bench.fanout_sub`). The node then publishes ``--events`` events of one
sample as fast as it can; the table shows the events delivered per second
over all subscribers (first to last arrival), whether every one arrived,
the connections the router dropped (a subscriber that missed its
WebSocket pings while the CPUs were saturated; it reconnects, and misses
the events of the gap),
and the CPU seconds each kind of process spent during the run (the router
worker, the proxies together, the node, the subscribers together). Loops are bounded;
loopback only.
"""

import argparse
import json
import os
import sys

import crochet
import psutil

from bench.node import NAME
from bench.run import blocking, log
from bench.stack import Stack
from sisock import client
from sisock.cli.launcher import CROSSBAR
from sisock.router.directory import prepare_cbdir, socket_path
from sisock.wire import uri


def kind_of(name, cmdline):
    """What a process is: a Crossbar worker by its controller class, else the name it was started as."""
    line = " ".join(cmdline)
    if "RouterController" in line:
        return "router worker"
    if "ProxyController" in line:
        return "proxies"
    return "crossbar controller" if name == "router" else name.rstrip("0123456789")


def cpu_seconds(procs):
    """``{kind: CPU seconds}`` of ``procs`` (name -> Popen) and their children, by `kind_of`."""
    out = {}
    for name, proc in procs.items():
        if proc.poll() is not None:
            continue
        p = psutil.Process(proc.pid)
        for q in [p] + p.children(recursive=True):
            try:
                times, kind = q.cpu_times(), kind_of(name, q.cmdline())
            except psutil.NoSuchProcess:
                continue
            out[kind] = out.get(kind, 0.0) + times.user + times.system
    return out


def one_run(proxies, subscribers, args):
    """Start a fresh stack, fan out, return the row of the table."""
    stack = Stack(args.chunk_bytes)
    try:
        cbdir = prepare_cbdir(os.path.join(stack.dir, "router"), stack.port, proxies=proxies)
        stack.spawn("router", [CROSSBAR, "start", "--cbdir", cbdir], ready="NODE_BOOT_COMPLETE")
        stack.env["SISOCK_URL"] = f"unix://{socket_path(cbdir)}"
        stack.python("node", "bench.node", "--samples", 1000)
        per = [subscribers // args.processes + (i < subscribers % args.processes) for i in range(args.processes)]
        outs = [os.path.join(stack.dir, f"sub{i}.json") for i in range(len(per))]
        for i, (n, out) in enumerate(zip(per, outs, strict=True)):
            stack.python(f"sub{i}", "bench.fanout_sub", "--url", stack.url, "--sessions", n, "--events",
                         args.events, "--out", out)
        servers = {name: stack.procs[name] for name in ("router", "node")}
        before = cpu_seconds(servers)
        driver = blocking(client.connect, f"unix://{socket_path(cbdir)}")
        blocking(driver.call, uri.node_uri(NAME, "live"), args.events, 1, 0)
        for i in range(len(per)):
            stack.procs[f"sub{i}"].wait(args.timeout + 60)
        after = cpu_seconds(servers)
        blocking(driver.close)
        with open(os.path.join(stack.dir, "router.log"), errors="replace") as fp:
            dropped = fp.read().count("dropping connection")
        results = []
        for out in outs:
            with open(out) as fp:
                results.append(json.load(fp))
    except BaseException:
        stack.stop()
        log(f"fan-out run failed; logs in {stack.dir}")
        raise
    stack.stop()
    stack.remove()
    received = sum(r["received"] for r in results)
    span = max(r["last"] for r in results) - min(r["first"] for r in results)
    cpu = {kind: after.get(kind, 0.0) - before.get(kind, 0.0) for kind in after}
    cpu["subscribers"] = sum(r["cpu_s"] for r in results)
    return {"proxies": proxies, "subscribers": subscribers, "sent": args.events, "received": received,
            "expected": args.events * subscribers, "deliveries_per_s": received / span if span > 0 else None,
            "cpu_s": cpu, "dropped_connections": dropped}


def table(rows, load):
    lines = [f"fan-out of one node's live events (1 sample each) to WebSocket subscribers; {os.cpu_count()} CPUs, "
             f"load average {load[0]:.1f} at the start, {load[1]:.1f} at the end", "",
             f"{'proxies':>7} {'subscr.':>7} {'delivered/s':>12} {'complete':>9} {'dropped':>7}  "
             "CPU seconds by process"]
    for r in rows:
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["cpu_s"].items()) if v >= 0.05)
        rate = f"{r['deliveries_per_s']:.0f}" if r["deliveries_per_s"] else "-"
        lines.append(f"{r['proxies']:>7} {r['subscribers']:>7} {rate:>12} "
                     f"{100 * r['received'] / r['expected']:>8.1f}% {r['dropped_connections']:>7}  {cpu}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--proxies", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--events", type=int, default=1000, help="events the node publishes per run")
    parser.add_argument("--processes", type=int, default=2, help="subscriber processes")
    parser.add_argument("--timeout", type=float, default=120.0, help="most seconds a run may deliver for")
    parser.add_argument("--chunk-bytes", type=int, default=1 << 20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    crochet.setup()
    load = [os.getloadavg()[0]]
    rows = []
    for proxies in args.proxies:
        for subscribers in args.subscribers:
            rows.append(one_run(proxies, subscribers, args))
            log(f"proxies {proxies}, {subscribers} subscribers: {rows[-1]['deliveries_per_s']} deliveries/s")
    load.append(os.getloadavg()[0])
    print(json.dumps({"load": load, "rows": rows}, indent=2) if args.json else table(rows, load))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench``: every benchmark number side by side, from one run on one router.

Starts a Crossbar router on a free loopback port, the hub, the benchmark
node (`bench.node`, holding ``--samples`` recorded samples), the bare
Autobahn baseline (`bench.bare`) and the Grafana bridge; measures

- ``get_data`` of 1e5, 1e6, 1e7 samples (float64 ``t`` + one float64
  field) through the sisock client (raw arrays, chunks), as MessagePack
  lists, as JSON lists, and the bare raw-bytes RPC (the ceiling);
- live events/s and samples/s node -> router -> subscriber versus a bare
  Autobahn publisher on the same router and on the baseline, a bare
  Crossbar router with static permissions and no sisock in it (started in
  the same run, `bench.stack.bare_router_config`), and p50/p99 latency at
  1,000 events/s;
- the p50 of a 1-sample ``get_data`` through the sisock stack versus a bare
  call of the same answer through the baseline router;
- the bridge's ``/query`` of all samples down to 1,000 points (mean and
  min/max envelope);
- the node's RSS per recorded sample;
- the history row (`bench.bench_history.bench_row`): ``get_data`` of
  1,000 points over a store of ``--history-days`` days (7; a 1 Hz node
  with 12 fields, built in the run) through the router, next to the raw
  read and downsampling every read took before the tiers;

and prints a table (medians of the repeats) with the targets, or
JSON with ``--json``. Loops are bounded; a full run takes a few minutes.
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
from datetime import UTC, datetime

import crochet
from autobahn.wamp.exception import ApplicationError

from bench import bench_history, measure
from bench.bare import NAME as BARE
from bench.measure import blocking
from bench.node import DT, NAME, T0
from bench.stack import Stack, free_port, run_and_report
from sisock import client
from sisock.wire import chunks, uri

SIZES = (100_000, 1_000_000, 10_000_000)
VARIANTS = ("sisock", "msgpack_lists", "json_lists", "bare_raw")


class NotMeasured(Exception):
    """A measurement failed every time it was tried (`measured`); the message says why."""


#: Seconds, from its first failure, during which a measurement is tried again (``--retry-for``).
RETRY_FOR = 120.0
#: Seconds between two tries of a failed measurement.
RETRY_PAUSE = 1.0


def measured(what, retry_for, call, *args):
    """``call(*args)``, tried again while it raises, for up to ``retry_for`` seconds after its first failure.

    On a busy machine a part of the stack can miss the router's pings and
    lose its connection for a while (every sisock process connects again by
    itself, and `connections_intact` reports it): the measurement is then
    made again once the part is back, instead of ending the run.

    Parameters
    ----------
    what : str
        The measurement, for the lines that say it failed.
    retry_for : float
        Seconds.
    call : callable
        Makes the measurement in this thread and returns its result (`blocking`, for a Deferred).

    Raises
    ------
    NotMeasured
        If it still fails ``retry_for`` seconds after its first failure.
    """
    deadline = None
    while True:
        try:
            return call(*args)
        except Exception as exc:  # a lost connection, a callee gone for a while, a call that timed out
            why = f"{exc.error}: {exc.args[0] if exc.args else ''}" if isinstance(exc, ApplicationError) else (
                f"{type(exc).__name__}: {exc}")
            if deadline is None:
                deadline = time.monotonic() + retry_for
                log(f"{what} failed ({why}); trying again for up to {retry_for:g} s")
            elif time.monotonic() > deadline:
                raise NotMeasured(f"{what}: {why}") from exc
            time.sleep(RETRY_PAUSE)


def repeats_for(n, variant, args):
    """How many times to repeat one get_data measurement (slow variants less at large sizes)."""
    if variant == "json_lists" and n >= 10_000_000 and not args.full:
        return 0
    if variant in ("json_lists", "msgpack_lists") and n >= 1_000_000:
        return 1
    return args.repeats if n < 10_000_000 else max(1, args.repeats // 2)


def bench_memory(sessions, args):
    """The node's RSS before and after it filled its buffer: `bench.node` ``memory()`` and bytes per sample."""
    memory = measured("memory", args.retry_for, blocking, sessions["binary"].call, uri.node_uri(NAME, "memory"))
    memory["bytes_per_sample"] = (memory["rss_after"] - memory["rss_before"]) / memory["samples"]
    memory["rss_per_sample"] = memory["rss_after"] / memory["samples"]
    return memory


def bench_get_data(sessions, args):
    """``{n: {variant: median seconds}}``; checks every call returned ``n`` samples."""
    calls = {"sisock": (measure.sisock_get_data, sessions["binary"]),
             "msgpack_lists": (measure.list_get_data, sessions["binary"]),
             "json_lists": (measure.json_get_data, sessions["json"]),
             "bare_raw": (measure.bare_get_raw, sessions["binary"])}
    out = {}
    for n in (s for s in SIZES if s <= args.samples):
        times = {v: [] for v in VARIANTS}
        for r in range(max(repeats_for(n, v, args) for v in VARIANTS)):
            for v in VARIANTS:
                if r < repeats_for(n, v, args):
                    func, session = calls[v]
                    seconds, got = measured(f"get_data {n:.0e} {v}", args.retry_for, blocking, func, session,
                                            n)
                    if got != n:
                        raise RuntimeError(f"{v} get_data of {n} samples returned {got}")
                    times[v].append(seconds)
        out[n] = {v: statistics.median(ts) if ts else None for v, ts in times.items()}
        log(f"get_data {n:.0e}: " + ", ".join(f"{v} {s:.3f} s" for v, s in out[n].items() if s))
    measured("get_data after the large ones", args.retry_for, blocking, measure.sisock_get_data,
             sessions["binary"], 10)  # the node still answers
    return out


#: Rows of the live table: label -> (session key, publisher).
LIVE = {"sisock node": ("binary", NAME), "bare on sisock": ("binary", BARE), "bare Crossbar": ("baseline", BARE)}


def bench_live(sessions, args):
    """Rates and latencies of each `LIVE` row, medians of interleaved repeats.

    Runs on a quiet router (before the get_data runs, whose garbage the
    router would still be collecting).
    """
    runs = {"small": (args.events, 1, 0), "blocks": (args.events // 5, 1000, 0), "paced": (3000, 1, 1000)}
    samples = {label: {kind: [] for kind in runs} for label in LIVE}
    for _ in range(args.live_repeats):
        for kind, (n, block, rate) in runs.items():
            for label, (key, who) in LIVE.items():
                samples[label][kind].append(measured(f"live {label} {kind}", args.retry_for, blocking,
                                                     measure.live, sessions[key], who, n, block, rate))
    out = {}
    for label, kinds in samples.items():
        out[label] = {kind: {key: statistics.median(r[key] for r in results) for key in results[0]}
                      for kind, results in kinds.items()}
        log(f"live {label}: " + ", ".join(f"{kind} {r['events_per_s']:.0f} ev/s" for kind, r in out[label].items()))
    return out


#: Consecutive calls of one kind in the 1-sample call test.
RPC_BLOCK = 10


def bench_rpc(sessions, args):
    """Median seconds of a 1-sample ``get_data`` through sisock and of the bare call (both routers).

    Each kind is called in blocks of `RPC_BLOCK` consecutive calls, the
    kinds taking turns in rotating order, ``args.calls`` calls of each in
    all. Single calls taking turns would make each call wake a router and a
    callee that the call before (to the other router) left idle, which
    costs the first kind of every round more than the others; short blocks
    and many turns spread the machine's slow spells (another process, the
    kernel) over every kind alike. In three runs of each on a 2-core VM,
    the ratio of two measurements one after the other on the same
    processes differed by up to 0.18 with blocks of 50 and 600 calls, by
    up to 0.04 with blocks of 10 and 3,000 calls.
    """
    calls = {"sisock get_data": (measure.sisock_get_data, "binary"), "bare on sisock": (measure.bare_get_raw, "binary"),
             "bare Crossbar": (measure.bare_get_raw, "baseline")}
    labels = list(calls)
    times = {label: [] for label in calls}
    for turn in range(max(1, args.calls // RPC_BLOCK)):
        for label in labels[turn % len(labels):] + labels[:turn % len(labels)]:
            func, key = calls[label]
            times[label] += [measured(f"1-sample call {label}", args.retry_for, blocking, func, sessions[key], 1)[0]
                             for _ in range(RPC_BLOCK)]
    out = {label: statistics.median(ts) for label, ts in times.items()}
    log("1-sample call p50: " + ", ".join(f"{label} {s * 1e3:.2f} ms" for label, s in out.items()))
    return out


def query(bridge_url, n, how=None):
    """Seconds of one bridge ``/query`` of ``n`` samples down to 1,000 points."""

    def iso(t):
        return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")

    target = {"target": f"{NAME}::x", "refId": "A"}
    if how:
        target["payload"] = {"downsample": how}
    body = json.dumps({"range": {"from": iso(T0), "to": iso(T0 + n * DT)}, "maxDataPoints": 1000,
                       "targets": [target]}).encode()
    request = urllib.request.Request(f"{bridge_url}/query", body, {"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    seconds = time.perf_counter() - start
    points = len(answer[0]["datapoints"])
    if not 0 < points <= 1000:
        raise RuntimeError(f"bridge /query returned {points} points")
    return seconds


def bench_bridge(bridge_url, args):
    """Median seconds of the bridge's ``/query`` of every sample down to 1,000 points: ``{"mean", "minmax"}``."""
    out = {}
    for how in ("mean", "minmax"):
        what = f"bridge /query {how}"
        measured(what, args.retry_for, query, bridge_url, args.samples, how)  # warm-up: the bridge learns the fields
        out[how] = statistics.median(measured(what, args.retry_for, query, bridge_url, args.samples, how)
                                     for _ in range(args.repeats))
        log(f"bridge /query {how}: {out[how]:.3f} s")
    return out


def connections_intact(stack, sessions):
    """Whether every process still runs and no connection was dropped or lost since the start.

    Sessions reconnect by themselves, so a live process is not enough: the
    router logs every connection it drops, and a session that lost its
    transport gets a new session id.
    """
    with open(os.path.join(stack.dir, "router.log"), errors="replace") as fp:
        dropped = "dropping connection" in fp.read()
    same = all(s.session_id == s.first_session_id for s in sessions.values())
    return not dropped and same and all(p.poll() is None for p in stack.procs.values())


def _get_data_targets(results, args):
    g, rows = results["get_data"].get(1_000_000), []
    if g:
        rows.append(("get_data 1e6 within 1.5x of bare raw bytes", f"{g['sisock'] / g['bare_raw']:.2f}x",
                     g["sisock"] <= 1.5 * g["bare_raw"]))
        rows.append(("get_data 1e6 >= 3x faster than msgpack lists", f"{g['msgpack_lists'] / g['sisock']:.1f}x",
                     g["msgpack_lists"] >= 3 * g["sisock"]))
        rows.append(("get_data 1e6 >= 30x faster than JSON lists", f"{g['json_lists'] / g['sisock']:.1f}x",
                     g["json_lists"] >= 30 * g["sisock"]))
    if 10_000_000 in results["get_data"]:
        rows.append(("1e7 samples complete through chunks, no connection dropped",
                     f"{results['connections_intact']}", results["connections_intact"]))
    return rows


def _live_targets(results, args):
    s, b = results["live"]["sisock node"], results["live"]["bare Crossbar"]
    ratio = s["small"]["events_per_s"] / b["small"]["events_per_s"]
    return [("live events/s >= 90 % of a bare Crossbar router", f"{100 * ratio:.0f} %", ratio >= 0.9),
            ("live >= 1e6 samples/s with blocks of 1,000", f"{s['blocks']['samples_per_s']:.3g}/s",
             s["blocks"]["samples_per_s"] >= 1e6),
            ("live p99 < 5 ms at 1,000 events/s", f"{s['paced']['p99_ms']:.2f} ms", s["paced"]["p99_ms"] < 5)]


def _rpc_targets(results, args):
    ratio = results["rpc"]["sisock get_data"] / results["rpc"]["bare Crossbar"]
    return [("get_data of 1 sample p50 within 1.2x of a bare call on a bare Crossbar router", f"{ratio:.2f}x",
             ratio <= 1.2)]


def _bridge_targets(results, args):
    q = results["bridge"]["mean"]
    return [(f"bridge /query {args.samples:.0e} -> 1,000 points < 250 ms", f"{q * 1e3:.0f} ms", q < 0.25)]


def _history_targets(results, args):
    h = results["history"]
    return [(f"history get_data of 1,000 points over {h['days']} d via the router < 50 ms (the 30-day target)",
             f"{h['router_s'] * 1e3:.1f} ms", h["router_s"] < 0.05)]


def _memory_targets(results, args):
    m = results["memory"]
    return [("node memory < 20 B per recorded sample", f"{m['bytes_per_sample']:.1f} B", m["bytes_per_sample"] < 20)]


#: The measurements of a run, with the rows of `targets` each gives, in the order of the report.
SECTIONS = {"get_data": _get_data_targets, "live": _live_targets, "rpc": _rpc_targets, "bridge": _bridge_targets,
            "memory": _memory_targets, "history": _history_targets}


def targets(results, args):
    """``[(target, measured text, met)]``, the targets next to the numbers; a measurement that
    failed (``results[section]`` None) gives one missed row saying so."""
    rows = []
    for section, make in SECTIONS.items():
        rows += make(results, args) if results[section] is not None else [
            (f"the {section} targets", "not measured", False)]
    return rows


def table(results, args):
    """The report as text."""
    lines = [f"sisock bench  {results['when']}  router 127.0.0.1:{results['port']}  "
             f"chunk {args.chunk_bytes / 2**20:g} MiB  {os.cpu_count()} CPUs  load average "
             f"{results['load'][0]:.1f} at the start, {results['load'][1]:.1f} at the end"]
    for section, why in results["failed"].items():
        lines += ["", f"{section}: not measured ({why})"]
    if results["get_data"] is not None:
        lines += _get_data_table(results["get_data"])
    if results["live"] is not None:
        lines += ["", f"live, node -> router -> subscriber, median of {args.live_repeats} ({args.events} events "
                      f"of 1 sample as fast as possible; {args.events // 5} of 1,000 samples; latency: 3,000 at "
                      "1,000/s)", f"{'publisher':>14} {'events/s':>10} {'samples/s':>12} {'p50 ms':>8} {'p99 ms':>8}"]
        for label in LIVE:
            r = results["live"][label]
            lines.append(f"{label:>14} {r['small']['events_per_s']:>10.0f} {r['blocks']['samples_per_s']:>12.3g} "
                         f"{r['paced']['p50_ms']:>8.2f} {r['paced']['p99_ms']:>8.2f}")
    if results["rpc"] is not None:
        lines += ["", f"1-sample call, median of {args.calls} in blocks of {RPC_BLOCK}: " + ", ".join(
            f"{label} {seconds * 1e3:.2f} ms" for label, seconds in results["rpc"].items())]
    b, m = results["bridge"], results["memory"]
    lines.append("")
    if b is not None:
        lines.append(f"bridge /query {args.samples:.0e} samples -> 1,000 points: mean {b['mean'] * 1e3:.0f} ms, "
                     f"min/max envelope {b['minmax'] * 1e3:.0f} ms")
    if m is not None:
        lines.append(f"node RSS: {m['rss_after'] / 2**20:.0f} MiB holding {m['samples']:.0e} samples; buffer "
                     f"{m['bytes_per_sample']:.1f} B/sample (RSS growth), whole process "
                     f"{m['rss_per_sample']:.1f} B/sample")
    if results["history"] is not None:
        h = results["history"]
        lines.append(f"history, 2 fields of a {h['days']}-day 1 Hz x 12-field store -> 1,000 points: get_data via the "
                     f"router {h['router_s'] * 1e3:.1f} ms, raw get_data + downsample {h['raw_s'] * 1e3:.0f} ms")
    lines.append("connections: " + ("none dropped" if results["connections_intact"] else
                                    "some dropped and made again during the run (see the router's log)"))
    lines += ["", "targets"]
    lines += [f"  {'MET ' if ok else 'MISS'}  {name}: {value}" for name, value, ok in results["targets"]]
    return "\n".join(lines)


def _get_data_table(get_data):
    lines = ["", "get_data (float64 t + one float64 field), median seconds",
             f"{'samples':>10} {'sisock':>9} {'msgp.lists':>10} {'JSON lists':>10} {'bare raw':>9} "
             f"{'sis/bare':>8} {'msgp/sis':>8} {'JSON/sis':>8}"]

    def fmt(v):
        return f"{v:.3f}" if v else "skipped"

    def ratio(a, b):
        return f"{a / b:.1f}x" if a and b else "-"

    for n, g in get_data.items():
        lines.append(f"{n:>10.0e} {fmt(g['sisock']):>9} {fmt(g['msgpack_lists']):>10} {fmt(g['json_lists']):>10} "
                     f"{fmt(g['bare_raw']):>9} {ratio(g['sisock'], g['bare_raw']):>8} "
                     f"{ratio(g['msgpack_lists'], g['sisock']):>8} {ratio(g['json_lists'], g['sisock']):>8}")
    return lines


def log(text):
    print(text, file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=SIZES[-1], help="largest get_data and recorded samples")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the quick measurements (median)")
    parser.add_argument("--events", type=int, default=20_000, help="events of the small-event rate test")
    parser.add_argument("--live-repeats", type=int, default=5, help="repeats of each live measurement (median)")
    parser.add_argument("--calls", type=int, default=3000,
                        help=f"1-sample calls of each kind (median; in blocks of {RPC_BLOCK})")
    parser.add_argument("--chunk-bytes", type=int, default=chunks.CHUNK_BYTES, help="SISOCK_CHUNK_BYTES")
    parser.add_argument("--full", action="store_true", help="also JSON lists at 1e7 (about a minute)")
    parser.add_argument("--history-days", type=int, default=7,
                        help="days of the store of the history row (1 Hz x 12 fields, built in the run)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--retry-for", type=float, default=RETRY_FOR, metavar="SECONDS",
                        help="try a failed measurement again for this long (a part of the stack that lost its "
                             "connection on a busy machine joins again) before reporting it not measured "
                             "(default %(default)g)")
    args = parser.parse_args(argv)

    stack = Stack(args.chunk_bytes)
    crochet.setup()
    def run():
        log(f"starting router, hub, node ({args.samples:.0e} samples), bare baseline, bridge in {stack.dir}")
        stack.start_router()
        stack.python("hub", "sisock.hub")
        stack.python("node", "bench.node", "--samples", args.samples)
        stack.python("bare", "bench.bare", "--samples", args.samples, "--chunk-bytes", args.chunk_bytes)
        bridge_port = free_port()
        stack.python("bridge", "grafana_bridge", "--port", bridge_port)
        stack.start_bare_router()
        stack.python("bare_base", "bench.bare", "--samples", args.samples, "--chunk-bytes", args.chunk_bytes,
                     "--anonymous", "--url", stack.bare_url)
        sessions = {"binary": blocking(client.connect, stack.url),
                    "json": blocking(lambda: client.connect(stack.url, binary=False)),
                    "baseline": blocking(client.connect, stack.bare_url)}
        for session in sessions.values():
            session.first_session_id = session.session_id
        results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "port": stack.port,
                   "load": [os.getloadavg()[0]], "failed": {}}
        measurements = {"memory": (bench_memory, sessions), "live": (bench_live, sessions),
                        "rpc": (bench_rpc, sessions), "get_data": (bench_get_data, sessions),
                        "bridge": (bench_bridge, f"http://127.0.0.1:{bridge_port}"),
                        "history": (bench_history.bench_row, stack)}
        for section, (func, first) in measurements.items():
            try:
                results[section] = func(first, args)
            except NotMeasured as exc:
                results[section], results["failed"][section] = None, str(exc)
                log(f"{section}: not measured ({exc})")
        results["connections_intact"] = connections_intact(stack, sessions)
        results["load"].append(os.getloadavg()[0])
        results["targets"] = targets(results, args)
        for session in sessions.values():
            blocking(session.close)
        return results

    return run_and_report(stack, run, table, args)

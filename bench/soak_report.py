"""The soak's report (`bench.soak`): results of a run gathered into one dict, and printed as a table."""

import os
import statistics
from datetime import UTC, datetime

from bench.soak_client import OPERATIONS, Histogram

#: Largest RSS change after warm-up, as a fraction, for a process to count as flat.
FLAT = 0.10


def dropped_sessions(stack, names, consumers, subscriber):
    """Every sign of a session that was dropped during the run, by where it shows."""
    def read(name):
        with open(os.path.join(stack.dir, f"{name}.log"), errors="replace") as fp:
            return fp.read()
    # A session that ends other than by goodbye logs "sisock: session left" (`sisock.connection`); one that
    # comes back may fail its onJoin (e.g. procedure_already_exists) and never print READY again.
    return {"node or hub session lost": sum(read(n).count("sisock: session left") for n in [*names, "hub"]),
            "data_node_subtracted": len(subscriber["subtracted"]),
            "router dropped a connection": read("router").count("dropping connection"),
            "client reconnected": consumers["reconnects"] + subscriber["reconnects"]}


def collect(stack, sampler, names, consumers, subscriber, rates, args):
    """The results of a run as a JSON-able dict.

    Parameters
    ----------
    stack : bench.stack.Stack
        The run's stack (its logs are read for dropped sessions).
    sampler : bench.soak.Sampler
        The RSS and CPU samples.
    names : list of str
        The nodes' names.
    consumers, subscriber : dict
        What the client processes wrote (`bench.soak_client`).
    rates : dict
        `bench.soak.node_rates`.
    args : argparse.Namespace
        The soak's options.

    Returns
    -------
    dict
        ``rate``, ``processes``, ``calls``, ``errors``, ``events``, ``dropped``,
        ``rss_mib`` and ``criteria``, a list of ``(criterion, met, measured text)``.
    """
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
    seen = [(c["last"] - c["first"]) / (c["last_t"] - c["first_t"]) for c in nodes.values()
            if c["last"] is not None and c["last_t"] > c["first_t"]]
    criteria = [("no error", not errors, f"{sum(errors.values())} errors"),
                ("no live event lost", lost == 0, f"{events['skipped']} skipped, {events['out_of_order']} "
                                                  f"out of order, {events['silent_nodes']} silent nodes"),
                ("no dropped session", not any(dropped.values()), f"{sum(dropped.values())} dropped"),
                (f"every RSS flat within {FLAT:.0%} after warm-up", all(p["flat"] for p in processes.values()),
                 f"max deviation {max((p['max_dev'] for p in processes.values()), default=0):.1%}")]
    return {"when": datetime.now(UTC).isoformat(timespec="seconds"), "port": stack.port,
            "cpus": os.cpu_count(), "args": {k: v for k, v in vars(args).items() if k != "json"},
            "rate": {"target": args.nodes * args.rate, "seen": sum(seen), "seen_nodes": len(seen),
                     "seen_node_min": min(seen, default=None), "answered": len(rate), "achieved": sum(rate),
                     "node_median": statistics.median(rate) if rate else None, "node_min": min(rate, default=None),
                     "missed_ticks": rates["missed_ticks"]},
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

    def ms(v):
        return f"{v:.1f}" if v is not None else "-"

    followed = a["follow"] * a["rate"]
    seen = (f"recording: target {rate['target']:.0f} blocks/s; {rate['seen']:.0f} blocks/s "
            f"({rate['seen'] / followed:.1%} of their target) seen live from the {rate['seen_nodes']} of "
            f"{a['follow']} followed nodes (their block numbers)")
    if rate["seen_nodes"]:
        seen += f", per node min {rate['seen_node_min']:.1f}/s"
    stats = (f"  after warm-up (soak_stats): {rate['achieved']:.0f} blocks/s by the {rate['answered']} of "
             f"{a['nodes']} nodes that answered")
    if rate["answered"]:
        stats += (f", per node median {rate['node_median']:.1f}/s, min {rate['node_min']:.1f}/s, "
                  f"loop ticks missed {rate['missed_ticks']}")
    lines = [f"sisock soak  {r['when']}  router 127.0.0.1:{r['port']}  {r['cpus']} CPUs  "
             f"{a['duration']:g} s, warm-up {a['warmup']:g} s",
             f"load: {a['nodes']} node processes x {a['rate']:g} blocks/s (in bursts of {a['burst']}) x {a['samples']} "
             f"samples x 2 fields; "
             f"{a['consumers']} consumers, {a['pause']:g} s between calls; 1 subscriber following {a['follow']} "
             f"nodes", seen, stats, "",
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

"""``sisock query``: one read across every node a filter selects (`sisock.hub.fanout`).

Runs as an anonymous consumer: the hub selects the live, enabled nodes and
this command's session asks each of them, a bounded number at a time.
"""

from twisted.internet import defer

from sisock.cli import support as cli
from sisock.cli.data import time_table, write_csv
from sisock.cli.nodes import FILTER_HELP
from sisock.hub import fanout


def _filter_argument(parser):
    parser.add_argument("filter", nargs="+", metavar="FILTER", help="nodes to read: a name, a glob "
                        "('fleet.lamp*'), attribute=value or tag=value terms, or ALL")


def query_arguments(parser):
    """Options of ``sisock query``."""
    parser.description = (
        "Read FIELD on every live node FILTER selects, in parallel, and print one series per group "
        "(--aggregate) or a line per node. Nodes that fail or do not answer are listed, never hidden.")
    parser.epilog = f"""\
examples:
  sisock query 'fleet.lamp*' --field power_w --start -1d --min-stride 300 --aggregate sum
  sisock query zone=north kind=led --field power_w --aggregate mean --by street --min-stride 60
  sisock query ALL --field power_w --start -10m            the last value of every node
  sisock query 'fleet.*' --field power_w --aggregate sum --by zone --min-stride 300 --csv power.csv

{FILTER_HELP}"""
    _filter_argument(parser)
    parser.add_argument("--field", action="append", required=True, metavar="FIELD",
                        help="field to read (repeatable)")
    parser.add_argument("--start", type=cli.parse_time, default=-3600.0, help="start (default: an hour ago)")
    parser.add_argument("--end", type=cli.parse_time, default=0.0, help="end, exclusive (default: now)")
    parser.add_argument("--min-stride", type=float, default=None, metavar="SECONDS",
                        help="one value per bucket of this many seconds (required with --aggregate)")
    parser.add_argument("--aggregate", choices=fanout.AGGREGATES, help="combine the nodes on the common grid")
    parser.add_argument("--by", dest="group_by", metavar="TAG", help="one series per value of this tag")
    parser.add_argument("--concurrency", type=int, default=fanout.DEFAULT_CONCURRENCY,
                        help="node calls in flight at once (default %(default)s)")
    parser.add_argument("--csv", metavar="FILE", help="write the aggregate as CSV to FILE (- for stdout)")
    cli.add_arguments(parser)


def _columns(answer):
    """``{"group/field" or "group": values}`` of an aggregate answer."""
    single = len(answer["field"]) == 1
    return {(g if single else f"{g}/{f}") or "(no tag)": values
            for g, entry in answer["groups"].items() for f, values in entry["data"].items()}


def _report_errors(answer):
    errors = answer["errors"]
    if errors:
        out = cli.console(stderr=True)
        for name, reason in list(errors.items())[:10]:
            out.print(f"{name}: {reason}", style="red")
        if len(errors) > 10:
            out.print(f"... and {len(errors) - 10} more node(s) failed", style="red")


def _per_node_table(answer):
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    table.add_column("NODE")
    table.add_column("SAMPLES", justify="right")
    for f in answer["field"]:
        table.add_column(Text(f"LAST {f}"), justify="right")
    for name, result in answer["results"].items():
        found = [fanout.field_series(result, f) for f in answer["field"]]
        samples = max((len(s[0]) for s in found if s), default=0)
        last = [Text(str(cli.plain(s[1][-1])) if s and len(s[1]) else "-") for s in found]
        table.add_row(Text(name), str(samples), *last)
    for name, reason in answer["errors"].items():
        table.add_row(Text(name), Text("failed", style="red"), Text(reason, style="red"))
    cli.console().print(table)


@defer.inlineCallbacks
def _query(session, args):
    q = fanout.parse(" ".join(args.filter), args.field, args.start, args.end, args.min_stride, args.aggregate,
                     args.group_by, concurrency=args.concurrency, timeout=args.timeout)
    answer = yield fanout.query(session, q)
    if args.json:
        cli.print_json(answer)
    elif args.aggregate and args.csv:
        write_csv(args.csv, answer["t"], {k: cli.plain(v) for k, v in _columns(answer).items()})
    elif args.aggregate:
        args.node = f"{args.aggregate} of {len(answer['selected'])} node(s)"
        time_table(answer["t"], {k: cli.plain(v) for k, v in _columns(answer).items()}, args)
    else:
        _per_node_table(answer)
    _report_errors(answer)
    if not answer["selected"]:
        cli.console(stderr=True).print("no live node matched the filter")
        return cli.NOT_FOUND
    return cli.ERROR if answer["errors"] else cli.OK


def query(args):
    """Run ``sisock query``."""
    return cli.run_command(args, _query)


# -- sisock faults -----------------------------------------------------------------

def _day(text):
    """``--day``: ``today``, ``yesterday`` or ``YYYY-MM-DD`` as ``(start, end)`` UNIX seconds, a UTC day."""
    import argparse
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    try:
        day = {"today": today, "yesterday": today - dt.timedelta(days=1)}.get(text) or dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be today, yesterday or YYYY-MM-DD, got {text!r}") from None
    start = dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()
    return start, start + 86400.0


def faults_arguments(parser):
    """Options of ``sisock faults``."""
    parser.description = ("What went wrong: the fault events of every live node FILTER selects (default ALL) "
                          "during a UTC day or a time range, counted per node and code.")
    parser.epilog = f"""\
examples:
  sisock faults                              today (UTC) on every node
  sisock faults --day yesterday 'fleet.*'
  sisock faults --day 2026-11-26 zone=north --events
  sisock faults --start=-2h kind=sodium --json

{FILTER_HELP}"""
    parser.add_argument("filter", nargs="*", metavar="FILTER", help="nodes to ask (default: ALL)")
    parser.add_argument("--day", type=_day, metavar="DAY", help="a UTC day: today (default), yesterday or YYYY-MM-DD")
    parser.add_argument("--start", type=cli.parse_time, help="start of a range instead of --day")
    parser.add_argument("--end", type=cli.parse_time, default=0.0, help="end of that range (default: now)")
    parser.add_argument("--events", action="store_true", help="list every event, not only the counts")
    cli.add_arguments(parser)


def _range(args):
    if args.start is not None:
        if args.day:
            raise cli.Failed(cli.USAGE, "give either --day or --start/--end, not both")
        return args.start, args.end
    return args.day or _day("today")


def _faults_table(report, events):
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    if events:
        for column in ("TIME (UTC)", "NODE", "CODE", "MESSAGE"):
            table.add_column(column)
        for e in report["events"]:
            table.add_row(cli.fmt_time(e["t"]), Text(e["node"]), Text(e["code"]), Text(e["message"]))
    else:
        for column in ("NODE", "CODE", "COUNT"):
            table.add_column(column, justify="right" if column == "COUNT" else "left")
        for node, codes in report["counts"].items():
            for code, n in codes.items():
                table.add_row(Text(node), Text(code), str(n))
    out = cli.console()
    if report["total"]:
        out.print(table)
    codes = ", ".join(f"{code} {n}" for code, n in report["by_code"].items())
    out.print(f"{report['total']} fault(s) on {len(report['counts'])} of {len(report['selected'])} node(s) in "
              f"[{cli.fmt_time(report['start'])}, {cli.fmt_time(report['end'])})" + (f": {codes}" if codes else ""),
              style="dim")


@defer.inlineCallbacks
def _faults(session, args):
    from sisock.hub import reports

    start, end = _range(args)
    report = yield reports.faults(session, " ".join(args.filter) or "ALL", start, end, timeout=args.timeout)
    if args.json:
        cli.print_json(report)
    else:
        _faults_table(report, args.events)
    _report_errors(report)
    if not report["selected"]:
        cli.console(stderr=True).print("no live node matched the filter")
        return cli.NOT_FOUND
    return cli.ERROR if report["errors"] else cli.OK


def faults(args):
    """Run ``sisock faults``."""
    return cli.run_command(args, _faults)

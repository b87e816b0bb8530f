"""``sisock query``, ``sisock faults`` and ``sisock energy``: reading every node a filter selects (`sisock.hub`).

Runs as an anonymous consumer: the hub selects the live, enabled nodes and
this command's session asks each of them, a bounded number at a time.
"""

from twisted.internet import defer

from sisock.cli import output
from sisock.cli import support as cli
from sisock.cli.data import time_table, write_csv
from sisock.cli.nodes import FILTER_HELP
from sisock.cli.options import TIMES_HELP, parse_time
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

{TIMES_HELP}

{FILTER_HELP}"""
    _filter_argument(parser)
    parser.add_argument("--field", action="append", required=True, metavar="FIELD",
                        help="field to read (repeatable)")
    parser.add_argument("--start", type=parse_time, default=-3600.0, help="start (default: an hour ago)")
    parser.add_argument("--end", type=parse_time, default=0.0, help="end, exclusive (default: now)")
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


def _status(answer):
    """Say which nodes failed (the first 10) or that none matched, on stderr; the exit status.

    ``answer`` has ``"selected"`` (names) and ``"errors"`` ({name: reason}), as every
    fleet query and report does: 0 when every selected node answered, 1 when one
    failed, 3 when none matched.
    """
    errors = answer["errors"]
    out = output.console(stderr=True)
    for name, reason in list(errors.items())[:10]:
        out.print(f"{name}: {reason}", style="red")
    if len(errors) > 10:
        out.print(f"... and {len(errors) - 10} more node(s) failed", style="red")
    if not answer["selected"]:
        out.print("no live node matched the filter")
        return cli.NOT_FOUND
    return cli.ERROR if errors else cli.OK


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
        last = [Text(str(output.plain(s[1][-1])) if s and len(s[1]) else "-") for s in found]
        table.add_row(Text(name), str(samples), *last)
    for name, reason in answer["errors"].items():
        table.add_row(Text(name), Text("failed", style="red"), Text(reason, style="red"))
    output.console().print(table)


@defer.inlineCallbacks
def _query(session, args):
    args.start, args.end = cli.absolute_range(args.start, args.end)
    q = fanout.parse(" ".join(args.filter), args.field, args.start, args.end, args.min_stride, args.aggregate,
                     args.group_by, concurrency=args.concurrency, timeout=args.timeout)
    answer = yield fanout.query(session, q)
    if args.json:
        output.print_json(answer)
    elif args.aggregate and args.csv:
        write_csv(args.csv, answer["t"], {k: output.plain(v) for k, v in _columns(answer).items()})
    elif args.aggregate:
        args.node = f"{args.aggregate} of {len(answer['selected'])} node(s)"
        time_table(answer["t"], {k: output.plain(v) for k, v in _columns(answer).items()}, args)
    else:
        _per_node_table(answer)
    return _status(answer)


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
    parser.description = ("What went wrong: the fault events of every node FILTER selects (default ALL) "
                          "during a UTC day or a time range, counted per node and code; a node that went "
                          "offline is an 'offline' event, and is listed as not read.")
    parser.epilog = f"""\
examples:
  sisock faults                              today (UTC) on every node
  sisock faults --day yesterday 'fleet.*'
  sisock faults --day 2026-11-26 zone=north --events
  sisock faults --start=-2h kind=sodium --json

{TIMES_HELP}

{FILTER_HELP}"""
    parser.add_argument("filter", nargs="*", metavar="FILTER", help="nodes to ask (default: ALL)")
    parser.add_argument("--day", type=_day, metavar="DAY", help="a UTC day: today (default), yesterday or YYYY-MM-DD")
    parser.add_argument("--start", type=parse_time, help="start of a range instead of --day")
    parser.add_argument("--end", type=parse_time, default=0.0, help="end of that range (default: now)")
    parser.add_argument("--events", action="store_true", help="list every event, not only the counts")
    cli.add_arguments(parser)


def _range(args):
    if args.start is not None:
        if args.day:
            raise cli.Failed(cli.USAGE, "give either --day or --start/--end, not both")
        return cli.absolute_range(args.start, args.end)
    return args.day or _day("today")


def _faults_table(report, events):
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    if events:
        for column in ("TIME (UTC)", "NODE", "CODE", "MESSAGE"):
            table.add_column(column)
        for e in report["events"]:
            table.add_row(output.fmt_time(e["t"]), Text(e["node"]), Text(e["code"]), Text(e["message"]))
    else:
        for column in ("NODE", "CODE", "COUNT"):
            table.add_column(column, justify="right" if column == "COUNT" else "left")
        for node, codes in report["counts"].items():
            for code, n in codes.items():
                table.add_row(Text(node), Text(code), str(n))
    out = output.console()
    if report["total"]:
        out.print(table)
    codes = ", ".join(f"{code} {n}" for code, n in report["by_code"].items())
    span = f"[{output.fmt_time(report['start'])}, {output.fmt_time(report['end'])})"
    out.print(f"{report['total']} fault(s) on {len(report['counts'])} of {len(report['selected'])} node(s) in "
              f"{span}" + (f": {codes}" if codes else "") + _unread_note(report), style="dim")


def _unread_note(report):
    """``"; not read: NAME (reason), ...; disabled: NAME, ..."`` of a fleet report, or ``""``."""
    unread = ", ".join(f"{name} ({reason})" for name, reason in report["unread"].items())
    return (f"; not read: {unread}" if unread else "") + \
        (f"; disabled: {', '.join(report['disabled'])}" if report["disabled"] else "")


@defer.inlineCallbacks
def _faults(session, args):
    from sisock.hub import reports

    start, end = _range(args)
    report = yield reports.faults(session, " ".join(args.filter) or "ALL", start, end, timeout=args.timeout)
    if args.json:
        output.print_json(report)
    else:
        _faults_table(report, args.events)
    return _status(report)


def faults(args):
    """Run ``sisock faults``."""
    return cli.run_command(args, _faults)


# -- sisock energy -----------------------------------------------------------------

def _month(text):
    """``--month``: ``YYYY-MM`` (or ``this``, ``last``) as ``(start, end)`` UNIX seconds, a UTC month."""
    import argparse
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date().replace(day=1)
    try:
        first = {"this": today, "last": (today - dt.timedelta(days=1)).replace(day=1)}.get(text) or \
            dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be YYYY-MM, this or last, got {text!r}") from None
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return tuple(dt.datetime.combine(d, dt.time(), dt.UTC).timestamp() for d in (first, following))


def _tariff(path):
    """``--tariff``: a checked tariff file (`sisock.hub.tariff.load`)."""
    import argparse

    from sisock.hub import tariff
    from sisock.wire.errors import InvalidArgument

    try:
        return tariff.load(path)
    except InvalidArgument as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def energy_arguments(parser):
    """Options of ``sisock energy``."""
    from sisock.hub.reports import ENERGY_FIELD

    parser.description = ("Energy used by every node FILTER selects (default ALL) over a UTC month or a "
                          "time range, from each node's recorded counter (resets handled; a disabled node's "
                          "too), per node or per tag group, priced by a tariff file (flat or by time of day); "
                          "offline nodes are listed as not read.")
    parser.epilog = f"""\
examples:
  sisock energy --month 2026-11 --by zone --tariff tariff.toml
  sisock energy 'fleet.*' --start=-1d --csv energy.csv
  sisock energy zone=north --month last --json

a flat tariff file (TOML):         a day/night tariff:
  currency = "CHF"                   currency = "CHF"
  price = 0.25   # per kWh           timezone = "Europe/Zurich"
                                     [periods.day]
                                     start = "07:00"
                                     price = 0.30
                                     [periods.night]
                                     start = "22:00"
                                     price = 0.18

{TIMES_HELP}

{FILTER_HELP}"""
    parser.add_argument("filter", nargs="*", metavar="FILTER", help="nodes to ask (default: ALL)")
    parser.add_argument("--month", type=_month, metavar="YYYY-MM", help="a UTC month (default: this month)")
    parser.add_argument("--start", type=parse_time, help="start of a range instead of --month")
    parser.add_argument("--end", type=parse_time, default=0.0, help="end of that range (default: now)")
    parser.add_argument("--by", dest="group_by", metavar="TAG", help="one line per value of this tag")
    parser.add_argument("--tariff", type=_tariff, metavar="FILE", help="prices per kWh (TOML); kWh only without")
    parser.add_argument("--field", default=ENERGY_FIELD, help="the energy counter, kWh (default %(default)s)")
    parser.add_argument("--csv", metavar="FILE", help="write the lines as CSV to FILE (- for stdout)")
    cli.add_arguments(parser)


def _text_rows(report):
    """The energy table (`sisock.hub.reports.energy_rows`) as text: kWh to the Wh, cost to the cent."""
    from sisock.hub.reports import energy_rows

    header, rows = energy_rows(report)
    header = [h.upper().replace("_", " ") for h in header]
    header[-1] = f"COST {report['tariff']['currency'] or ''}".strip()
    return header, [[r[0], str(r[1]), *("" if v is None else f"{v:.3f}" for v in r[2:-2]),
                     "" if r[-2] is None else str(r[-2]), "" if r[-1] is None else f"{r[-1]:.2f}"] for r in rows]


def _energy_table(report):
    from rich.table import Table
    from rich.text import Text

    header, rows = _text_rows(report)
    table = Table(box=None, pad_edge=False)
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(Text(r[0]), *r[1:], style="bold" if r[0] == "TOTAL" else None)
    out = output.console()
    out.print(table)
    out.print(f"{report['field']} in [{output.fmt_time(report['start'])}, {output.fmt_time(report['end'])}) on "
              f"{report['total']['nodes']} of {len(report['selected'])} node(s)"
              + (f"; no data: {len(report['no_data'])}" if report["no_data"] else "") + _unread_note(report),
              style="dim")


def _write_rows(path, header, rows):
    import csv
    import sys

    out = sys.stdout if path == "-" else open(path, "w", newline="")
    try:
        csv.writer(out).writerows([header, *([("" if v is None else v) for v in r] for r in rows)])
    finally:
        if out is not sys.stdout:
            out.close()


@defer.inlineCallbacks
def _energy(session, args):
    from sisock.hub import reports, tariff

    if args.start is not None and args.month:
        raise cli.Failed(cli.USAGE, "give either --month or --start/--end, not both")
    start, end = cli.absolute_range(args.start, args.end) if args.start is not None else args.month or _month("this")
    report = yield reports.energy(session, " ".join(args.filter) or "ALL", start, end, args.tariff or tariff.UNPRICED,
                                  args.group_by, args.field, timeout=args.timeout)
    if args.json:
        output.print_json(report)
    elif args.csv:
        _write_rows(args.csv, *reports.energy_rows(report))
    else:
        _energy_table(report)
    return _status(report)


def energy(args):
    """Run ``sisock energy``."""
    return cli.run_command(args, _energy)

"""``sisock fields``, ``sisock get``, ``sisock tail``: one node's data, read as an anonymous consumer.

``sisock call`` (a node's commands and procedures) is `sisock.cli.call`.
"""

import contextlib
import csv
import sys
import time

import numpy as np
from twisted.internet import defer

from sisock.cli import export, output
from sisock.cli import support as cli
from sisock.cli.options import TIMES_HELP, integer_in, parse_time
from sisock.wire import uri

#: Rows of a ``sisock get`` table for people (half from the start, half from the end).
TABLE_ROWS = 20



def _node_argument(parser):
    parser.add_argument("node", metavar="NODE", help="data node name, e.g. weather or fleet.lamp0001")


# -- fields ------------------------------------------------------------------------

def fields_arguments(parser):
    """Options of ``sisock fields``."""
    parser.description = ("List a data node's fields: timeline, type, units, sampling interval, the times of "
                          "the timeline's first and last samples (UTC; - where the node does not say), "
                          "description.")
    parser.epilog = f"examples:\n  sisock fields weather\n  sisock fields sensors --start -10m --json\n\n{TIMES_HELP}\n"
    _node_argument(parser)
    parser.add_argument("--start", type=parse_time, default=1.0, help="start of the range (default: all time)")
    parser.add_argument("--end", type=parse_time, default=0.0, help="end of the range (default: now)")
    cli.add_arguments(parser)


@defer.inlineCallbacks
def _fields(session, args):
    field, timeline = yield session.get_fields(args.node, args.start, args.end)
    if args.json:
        output.print_json({"field": field, "timeline": timeline})
        return cli.OK
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    for column in ("FIELD", "TIMELINE", "TYPE", "UNITS", "INTERVAL", "FIRST (UTC)", "LAST (UTC)", "DESCRIPTION"):
        table.add_column(column)
    for name, meta in sorted(field.items()):
        line = timeline.get(meta["timeline"], {})
        interval = line.get("interval")
        table.add_row(Text(name), Text(meta["timeline"]), meta.get("type") or "", Text(meta.get("units") or ""),
                      "-" if interval is None else f"{interval:g} s", output.fmt_time(line.get("first")),
                      output.fmt_time(line.get("last")), Text(meta.get("description") or ""))
    out = output.console()
    out.print(table if field else f"node {args.node} has no fields with samples in that range")
    return cli.OK


def fields(args):
    """Run ``sisock fields``."""
    return cli.run_command(args, _fields)


# -- get ---------------------------------------------------------------------------

def get_arguments(parser):
    """Options of ``sisock get``."""
    parser.description = ("Read FIELDs of NODE over a time range [start, end) with one get_data call, however "
                          "long the range; a large answer comes in chunks, with a progress bar (on a terminal). "
                          "A table of the first and last samples for people, "
                          "--json for scripts (the get_data shape), --csv FILE for everything, "
                          "--parquet FILE / --netcdf FILE for pandas, pyarrow and xarray: written chunk by chunk "
                          "as the answer arrives, in the memory of a few chunks whatever the range.")
    parser.epilog = f"""\
examples:
  sisock get weather temperature humidity --start 2017-07-15 --end 2017-07-16
  sisock get sensors cpu_percent --start -1h --min-stride 60
  sisock get weather temperature --start 1500076800 --end 1501286400 --csv july.csv
  sisock get weather temperature windspeed --start 1 --end now --parquet apex.parquet --netcdf apex.nc

files (--parquet, --netcdf): written under FILE.<pid>.partial and renamed to
  FILE once complete (a failed or interrupted read leaves no file); an existing
  FILE is an error (exit 2) unless --force. Times are UTC: Parquet column
  "time", timestamp[ns, UTC]; NetCDF coordinate "time_<timeline>", float64
  "seconds since 1970-01-01 00:00:00 UTC" (CF; xarray decodes it). Parquet
  holds one timeline a file: FILE for fields of one timeline, else
  <stem>.<timeline><suffix> (apex.hourly.parquet, apex.minutely.parquet).
  NetCDF: one file, a dimension per timeline. Units, descriptions, types and
  the node, range and min_stride are in the files' metadata (Parquet schema and
  field metadata, NetCDF attributes). A line per file written is printed
  (--json: {{node, start, end, files: [{{path, format, rows, timeline}}]}}). They
  need pip install 'sisock[parquet]' / 'sisock[netcdf]'.

{TIMES_HELP}
"""
    _node_argument(parser)
    parser.add_argument("field", nargs="+", metavar="FIELD", help="fields to read")
    parser.add_argument("--start", type=parse_time, default=-3600.0, help="start (default: an hour ago)")
    parser.add_argument("--end", type=parse_time, default=0.0, help="end, exclusive (default: now)")
    parser.add_argument("--min-stride", type=float, default=None,
                        help="seconds: average in buckets so samples are at least this far apart")
    parser.add_argument("--csv", metavar="FILE",
                        help="write every sample as CSV to FILE (- for stdout): a row per time, every digit of "
                             "each value; fields of timelines that share a time share its row")
    parser.add_argument("--parquet", metavar="FILE",
                        help="write every sample to the Parquet FILE (one per timeline: see below), streamed")
    parser.add_argument("--netcdf", metavar="FILE",
                        help="write every sample to the NetCDF-4 FILE (xarray.open_dataset reads it), streamed")
    parser.add_argument("--force", action="store_true", help="overwrite the --parquet / --netcdf files if they exist")
    cli.add_arguments(parser)


@defer.inlineCallbacks
def _fields_of(session, args, result):
    """Deferred ``{field: timeline}`` of ``args.field``, from ``result``'s timelines, which name their fields.

    Only if the answer does not name them all (a field the node does not
    have, or an original-sisock node that does not say) are the node's
    fields asked for.

    Raises (in the Deferred)
    ------------------------
    sisock.cli.support.Failed
        Not found, for a field of ``args.field`` the node does not have.
    """
    timeline_of = {f: tl for tl, v in result["timeline"].items() for f in v.get("field", ())}
    if not set(args.field) <= set(timeline_of):
        field, _ = yield session.get_fields(args.node, 1, time.time())
        cli.require_fields(args.node, field, args.field)
        timeline_of.update({f: field[f]["timeline"] for f in args.field if f not in timeline_of})
    return timeline_of


@contextlib.contextmanager
def _bytes_bar(node):
    """A progress bar of received bytes on stderr if it is a terminal; yields ``progress(received, total)``."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    bar = output.console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=bar, transient=True, disable=not bar.is_terminal) as progress:
        task = progress.add_task(node, total=None)
        yield lambda received, total: progress.update(task, completed=received, total=total)


@defer.inlineCallbacks
def _read(session, args):
    """Deferred ``(result, {field: timeline})``: one get_data call over ``[args.start, args.end)``.

    A large answer comes in progressive chunks (`sisock.wire.chunks`),
    shown as a progress bar of received bytes on a terminal; each
    timeline's ``field`` lists the wanted fields on it.
    """
    with _bytes_bar(args.node) as progress:
        result = yield session.get_data(args.node, args.field, args.start, args.end, args.min_stride,
                                        progress=progress)
    timeline_of = yield _fields_of(session, args, result)
    result["data"] = {f: result["data"].get(f, np.empty(0)) for f in args.field}
    for tl, entry in result["timeline"].items():
        entry["field"] = [f for f in args.field if timeline_of.get(f) == tl]
    return result, timeline_of


def _wide(result, timeline_of):
    """``(t, {field: object array with None where missing})`` on the union of every timeline's times."""
    ts = [v["t"] for v in result["timeline"].values()]
    t = np.unique(np.concatenate(ts)) if ts else np.empty(0)
    columns = {}
    for f, values in result["data"].items():
        column = np.full(len(t), None, dtype=object)
        tl = result["timeline"].get(timeline_of.get(f))
        if tl is not None and len(values):
            column[np.searchsorted(t, tl["t"])] = output.plain(np.asarray(values))
        columns[f] = column
    return t, columns


def _text(v):
    return "" if v is None else f"{v:.10g}" if isinstance(v, float) else str(v)


def _exact(v):
    """``v`` as CSV text that reads back as the same value: every digit of a float, "" for None."""
    return "" if v is None else repr(v) if isinstance(v, float) else str(v)


def write_csv(path, t, columns):
    """Write ``t`` (UNIX seconds UTC) and ``columns`` ({name: values of len(t)}) as CSV to ``path`` ("-": stdout).

    One row per time of ``t``; a value is written with all its digits
    (a float reads back as the same float64), None as an empty cell.
    """
    out = sys.stdout if path == "-" else open(path, "w", newline="")
    try:
        writer = csv.writer(out)
        writer.writerow(["t", "time_utc", *columns])
        for i, when in enumerate(t):
            writer.writerow([repr(float(when)), output.fmt_time(when), *(_exact(c[i]) for c in columns.values())])
    finally:
        if out is not sys.stdout:
            out.close()


def time_table(t, columns, args):
    """Print ``t`` (UNIX seconds UTC, shown as ISO times) and ``columns`` as a table titled by ``args.node``."""
    from rich.table import Table
    from rich.text import Text

    n = len(t)
    rows = list(range(n)) if n <= TABLE_ROWS else [*range(TABLE_ROWS // 2), None, *range(n - TABLE_ROWS // 2, n)]
    table = Table(box=None, pad_edge=False)
    table.add_column("TIME (UTC)")
    for f in columns:
        table.add_column(Text(f), justify="right")
    for i in rows:
        if i is None:
            table.add_row("...", *("..." for _ in columns))
        else:
            table.add_row(output.fmt_time(t[i]), *(Text(_text(c[i]) or "-") for c in columns.values()))
    out = output.console()
    out.print(table)
    more = "; --csv FILE or --json for every sample" if n > TABLE_ROWS else ""
    out.print(f"{n} sample(s) of {args.node} in [{output.fmt_time(args.start)}, {output.fmt_time(args.end)}){more}",
              style="dim")


@defer.inlineCallbacks
def _get(session, args):
    args.start, args.end = cli.absolute_range(args.start, args.end)
    if args.parquet or args.netcdf:
        with _bytes_bar(args.node) as progress:
            return (yield export.export(session, args, progress))
    result, timeline_of = yield _read(session, args)
    if args.csv:
        write_csv(args.csv, *_wide(result, timeline_of))
    if args.json:
        output.print_json(dict(result, node=args.node, start=args.start, end=args.end))
    elif args.csv != "-":
        time_table(*_wide(result, timeline_of), args)
    return cli.OK


def get(args):
    """Run ``sisock get``."""
    try:
        export.check_options(args)   # before connecting
    except cli.Failed as exc:
        print(f"sisock {args.command}: {exc}", file=sys.stderr)
        return exc.status
    try:
        return cli.run_command(args, _get)
    finally:
        export.discard()   # the files of an export that did not complete


# -- tail --------------------------------------------------------------------------

def tail_arguments(parser):
    """Options of ``sisock tail``."""
    parser.description = ("Print NODE's live samples as they are published, until Ctrl-C (exit status 0) or "
                          "--count blocks. --json prints one JSON object per block.")
    parser.epilog = "examples:\n  sisock tail sensors cpu_percent load_1\n  sisock tail fleet.lamp0001 --json\n"
    _node_argument(parser)
    parser.add_argument("field", nargs="*", metavar="FIELD", help="fields to show (default: all)")
    parser.add_argument("--count", type=integer_in(1), default=None, help="stop after this many blocks")
    cli.add_arguments(parser)


@defer.inlineCallbacks
def _tail(session, args):
    known, _ = yield session.get_fields(args.node, 1, 0)
    cli.require_fields(args.node, known, args.field)
    done = defer.Deferred()
    seen = [0]

    def on_block(event):
        if done.called:
            return
        try:
            show(event)
        except Exception as exc:  # the reader went away (`| head`), or a block we cannot show: end the command
            done.errback(exc)
        else:
            if args.count and seen[0] >= args.count:
                done.callback(cli.OK)

    def show(event):
        data = {f: v for f, v in event.get("data", {}).items() if not args.field or f in args.field}
        if not data:
            return
        if args.json:
            output.print_json({"node": args.node, "timeline": event.get("timeline"), "t": event["t"], "data": data})
        else:
            for i, t in enumerate(event["t"]):
                values = "  ".join(f"{f}={_text(output.plain(v[i]))}" for f, v in sorted(data.items()))
                print(f"{output.fmt_time(t)}  {values}", flush=True)
        seen[0] += 1

    yield session.subscribe(on_block, uri.node_uri(args.node, "data"))
    if not args.json:
        print(f"# live samples of {args.node}; Ctrl-C stops", file=sys.stderr, flush=True)
    return (yield done)


def tail(args):
    """Run ``sisock tail``."""
    return cli.run_command(args, _tail, interrupted=cli.OK)

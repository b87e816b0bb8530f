"""``sisock nodes``, ``sisock enable``, ``sisock disable``, ``sisock forget``: the hub's registry.

They call the hub's ``hub.nodes.*`` procedures (`sisock.hub.management`) as
the ``admin`` role, with the admin secret from ``SISOCK_ADMIN_SECRET`` or
the secrets file.
"""

import time

from twisted.internet import defer

from sisock.cli import output
from sisock.cli import support as cli
from sisock.cli.options import integer_in
from sisock.hub.selection import HOW_TO_SELECT, MAX_LIMIT
from sisock.wire import uri

FILTER_HELP = """\
filters (terms separated by spaces, all must match):
  ALL                 every node
  weather             the node of that name
  'fleet.lamp00*'     names matching a glob (quote it for the shell)
  status=offline      an attribute: name description status connected host pid version authid fields
  zone=north          any other key is a tag (tags.KEY=VALUE says so explicitly); values may be globs
"""

STATUS_STYLE = {"online": "green", "offline": "red", "disabled": "yellow"}


def _bbox(text):
    import argparse

    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"must be WEST,SOUTH,EAST,NORTH in degrees, got {text!r}")
    return values


def nodes_arguments(parser):
    """Options of ``sisock nodes``."""
    parser.description = ("List the data nodes the hub has ever known, with their status, host, when they were "
                          "last seen and their number of fields: the online first, then the disabled, then the "
                          "offline, by name within each, and how many of each the filter matched (\"counts\" "
                          "in --json). Needs the admin secret.")
    parser.epilog = f"""\
examples:
  sisock nodes                             the first 100 nodes: online, disabled, offline
  sisock nodes status=offline              only offline nodes
  sisock nodes 'fleet.*' --limit 50 --offset 50
  sisock nodes --bbox 6.14,46.20,6.15,46.21   nodes located in a box (west,south,east,north)
  sisock nodes --bbox -71,-34,-70,-33         west of Greenwich, south of the equator
  sisock nodes --json | jq '.nodes[].name'

{FILTER_HELP}"""
    parser.add_argument("filter", nargs="*", metavar="FILTER", help="select nodes (default: all)")
    parser.add_argument("--limit", type=integer_in(0, MAX_LIMIT), default=100,
                        help=f"most nodes to show, up to {MAX_LIMIT} (default %(default)s)")
    parser.add_argument("--offset", type=integer_in(0), default=0, help="nodes to skip first (default %(default)s)")
    parser.add_argument("--bbox", type=_bbox, metavar="W,S,E,N",
                        help="only nodes located in this box: longitudes and latitudes in degrees")
    cli.add_arguments(parser, admin=True)


@defer.inlineCallbacks
def _nodes(session, args):
    text = " ".join(args.filter)
    if args.bbox:
        page = yield session.call(uri.HUB_NODES + "search", args.bbox, text, args.limit, args.offset)
    else:
        page = yield session.call(uri.HUB_NODES + "list", text, args.limit, args.offset)
    if args.json:
        output.print_json(page)
    else:
        _table(page)
    return cli.NOT_FOUND if page["total"] == 0 and (text or args.bbox) else cli.OK


def _table(page):
    from rich.table import Table
    from rich.text import Text

    now = time.time()
    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "STATUS", "HOST", "LAST SEEN", "FIELDS"):
        table.add_column(column, justify="right" if column == "FIELDS" else "left", no_wrap=True)
    for node in page["nodes"]:
        status = node["status"]
        style = STATUS_STYLE.get(status, "")
        if status == "disabled" and node["connected"]:
            status = "disabled (connected)"
        table.add_row(Text(node["name"]), Text(status, style=style), Text(node["host"] or "-"),
                      "now" if node["connected"] else output.fmt_ago(node["last_seen"], now),
                      "-" if node["fields"] is None else str(node["fields"]))
    out = output.console()
    if page["nodes"]:
        out.print(table)
    first = page["offset"] + 1
    last = page["offset"] + len(page["nodes"])
    if page["nodes"]:
        summary = f"nodes {first}-{last} of {page['total']} ({_counts(page)})"
    else:
        summary = (f"no node at offset {page['offset']} ({page['total']} in all: {_counts(page)})" if page["total"]
                   else "no node matched")
    if page["nodes"] and last < page["total"]:
        summary += f"; --offset {last} for more"
    out.print(summary, style="dim")


def _counts(page):
    """``1 online, 1 disabled, 500 offline``: how many nodes of each status the filter matched."""
    return ", ".join(f"{n} {status}" for status, n in page["counts"].items())


def nodes(args):
    """Run ``sisock nodes``."""
    return cli.run_command(args, _nodes, admin=True)


# -- enable / disable ------------------------------------------------------------

def _switch_arguments(parser, verb):
    parser.description = (f"{verb.capitalize()} every node matching FILTER in the hub's registry. A disabled node "
                          "stays connected but is hidden from get_data_node and the Grafana bridge, and its "
                          "get_data answers node_disabled. Needs the admin secret.")
    parser.epilog = f"""\
examples:
  sisock {verb} weather
  sisock {verb} 'fleet.lamp00*'
  sisock {verb} zone=north kind=sodium
  sisock {verb} ALL                       every node (an empty filter is refused)

{FILTER_HELP}"""
    parser.add_argument("filter", nargs="*", metavar="FILTER", help=f"nodes to {verb}; {HOW_TO_SELECT}")
    cli.add_arguments(parser, admin=True)


def enable_arguments(parser):
    """Options of ``sisock enable``."""
    _switch_arguments(parser, "enable")


def disable_arguments(parser):
    """Options of ``sisock disable``."""
    _switch_arguments(parser, "disable")


@defer.inlineCallbacks
def _switch(session, args):
    verb = args.command
    answer = yield session.call(uri.HUB_NODES + verb, " ".join(args.filter))
    if args.json:
        output.print_json(answer)
    else:
        changed = answer["changed"]
        unchanged = answer["matched"] - len(changed)
        text = f"{verb}d {len(changed)} node(s)" + (f": {', '.join(changed[:10])}" if changed else "")
        if len(changed) > 10:
            text += f", ... ({len(changed) - 10} more)"
        if unchanged:
            text += f"; {unchanged} matching node(s) were {verb}d already"
        if not answer["matched"]:
            text = "no node matched the filter"
        output.console().print(text)
    return cli.OK if answer["matched"] else cli.NOT_FOUND


def switch(args):
    """Run ``sisock enable`` or ``sisock disable``."""
    return cli.run_command(args, _switch, admin=True)


# -- forget ----------------------------------------------------------------------

def forget_arguments(parser):
    """Options of ``sisock forget``."""
    parser.description = ("Remove an offline node's record from the hub's registry (a connected node is refused). "
                          "If the node comes back it is a new record. Needs the admin secret.")
    parser.epilog = "examples:\n  sisock forget old_thermometer\n"
    parser.add_argument("name", metavar="NAME", help="the node to forget")
    cli.add_arguments(parser, admin=True)


@defer.inlineCallbacks
def _forget(session, args):
    yield session.call(uri.HUB_NODES + "forget", args.name)
    if args.json:
        output.print_json({"forgotten": args.name})
    else:
        output.console().print(f"forgot {args.name}")


def forget(args):
    """Run ``sisock forget``."""
    return cli.run_command(args, _forget, admin=True)

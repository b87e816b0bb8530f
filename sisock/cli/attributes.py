"""``sisock tag``, ``sisock untag``, ``sisock locate``: the admin's edits of a node's attributes.

They call ``hub.nodes.tag``, ``untag`` and ``locate`` (`sisock.hub.management`)
as the ``admin`` role; the edits are kept in the hub's registry across
restarts, over the values the node declares itself.
"""

from twisted.internet import defer

from sisock.cli import output
from sisock.cli import support as cli
from sisock.cli.options import number_in
from sisock.wire import uri


def _pair(text):
    """A ``KEY=VALUE`` argument of ``sisock tag`` as ``(key, value)``; for argparse ``type=``."""
    import argparse

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"a tag is KEY=VALUE (e.g. zone=north), got {text!r}")
    return key, value


def tag_arguments(parser):
    """Options of ``sisock tag``."""
    parser.description = "Set tags on a node in the hub's registry, over its own (admin)."
    parser.epilog = "examples:\n  sisock tag fleet.lamp0001 zone=south owner=city\n"
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("tags", nargs="+", type=_pair, metavar="KEY=VALUE")
    cli.add_arguments(parser, admin=True)


def untag_arguments(parser):
    """Options of ``sisock untag``."""
    parser.description = "Remove tags from a node in the hub's registry (a node's own tag is hidden) (admin)."
    parser.epilog = "examples:\n  sisock untag fleet.lamp0001 owner\n"
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("keys", nargs="+", metavar="KEY")
    cli.add_arguments(parser, admin=True)


def locate_arguments(parser):
    """Options of ``sisock locate``."""
    parser.description = ("Place a node at LAT LON (degrees north, east) in the hub's registry, over its own "
                          "location; --own goes back to the node's own (admin).")
    parser.epilog = "examples:\n  sisock locate fleet.lamp0001 46.2 6.15\n  sisock locate fleet.lamp0001 --own\n"
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("lat", nargs="?", type=number_in(-90, 90, "degrees north"), metavar="LAT")
    parser.add_argument("lon", nargs="?", type=number_in(-180, 180, "degrees east"), metavar="LON")
    parser.add_argument("--own", action="store_true", help="drop the override: the node's own location")
    cli.add_arguments(parser, admin=True)


def _show(record):
    out = output.console()
    own, overrides = record["own"], record["overrides"]
    out.print(f"{record['name']}: tags {record['tags']}, location {record['location']}")
    out.print(f"  node's own: tags {own['tags']}, location {own['location']}", style="dim")
    out.print(f"  admin's:    tags {overrides['tags']}, location {overrides['location']}", style="dim")


@defer.inlineCallbacks
def _edit(session, args):
    if args.command == "tag":
        record = yield session.call(uri.HUB_NODES + "tag", args.name, dict(args.tags))
    elif args.command == "untag":
        record = yield session.call(uri.HUB_NODES + "untag", args.name, args.keys)
    else:
        if args.own == (args.lat is not None or args.lon is not None) or (args.lat is None) != (args.lon is None):
            raise cli.Failed(cli.USAGE, "give LAT and LON in degrees, or --own")
        record = yield session.call(uri.HUB_NODES + "locate", args.name, args.lat, args.lon)
    if args.json:
        output.print_json(record)
    else:
        _show(record)


def edit(args):
    """Run ``sisock tag``, ``untag`` or ``locate``."""
    return cli.run_command(args, _edit, admin=True)

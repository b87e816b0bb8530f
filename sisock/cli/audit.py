"""``sisock audit``: who did what, when, to which node or user, and how it ended.

Calls the hub's ``hub.audit.list`` (`sisock.hub.auditapi`) as a named admin
or operator, or as ``admin`` with the admin secret (`sisock.cli.support`).
"""

import json

from twisted.internet import defer

from sisock.cli import output
from sisock.cli import support as cli
from sisock.cli.options import TIMES_HELP, integer_in, parse_time
from sisock.hub.audit import MAX_LIST
from sisock.wire import uri


def audit_arguments(parser):
    """Options of ``sisock audit``."""
    parser.description = (
        "Show the audit trail, newest first: every change an admin made to the registry (enable, disable, "
        "forget, tag, untag, locate), every command and change an admin or operator sent to a node, the users' "
        "changes and the alerts' acknowledgements, with who made it (the authid the router authenticated), "
        "when (UTC), the target node or user, the arguments and the outcome (ok, or the error). Needs an admin "
        "or an operator: SISOCK_USER and SISOCK_SECRET of a named user, else the admin secret.")
    parser.epilog = f"""\
examples:
  sisock audit                              the newest 1000 entries
  sisock audit --since -1d --user alice     what alice did in the last day
  sisock audit --node brewing --action command
  sisock audit --since 2026-12-01 --until 2026-12-02 --json | jq '.[].action'
  SISOCK_USER=bob SISOCK_SECRET=$(cat bob.secret) sisock audit --user bob   as operator bob

{TIMES_HELP}
"""
    parser.add_argument("--since", type=parse_time, metavar="TIME", help="only entries at or after TIME")
    parser.add_argument("--until", type=parse_time, metavar="TIME", help="only entries before TIME")
    parser.add_argument("--user", metavar="NAME", help="only what user (authid) NAME did")
    parser.add_argument("--node", metavar="NAME", help="only what was done to node (or user) NAME")
    parser.add_argument("--action", metavar="ACTION",
                        help="only this action, or those under it (nodes: nodes.enable, nodes.tag, ...)")
    parser.add_argument("--limit", type=integer_in(1, MAX_LIST), default=1000,
                        help=f"most entries, the newest, up to {MAX_LIST} (default %(default)s)")
    cli.add_arguments(parser, admin=True)


@defer.inlineCallbacks
def _audit(session, args):
    filters = {"since": args.since, "until": args.until, "user": args.user, "node": args.node, "action": args.action}
    got = yield session.call(uri.HUB_AUDIT + "list", **filters, limit=args.limit)
    filtered = any(v is not None for v in filters.values())
    if args.json:
        output.print_json(got)
    elif got:
        _table(got)
    else:
        output.console().print("no audit entry matched" if filtered else "the audit trail is empty", style="dim")
    return cli.NOT_FOUND if not got and filtered else cli.OK


def _table(entries):
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    for column in ("TIME (UTC)", "WHO", "ACTION", "TARGET", "OUTCOME", "ARGUMENTS"):
        table.add_column(column, no_wrap=True)
    for e in entries:
        outcome = Text(e["outcome"], style="green" if e["outcome"] == "ok" else "red")
        if e["message"]:
            outcome.append(f": {e['message']}")
        table.add_row(output.fmt_time(e["t"]), Text(e["who"]), Text(e["action"]), Text(e["target"] or "-"), outcome,
                      Text(json.dumps(e["args"], sort_keys=True)))
    output.console().print(table)


def audit(args):
    """Run ``sisock audit``."""
    return cli.run_command(args, _audit, admin=True)

"""``sisock user add|list|rotate|remove``: named accounts of people, kept by the router.

They call the router's ``hub.users.*`` procedures (`sisock.router.usersapi`)
with an admin's credentials: ``SISOCK_USER`` and ``SISOCK_SECRET`` of a
named admin, else the shared ``admin`` authid with the admin secret
(`sisock.config.credentials`). ``add`` and ``rotate`` print the new secret
once, alone on stdout, so that it can be piped where it is kept.
"""

import argparse
import sys

from twisted.internet import defer

from sisock.cli import output
from sisock.cli import support as cli
from sisock.router.users import USER_ROLES, UserError, check_name
from sisock.wire import uri

DESCRIPTION = (
    "Manage the named accounts people join with: each has a role (admin: everything; operator: reads, node "
    "commands and alert handling, but no registry change, user or alert rule; consumer: reads) and a secret of "
    "its own. 'add' and 'rotate' print the new secret once, alone on stdout; the router keeps only a salted "
    "key of it ($SISOCK_HOME/users.json next to the router). A removed or rotated user's open sessions end at "
    "once. Needs an admin: SISOCK_USER and SISOCK_SECRET of a named admin, else the admin secret "
    "(SISOCK_ADMIN_SECRET or the secrets file).")

EPILOG = """\
examples:
  sisock user add alice --role operator > alice.secret     the secret, once, into a file
  sisock user list
  sisock user rotate alice                                 a new secret; the old one stops working
  sisock user remove alice
  SISOCK_USER=alice SISOCK_SECRET=$(cat alice.secret) sisock call fleet.lamp0001 dim level=40
"""


def _name(text):
    """Command-line type of a user name (`sisock.router.users.check_name`)."""
    try:
        check_name(text, "NAME")
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def user_arguments(parser):
    """Options of ``sisock user``: one sub-command per action."""
    parser.description = DESCRIPTION
    parser.epilog = f"{EPILOG}\n{cli.EXIT_STATUS}"
    actions = parser.add_subparsers(dest="action", metavar="ACTION", title="actions", required=True)
    add = actions.add_parser("add", help="add a user with a role; prints its new secret once",
                             description="Add user NAME with --role; print its new secret once, alone on stdout.")
    add.add_argument("name", metavar="NAME", type=_name,
                     help="the user's name (its WAMP authid): a letter, then letters, digits, _ or -")
    add.add_argument("--role", required=True, choices=USER_ROLES, help="what the user may do")
    listing = actions.add_parser("list", help="every user: name, role, created, last rotated (never a secret)",
                                 description="List every user: name, role, when created, when last rotated (UTC).")
    rotate = actions.add_parser("rotate", help="give a user a new secret, printed once; its sessions end",
                                description="Give user NAME a new secret, printed once, alone on stdout; the old "
                                            "one stops working and the user's open sessions end.")
    remove = actions.add_parser("remove", help="remove a user; its open sessions end",
                                description="Remove user NAME: it can no longer join, and its open sessions end.")
    for sub in (rotate, remove):
        sub.add_argument("name", metavar="NAME", type=_name, help="the user's name")
    for sub in (add, listing, rotate, remove):
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
        cli.add_arguments(sub, admin=True)


@defer.inlineCallbacks
def _user(session, args):
    if args.action == "list":
        users = yield session.call(uri.HUB_USERS + "list")
        if args.json:
            output.print_json(users)
        else:
            _table(users)
        return cli.OK
    if args.action == "add":
        user = yield session.call(uri.HUB_USERS + "add", args.name, args.role)
    else:
        user = yield session.call(uri.HUB_USERS + args.action, args.name)
    if args.json:
        output.print_json(user)
    elif "secret" in user:
        print(user["secret"], flush=True)
    done = {"add": "added", "rotate": "has a new secret", "remove": "removed"}[args.action]
    said = "; its secret is on stdout, shown this once" if "secret" in user else ""
    print(f"sisock user: {user['name']} ({user['role']}) {done}{said}", file=sys.stderr)
    return cli.OK


def _table(users):
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "ROLE", "CREATED", "LAST ROTATED"):
        table.add_column(column, no_wrap=True)
    for user in users:
        table.add_row(Text(user["name"]), user["role"], output.fmt_time(user["created"]),
                      output.fmt_time(user["rotated"]))
    out = output.console()
    if users:
        out.print(table)
    out.print(f"{len(users)} user(s)" if users else "no user yet: sisock user add NAME --role ROLE", style="dim")


def user(args):
    """Run ``sisock user ACTION``."""
    return cli.run_command(args, _user, admin=True)

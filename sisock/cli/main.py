"""The ``sisock`` command: one sub-command per task.

Sub-commands live in `COMMANDS`, a table from name to where its code is, so
adding one is one line here plus two functions in its own module:

* ``add_arguments(parser)`` fills the sub-command's parser (options,
  ``parser.description``, ``parser.epilog`` with examples), and
  ``run(args) -> int`` runs it with the parsed options; or
* no ``add_arguments`` (None) and ``main(argv)``: the rest of the command
  line is handed to ``main`` untouched, which parses it itself (so
  ``sisock hub --help`` is the hub's own help).

Modules are imported only when their command is used or shown.
"""

import argparse
import importlib
import os
import re
import sys

import sisock
from sisock import config
from sisock.cli.support import ERROR, EXIT_STATUS, INTERRUPTED, PIPE_CLOSED, USAGE, finish_output, status_of
from sisock.wire import validate
from sisock.wire.errors import SisockError

#: name -> (one-line help, "module:add_arguments" or None, "module:function" to run).
COMMANDS = {
    "up": ("start router, hub, nodes and Grafana bridge; restart what dies",
           "sisock.cli.up:add_arguments", "sisock.cli.up:run_up"),
    "hub": ("run the hub alone against a running router (see: sisock hub --help)",
            None, "sisock.hub.hub:main"),
    "secrets": ("create the secrets file if missing and say where it is",
                "sisock.cli.main:secrets_arguments", "sisock.cli.main:secrets"),
    "user": ("named accounts: add, list, rotate, remove users with a role (admin)",
             "sisock.cli.users:user_arguments", "sisock.cli.users:user"),
    "cert": ("make a key and a self-signed certificate for wss:// and https://",
             "sisock.cli.main:cert_arguments", "sisock.cli.main:cert"),
    "link-key": ("print the key a site router links to a central router with (sisock up --link-to)",
                 "sisock.cli.links:link_key_arguments", "sisock.cli.links:link_key"),
    "nodes": ("list the nodes the hub knows: status, host, last seen, fields (admin)",
              "sisock.cli.nodes:nodes_arguments", "sisock.cli.nodes:nodes"),
    "enable": ("enable nodes by name, glob or attribute=value (admin)",
               "sisock.cli.nodes:enable_arguments", "sisock.cli.nodes:switch"),
    "disable": ("disable nodes: hidden from consumers, get_data refused (admin)",
                "sisock.cli.nodes:disable_arguments", "sisock.cli.nodes:switch"),
    "forget": ("remove an offline node from the registry (admin)",
               "sisock.cli.nodes:forget_arguments", "sisock.cli.nodes:forget"),
    "tag": ("set tags on a node in the registry, over its own (admin)",
            "sisock.cli.attributes:tag_arguments", "sisock.cli.attributes:edit"),
    "untag": ("remove tags from a node in the registry (admin)",
              "sisock.cli.attributes:untag_arguments", "sisock.cli.attributes:edit"),
    "locate": ("place a node at LAT LON in the registry, over its own location (admin)",
               "sisock.cli.attributes:locate_arguments", "sisock.cli.attributes:edit"),
    "audit": ("who changed what and when: the audit trail of admins' and operators' actions (admin, operator)",
              "sisock.cli.audit:audit_arguments", "sisock.cli.audit:audit"),
    "fields": ("list a node's fields", "sisock.cli.data:fields_arguments", "sisock.cli.data:fields"),
    "get": ("read fields of a node over a time range (table, --json, --csv)",
            "sisock.cli.data:get_arguments", "sisock.cli.data:get"),
    "tail": ("print a node's live samples until Ctrl-C", "sisock.cli.data:tail_arguments", "sisock.cli.data:tail"),
    "call": ("send a command to a node, call its procedures, or show its API",
             "sisock.cli.call:call_arguments", "sisock.cli.call:call"),
    "query": ("read a field across every node a filter selects, per node or summed by tag",
              "sisock.cli.ops:query_arguments", "sisock.cli.ops:query"),
    "faults": ("what went wrong: fault events per node and code, for a day or a range",
               "sisock.cli.ops:faults_arguments", "sisock.cli.ops:faults"),
    "energy": ("energy used and its cost, per node or tag group, for a month or a range",
               "sisock.cli.ops:energy_arguments", "sisock.cli.ops:energy"),
    "alerts": ("alerts on any field: active alerts, history, ack, silence, rules (sisock alerts --help)",
               None, "sisock.cli.alerts:main"),
    "legacy-node": ("run a node file written for the original sisock, unmodified",
                    "sisock.cli.legacy:add_arguments", "sisock.cli.legacy:run"),
    "grafana": ("write provisioning files: the sisock data source and dashboards for a Grafana",
                "sisock.cli.grafana:add_arguments", "sisock.cli.grafana:run"),
}

EPILOG = f"""\
examples:
  sisock up                 start the whole stack (router on 8080, bridge on 8081)
  sisock secrets            create $SISOCK_HOME/secrets.json if missing
  sisock hub --url ws://127.0.0.1:8080/ws
  sisock nodes              every node the hub knows, with its status
  sisock disable 'fleet.lamp00*'
  sisock get weather temperature --start 2017-07-15 --end 2017-07-16 --csv t.csv
  sisock tail sensors cpu_percent
  sisock call fleet.lamp0001 dim level=40
  sisock COMMAND --help     options of a command

Commands that talk to a running stack take the router from SISOCK_URL and
SISOCK_REALM (or --url, --realm); admin commands join as the named user
SISOCK_USER with SISOCK_SECRET (sisock user), else as admin with the admin
secret from SISOCK_ADMIN_SECRET or the secrets file ($SISOCK_HOME/secrets.json).

{EXIT_STATUS}"""


def _load(target):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


#: What argparse takes for a value, never an option, though it starts with a minus: a time ago (``-1h``,
#: ``-30m``, ``-600``), a box (``-71,-34,-70,-33``), a negative number; so ``--start -1h`` works as
#: ``--start=-1h`` does (argparse's own rule knows only plain negative numbers).
VALUE_NOT_OPTION = re.compile(r"^-\.?\d")


class Parser(argparse.ArgumentParser):
    """argparse's parser, saying a usage mistake in one line on stderr (exit status 2), not the usage."""

    def error(self, message):
        self.exit(USAGE, f"{self.prog}: error: {message} ({self.prog} --help shows the usage)\n")


def build_parser():
    """The ``sisock`` argument parser with every sub-command of `COMMANDS`."""
    parser = Parser(
        prog="sisock", description="sisock: a distributed data hub on WAMP (Crossbar.io, Autobahn, Twisted).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"sisock {sisock.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (line, arguments, _) in COMMANDS.items():
        if arguments is None:
            sub.add_parser(name, help=line, add_help=False)  # listed; `main` hands it the rest
        else:
            p = sub.add_parser(name, help=line, description=line,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
            _load(arguments)(p)
            p._negative_number_matcher = VALUE_NOT_OPTION  # no option of ours looks like one
    return parser


def main(argv=None):
    """Entry point of the ``sisock`` console script; returns the exit status.

    Whatever the command, a reader of its output that goes away (``sisock
    ... | head``) ends it quietly with exit status `PIPE_CLOSED`, as it
    would end ``grep``: no traceback, nothing on stderr. Ctrl-C before a
    command runs ends it quietly too, with `INTERRUPTED`.
    """
    try:
        status = _dispatch(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as exc:  # argparse after --help, --version or a usage mistake
        status = exc.code
    except BrokenPipeError:
        status = PIPE_CLOSED
    except KeyboardInterrupt:
        status = INTERRUPTED
    return finish_output(status)


def _dispatch(argv):
    # A pass-through command gets everything after its name, --help included.
    first = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if first is not None and argv[first] in COMMANDS and COMMANDS[argv[first]][1] is None:
        build_parser().parse_args(argv[:first])  # --version / bad top-level options
        return _load(COMMANDS[argv[first]][2])(argv[first + 1:]) or 0
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _load(COMMANDS[args.command][2])(args) or 0
    except (SisockError, config.SecretsError) as exc:  # a usage mistake or a missing secret: no traceback
        status, message = status_of(exc) if isinstance(exc, SisockError) else (ERROR, str(exc))
        print(f"sisock {args.command}: error: {message}", file=sys.stderr)
        return status


# -- sisock secrets -------------------------------------------------------------

def secrets_arguments(parser):
    """Options of ``sisock secrets``."""
    parser.description = (
        "Create the secrets file (WAMP-CRA secrets of the hub, node and admin roles) with fresh random "
        "values and mode 0600 if it does not exist, and say where it is. The secrets are never printed. "
        "The file is $SISOCK_SECRETS_FILE, else $SISOCK_HOME/secrets.json (SISOCK_HOME defaults to ./.sisock).")
    parser.epilog = """\
examples:
  sisock secrets                          create ./.sisock/secrets.json if missing
  SISOCK_HOME=/var/lib/sisock sisock secrets
  sisock secrets --show-path              print only the path (for scripts)
  sisock secrets --node weather           give node "weather" a secret of its own
"""
    parser.add_argument("--show-path", action="store_true",
                        help="print only the absolute path of the secrets file")
    parser.add_argument("--node", metavar="NAME",
                        help="give node NAME a secret of its own (stored in the file under \"nodes\"): "
                             "the shared node secret then no longer authenticates it")


def secrets(args):
    """Run ``sisock secrets``."""
    path = config.secrets_file()
    created = config.ensure_secrets(path)
    if args.node:
        validate.node_name(args.node, "--node")
        config.add_node_secret(args.node, path)
        print(f"sisock: node {args.node} now has a secret of its own in {path} (under \"nodes\"); "
              "restart that node, and give a node on another host that value as SISOCK_NODE_SECRET")
    elif args.show_path:
        print(path)
    elif created:
        print(f"sisock: created {path} (mode 0600) with new secrets for the roles {', '.join(config.SECRET_ROLES)}")
    else:
        mode = oct(os.stat(path).st_mode & 0o777)
        print(f"sisock: secrets file {path} exists already (mode {mode[2:]}); left unchanged")
    return 0


# -- sisock cert ----------------------------------------------------------------

def cert_arguments(parser):
    """Options of ``sisock cert``."""
    parser.description = (
        "Write key.pem (mode 0600) and a self-signed cert.pem valid for the given hosts, for the router's "
        "TLS endpoint. `sisock up --tls` makes and uses one by itself; this is for a router you configure.")
    parser.epilog = """examples:
  sisock cert                                  ./.sisock/tls/{key,cert}.pem for localhost and 127.0.0.1
  sisock cert --dir /etc/sisock --host daq.lab.example --host 10.0.0.5
then, in your router's config.json (a copy of sisock/router/config.json), the transport's endpoint:
  "tls": {"key": "/etc/sisock/key.pem", "certificate": "/etc/sisock/cert.pem"}
and on every client: SISOCK_URL=wss://HOST:8080/ws SISOCK_CA_FILE=/etc/sisock/cert.pem
"""
    parser.add_argument("--dir", default=None, help="output directory (default $SISOCK_HOME/tls)")
    parser.add_argument("--host", action="append", default=None,
                        help="DNS name or IP address the certificate is valid for (repeatable; "
                             "default localhost, 127.0.0.1, ::1)")
    parser.add_argument("--days", type=int, default=825, help="validity in days (default %(default)s)")


def cert(args):
    """Run ``sisock cert``."""
    from sisock.tls import DEFAULT_HOSTS, make_certificate

    key, certificate = make_certificate(args.dir or os.path.join(config.home_dir(), "tls"),
                                        tuple(args.host or DEFAULT_HOSTS), args.days)
    print(f"sisock: wrote {key} (mode 0600) and {certificate}")
    print(f'sisock: router endpoint: "tls": {{"key": "{key}", "certificate": "{certificate}"}}')
    print(f"sisock: clients: SISOCK_CA_FILE={certificate} and a wss:// URL")
    return 0


if __name__ == "__main__":
    sys.exit(main())

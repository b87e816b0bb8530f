"""``sisock legacy-node FILE.py``: run a data node file written for the original sisock, unmodified.

The file is imported under a name of its own, so its ``if __name__ ==
"__main__":`` block (a pause, a certificate file, an ``ApplicationRunner``
on the original's router) does not run. Its `sisock.base.DataNodeServer`
subclass is made with a config alone and run like every sisock node
(`sisock.connection.run`): this project's router URL and realm, TLS trust
(``SISOCK_CA_FILE``), the node secret for authid ``name``, reconnects.
It runs in the file's directory, or in ``--data-dir``, since original nodes
open relative paths such as ``./example_data/*.dat``.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import re
import sys
import traceback
from types import ModuleType

from autobahn.wamp.types import ComponentConfig

from sisock import config
from sisock.cli.support import EXIT_STATUS
from sisock.connection import run as run_session
from sisock.node.server import DataNodeServer
from sisock.wire import validate
from sisock.wire.errors import InvalidArgument, NodeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``sisock legacy-node``."""
    parser.description = (
        "Run a data node file written for Simons Observatory's original sisock (import sisock, a subclass of "
        "sisock.base.DataNodeServer), unmodified, against this stack. The file is imported without running "
        "its __main__ block; its DataNodeServer subclass joins as node NAME (its name) with the node secret, "
        "over this project's router URL and TLS trust, reconnects by itself, and is added to the hub again "
        "after a router restart. Its get_data and get_fields gain argument checks and min_stride downsampling. "
        "It runs in the file's directory (or --data-dir), where its relative paths start.")
    parser.epilog = f"""\
examples:
  sisock legacy-node components/data_node_servers/weather/server_example_weather.py
  sisock legacy-node pumps.py --class pump_log --data-dir /srv/pumps
  SISOCK_URL=wss://daq.lab.example:8080/ws SISOCK_CA_FILE=cert.pem sisock legacy-node my_node.py

{EXIT_STATUS}"""
    parser.add_argument("file", metavar="FILE.py", help="the original node's Python file")
    parser.add_argument("--class", dest="class_name", metavar="NAME",
                        help="the DataNodeServer subclass to run, if the file defines several")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="directory to run in: the node's relative paths start there (default: the file's)")
    group = parser.add_argument_group("connection")
    group.add_argument("--url", default=config.env("URL", config.DEFAULT_URL),
                       help="router WebSocket URL, ws:// or wss:// (env SISOCK_URL; default %(default)s); "
                            "a self-signed certificate is trusted through SISOCK_CA_FILE")
    group.add_argument("--realm", default=config.env("REALM", config.DEFAULT_REALM),
                       help="WAMP realm (env SISOCK_REALM; default %(default)s)")
    group.add_argument("--secret-file", default=None,
                       help="secrets file with the node secret (env SISOCK_NODE_SECRET wins; "
                            "default $SISOCK_SECRETS_FILE or $SISOCK_HOME/secrets.json)")
    group.add_argument("--log-level", default=config.env("LOG_LEVEL", "info"), choices=config.LOG_LEVELS,
                       help="log level (env SISOCK_LOG_LEVEL; default %(default)s)")


def run(args: argparse.Namespace) -> int:
    """Run ``sisock legacy-node`` until SIGINT or SIGTERM.

    Raises
    ------
    sisock.wire.errors.InvalidArgument
        No such file or directory, no `DataNodeServer` subclass in the file
        or several without ``--class``, a class that needs more than a
        config, a node name that is not valid, or a bad ``--url``.
    sisock.config.SecretsError
        If there is no node secret.
    """
    path = os.path.abspath(args.file)
    if not os.path.isfile(path):
        raise InvalidArgument(f"no such file: {args.file}")
    directory = os.path.abspath(args.data_dir or os.path.dirname(path))
    if not os.path.isdir(directory):
        raise InvalidArgument(f"--data-dir: no such directory: {args.data_dir}")
    os.chdir(directory)
    node_class = find_class(import_file(path), args.class_name, args.file)
    node = make_node(node_class, args.realm)
    conn = config.Connection(args.url, args.realm, node.name,
                             config.load_secret("node", args.secret_file, node.name))
    node.config.extra = dict(node.config.extra or {}, connection=conn)
    print(f"sisock legacy-node: {node_class.__name__} from {path} as node {node.name}, in {directory}", flush=True)
    try:
        run_session(node, args.log_level)
    except ValueError as exc:  # the URL, checked before the reactor runs
        raise InvalidArgument(f"--url: {exc}") from None
    return 0


def import_file(path: str) -> ModuleType:
    """Import the Python file ``path`` as a module not named ``__main__``, its directory first on
    ``sys.path`` (as ``python FILE.py`` has it); errors in the file propagate, but a module it imports
    that is not installed is a `sisock.wire.errors.NodeError` naming it (one line, exit status 1)."""
    name = "sisock_legacy_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as exc:
        lines = [line for frame, line in traceback.walk_tb(exc.__traceback__) if frame.f_code.co_filename == path]
        where = f" line {lines[-1]}" if lines else ""
        raise NodeError(f"{os.path.basename(path)}{where} imports module {exc.name!r}, which is not installed "
                        f"here: install the package that provides it (pip install ...)") from None
    return module


def find_class(module: ModuleType, class_name: str | None, shown: str) -> type[DataNodeServer]:
    """The `DataNodeServer` subclass defined in ``module`` to run.

    Parameters
    ----------
    module : module
        The imported node file.
    class_name : str or None
        ``--class``; None picks the one subclass defined there that no
        other one there derives from.
    shown : str
        The file as the user named it, for messages.

    Raises
    ------
    sisock.wire.errors.InvalidArgument
        None, or several and no ``class_name``, or ``class_name`` is not one.
    """
    defined = [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, DataNodeServer)
               and c.__module__ == module.__name__]
    if class_name is not None:
        chosen = [c for c in defined if c.__name__ == class_name]
        if not chosen:
            raise InvalidArgument(f"--class: {shown} defines no DataNodeServer subclass {class_name!r}"
                                  f"{'; it defines ' + ', '.join(c.__name__ for c in defined) if defined else ''}")
        return chosen[0]
    leaves = [c for c in defined if not any(o is not c and issubclass(o, c) for o in defined)]
    if not leaves:
        raise InvalidArgument(f"{shown} defines no subclass of sisock.base.DataNodeServer")
    if len(leaves) > 1:
        raise InvalidArgument(f"{shown} defines several DataNodeServer subclasses "
                              f"({', '.join(c.__name__ for c in leaves)}): choose one with --class")
    return leaves[0]


def make_node(node_class: type[DataNodeServer], realm: str) -> DataNodeServer:
    """``node_class(config)`` for ``realm``, checked to have a valid node ``name``.

    Raises
    ------
    sisock.wire.errors.InvalidArgument
        If the class needs more arguments than a config, or its name is
        not a valid node name.
    """
    blank = ComponentConfig(realm, {})
    try:
        inspect.signature(node_class).bind(blank)
    except TypeError:
        raise InvalidArgument(f"{node_class.__name__}{inspect.signature(node_class)} needs more than a config; "
                              "sisock legacy-node makes it with a config alone") from None
    node = node_class(blank)
    validate.node_name(node.name, f"name of {node_class.__name__}")
    return node

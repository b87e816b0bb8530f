"""The command line of a data node: ``python -m nodes.NAME [options]`` (`run_node`).

Every node takes the same options: the connection's (`sisock.config.add_connection_arguments`:
``--url``, ``--realm``, ``--authid``, ``--secret-file``, ``--data-dir``,
``--log-level``), ``--name``, and the store's (``--retention``,
``--max-bytes``), plus whatever the node adds.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable

from autobahn.wamp.types import ComponentConfig

from sisock import config
from sisock.connection import run
from sisock.node.base import DataNode
from sisock.node.server import DataNodeServer
from sisock.store import Store, StoreError
from sisock.store import options as store_settings
from sisock.store.shared import SharedFile
from sisock.store.sqlite import DEFAULT_MAX_BYTES, DEFAULT_RETENTION, DEFAULT_ROLLUPS
from sisock.wire import chunks, validate

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _bytes(text):
    """Command-line type of a size in bytes: ``500M``, ``2G``, ``1048576``, ``inf``."""
    clean = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = clean[-1:] if clean[-1:] in _UNITS else ""
    try:
        value = float(clean[:len(clean) - len(unit)]) * _UNITS[unit]
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive size such as 500M, 2G or inf, got {text!r}")
    return value


def _argument(parse):
    """An argparse type from ``parse``, whose ValueError becomes the usage error (exit status 2)."""
    def convert(text):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = parse.__name__
    return convert


def add_store_arguments(parser: argparse.ArgumentParser, name: str = "<name>") -> argparse.ArgumentParser:
    """Add the store options of every node: ``--retention`` (raw samples), ``--max-bytes`` (e.g. ``500M``)
    and ``--rollups`` (the summary tiers, e.g. ``1m:365d,1h,1d``); ``--help`` says the file is
    ``<data dir>/<name>.sqlite`` with ``name`` as given (``"<authid>"`` for a fleet)."""
    group = parser.add_argument_group("store", f"recorded history, in <data dir>/{name}.sqlite")
    group.add_argument("--retention", type=_argument(store_settings.duration), default=DEFAULT_RETENTION,
                       metavar="SECONDS",
                       help="how long raw samples are kept: seconds or 90m, 12h, 30d, 1y; inf for no limit "
                            "(default 30d)")
    group.add_argument("--max-bytes", type=_bytes, default=DEFAULT_MAX_BYTES, metavar="SIZE",
                       help="most bytes of raw samples kept, oldest dropped first; e.g. 500M, 2G, inf "
                            "(default 1G)")
    group.add_argument("--rollups", type=_argument(store_settings.rollups), default=DEFAULT_ROLLUPS,
                       metavar="TIERS",
                       help="summary tiers kept for fast long-range reads: WIDTH[:RETENTION] separated by commas, "
                            "each width a multiple of the one before, no retention for forever; none for no "
                            "tiers (default 1m:365d,1h,1d)")
    return parser


def store_options(args: argparse.Namespace, name: str | None = None) -> dict:
    """Keyword arguments of `sisock.store.Store.open` from the parsed options: the file
    ``<data dir>/<name>.sqlite`` (``name``, by default ``args.name``), ``retention`` (seconds),
    ``max_bytes`` and ``rollups``."""
    directory = os.path.abspath(args.data_dir) if args.data_dir else config.data_dir()
    return {"path": os.path.join(directory, f"{name or args.name}.sqlite"), "retention": args.retention,
            "max_bytes": args.max_bytes, "rollups": args.rollups}


def shared_store_file() -> Callable[[str], Store]:
    """``store(node name) -> Store``: the stores of the nodes of one process, kept in one file.

    Give each node its store before it declares timelines; `open_stores`
    opens them all with the same options (`sisock.store.shared.SharedFile`).
    """
    return SharedFile().store


def open_stores(parser: argparse.ArgumentParser, stores: Iterable[Store], options: dict) -> None:
    """Open the stores of a node process, before it connects, and close them when the reactor stops.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The process's parser, which exits with the message.
    stores : iterable of sisock.store.Store
        A node's store, or the stores of the nodes of one process sharing
        one file (`sisock.store.shared.SharedFile`).
    options : dict
        Keyword arguments of `sisock.store.Store.open` (`store_options`).

    Exits with status 1 and a message naming the file when it cannot be
    opened. Closing commits every block recorded so far.
    """
    from twisted.internet import reactor

    for store in stores:
        try:
            store.open(**options)
        except StoreError as exc:
            parser.exit(1, f"{parser.prog}: {exc}\n")
        reactor.addSystemEventTrigger("before", "shutdown", store.close)  # type: ignore[arg-type]


def node_parser(node_class: type[DataNodeServer], description: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of a node: its description (the class docstring's first line), ``--name``,
    the connection and the store options."""
    doc = (node_class.__doc__ or "").strip()
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)  # run as python -m PACKAGE: say so
    parser = argparse.ArgumentParser(
        prog=f"python -m {spec.name.removesuffix('.__main__')}" if spec is not None else None,
        description=description or (doc.splitlines()[0] if doc else f"Run the sisock data node {node_class.name}."))
    parser.add_argument("--name", default=node_class.name,
                        help="data node name, also its WAMP authid (default %(default)s)")
    config.add_connection_arguments(parser)
    add_store_arguments(parser)
    return parser


def node_connection(parser: argparse.ArgumentParser, args: argparse.Namespace,
                    node_class: type[DataNode] = DataNode) -> config.Connection:
    """The connection of a node process from its parsed options, once its settings are checked.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The node's parser, which exits with the message.
    args : argparse.Namespace
        Its parsed connection options (`sisock.config.add_connection_arguments`).
    node_class : type
        The node class, whose ``chunk_bytes`` / ``max_message_bytes`` (bytes,
        or None for ``SISOCK_CHUNK_BYTES`` / ``SISOCK_MAX_MESSAGE_BYTES``)
        are checked; `DataNode` for a host of several classes alike.

    Returns
    -------
    sisock.config.Connection
        URL, realm, authid and secret of the node's session.

    Exits with status 2 and a one-line message when the node's secret is
    missing (`sisock.config.connection_from_args`) or a chunk limit is not
    an integer of at least 4096 bytes (`sisock.wire.chunks.limits`), so
    that neither shows up later as a failed call.
    """
    try:
        chunks.limits(node_class.chunk_bytes, node_class.max_message_bytes)
        return config.connection_from_args(args, "node")
    except (config.SecretsError, ValueError) as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")


def run_node(node_class: type[DataNodeServer], argv: list[str] | None = None,
             add_arguments: Callable[[argparse.ArgumentParser], object] | None = None,
             description: str | None = None) -> None:
    """Command-line entry point of a data node (``python -m nodes.NAME``).

    Parses the shared options plus whatever ``add_arguments(parser)``
    adds, builds one ``node_class(config)`` for the life of the process,
    opens its store, and runs it, reconnecting forever, until SIGINT or
    SIGTERM. ``config.extra["args"]`` holds the parsed options.

    Parameters
    ----------
    node_class : type
        A `DataNodeServer` subclass.
    argv : list of str, optional
        The options; ``sys.argv[1:]`` by default.
    add_arguments : callable, optional
        ``add_arguments(parser)`` adds the node's own options.
    description : str, optional
        ``--help``'s description; the class docstring's first line by default.

    Exits with status 2 for bad options or secrets, 1 when the store file
    cannot be opened (the message names it).
    """
    parser = node_parser(node_class, description)
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    validate.node_name(args.name, "--name")
    args.authid = args.authid or args.name
    conn = node_connection(parser, args, node_class)
    node = node_class(ComponentConfig(args.realm, {"connection": conn, "args": args}))
    node.name = args.name
    open_stores(parser, [node.store], store_options(args))
    from twisted.internet import reactor

    failed = []

    def start():
        try:
            node.start()
        except StoreError as exc:  # a timeline declared in start() whose store file cannot be opened
            failed.append(exc)
            reactor.stop()

    run(node, args.log_level, on_start=start)
    if failed:
        parser.exit(1, f"{parser.prog}: {failed[0]}\n")

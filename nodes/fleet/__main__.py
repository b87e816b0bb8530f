"""``python -m nodes.fleet --count 500``: N simulated street lamps in one process.

Every lamp is a data node ``fleet.lampNNNN`` with a location, tags and the
fields ``power_w``, ``energy_kwh``, ``faults`` and ``state``, and answers
the commands ``dim``, ``switch``, ``reset`` and ``status``. All of them go
over one WAMP session authenticated as node ``fleet`` (`sisock.node.session.NodeSession`).
Their history is kept in one store file, ``<data dir>/<authid>.sqlite``
(`sisock.node.run.shared_store_file`), with the store options of every node,
so that faults and energy survive a restart.
"""

import argparse

from autobahn.wamp.types import ComponentConfig

from nodes.fleet.fleet import Simulation, build_lamps
from sisock import config
from sisock.connection import run
from sisock.node import NodeSession, presence
from sisock.node.run import add_store_arguments, node_connection, open_stores, shared_store_file, store_options


def _count(text):
    value = int(text)
    if not 1 <= value <= 9999:
        raise argparse.ArgumentTypeError(f"must be from 1 to 9999, got {text}")
    return value


def _latlon(text):
    try:
        lat, lon = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be LAT,LON in degrees, got {text!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise argparse.ArgumentTypeError(f"must be LAT,LON in degrees, got {text!r}")
    return lat, lon


def main(argv=None):
    """Parse the options and run the fleet until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m nodes.fleet",
                                     description="Run N simulated street lamps as data nodes over one WAMP session.",
                                     epilog="example: python -m nodes.fleet --count 500 --interval 5")
    parser.add_argument("--count", type=_count, default=500, help="number of lamps (default %(default)s)")
    parser.add_argument("--interval", type=config.positive_number, default=5.0,
                        help="seconds between samples of every lamp (default %(default)s)")
    parser.add_argument("--history", type=config.positive_number, default=3600.0,
                        help="seconds of samples each lamp keeps in memory; older ones are read from the "
                             "store file <data dir>/<authid>.sqlite (default %(default)s)")
    parser.add_argument("--center", type=_latlon, default=(46.2044, 6.1432),
                        help="LAT,LON of the middle of the street grid (default 46.2044,6.1432)")
    parser.add_argument("--spacing", type=config.positive_number, default=30.0,
                        help="metres between lamps and between streets (default %(default)s)")
    parser.add_argument("--heartbeat", type=config.positive_number, default=presence.HEARTBEAT_INTERVAL,
                        help="seconds between heartbeats to the hub (default %(default)s)")
    parser.add_argument("--backfill", type=config.positive_number, default=None, metavar="SECONDS",
                        help="simulate this many seconds before now at start, so the lamps have a history "
                             "(e.g. 86400 for yesterday's faults and energy); a lamp with a recorded history "
                             "is simulated only after its last recorded step")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random layout and faults")
    config.add_connection_arguments(parser, default_authid="fleet")
    add_store_arguments(parser, "<authid>")
    args = parser.parse_args(argv)
    conn = node_connection(parser, args)
    lamps = build_lamps(args.count, args.authid, args.center, args.spacing, args.interval, args.history, args.seed,
                        shared_store_file())
    open_stores(parser, [lamp.store for lamp in lamps], store_options(args, args.authid))
    for lamp in lamps:
        lamp.resume()
    simulation = Simulation(lamps, args.interval)
    if args.backfill:
        simulation.backfill(args.backfill)
    host = NodeSession(ComponentConfig(args.realm, {"connection": conn}), lamps, args.heartbeat)
    run(host, args.log_level, on_start=simulation.start)


if __name__ == "__main__":
    main()

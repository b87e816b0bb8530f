"""``sisock up``: its options and help; the stack itself is `sisock.cli.launcher.Launcher`."""

from sisock import config
from sisock.cli.launcher import DEFAULT_FLEET, Launcher
from sisock.cli.links import accepted_link
from sisock.cli.options import integer_in

UP_DESCRIPTION = """\
Start a whole sisock stack on this machine: the Crossbar router, the hub, the
weather, sensors, pixels and brewing nodes, a fleet of simulated street lamps
(--fleet) and the Grafana bridge (with --demo also the race display and the
pixel demos), each once the one before is ready.
The hub runs the alert service (rules in $SISOCK_HOME/alerts.json; sisock alerts).
Output of each part goes to $SISOCK_HOME/logs/<part>.log. A part that dies is
restarted (1 s backoff doubling to 30 s). Ctrl-C or SIGTERM stops them all."""

UP_EPILOG = """\
examples:
  sisock up                              router on 8080, bridge on 8081, state in ./.sisock
  sisock up --port 9000 --bridge-port 9001 --home /var/lib/sisock
  sisock up --no-weather --verbose       live sensors only, child output echoed
  sisock up --tls                        wss:// and https:// with a self-signed certificate
  sisock up --accept-link site1=KEY      a central router: accept the link of site router site1
  sisock up --link-to ws://central:8080/ws
                                         a site router linked to the central one (router only; its key:
                                         sisock link-key)
"""


def add_arguments(parser):
    """Options of ``sisock up``."""
    parser.description, parser.epilog = UP_DESCRIPTION, UP_EPILOG
    parser.add_argument("--port", type=int, default=8080,
                        help="router port on 127.0.0.1: WebSocket /ws and web client / (default %(default)s)")
    parser.add_argument("--rawsocket-port", type=int, default=None,
                        help="also serve RawSocket (rs:// URLs) on this port on 127.0.0.1 (default: only the "
                             "Unix socket $HOME/router/sisock.sock, which the stack's own parts use)")
    parser.add_argument("--bridge-port", type=int, default=8081,
                        help="Grafana bridge HTTP port on 127.0.0.1 (default %(default)s)")
    parser.add_argument("--home", default=None,
                        help="state directory: secrets, router config, data, logs "
                             "(env SISOCK_HOME; default ./.sisock)")
    parser.add_argument("--proxies", type=int, default=0, metavar="N",
                        help="N Crossbar proxy workers serve the router port, taking WebSocket and serialization "
                             "off the router worker (default %(default)s: the router worker serves it)")
    parser.add_argument("--no-sensors", action="store_true", help="do not start the sensors node")
    parser.add_argument("--no-weather", action="store_true", help="do not start the weather node")
    parser.add_argument("--fleet", type=integer_in(0, 10000), default=DEFAULT_FLEET, metavar="N",
                        help="simulated street lamps of the fleet node (default %(default)s; 0: no fleet)")
    parser.add_argument("--verbose", action="store_true", help="echo every child output line, prefixed [part]")
    parser.add_argument("--demo", action="store_true", help="also run the pixel display demos (status board, race)")
    parser.add_argument("--tls", action="store_true",
                        help="serve wss:// and https:// with $HOME/tls/{key,cert}.pem (self-signed, made if missing)")
    parser.add_argument("--router-only", action="store_true",
                        help="start only the router; nodes and the hub connect to it by themselves")
    parser.add_argument("--link-to", metavar="URL", default=None,
                        help="a site router: join the realm of the central router at URL (ws:// or wss://) through "
                             "a Crossbar router link, authenticated by this home's link key (sisock link-key); "
                             "implies --router-only, as the hub runs on the central router")
    parser.add_argument("--accept-link", metavar="NAME=KEY", action="append", type=accepted_link, default=[],
                        help="a central router: accept the router link of site NAME holding public key KEY "
                             "(repeatable)")


def run_up(args):
    """Run ``sisock up`` with parsed `add_arguments` options; return the exit status."""
    launcher = Launcher(args.home or config.home_dir(), args.port, args.bridge_port,
                        weather=not args.no_weather, sensors=not args.no_sensors, verbose=args.verbose,
                        tls=args.tls, rawsocket_port=args.rawsocket_port, proxies=args.proxies, demo=args.demo,
                        fleet=args.fleet,
                        router_only=args.router_only, link=args.link_to, link_keys=dict(args.accept_link))
    return launcher.run()

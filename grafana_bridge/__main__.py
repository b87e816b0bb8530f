"""``python -m grafana_bridge``: serve the Grafana JSON datasource over HTTP.

Flask runs under ``twisted.web.wsgi`` in the reactor's thread pool; the
WAMP consumer session lives in the reactor and reconnects by itself.
"""

import argparse

from autobahn.wamp.types import ComponentConfig
from twisted.internet import reactor

from grafana_bridge import limits
from grafana_bridge.app import create_app
from grafana_bridge.backend import BridgeSession, WampBackend
from grafana_bridge.site import make_site
from sisock import config
from sisock.connection import announce_ready, run
from sisock.hub import tariff
from sisock.wire.errors import InvalidArgument

#: Most HTTP requests served at once (threads of the reactor's pool).
THREADS = 20


def main(argv=None):
    """Run the bridge: parse options, keep a consumer session connected, serve HTTP until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m grafana_bridge",
        description="Grafana JSON datasource for sisock: targets are node::field.",
        epilog="Authentication: set SISOCK_BRIDGE_TOKEN (bearer token) and/or SISOCK_BRIDGE_USER and "
               "SISOCK_BRIDGE_PASSWORD (HTTP basic) to require credentials on every request.")
    parser.add_argument("--host", default=config.env("BRIDGE_HOST", "127.0.0.1"),
                        help="address to listen on (env SISOCK_BRIDGE_HOST; default %(default)s)")
    parser.add_argument("--port", type=int, default=int(config.env("BRIDGE_PORT", "8081")),
                        help="HTTP port (env SISOCK_BRIDGE_PORT; default %(default)s)")
    parser.add_argument("--tariff", metavar="FILE", default=config.env("BRIDGE_TARIFF"),
                        help="prices per kWh of the FILTER::@energy table target, a TOML file "
                             "(env SISOCK_BRIDGE_TARIFF; see sisock energy --help); kWh only without")
    limits.add_arguments(parser)
    config.add_connection_arguments(parser)
    args = parser.parse_args(argv)
    try:
        prices = tariff.load(args.tariff) if args.tariff else tariff.UNPRICED
    except InvalidArgument as exc:
        parser.exit(2, f"{parser.prog}: --tariff: {exc.message}\n")
    connection = config.connection_from_args(args, None)
    session = BridgeSession(ComponentConfig(args.realm, {"connection": connection}), reactor)
    bounds = limits.from_args(args)
    app = create_app(WampBackend(session, reactor, prices), token=config.env("BRIDGE_TOKEN"),
                     user=config.env("BRIDGE_USER"), password=config.env("BRIDGE_PASSWORD"), limits=bounds)
    site = make_site(reactor, app, bounds)

    def listen():
        reactor.suggestThreadPoolSize(THREADS)
        port = reactor.listenTCP(args.port, site, interface=args.host)
        session.ready_label = f"bridge http://{args.host}:{port.getHost().port}/"
        if session.is_attached():
            announce_ready(session.ready_label)

    run(session, args.log_level, on_start=listen)


if __name__ == "__main__":
    main()

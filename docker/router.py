#!/usr/bin/env python3
"""``sisock-router``: the Crossbar router of the sisock image, listening on the container's network.

Writes the router directory from the installed package's template
(`sisock.router.directory.prepare_cbdir`: realm, roles, the authenticator
component, the web client from the package) with the given interface and
port, then replaces itself with ``crossbar start`` (through the router
directory's ``sisock-crossbar``, `sisock.router.python`). The WAMP-CRA secrets of
the hub, node and admin roles come from ``SISOCK_HUB_SECRET``,
``SISOCK_NODE_SECRET`` and ``SISOCK_ADMIN_SECRET`` (read by the
authenticator inside the router); ``SISOCK_HTTP_PUBLISHER_SECRET``, when
set, opens the signed HTTP publisher at ``/publish`` with key
``http_publisher``.
"""

import argparse
import json
import os
import sys

from sisock import config
from sisock.router.directory import prepare_cbdir
from sisock.router.python import SCRIPT


def publisher_secrets(cbdir, secret):
    """Write the secrets file `prepare_cbdir` reads the HTTP publisher's key from; return its path.

    It holds ``{"http_publisher": {"key": "http_publisher", "secret": secret}}``
    (mode 0600), or ``{}`` when ``secret`` is empty: then there is no ``/publish``.
    """
    path = os.path.join(cbdir, "http_publisher.json")
    entry = {"http_publisher": {"key": "http_publisher", "secret": secret}} if secret else {}
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fp:
        json.dump(entry, fp)
    return path


def main(argv=None):
    """Write the router directory and exec ``crossbar start``; returns only on an error (exit status)."""
    parser = argparse.ArgumentParser(prog="sisock-router", description=__doc__.split("\n\n")[0].strip("`"))
    parser.add_argument("--interface", default="0.0.0.0", help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=8080,
                        help="port of the WebSocket /ws and the web client / (default %(default)s)")
    parser.add_argument("--cbdir", default=None, help="router directory to write (default $SISOCK_HOME/router)")
    args = parser.parse_args(argv)
    cbdir = args.cbdir or os.path.join(config.home_dir(), "router")
    os.makedirs(cbdir, exist_ok=True)
    secrets = publisher_secrets(cbdir, os.environ.get("SISOCK_HTTP_PUBLISHER_SECRET"))
    prepare_cbdir(cbdir, args.port, args.interface, secrets=secrets)
    crossbar = os.path.join(cbdir, SCRIPT)  # crossbar through sisock.router.python
    os.execv(crossbar, [crossbar, "start", "--cbdir", cbdir])


if __name__ == "__main__":
    sys.exit(main())

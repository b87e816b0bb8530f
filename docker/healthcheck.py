#!/usr/bin/env python3
"""``sisock-healthcheck``: whether a part of the sisock stack answers; exit 0 if so, 1 with a line why if not.

``router``  the router serves its web client at ``http://127.0.0.1:PORT/``;
``hub``     the hub answers ``consumer.get_data_node`` through the router;
``node N``  node ``N`` answers ``get_fields`` through the router;
``bridge``  the Grafana bridge answers ``GET /`` with ``{"status": "ok"}``
            (with ``Authorization: Bearer $SISOCK_BRIDGE_TOKEN`` when set).

The router is found in ``SISOCK_URL``, as by every sisock process.
"""

import argparse
import json
import os
import sys
import urllib.request

#: Seconds a check may take.
TIMEOUT = 5.0


def _get(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=TIMEOUT) as response:
        return response.status, response.read()


def check(part, name=None, port=None):
    """Run one check.

    Parameters
    ----------
    part : str
        ``"router"``, ``"hub"``, ``"node"`` or ``"bridge"``.
    name : str, optional
        The node's name, for ``"node"``.
    port : int, optional
        HTTP port of the router (default 8080) or the bridge (default 8081).

    Raises
    ------
    Exception
        Whatever made the part fail to answer (connection refused, timeout,
        a WAMP error such as ``no_such_node``, an unexpected answer).
    """
    if part == "router":
        status, _ = _get(f"http://127.0.0.1:{port or 8080}/")
        if status != 200:
            raise RuntimeError(f"router web transport answered {status}")
    elif part == "bridge":
        token = os.environ.get("SISOCK_BRIDGE_TOKEN")
        status, body = _get(f"http://127.0.0.1:{port or 8081}/",
                            {"Authorization": f"Bearer {token}"} if token else None)
        if status != 200 or json.loads(body).get("status") != "ok":
            raise RuntimeError(f"bridge answered {status} {body[:200]!r}")
    else:
        from sisock.client import Client

        with Client(timeout=TIMEOUT) as client:
            if part == "hub":
                client.get_data_node()
            else:
                client.get_fields(name, -60, 0)


def main(argv=None):
    """Parse ``PART [NAME]``, run the check; returns the exit status."""
    parser = argparse.ArgumentParser(prog="sisock-healthcheck", description=__doc__.split("\n\n")[0].strip("`"),
                                     epilog=__doc__.split("\n\n")[1], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("part", choices=("router", "hub", "node", "bridge"))
    parser.add_argument("name", nargs="?", help="node name (for node)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port of the router (8080) or the bridge (8081)")
    args = parser.parse_args(argv)
    if args.part == "node" and not args.name:
        parser.error("node needs the node's name")
    try:
        check(args.part, args.name, args.port)
    except Exception as exc:  # any failure is "unhealthy": say which
        what = f"{args.part} {args.name}" if args.name else args.part
        print(f"sisock-healthcheck: {what}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

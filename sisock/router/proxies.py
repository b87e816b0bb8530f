"""Crossbar proxy workers in front of the router worker (``sisock up --proxies N``).

A Crossbar router worker is one Python process: it routes every event and
call of the realm, and also terminates every WebSocket and (de)serializes
every message of the sessions connected to it. Proxy workers take the
second part: each is another process that listens on the same web port
(``"shared": true``, the kernel spreads new connections over them),
authenticates the client, and forwards its WAMP messages to the router
worker over one Unix socket. Crossbar decides authorization in the router
worker still (`sisock.router.auth`), so the rules are the same whichever
way a session came in.

:func:`add_proxies` rewrites a router configuration (see
`sisock.router.directory.router_config`) that way:

- the web transport (WebSocket ``/ws`` and the web client ``/``) moves from
  the router worker to N proxy workers;
- the router worker listens for its proxies on the Unix socket
  `PROXY_SOCKET` in the router directory, with Crossbar's
  ``anonymous-proxy`` authentication: a proxy states the authid and role
  it has authenticated. Whoever can open that socket can claim any role,
  so the router directory is made private to the user (mode 0700);
- the realm gets the role ``authenticator``, which may only call the
  authenticator procedure, for the proxies' own service sessions (they call
  `sisock.router.auth.RouterAuth.authenticate` on the router);
- the proxies forward every role of the realm but the router component's
  own, so a role added to the configuration (the HTTP publisher's
  ``http_publisher``) is served through them too;
- the router worker's RawSocket transports stay where they are: nodes on
  this host connect to the router worker directly.
"""

import copy
import os

from sisock.wire import uri

#: The Unix socket, in the router directory, on which the router worker accepts its proxies.
PROXY_SOCKET = "proxies.sock"
#: The role of the proxies' service sessions: may call the authenticator, nothing else.
AUTHENTICATOR_ROLE = "authenticator"
#: The role of the router's own component (`sisock.router.auth`), which no proxy forwards.
ROUTER_ROLE = "router"


def add_proxies(cfg, count, cbdir):
    """Put ``count`` proxy workers in front of the router worker of ``cfg`` (in place; see the module).

    Parameters
    ----------
    cfg : dict
        Crossbar configuration whose first worker is the sisock router and
        whose first transport of it is the web transport.
    count : int
        Number of proxy workers, >= 1.
    cbdir : str
        The router directory (made mode 0700; the socket goes there).

    Returns
    -------
    dict
        ``cfg``.

    Raises
    ------
    ValueError
        If ``count`` < 1.
    """
    if count < 1:
        raise ValueError(f"proxies must be at least 1, got {count}")
    os.makedirs(cbdir, exist_ok=True)
    os.chmod(cbdir, 0o700)
    router = cfg["workers"][0]
    realm = router["realms"][0]
    socket = os.path.join(os.path.abspath(cbdir), PROXY_SOCKET)
    web = router["transports"].pop(0)
    router["transports"].append({"type": "rawsocket", "endpoint": {"type": "unix", "path": socket},
                                 "serializers": ["cbor", "msgpack"], "options": {"max_message_size": 16777216},
                                 "auth": {"anonymous-proxy": {"type": "static"}}})
    realm["roles"].append({"name": AUTHENTICATOR_ROLE, "permissions": [
        {"uri": uri.AUTHENTICATE, "match": "exact", "allow": {"call": True}, "cache": True}]})
    web = copy.deepcopy(web)
    web["endpoint"]["shared"] = True
    web["paths"]["ws"]["auth"]["wampcra"]["authenticator-role"] = AUTHENTICATOR_ROLE
    backend = {"realm": realm["name"], "auth": {"anonymous-proxy": {"type": "static"}},
               "transport": {"type": "rawsocket", "endpoint": {"type": "unix", "path": socket},
                             "serializer": "cbor", "url": "rs://localhost"}}
    routes = {role["name"]: "router" for role in realm["roles"] if role["name"] != ROUTER_ROLE}
    for _ in range(count):
        cfg["workers"].append({"type": "proxy", "transports": [copy.deepcopy(web)],
                               "routes": {realm["name"]: copy.deepcopy(routes)},
                               "connections": {"router": copy.deepcopy(backend)}})
    return cfg

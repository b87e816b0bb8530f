"""Router-to-router links: one ``sisock`` realm over a site router and a central router.

Crossbar's router links (``rlinks`` of a realm) join routers into one realm:
a site router opens a link to the central router, and from then on every
procedure registered and every topic subscribed on either router is
forwarded to the other, in both directions. Nodes connect to their own
router; the hub runs once, on the central router. Two functions rewrite a
router configuration (`sisock.router.directory.router_config`):

- `link_to` (site router): the realm gets an rlink to the central router's
  WebSocket URL. The link authenticates there with WAMP-cryptosign, using
  the site router's Crossbar node key (``key.pub`` in its router directory,
  made here if missing; `node_public_key`).
- `accept_links` (central router): its WebSocket transport also accepts
  WAMP-cryptosign from the given site keys, as role `LINK_ROLE`, which may
  do anything in the realm (a linked router is trusted like the hub).

A call or an event crossing a link reaches the other router from the link's
own session with the original caller in ``forward_for``; the receiving
router discloses ``forward_for[0]`` (the node's session on the site router,
its authid and role) as caller or publisher. Only `LINK_ROLE` may send
``forward_for`` (`sisock.router.auth.authorize`), and
`mend_router_links` mends Crossbar 26.10.1's link, which forwards a
caller's authrole in the place of its authid, loses a node's prefix
registration, answers a call that failed with null and never asks for
progressive results.
"""

import os
from urllib.parse import urlsplit

from autobahn.wamp.message import Invocation
from twisted.internet import defer

# Crossbar is imported where it is used: importing it (web3 and more) costs every `sisock` command a second.

#: The role of a linked router's session on the central router.
LINK_ROLE = "rlink"


def node_public_key(cbdir):
    """The Crossbar node public key of router directory ``cbdir`` (hex Ed25519), made if missing.

    Crossbar's own key files (``key.priv`` mode 0600, ``key.pub``) are what a
    router link authenticates with; the central router lists this key in
    `accept_links`.
    """
    from crossbar.common.key import _maybe_generate_node_key, _read_node_key

    os.makedirs(cbdir, exist_ok=True)
    _maybe_generate_node_key(cbdir)
    return _read_node_key(cbdir)["hex"]


def link_transport(url, ca_file=None):
    """The Crossbar client transport of a router link to the central router at ``url``.

    Parameters
    ----------
    url : str
        The central router's WebSocket URL, ``ws://host:port/path`` or
        ``wss://host:port/path`` (TLS).
    ca_file : str, optional
        PEM certificate(s) to trust for ``wss://`` (the central router's
        self-signed certificate, say); None: the system's trusted CAs.

    Returns
    -------
    dict
        A ``transport`` of Crossbar's ``rlinks`` configuration (MessagePack).

    Raises
    ------
    ValueError
        If ``url`` is not a ``ws://`` or ``wss://`` URL with a host and a port.
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("ws", "wss") or not parts.hostname or not port:
        raise ValueError(f"the link URL must be ws://HOST:PORT/ws or wss://HOST:PORT/ws, got {url!r}")
    endpoint = {"type": "tcp", "host": parts.hostname, "port": port}
    if parts.scheme == "wss":
        endpoint["tls"] = {"hostname": parts.hostname}
        if ca_file:
            endpoint["tls"]["ca_certificates"] = [os.path.abspath(ca_file)]
    return {"type": "websocket", "url": url, "serializers": ["msgpack"], "endpoint": endpoint}


def link_to(cfg, url, realm="sisock", ca_file=None):
    """Give the realm of ``cfg`` (in place) an rlink to the central router at WebSocket ``url``.

    Parameters
    ----------
    cfg : dict
        Crossbar configuration whose first worker is the sisock router.
    url : str
        The central router's WebSocket URL (see `link_transport`).
    realm : str
        The realm on the central router.
    ca_file : str, optional
        Certificate(s) to trust for a ``wss://`` URL (see `link_transport`).

    Returns
    -------
    dict
        ``cfg``.

    Raises
    ------
    ValueError
        If ``url`` is not a ``ws://`` or ``wss://`` URL with a host and a port.
    """
    cfg["workers"][0]["realms"][0]["rlinks"] = [{
        "id": "central", "realm": realm, "transport": link_transport(url, ca_file),
        "forward_local_events": True, "forward_remote_events": True,
        "forward_local_invocations": True, "forward_remote_invocations": True}]
    return cfg


def accept_links(cfg, keys):
    """Let routers holding ``keys`` link to the router of ``cfg`` (in place) as role `LINK_ROLE`.

    Parameters
    ----------
    cfg : dict
        Crossbar configuration whose first worker is the sisock router and
        whose first transport of it is the web transport (WebSocket ``/ws``).
    keys : dict
        ``{site_name: public_key_hex}`` (`node_public_key` of each site).

    Returns
    -------
    dict
        ``cfg``.
    """
    router = cfg["workers"][0]
    router["realms"][0]["roles"].append({"name": LINK_ROLE, "permissions": [{
        "uri": "", "match": "prefix", "allow": {"call": True, "register": True, "publish": True, "subscribe": True},
        "disclose": {"caller": True, "publisher": True}, "cache": True}]})
    principals = {f"link-{site}": {"realm": router["realms"][0]["name"], "role": LINK_ROLE, "authorized_keys": [key]}
                  for site, key in keys.items()}
    router["transports"][0]["paths"]["ws"]["auth"]["cryptosign"] = {"type": "static", "principals": principals}
    return cfg


def mend_router_links():
    """Mend five faults of Crossbar 26.10.1's router links in this process (idempotent).

    ``crossbar.worker.rlink.BridgeSession``:

    - builds the ``forward_for`` entry of a call it forwards as
      ``{"session": caller, "authid": caller_authrole, ...}``, so the other
      router would disclose the role name as the caller's authid;
    - registers a pattern-based registration (a node's prefix
      ``consumer.NAME.``) on the other router without its ``match``, which
      that router refuses as an invalid URI (dropping the link), and
      forwards a call to the registration's URI instead of the procedure
      called;
    - when the link comes up, forwards only the *exact* registrations that
      exist (``wamp.registration.list``'s ``"exact"``), so the prefix of a
      node that registered before the link is never reachable from the
      other router;
    - answers a forwarded call that failed with None: the caller never
      learns the callee's error (``node_disabled``, ``invalid_argument``,
      ...);
    - forwards a call without asking for progressive results, so a node
      behind the link answers a large ``get_data`` with ``too_large``
      where a caller asking for chunks should get them.

    This remembers the invocation one leg of the link receives (caller,
    authid, procedure) and puts them back into the call the other leg makes
    for it: the link's ``on_call`` runs synchronously from ``onMessage`` up
    to that ``call``, so the remembered invocation is the one forwarded. A
    registration whose URI ends in ``.`` is registered with match
    ``prefix``, one with an empty component with match ``wildcard`` (an
    exact URI has neither). The link's ``wamp.registration.list`` answer
    lists the prefix and wildcard registrations under ``"exact"`` too. The
    endpoint a leg registers is wrapped so that the call it makes passes
    on the progressive results its caller asked for, and its error (kept
    by that call as it fails) is the answer, not None.
    """
    from crossbar.worker import rlink

    bridge = rlink.BridgeSession
    if getattr(bridge, "_sisock_fixed", False):
        return
    on_message, call, register = bridge.onMessage, bridge.call, bridge.register
    current = {}  # the invocation being forwarded (one leg receives it, the other leg calls) and its forwarding

    def onMessage(self, msg):
        if isinstance(msg, Invocation):
            caller = msg._router_internal or (msg.caller, msg.caller_authid, msg.caller_authrole)
            current["invocation"] = (caller[0], caller[1], msg.procedure)
        return on_message(self, msg)

    def fixed_call(self, procedure, *args, options=None, **kwargs):
        if procedure == "wamp.registration.list":
            return call(self, procedure, *args, options=options, **kwargs).addCallback(every_registration)
        session, authid, called = current.pop("invocation", (None, None, None))
        failed, progress = current.pop("forwarding", (None, None))
        forward = getattr(options, "forward_for", None)
        if forward and forward[-1]["session"] == session:
            if authid is not None:
                forward[-1]["authid"] = authid
            procedure = called or procedure
            if progress is not None and options.on_progress is None:
                options.on_progress = progress
        answer = call(self, procedure, *args, options=options, **kwargs)
        if failed is not None:
            answer.addErrback(keep, failed)
        return answer

    def keep(failure, failed):
        failed.append(failure.value)
        return failure

    def forwarding(on_call):
        def forward(*args, **kwargs):
            failed = []  # on_call runs synchronously up to its call (fixed_call), which takes this
            current["forwarding"] = (failed, getattr(kwargs.get("details"), "progress", None))
            answer = on_call(*args, **kwargs)
            current.pop("forwarding", None)
            return answer.addCallback(lambda result: result if not failed else defer.fail(failed[0]))
        return forward

    def every_registration(listed):
        return dict(listed, exact=[*listed["exact"], *listed.get("prefix", ()), *listed.get("wildcard", ())])

    def fixed_register(self, endpoint, procedure=None, options=None, **kwargs):
        if isinstance(procedure, str) and options is not None and options.match is None:
            if procedure.endswith("."):
                options.match = "prefix"
            elif ".." in procedure or procedure.startswith("."):
                options.match = "wildcard"
        return register(self, forwarding(endpoint), procedure, options=options, **kwargs)

    bridge.onMessage, bridge.call, bridge.register = onMessage, fixed_call, fixed_register
    bridge._sisock_fixed = True

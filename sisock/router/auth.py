"""Authentication and authorization inside the router.

Crossbar runs :class:`RouterAuth` embedded in its router worker (see
``sisock/router/config.json``). It registers the dynamic WAMP-CRA authenticator
(one WAMP call per session that joins) and gives each role of the realm its
rules from :func:`authorize`, decided in the router worker's own process: a
publish or a call costs one Python function call, answered from a memo after
the first time, and never a WAMP call to an authorizer. The role table lives
here, in one place, built on `sisock.wire.uri` (``docs/roles.md`` explains it).

========  ==============================================================
role      may
========  ==============================================================
hub       register ``data_node.*``, ``consumer.get_data_node``,
          ``hub.nodes.*`` and ``hub.audit.*``; publish ``consumer.data_node_*``,
          ``consumer.node_changed`` and ``hub.*``; subscribe to
          ``hub.heartbeat``; subscribe to and call ``wamp.session.*``;
          for its alert service, register ``consumer.alerts.*`` and
          ``hub.alerts.*``, publish ``consumer.alerts.*`` and read like
          a consumer (live data, alarm nodes' ``alarms.*``)
node      register and publish under ``consumer.<its authid>.``;
          publish ``hub.heartbeat``; call ``data_node.add/subtract``
          and ``hub.audit.report``;
          subscribe to ``hub.online`` and ``hub.node_state``; read like
          a consumer
consumer  call (except ``consumer.NAME.command``) and subscribe under
          ``consumer.``; nothing else
admin     what a consumer may, and call ``consumer.NAME.command``,
          ``hub.*`` (``hub.nodes.*``: the registry, ``hub.audit.*``: the
          audit trail) and ``data_node.*``; subscribe to
          ``hub.audit.recorded``; so also ``hub.users.*`` (named users,
          `sisock.router.usersapi`) and ``hub.alerts.rules.*``
operator  what a consumer may, and call ``consumer.NAME.command``, the
          registry's reads (`OPERATOR_CALLS`: ``hub.nodes.list/get/search``),
          ``hub.alerts.ack/silence/unsilence`` and ``hub.audit.list``;
          subscribe to ``hub.audit.recorded``; no other ``hub.*``
========  ==============================================================

People join as the shared ``admin`` authid with the admin secret, or as a
named user (`sisock.router.users`) with the role ``admin``, ``operator``
or ``consumer`` it was given; `RouterAuth` authenticates both.

Only a router link's session (role ``rlink``, `sisock.router.links`) may
send a call or a publication carrying ``forward_for``: Crossbar (26.10.1)
discloses ``forward_for[0]`` to the callee or subscriber as the caller or
publisher, whoever sent it, so from any other role it would be an
impersonation. `SisockRole` refuses such messages, and `authorize` never
lets Crossbar cache a call or publication whose receiver takes the
disclosed identity as proof (`IDENTIFIED`), so each one is checked.
"""

import functools

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from crossbar.router.role import RouterRole
from twisted.internet import threads
from twisted.internet.defer import inlineCallbacks

from sisock import config
from sisock.router.links import mend_router_links
from sisock.router.users import UserFile
from sisock.router.usersapi import UsersApi
from sisock.router.wampcra import STORED_KEY, use_stored_keys
from sisock.wire import uri


def _under(name, prefix):
    return name.startswith(prefix)


#: The roles of the realm whose rules `authorize` gives (declared without rules in the router config).
ROLES = ("hub", "node", "consumer", "admin", "operator")
#: What an operator may call besides a consumer's calls and node commands: the registry's reads, the alerts' handling.
OPERATOR_CALLS = frozenset([uri.HUB_NODES + "list", uri.HUB_NODES + "get", uri.HUB_NODES + "search",
                            uri.uri("hub.alerts.ack"), uri.uri("hub.alerts.silence"), uri.uri("hub.alerts.unsilence"),
                            uri.HUB_AUDIT + "list"])
#: What the alert service on the hub's session (`sisock.alerts`) registers: reads, and changes.
ALERTS = (uri.uri("consumer.alerts."), uri.uri("hub.alerts."))
#: URI prefixes whose callee or subscriber acts on the disclosed caller or publisher (and node commands).
IDENTIFIED = (uri.uri("data_node."), uri.uri("hub."))


def _identified(name):
    return name.startswith(IDENTIFIED) or name.endswith(".command")


@functools.lru_cache(maxsize=1 << 16)
def authorize(authrole, authid, name, action):
    """Decide whether a session may perform ``action`` on URI ``name``.

    Parameters
    ----------
    authrole, authid : str
        The session's role and authid as authenticated by the router.
    name : str
        The URI of the procedure or topic.
    action : str
        ``"call"``, ``"register"``, ``"publish"`` or ``"subscribe"``.

    Returns
    -------
    dict
        Crossbar authorization: ``allow``, ``disclose`` (the caller or
        publisher is disclosed, so the hub learns who calls it), and
        ``cache`` (true only where the answer does not depend on the authid,
        since Crossbar caches per role, not per authid). The answer of each
        ``(authrole, authid, name, action)`` is remembered (it never changes);
        callers must not modify it.
    """
    consumer = uri.uri("consumer.")
    reads = (action == "call" and _under(name, consumer) and not name.endswith(".command")) or (
        action == "subscribe" and _under(name, consumer))
    allow, cache = False, True
    if authrole == "hub":
        allow = (
            (action == "register" and (name in (uri.DATA_NODE_ADD, uri.DATA_NODE_SUBTRACT, uri.GET_DATA_NODE)
                                       or _under(name, uri.HUB_NODES) or _under(name, uri.HUB_AUDIT)))
            or (action == "publish" and (_under(name, uri.uri("consumer.data_node_")) or name == uri.NODE_CHANGED
                                         or _under(name, uri.uri("hub."))))
            or (action == "subscribe" and name in (uri.HUB_HEARTBEAT, uri.HUB_USERS_CHANGED))
            or (action in ("subscribe", "call") and _under(name, "wamp.session."))
            or (action == "register" and _under(name, ALERTS))
            or (action == "publish" and _under(name, ALERTS[0]))
            or reads
        )
    elif authrole == "node":
        if action in ("register", "publish"):
            allow, cache = _under(name, uri.node_prefix(authid)) or (
                action == "publish" and name == uri.HUB_HEARTBEAT), False
        else:
            allow = reads or (action == "call" and name in (uri.DATA_NODE_ADD, uri.DATA_NODE_SUBTRACT,
                                                            uri.HUB_AUDIT_REPORT)) or (
                action == "subscribe" and name in (uri.HUB_ONLINE, uri.NODE_STATE))
    elif authrole == "consumer":
        allow = reads
    elif authrole == "operator":
        allow = reads or (action == "call" and (_under(name, consumer) or name in OPERATOR_CALLS)) or (
            action == "subscribe" and name == uri.HUB_AUDIT_RECORDED)
    elif authrole == "admin":
        allow = reads or (action == "call" and (
            _under(name, consumer) or _under(name, uri.uri("hub.")) or _under(name, uri.uri("data_node.")))) or (
            action == "subscribe" and name == uri.HUB_AUDIT_RECORDED)
    if action in ("call", "publish") and _identified(name):
        cache = False  # forward_for must be refused on every message (SisockRole.authorize)
    return {"allow": allow, "disclose": True, "cache": cache}


class SisockRole(RouterRole):
    """A role of the realm whose every decision is `authorize`, in the router worker's process.

    Crossbar asks a role's ``authorize`` for each action it has not cached;
    this answers at once from :func:`authorize` (no WAMP call, no Deferred).
    A call or publication carrying ``forward_for`` is refused: only a router
    link may speak for another session.
    """

    def authorize(self, session, uri, action, options):
        if options and options.get("forward_for"):
            return FORWARD_REFUSED
        return authorize(self.uri, session._authid, uri, action)


#: The answer to a message carrying ``forward_for`` from a role that is not a router link.
FORWARD_REFUSED = {"allow": False, "disclose": False, "cache": False}


def install_roles(router):
    """Give the roles `ROLES` of Crossbar router ``router`` (one realm) their rules from `authorize`.

    Parameters
    ----------
    router : crossbar.router.router.Router
        The realm's router in this worker.

    Raises
    ------
    RuntimeError
        If the router config does not declare one of `ROLES` on the realm
        (sessions could then not authenticate with it).
    """
    missing = [name for name in ROLES if not router.has_role(name)]
    if missing:
        raise RuntimeError(f"the router config declares no role {', '.join(missing)} on realm {router._realm}")
    for name in ROLES:
        router.add_role(SisockRole(router, name))


class RouterAuth(ApplicationSession):
    """Router-embedded session: the authenticator, and the roles' rules (see `install_roles`).

    Raises in ``onJoin`` (so the router does not start) if it cannot reach
    the router it is embedded in: the roles would then refuse everything.
    """

    @inlineCallbacks
    def onJoin(self, details):
        created = config.ensure_secrets()
        if created:
            self.log.info("sisock: generated new secrets into {path}", path=config.secrets_file())
        router = getattr(self._transport, "_router", None)  # crossbar.router.session.RouterApplicationSession
        if router is None:
            raise RuntimeError("sisock.router.auth.RouterAuth must run embedded in a Crossbar router worker")
        install_roles(router)
        mend_router_links()
        use_stored_keys()
        self.log.info("sisock: roles {roles} are authorized in the router worker", roles=", ".join(ROLES))
        self.users = UserFile(config.users_file())
        yield self.register(self.authenticate, uri.AUTHENTICATE)
        yield UsersApi(self, self.users).register()
        self.log.info("sisock: router authenticator ready; named users in {path}", path=self.users.path)

    def authenticate(self, realm, authid, details):
        """Dynamic WAMP-CRA authenticator registered with the router; see `_authenticate`.

        The secrets and users files are read in a thread, not in the router's reactor.
        """
        return threads.deferToThread(self._authenticate, authid)

    def _authenticate(self, authid):
        """Dynamic WAMP-CRA authenticator: the secret and role of ``authid``.

        ``hub`` and ``admin`` authenticate as themselves; a named user as
        its role with its salted key (`sisock.router.users`, read again
        after every change of the file; a removed user is refused, saying
        so); any other valid node name authenticates as a ``node`` with its
        own secret if it has one, else the shared node secret
        (`sisock.config.load_secret`).
        """
        if authid in ("hub", "admin"):
            role = authid
        elif (user := self._user(authid)) is not None:
            return user
        elif uri.is_valid_node_name(authid):
            role = "node"
        else:
            raise ApplicationError("wamp.error.not_authorized", f"authid {authid!r} is not a valid node name")
        try:
            secret = config.load_secret(role, authid=authid)
        except config.SecretsError as exc:
            raise ApplicationError("wamp.error.not_authorized", str(exc)) from exc
        return {"secret": secret, "role": role}

    def _user(self, authid):
        """The authenticator's answer for named user ``authid`` (its salted key), or None if it is none.

        A users file that cannot be read is logged and taken as empty, so
        that nodes still join (with their own secrets) while it is mended.

        Raises
        ------
        ApplicationError
            ``wamp.error.not_authorized`` for a removed user.
        """
        try:
            record, removed = self.users.lookup(authid)
        except (OSError, ValueError) as exc:
            self.log.error("sisock: cannot read the users file {path}: {error}; no named user can join",
                           path=self.users.path, error=str(exc))
            return None
        if record is None and removed is not None:
            raise ApplicationError("wamp.error.not_authorized", f"user {authid!r} was removed")
        if record is None:
            return None
        return {"secret": record["key"], "role": record["role"], "salt": record["salt"],
                "iterations": record["iterations"], "keylen": record["keylen"], STORED_KEY: True}

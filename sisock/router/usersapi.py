"""The procedures that manage named users, ``<base>.hub.users.*``, served inside the router.

The router's own component (`sisock.router.auth.RouterAuth`) registers
them, because the users file it authenticates from lives with the router
(`sisock.router.users`), whichever host the hub runs on. The router lets
only the ``admin`` role call them (`sisock.router.auth.authorize`); the
caller is disclosed, so each change knows who made it.

``hub.users.add(name, role) -> {name, role, created, rotated, secret}``
    A new user with a new random secret, answered this once. ``role`` is
    one of ``admin``, ``operator``, ``consumer``. A name that exists, an
    invalid name or role, or the authid a data node of the hub's registry
    joins with (the user would lock the node out: the router looks users up
    first), is ``invalid_argument`` naming the argument; while the hub is
    not up, ``wamp.error.no_such_procedure``.
``hub.users.list() -> [{name, role, created, rotated}, ...]``
    By name; times in seconds UTC; never a secret nor a key.
``hub.users.rotate(name) -> {name, role, created, rotated, secret}``
    A new secret; the old one stops working and the user's open sessions end.
``hub.users.remove(name) -> {name, role, created, rotated}``
    The user can no longer join and its open sessions end.
    ``rotate`` and ``remove`` of a name that is not a user: ``no_such_user``.

Every change is published on ``hub.users.changed`` (`sisock.wire.uri.HUB_USERS_CHANGED`):
``{name, change: "added"|"rotated"|"removed", role, by, t}``, ``by`` the
authid of the admin who made it, ``t`` seconds UTC; the hub may subscribe
to it (to keep an audit trail). `UsersApi.changed` is where a change is
announced.
"""

import time

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, RegisterOptions
from twisted.internet import defer, threads
from twisted.internet.defer import inlineCallbacks

from sisock.router.users import UserError, check_name
from sisock.wire import uri, validate
from sisock.wire.errors import InvalidArgument, NoSuchUser

#: The router's meta procedure that ends every session of an authid.
KILL_BY_AUTHID = "wamp.session.kill_by_authid"
#: The ``hub.nodes.list`` filter of the registry records of nodes that join with authid ``name``.
NODE_FILTER = "authid={name}"


class UsersApi:
    """The ``hub.users.*`` procedures on ``session``, changing ``users``.

    Parameters
    ----------
    session : autobahn.twisted.wamp.ApplicationSession
        The router's own session (it may call the meta API and publish).
    users : sisock.router.users.UserFile
        The users file; read and written in threads, never in the reactor.
    """

    def __init__(self, session, users):
        self.session, self.users = session, users

    def register(self):
        """Register the four procedures; Deferred."""
        options = RegisterOptions(details_arg="details")
        procedures = {"add": self.add, "list": self.list, "rotate": self.rotate, "remove": self.remove}
        return defer.gatherResults([self.session.register(validate.rpc(proc), uri.HUB_USERS + name, options)
                                    for name, proc in procedures.items()], consumeErrors=True)

    def list(self, details=None):
        """``hub.users.list()`` (see the module); Deferred."""
        return threads.deferToThread(self.users.list)

    @inlineCallbacks
    def add(self, name, role, details=None):
        """``hub.users.add(name, role)`` (see the module); Deferred."""
        yield self._not_a_node(name)
        return (yield self._change("added", details, self.users.add, name, role))

    @inlineCallbacks
    def _not_a_node(self, name):
        """Refuse ``name`` if a data node in the hub's registry joins with that authid (`NODE_FILTER`).

        The router looks an authid up among the users before the nodes
        (`sisock.router.auth.RouterAuth._authenticate`): such a user would
        lock the node out at its next join.

        Raises
        ------
        InvalidArgument
            ``name`` is not a valid user name or role, or is a node's authid.
        ApplicationError
            ``wamp.error.no_such_procedure`` if the hub is not up to tell.
        """
        try:
            check_name(name)
        except UserError as error:
            raise InvalidArgument(str(error)) from None
        try:
            page = yield self.session.call(uri.HUB_NODES + "list", NODE_FILTER.format(name=name), 1)
        except ApplicationError as error:
            if error.error != ApplicationError.NO_SUCH_PROCEDURE:
                raise
            raise ApplicationError(ApplicationError.NO_SUCH_PROCEDURE,
                                   f"cannot add user {name!r} while the hub is not up: its registry tells which "
                                   "authids data nodes join with") from None
        if page["nodes"]:
            node = page["nodes"][0]["name"]
            raise InvalidArgument(f"name {name!r} is the authid of data node {node} (in the hub's registry): "
                                  "a user of that name would lock the node out; choose another name, or forget "
                                  "the node first (sisock forget)")

    def rotate(self, name, details=None):
        """``hub.users.rotate(name)`` (see the module); Deferred."""
        return self._change("rotated", details, self.users.rotate, name)

    def remove(self, name, details=None):
        """``hub.users.remove(name)`` (see the module); Deferred."""
        return self._change("removed", details, self.users.remove, name)

    def changed(self, user, change, details):
        """Announce a change of ``user`` (``added``, ``rotated``, ``removed``) made by the caller of ``details``.

        Publishes `sisock.wire.uri.HUB_USERS_CHANGED` (without the secret) and logs it.
        """
        by = getattr(details, "caller_authid", None)
        event = {"name": user["name"], "change": change, "role": user["role"], "by": by, "t": time.time()}
        self.session.log.info("sisock: user {name} {change} (role {role}) by {by}", **event)
        self.session.publish(uri.HUB_USERS_CHANGED, event, options=PublishOptions(acknowledge=False))

    @inlineCallbacks
    def _change(self, change, details, method, name, *args):
        """Make a change: ``method(name, *args)`` in a thread (a `UserError` answered as a sisock error),
        then end the user's open sessions unless it was ``added``, then announce it (`changed`); its answer."""
        try:
            user = yield threads.deferToThread(method, name, *args)
        except UserError as error:
            raise (NoSuchUser if error.missing else InvalidArgument)(str(error)) from None
        if change != "added":
            yield self._end_sessions(name, f"the user was {change}")
        self.changed(user, change, details)
        return user

    def _end_sessions(self, name, why):
        """End every open session of authid ``name`` (the router's meta API); Deferred."""
        return self.session.call(KILL_BY_AUTHID, name, reason="wamp.close.killed", message=why)

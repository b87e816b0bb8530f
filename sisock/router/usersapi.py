"""The procedures that manage named users, ``<base>.hub.users.*``, served inside the router.

The router's own component (`sisock.router.auth.RouterAuth`) registers
them, because the users file it authenticates from lives with the router
(`sisock.router.users`), whichever host the hub runs on. The router lets
only the ``admin`` role call them (`sisock.router.auth.authorize`); the
caller is disclosed, so each change knows who made it.

``hub.users.add(name, role) -> {name, role, created, rotated, secret}``
    A new user with a new random secret, answered this once. ``role`` is
    one of ``admin``, ``operator``, ``consumer``. A name that exists, or an
    invalid name or role, is ``invalid_argument`` naming the argument.
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

from autobahn.wamp.types import PublishOptions, RegisterOptions
from twisted.internet import defer, threads
from twisted.internet.defer import inlineCallbacks

from sisock.router.users import UserError
from sisock.wire import uri, validate
from sisock.wire.errors import InvalidArgument, NoSuchUser

#: The router's meta procedure that ends every session of an authid.
KILL_BY_AUTHID = "wamp.session.kill_by_authid"


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
        return threads.deferToThread(self.users.list)

    @inlineCallbacks
    def add(self, name, role, details=None):
        user = yield self._change(self.users.add, name, role)
        self.changed(user, "added", details)
        return user

    @inlineCallbacks
    def rotate(self, name, details=None):
        user = yield self._change(self.users.rotate, name)
        yield self._end_sessions(name, "its secret was rotated")
        self.changed(user, "rotated", details)
        return user

    @inlineCallbacks
    def remove(self, name, details=None):
        user = yield self._change(self.users.remove, name)
        yield self._end_sessions(name, "the user was removed")
        self.changed(user, "removed", details)
        return user

    def changed(self, user, change, details):
        """Announce a change of ``user`` (``added``, ``rotated``, ``removed``) made by the caller of ``details``.

        Publishes `sisock.wire.uri.HUB_USERS_CHANGED` (without the secret) and logs it.
        """
        by = getattr(details, "caller_authid", None)
        event = {"name": user["name"], "change": change, "role": user["role"], "by": by, "t": time.time()}
        self.session.log.info("sisock: user {name} {change} (role {role}) by {by}", **event)
        self.session.publish(uri.HUB_USERS_CHANGED, event, options=PublishOptions(acknowledge=False))

    def _change(self, method, *args):
        """Deferred of ``method(*args)`` in a thread, a `UserError` answered as a sisock error."""

        def refused(failure):
            failure.trap(UserError)
            error = failure.value
            raise (NoSuchUser if error.missing else InvalidArgument)(str(error))

        return threads.deferToThread(method, *args).addErrback(refused)

    def _end_sessions(self, name, why):
        """End every open session of authid ``name`` (the router's meta API); Deferred."""
        return self.session.call(KILL_BY_AUTHID, name, reason="wamp.close.killed", message=why)

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
        """``hub.users.list()`` (see the module); Deferred."""
        return threads.deferToThread(self.users.list)

    def add(self, name, role, details=None):
        """``hub.users.add(name, role)`` (see the module); Deferred."""
        return self._change("added", details, self.users.add, name, role)

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

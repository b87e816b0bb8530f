"""sisock errors: one exception type per error URI.

Each is an :class:`autobahn.wamp.exception.ApplicationError`, so raising one
inside a procedure sends the caller a WAMP error with the URI
``<base>.error.<kind>`` and the message as its only argument. The caller's
autobahn session turns it back into the same class when it has called
:func:`define_errors` (the sisock client does).
"""

from autobahn.wamp.exception import ApplicationError

from sisock.wire.uri import uri


class SisockError(ApplicationError):
    """Base of sisock's WAMP errors.

    Parameters
    ----------
    message : str
        One line that names the argument at fault and what is accepted.
    """

    kind = "error"

    def __init__(self, message, *args, **kwargs):
        super().__init__(self.uri(), message, *args, **kwargs)

    @classmethod
    def uri(cls):
        """The WAMP error URI of this kind of error."""
        return uri(f"error.{cls.kind}")

    @property
    def message(self):
        """The one-line message."""
        return self.args[0] if self.args else ""

    def __str__(self):
        return f"{self.error}: {self.message}"


class InvalidArgument(SisockError):
    """An argument has the wrong type or is out of its accepted range."""

    kind = "invalid_argument"


class TooLarge(SisockError):
    """A result would exceed the configured size; ask for less."""

    kind = "too_large"


class NoSuchNode(SisockError):
    """No data node of that name is known to the hub."""

    kind = "no_such_node"


class NodeError(SisockError):
    """A data node failed while answering; the message says how."""

    kind = "node_error"


class NotAuthorized(SisockError):
    """The caller may not do this (e.g. subtract a node it does not own)."""

    kind = "not_authorized"


class NodeDisabled(SisockError):
    """The data node is disabled by an admin: connected, but not serving data."""

    kind = "node_disabled"


class NoSuchCommand(SisockError):
    """The data node has no command of that name (``consumer.NAME.get_api`` lists them)."""

    kind = "no_such_command"


class NoSuchUser(SisockError):
    """No named user of that name (``hub.users.list`` lists them)."""

    kind = "no_such_user"


ALL_ERRORS = (InvalidArgument, TooLarge, NoSuchNode, NodeError, NotAuthorized, NodeDisabled, NoSuchCommand,
              NoSuchUser)


def define_errors(session):
    """Map sisock error URIs to their exception classes on an autobahn session.

    Parameters
    ----------
    session : autobahn.wamp.protocol.ApplicationSession
        After this, a WAMP error received with one of sisock's URIs is raised
        as the matching class (e.g. :class:`InvalidArgument`).
    """
    for cls in ALL_ERRORS:
        session.define(cls, cls.uri())

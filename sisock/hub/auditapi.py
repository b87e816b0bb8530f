"""The hub's audit procedures ``<base>.hub.audit.*`` and its live topic.

``hub.audit.list(since=None, until=None, user=None, node=None, action=None, limit=1000)``
    The entries of the audit trail (`sisock.hub.audit`) that match, newest
    first: ``since``/``until`` are sisock times (UNIX seconds UTC, or <= 0
    relative to now; ``since <= t < until``), ``user`` the authid who
    acted, ``node`` the target (a node or user name), ``action`` an action
    or the prefix of one (``"nodes"``: every ``nodes.*``), ``limit`` 1 to
    `sisock.hub.audit.MAX_LIST` (the newest). For the ``admin`` and
    ``operator`` roles (`sisock.router.auth`).
``hub.audit.report(node, action, args=None, outcome="ok", message=None, caller=None)``
    For node sessions (`sisock.node.audit`): one run of an audited
    procedure of node ``node`` (the node's name must be the reporting
    session's authid or under it, as for ``data_node.add``), by ``caller``,
    the authid the router disclosed to the node. The hub takes who reports
    from the router, never from an argument; any other role is refused
    with ``not_authorized``. Answers None once the entry is written.
``hub.audit.recorded`` (topic)
    Every entry, once written; admins and operators may subscribe.

The named users' changes are made in the router (`sisock.router.usersapi`),
which announces each on ``hub.users.changed`` ``{name, change, role, by}``;
the hub records them from there (action ``users.add``, ``users.rotate`` or
``users.remove``, target the user, who ``by``), taking only the router's own
publications (publisher role ``router``, as the router discloses it).
"""

from autobahn.wamp.types import RegisterOptions, SubscribeOptions
from twisted.internet import defer

from sisock.hub.audit import MAX_LIST
from sisock.wire import uri, validate
from sisock.wire.audit import OK
from sisock.wire.errors import InvalidArgument, NotAuthorized

#: Longest action, caller or error URI a node may report, characters.
MAX_NAME = 256
#: Longest error message a node may report, characters.
MAX_MESSAGE = 4096
#: ``hub.users.changed`` change -> the action recorded (the procedure's name).
USER_ACTIONS = {"added": "users.add", "rotated": "users.rotate", "removed": "users.remove"}


def _text(name, value, longest, optional=True):
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > longest:
        raise InvalidArgument(f"{name} must be a non-empty string of at most {longest} characters, "
                              f"got {value!r:.60}")
    return value


class AuditApi:
    """The ``hub.audit.*`` procedures of a `sisock.hub.Hub` and its ``hub.audit.recorded`` events.

    Parameters
    ----------
    hub : sisock.hub.Hub
        Its ``audit`` (`sisock.hub.audit.AuditLog`) keeps the entries.
    """

    def __init__(self, hub):
        self.hub = hub
        hub.audit.listeners.append(self._publish)

    def register(self):
        """Register the procedures and follow the users' changes on the hub's session; Deferred."""
        with_caller = RegisterOptions(details_arg="details")
        return defer.gatherResults([self.hub.register(validate.rpc(self.list), uri.HUB_AUDIT + "list"),
                                    self.hub.register(validate.rpc(self.report), uri.HUB_AUDIT_REPORT, with_caller),
                                    self.hub.subscribe(self._user_changed, uri.HUB_USERS_CHANGED,
                                                       SubscribeOptions(details_arg="details"))],
                                   consumeErrors=True)

    def _user_changed(self, event=None, details=None):
        """Record a ``hub.users.changed`` event of the router (see the module docstring); others are ignored."""
        if getattr(details, "publisher_authrole", None) != "router" or not isinstance(event, dict):
            return None
        action = USER_ACTIONS.get(event.get("change"), f"users.{event.get('change')}")
        return self.hub.audit.record(event.get("by") or "?", action, event.get("name"),
                                     {"name": event.get("name"), "role": event.get("role")})

    def _publish(self, entry):
        if self.hub.is_attached():
            self.hub.publish(uri.HUB_AUDIT_RECORDED, entry)

    def list(self, since=None, until=None, user=None, node=None, action=None, limit=1000):
        """``hub.audit.list``; see the module docstring.

        Raises
        ------
        InvalidArgument
            A time that is not a number, a name that is not a string, a
            ``limit`` out of range.
        """
        since = None if since is None else validate.time_arg("since", since)
        until = None if until is None else validate.time_arg("until", until)
        user, node, action = (_text(n, v, MAX_NAME) for n, v in (("user", user), ("node", node), ("action", action)))
        if not validate.is_count(limit) or not 1 <= limit <= MAX_LIST:
            raise InvalidArgument(f"limit must be an integer from 1 to {MAX_LIST}, got {limit!r:.40}")
        return self.hub.audit.list(since, until, user, node, action, limit)

    def report(self, node, action, args=None, outcome=OK, message=None, caller=None, details=None):
        """``hub.audit.report``; see the module docstring.

        Raises
        ------
        NotAuthorized
            The caller is not a node session, or ``node`` is not its own.
        InvalidArgument
            A malformed ``node``, ``action``, ``outcome``, ``message`` or ``caller``.
        """
        validate.node_name(node, "node")
        authid = getattr(details, "caller_authid", None)
        if getattr(details, "caller_authrole", None) != "node" or authid is None:
            raise NotAuthorized("only node sessions report their nodes' actions")
        if not (node == authid or node.startswith(f"{authid}.")):
            raise NotAuthorized(f"node session {authid!r} may not report for node {node!r}")
        action, outcome, caller = (_text(n, v, MAX_NAME, False) for n, v in
                                   (("action", action), ("outcome", outcome), ("caller", caller)))
        message = _text("message", message, MAX_MESSAGE)
        return self.hub.audit.record(caller, action, node, args, outcome, message).addCallback(lambda _: None)

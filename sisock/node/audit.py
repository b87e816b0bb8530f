"""A node session reports what people did to its nodes to the hub's audit trail.

Nodes run their commands themselves (``consumer.NAME.command`` reaches the
node, not the hub), so `sisock.node.session.NodeSession` reports each run
to the hub, which records it (`sisock.hub.auditapi`, ``hub.audit.report``).
A run is reported when:

- the procedure is ``command`` or one of the node's own procedures that
  only some roles may call (``@procedure(roles=...)``: the changes, such as
  the brewing node's ``settings.set``), and
- the caller's role, as the router disclosed it, is a person's
  (`sisock.wire.audit.AUDITED_ROLES`: ``admin``, ``operator``); a device
  streaming frames as a ``node`` is not an action to audit.

The report names the node, the action (``command.<name>`` for a command,
else the procedure's name under the node), the arguments by parameter
name, the outcome (``"ok"`` or the error URI and message the caller got)
and the caller's authid as the router disclosed it to the node. It is
sent before the answer, so the hub has it before the caller has the
answer; it never delays nor fails the run (a hub that is down loses the
entry, and the node logs why, once until a report goes through again).
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from sisock.node.commands import commands_of
from sisock.wire import uri
from sisock.wire.audit import AUDITED_ROLES, OK, args_json, named_args, outcome_of

_log = Logger()


def wanted(name: str, roles: frozenset[str] | None, details: Any) -> bool:
    """Whether a call of procedure ``name`` (restricted to ``roles``) is reported (see the module docstring)."""
    return (name == "command" or roles is not None) and getattr(details, "caller_authrole", None) in AUDITED_ROLES


def _action(node: Any, name: str, method: Any, args: tuple, kwargs: dict) -> tuple[str, Any]:
    """``(action, arguments by name)`` of a call of ``name`` on ``node``."""
    if name != "command":
        return name, named_args(method, args, kwargs)
    handler = commands_of(node).get(args[0]) if args and isinstance(args[0], str) else None
    if handler is None:
        return "command", named_args(method, args, kwargs)
    return f"command.{args[0]}", named_args(handler, args[1:], kwargs)


def run(session: Any, node: Any, name: str, method: Any, args: tuple, kwargs: dict, details: Any,
        call: Any) -> Any:
    """Run ``call()`` (the procedure) and report it to the hub; its result, a Deferred if it answers later.

    Parameters
    ----------
    session : sisock.node.session.NodeSession
        Sends the report.
    node : sisock.node.base.DataNode
        The node called.
    name : str
        The procedure's name under the node (``command``, ``settings.set``).
    method : callable
        The node's method, whose signature names the arguments.
    args, kwargs
        The call's arguments.
    details : autobahn.wamp.types.CallDetails
        The call's details: ``caller_authid`` is who acted.
    call : callable
        No arguments; runs the procedure (may raise, or return a Deferred).
    """
    action, named = _action(node, name, method, args, kwargs)

    def report(result):
        outcome, message = (OK, None) if not isinstance(result, defer.Failure) else outcome_of(result)
        if session.is_attached():
            session.call(uri.HUB_AUDIT_REPORT, node.name, action, json.loads(args_json(named)), outcome,
                         message, details.caller_authid).addCallbacks(_reported, _not_reported)
        return result

    try:
        result = call()
    except Exception:
        report(defer.Failure())
        raise
    if isinstance(result, defer.Deferred):
        return result.addBoth(report)
    return report(result)


#: Why the last report failed (None: it went through); a reason is logged once, not for every run.
_failing: list[str | None] = [None]


def _reported(_: Any) -> None:
    _failing[0] = None


def _not_reported(failure: Any) -> None:
    why = failure.getErrorMessage()
    if why != _failing[0]:
        _log.warn("sisock: runs are not recorded in the hub's audit trail: {why}", why=why)
    _failing[0] = why

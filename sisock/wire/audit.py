"""What the hub and the nodes agree on about audit entries: an action's arguments and its outcome.

An entry of the audit trail (`sisock.hub.audit`) says who did what to
which target and how it ended. The hub records its own procedures and the
nodes report their command runs (`sisock.node.audit`); both describe the
arguments and the outcome with these two helpers, so an entry reads the
same wherever the action ran.
"""

import inspect
import json

from autobahn.wamp.exception import ApplicationError

#: The outcome of an action that answered.
OK = "ok"
#: The caller roles whose actions on nodes are recorded: people, not programs.
AUDITED_ROLES = frozenset({"admin", "operator"})
#: Longest JSON of an entry's arguments kept, characters (longer: the start, as a string).
MAX_ARGS = 4096
#: The error URI autobahn answers for an exception that is not a WAMP error.
RUNTIME_ERROR = "wamp.error.runtime_error"


def named_args(func, args, kwargs):
    """The arguments of a call as ``{parameter name: value}`` of ``func``'s signature.

    Parameters
    ----------
    func : callable
        The procedure or handler called (a bound method: without ``self``).
    args : sequence
        Positional arguments of the call.
    kwargs : dict
        Keyword arguments of the call (a ``details`` key is left out).

    Returns
    -------
    dict
        By parameter name; arguments that do not fit the signature (the
        call is refused) as ``{"args": [...], "kwargs": {...}}`` instead,
        the empty ones left out. Defaults not given are not listed.
    """
    kwargs = {k: v for k, v in kwargs.items() if k != "details"}
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {k: v for k, v in (("args", list(args)), ("kwargs", kwargs)) if v}
    named = {}
    for name, value in bound.arguments.items():
        kind = bound.signature.parameters[name].kind
        if kind == inspect.Parameter.VAR_KEYWORD:
            named.update(value)
        else:
            named[name] = list(value) if kind == inspect.Parameter.VAR_POSITIONAL else value
    return named


def outcome_of(error):
    """``(outcome, message)`` of an action that failed with ``error``.

    Parameters
    ----------
    error : BaseException or twisted.python.failure.Failure
        What the action raised.

    Returns
    -------
    (str, str)
        The WAMP error URI the caller got (``<base>.error.invalid_argument``
        ...; `RUNTIME_ERROR` for an exception that is not a WAMP error)
        and its one-line message.
    """
    exc = getattr(error, "value", error)
    if isinstance(exc, ApplicationError):
        return exc.error, str(exc.args[0]) if exc.args else ""
    return RUNTIME_ERROR, f"{type(exc).__name__}: {exc}"


def args_json(args):
    """``args`` as JSON text of at most about `MAX_ARGS` characters.

    A value JSON cannot hold (bytes, NaN, an object) is written as its
    ``repr``; a longer text is replaced by a JSON string of its first
    `MAX_ARGS` characters and an ellipsis.
    """
    try:
        text = json.dumps(args, sort_keys=True, default=repr, allow_nan=False)
    except (TypeError, ValueError):
        text = json.dumps(repr(args))
    return text if len(text) <= MAX_ARGS else json.dumps(text[:MAX_ARGS] + "…")

"""Commands to data nodes: the `command` decorator, dispatch and ``get_api``.

A node author marks methods of a `sisock.node.base.DataNode` subclass (or `DataNodeServer`)::

    from sisock.node.commands import command

    class Lamp(DataNodeServer):
        @command
        def dim(self, level: float, ramp: float = 0.0):
            '''Set the light level.

            Parameters
            ----------
            level : float
                Percent of full power, 0 to 100.
            ramp : float
                Seconds to get there.
            '''
            ...
            return {"level": level}

and every node answers two procedures (routed to it by its `sisock.node.session.NodeSession`):

``consumer.NAME.command(command, *args, **kwargs)``
    Calls the handler named ``command`` with the other arguments and
    answers what it returns (a value, or a Deferred of one; a handler
    that blocks should use ``twisted.internet.threads.deferToThread``).
    An unknown command is ``<base>.error.no_such_command``, arguments that
    do not fit the handler's signature or the types it is annotated with
    (`sisock.node.argtypes`) ``invalid_argument`` naming the argument and
    its type, before the handler runs; an
    exception that is not a sisock error ``node_error``. The router lets
    only admins call it (`sisock.router.auth`).
``consumer.NAME.get_api()``
    ``{"name", "description", "fields": {field: {description, timeline,
    type, units}}, "commands": [{"name", "description", "parameters":
    [{"name", "type", "required", "default", "description"}]}],
    "procedures": [{"name", "description", "parameters", "roles"}]}``,
    the fields being those of ``get_fields`` over all time, the
    descriptions taken from the handlers' numpy-style docstrings, a
    ``type`` as `sisock.node.argtypes.type_name` writes the annotation
    (``"float"``, ``"int | None"``; None if absent), ``procedures`` the
    node's own (`sisock.node.procedures`) with the caller roles they
    allow (None: whoever the router lets call).
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from sisock.node import argtypes
from sisock.node.failures import log_failure
from sisock.node.procedures import STANDARD, procedures_of
from sisock.wire.errors import InvalidArgument, NodeError, NoSuchCommand, SisockError

_MARK = "_sisock_command"
_by_class: dict[type, dict[str, str]] = {}  # class -> {command name: method name}
#: A handler parameter of this name receives the call's details (the caller), never a caller's argument.
DETAILS = "details"


def command(func: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Mark a node method as a command (``@command`` or ``@command(name="...")``).

    Parameters
    ----------
    func : callable
        The method.
    name : str, optional
        Command name on the wire; the method's name by default.
    """

    def mark(f):
        setattr(f, _MARK, name or f.__name__)
        return f

    return mark(func) if func is not None else mark


def commands_of(node):
    """``{command name: bound method}`` of ``node``'s decorated methods (the class is read once)."""
    cls = type(node)
    names = _by_class.get(cls)
    if names is None:
        names = _by_class[cls] = {getattr(getattr(cls, attr), _MARK): attr for attr in dir(cls)
                                  if getattr(getattr(cls, attr, None), _MARK, None) is not None}
    return {wire: getattr(node, attr) for wire, attr in names.items()}


def _param_docs(doc):
    """``{name: description}`` from the Parameters section of a numpy-style docstring."""
    section = re.search(r"Parameters\n\s*-+\n(.*?)(?:\n\s*\n\s*\S+\n\s*-+\n|\Z)", inspect.cleandoc(doc or ""), re.S)
    docs, current = {}, None
    for line in (section.group(1).splitlines() if section else ()):
        if line and not line[0].isspace():
            current = line.split(":")[0].strip()
            docs[current] = ""
        elif current is not None and line.strip():
            docs[current] = f"{docs[current]} {line.strip()}".strip()
    return docs


def _default(value):
    return value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)


def describe_command(name, handler):
    """``{"name", "description", "parameters"}`` of one handler (see the module docstring)."""
    doc = inspect.getdoc(handler) or ""
    docs = _param_docs(doc)
    params = []
    hints = argtypes.annotations_of(handler)
    for p in inspect.signature(handler).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == DETAILS:
            continue
        params.append({"name": p.name, "type": argtypes.type_name(hints.get(p.name, p.annotation)),
                       "required": p.default is p.empty,
                       "default": None if p.default is p.empty else _default(p.default),
                       "description": docs.get(p.name, "")})
    return {"name": name, "description": doc.split("\n\n")[0].replace("\n", " "), "parameters": params}


def _usage(name, handler):
    parts = [p["name"] if p["required"] else f"{p['name']}={p['default']!r}"
             for p in describe_command(name, handler)["parameters"]]
    return f"{name}({', '.join(parts)})"


def dispatch(node, args, kwargs, details=None):
    """Run ``consumer.NAME.command``: ``args[0]`` is the command, the rest goes to its handler.

    A handler with a ``details`` parameter gets ``details`` (autobahn's call
    details: ``caller_authid``, ``caller_authrole``) there; a caller cannot set it.

    Returns
    -------
    Deferred
        Of what the handler returns.

    Raises (in the Deferred)
    ------------------------
    sisock.wire.errors.NoSuchCommand, sisock.wire.errors.InvalidArgument, sisock.wire.errors.NodeError
    """
    handlers = commands_of(node)
    known = ", ".join(sorted(handlers)) or "none"
    if not args or not isinstance(args[0], str):
        return defer.fail(InvalidArgument(f"command: the first argument must be a command name; "
                                          f"node {node.name!r} has: {known}"))
    name, rest = args[0], args[1:]
    handler = handlers.get(name)
    if handler is None:
        return defer.fail(NoSuchCommand(f"node {node.name!r} has no command {name!r}; it has: {known}"))
    signature = inspect.signature(handler)
    takes_any = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = sorted(set(kwargs) - set(signature.parameters)) if not takes_any else []
    if DETAILS in kwargs:
        unknown = [DETAILS]
    elif DETAILS in signature.parameters:
        kwargs = dict(kwargs, details=details)
    try:
        if unknown:
            raise TypeError(f"unknown argument {unknown[0]!r}")
        bound = signature.bind(*rest, **kwargs)
        argtypes.check(handler, bound)
    except (TypeError, InvalidArgument) as exc:
        why = exc.message if isinstance(exc, InvalidArgument) else exc
        return defer.fail(InvalidArgument(f"command {name!r} of node {node.name!r}: {why}; "
                                          f"usage: {_usage(name, handler)}"))

    def failed(failure):
        if failure.check(SisockError):
            return failure
        log_failure(failure, node.log, f"sisock: command {name}")
        raise NodeError(f"command {name!r} of node {node.name!r} failed: {failure.type.__name__}: "
                        f"{failure.getErrorMessage()}")

    return defer.maybeDeferred(handler, *bound.args, **bound.kwargs).addErrback(failed)


def describe(node):
    """Deferred answer of ``consumer.NAME.get_api`` (see the module docstring)."""
    own = sorted((n, attr, roles) for n, (attr, roles) in procedures_of(node).items() if n not in STANDARD)
    d = defer.maybeDeferred(node.get_fields, 1, time.time())
    return d.addCallback(lambda fields: {
        "name": node.name, "description": node.description or "", "fields": fields[0],
        "commands": [describe_command(n, h) for n, h in sorted(commands_of(node).items())],
        "procedures": [dict(describe_command(n, getattr(node, attr)), roles=None if roles is None else sorted(roles))
                       for n, attr, roles in own]})

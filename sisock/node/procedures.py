"""The procedures a data node answers: the standard ones and those its author declares with `procedure`.

Every node answers ``consumer.NAME.get_fields``, ``get_data``,
``get_latest``, ``command``, ``get_api`` and ``get_data_ack`` (a caller's
acknowledgement of the chunks of an answer it has read,
`sisock.node.pacing`) (`sisock.node.base.DataNode`).
A node that needs more procedures of its own (a display's ``set`` and
``fill``, a controller's ``io.create``) marks methods::

    from sisock.node.procedures import procedure

    class Display(DataNodeServer):
        @procedure
        def fill(self, colour):
            '''Fill the display with one colour [r, g, b].'''
            ...

        @procedure(name="io.create", roles=("admin",))
        def create_io(self, kind, **fields):
            ...

and its `sisock.node.session.NodeSession` routes ``consumer.NAME.fill``
and ``consumer.NAME.io.create`` to them, checking the arguments against
the signature like any other procedure. The router lets anonymous
consumers call every procedure under ``consumer.`` but ``command``
(`sisock.router.auth`); a procedure given ``roles`` is refused with
``error.not_authorized`` unless the caller's role, which the router
discloses to the node, is one of them (``roles=("admin", "node")``: no
anonymous consumer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

_MARK = "_sisock_procedure"
#: A procedure name: dot-separated parts of letters, digits and ``_``.
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
#: Procedure name -> (method name, roles allowed or None for any) of what every node answers
#: (the router lets only admins call ``command``).
STANDARD: dict[str, tuple[str, frozenset[str] | None]] = {
    "get_fields": ("get_fields", None), "get_data": ("get_data", None), "get_latest": ("get_latest", None),
    "command": ("run_command", None), "get_api": ("get_api", None),
    "get_data_ack": ("ack_data", None)}   # a caller's acknowledgement of chunks read (sisock.node.pacing)
_by_class: dict[type, dict[str, tuple[str, frozenset[str] | None]]] = {}


def procedure(func: Callable[..., Any] | None = None, *, name: str | None = None,
              roles: Iterable[str] | None = None) -> Any:
    """Mark a node method as the procedure ``consumer.NAME.<name>`` (``@procedure`` or ``@procedure(...)``).

    Parameters
    ----------
    func : callable
        The method; what it returns (a value or a Deferred) is the answer.
    name : str, optional
        Procedure name under the node, dots allowed (``"io.create"``);
        the method's name by default. Not one of the standard ones.
    roles : iterable of str, optional
        The caller roles (``admin``, ``node``, ``hub``, ``consumer``) that
        may call it, checked against the role the router discloses; others
        get ``error.not_authorized``. None: whoever the router lets call.

    Raises
    ------
    ValueError
        If ``name`` is not a valid procedure name or is a standard one.
    """

    def mark(f):
        wire = name or f.__name__
        if not NAME_RE.match(wire) or wire in STANDARD:
            raise ValueError(f"procedure name {wire!r} must be dot-separated identifiers, "
                             f"not one of {sorted(STANDARD)}")
        setattr(f, _MARK, (wire, None if roles is None else frozenset(roles)))
        return f

    return mark(func) if func is not None else mark


def procedures_of(node: object) -> dict[str, tuple[str, frozenset[str] | None]]:
    """``{procedure name: (method name, roles or None)}`` of ``node``: the standard ones and its own."""
    cls = type(node)
    found = _by_class.get(cls)
    if found is None:
        found = dict(STANDARD)
        for attr in dir(cls):
            mark = getattr(getattr(cls, attr, None), _MARK, None)
            if mark is not None:
                found[mark[0]] = (attr, mark[1])
        _by_class[cls] = found
    return found

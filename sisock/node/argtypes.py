"""Arguments of commands and procedures checked against their handlers' annotations.

A handler's parameter annotated ``int``, ``float``, ``bool``, ``str``,
``bytes``, ``list``, ``dict`` (or ``list[int]``...), ``X | None`` /
``Optional[X]``, a union, a ``Literal[...]`` or an `enum.Enum` accepts
only values of that type, the way they arrive in WAMP (JSON, MessagePack
or CBOR): an ``int`` is a ``float`` too, a ``bool`` is neither an ``int``
nor a ``float``, a ``tuple`` is a ``list``; an enum takes a member's value
or name and the handler gets the member. A parameter whose default is
None also takes None. An unannotated parameter, ``Any`` or any other
annotation is not checked.
"""

from __future__ import annotations

import enum
import functools
import inspect
import types
import typing
from typing import Any

from sisock.wire.errors import InvalidArgument

_NONE = type(None)
_PLAIN = {bool: (bool,), str: (str,), bytes: (bytes, bytearray), list: (list, tuple), tuple: (list, tuple),
          dict: (dict,)}


@functools.lru_cache(maxsize=512)
def _hints(func) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # an annotation that does not resolve is left unchecked
        return {}


def annotations_of(handler) -> dict[str, Any]:
    """``{parameter: annotation}`` of a function or bound method, string annotations resolved."""
    return _hints(getattr(handler, "__func__", handler))


def type_name(annotation: Any) -> str | None:
    """How `get_api` shows an annotation: ``"float"``, ``"int | None"``, ``"'on' | 'off'"``; None if absent."""
    if annotation is inspect.Parameter.empty or annotation is None:
        return None
    if annotation is _NONE:
        return "None"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) or "?" for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " | ".join(repr(m.value) for m in annotation)
    if origin is not None and args:
        return f"{getattr(origin, '__name__', origin)}[{', '.join(type_name(a) or '?' for a in args)}]"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def check(handler, bound: inspect.BoundArguments) -> None:
    """Check (and convert, for enums) the bound arguments of ``handler`` in place.

    Parameters
    ----------
    handler : callable
        The command or procedure.
    bound : inspect.BoundArguments
        The caller's arguments bound to ``handler``'s signature; an enum
        argument is replaced by its member.

    Raises
    ------
    sisock.wire.errors.InvalidArgument
        For the first argument that does not fit its annotation:
        ``"offset: must be float, got 'abc'"``.
    """
    hints = annotations_of(handler)
    params = bound.signature.parameters
    for name, value in list(bound.arguments.items()):
        annotation = hints.get(name)
        param = params[name]
        if annotation is None or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if value is None and param.default is None:
            continue
        ok, converted = _fits(value, annotation)
        if not ok:
            raise InvalidArgument(f"{name}: must be {type_name(annotation)}, got {value!r:.60}")
        bound.arguments[name] = converted


def _fits(value: Any, annotation: Any) -> tuple[bool, Any]:
    """``(whether value fits annotation, the value to pass)``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return True, value
    if annotation is _NONE:
        return value is None, value
    if origin in (typing.Union, types.UnionType):
        for member in args:
            ok, converted = _fits(value, member)
            if ok:
                return True, converted
        return False, value
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args), value
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        for member in annotation:
            if value == member.value and type(value) is type(member.value) or value == member.name:
                return True, member
        return False, value
    kind: Any = origin or annotation
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool), value
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind in _PLAIN:
        fits = isinstance(value, _PLAIN[kind])
        if fits and kind is list and len(args) == 1:
            fits = all(_fits(v, args[0])[0] for v in list(value))
        return fits, value
    return True, value  # an annotation this module does not know is not checked


def checked(method, name: str):
    """``method`` wrapped to `check` its arguments' types first; ``method`` itself if it has no annotations.

    For a node's own procedures (`sisock.node.procedures`); arguments that
    do not fit the signature at all are left to `sisock.wire.validate.call`.

    Raises (when called)
    --------------------
    sisock.wire.errors.InvalidArgument
        ``"<name>: <argument>: must be float, got 'abc'"``.
    """
    if not annotations_of(method):
        return method
    signature = inspect.signature(method)

    @functools.wraps(method)
    def call(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return method(*args, **kwargs)
        try:
            check(method, bound)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{name}: {exc.message}") from None
        return method(*bound.args, **bound.kwargs)

    return call

"""Validation of RPC arguments: every check raises `InvalidArgument` naming the argument.

Used by the hub and by `DataNodeServer` so that a caller's mistake comes
back as ``<base>.error.invalid_argument`` with a one-line message, never as
a Python ``TypeError`` wrapped in ``wamp.error.runtime_error``.
"""

import functools
import inspect
import math
import numbers
import time

from sisock.wire.errors import InvalidArgument
from sisock.wire.timeutil import sisock_to_unix_time
from sisock.wire.uri import NODE_NAME_MAX, RESERVED_NODE_NAMES, is_valid_node_name

#: Most fields one ``get_data`` call may ask for.
MAX_FIELDS = 1000
#: Longest field name accepted, characters.
MAX_FIELD_NAME = 256
#: Longest node description accepted, characters.
MAX_DESCRIPTION = 4096


def is_number(x):
    """Whether ``x`` is a finite real number (Python or NumPy; a bool is not a number here)."""
    if not (type(x) is float or type(x) is int):  # the usual types pass without the ABC check
        if not isinstance(x, numbers.Real) or isinstance(x, bool):
            return False
    try:
        return math.isfinite(x)
    except OverflowError:  # an int beyond the range of a float (JSON carries any)
        return False


def is_count(x):
    """Whether ``x`` is an integer >= 0 (a bool is not)."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool) and x >= 0


def finite_number(name, value):
    """``value`` as a float if it is a finite number.

    Raises
    ------
    InvalidArgument
        Naming ``name``.
    """
    if not is_number(value):
        raise InvalidArgument(f"{name} must be a finite number, got {value!r:.80}")
    return float(value)


def positive_seconds(name, value):
    """``value`` as a float if it is a finite number of seconds > 0.

    Raises
    ------
    InvalidArgument
        Naming ``name``.
    """
    if not is_number(value) or value <= 0:
        raise InvalidArgument(f"{name} must be a positive number of seconds, got {value!r:.80}")
    return float(value)


def time_arg(name, value, now=None):
    """A sisock time argument converted to UNIX seconds (UTC).

    Raises
    ------
    InvalidArgument
        If ``value`` is not a finite number.
    """
    if not is_number(value):
        raise InvalidArgument(
            f"{name} must be a finite number of seconds (UNIX time UTC, or <= 0 for relative to now), got {value!r:.80}"
        )
    return sisock_to_unix_time(value, now)


def time_range(start, end):
    """``(start, end)`` converted with one common "now"; see :func:`time_arg`."""
    now = time.time()
    return time_arg("start", start, now), time_arg("end", end, now)


def min_stride_arg(value):
    """``None`` or a positive finite number of seconds.

    Raises
    ------
    InvalidArgument
    """
    return None if value is None else positive_seconds("min_stride", value)


def choice(name, value, choices):
    """``value`` if it is one of ``choices`` (strings).

    Raises
    ------
    InvalidArgument
        Naming ``name`` and the accepted values.
    """
    if not isinstance(value, str) or value not in choices:
        raise InvalidArgument(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r:.80}")
    return value


def field_list(value):
    """A list of field names.

    Raises
    ------
    InvalidArgument
        Unless ``value`` is a list of at most `MAX_FIELDS` non-empty strings
        of at most `MAX_FIELD_NAME` characters.
    """
    if not isinstance(value, (list, tuple)):
        raise InvalidArgument(f"field must be a list of field names, got {type(value).__name__}")
    if len(value) > MAX_FIELDS:
        raise InvalidArgument(f"field lists {len(value)} names; at most {MAX_FIELDS} per call")
    for f in value:
        if not isinstance(f, str) or not f or len(f) > MAX_FIELD_NAME:
            raise InvalidArgument(
                f"field names must be non-empty strings of at most {MAX_FIELD_NAME} characters, got {f!r:.80}"
            )
    return list(dict.fromkeys(value))


def node_name(value, arg="name"):
    """A data node name (see `sisock.wire.uri.NODE_NAME_RE`).

    Raises
    ------
    InvalidArgument
    """
    if isinstance(value, str) and value.split(".")[0] in RESERVED_NODE_NAMES:
        raise InvalidArgument(f"{arg}: {value!r:.80} is reserved (consumer.{value.split('.')[0]}.* are the hub's)")
    if not is_valid_node_name(value):
        raise InvalidArgument(
            f"{arg} must be 1 to {NODE_NAME_MAX} characters of letters, digits, '_', '-' "
            f"in dot-separated parts, got {value!r:.80}"
        )
    return value


def description(value):
    """A node description: a string of at most `MAX_DESCRIPTION` characters, or None."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise InvalidArgument(f"description must be a string of at most {MAX_DESCRIPTION} characters")
    return value


@functools.lru_cache(maxsize=512)
def _signature(func, bound):
    """Signature of ``func`` (without its first parameter if ``bound``) and how it is shown in messages."""
    signature = inspect.signature(func)
    if bound:
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    bare = [p.replace(annotation=p.empty) for name, p in signature.parameters.items() if name != "details"]
    return signature, str(signature.replace(parameters=bare, return_annotation=signature.empty))


def call(func, args, kwargs, name=None):
    """Call ``func(*args, **kwargs)``, or raise `InvalidArgument` if the arguments do not fit its signature.

    Parameters
    ----------
    func : callable
        A procedure (a bound method or a function).
    args : sequence
        Positional arguments from the caller.
    kwargs : dict
        Keyword arguments from the caller (and ``details`` from autobahn).
    name : str, optional
        Procedure name in the message; the function's name by default.

    Returns
    -------
    object
        What ``func`` returns.

    Raises
    ------
    InvalidArgument
        Too many or too few positional arguments, or an unknown keyword;
        the message gives the expected signature.
    """
    try:
        return func(*args, **kwargs)
    except TypeError:
        # Arguments that do not fit are refused before the body runs: only then is the signature read.
        underlying = getattr(func, "__func__", None)
        signature, shown = _signature(underlying or func, underlying is not None)
        try:
            signature.bind(*args, **kwargs)
        except TypeError as misfit:
            raise InvalidArgument(f"{name or func.__name__} takes {shown}: {misfit}") from None
        raise


def rpc(func):
    """Wrap a procedure so that a call with the wrong arguments is an `InvalidArgument` (see `call`).

    Autobahn would answer a call that does not fit the signature (too many
    or too few positional arguments, an unknown keyword) with a generic
    ``wamp.error.invalid_argument``; this answers with sisock's error and
    the expected signature instead.

    Parameters
    ----------
    func : callable
        The procedure (a bound method); a ``details`` keyword added by
        autobahn (``RegisterOptions(details_arg=...)``) is passed through.
        One taking ``*args`` and ``**kwargs`` is returned as it is.
    """

    kinds = {p.kind for p in inspect.signature(func).parameters.values()}
    if {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD} <= kinds:
        return func  # takes any arguments: nothing to check

    @functools.wraps(func)
    def checked(*args, **kwargs):
        return call(func, args, kwargs)

    return checked

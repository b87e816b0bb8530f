"""Arrays on the wire: get_data results as JSON-compatible lists and back.

A node computes a get_data result with numpy arrays::

    {"data": {field: ndarray},
     "timeline": {tl: {"t": ndarray, "finalized_until": float or None}}}

WAMP serializers (JSON, MessagePack, CBOR) carry plain lists of Python
scalars, and JSON has no NaN, so the wire form (DESIGN.md, "Wire contract")
replaces every array by a list and every NaN or infinity by ``None``
(``null``). Clients turn the lists back into arrays with
:func:`result_from_lists`.

This module imports nothing from sisock.
"""

import math
import numbers

import numpy as np


def _scalar(x):
    """A Python scalar for one element of an object array; NaN/inf -> None."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def array_to_list(a):
    """Convert an array to a plain list of Python scalars for the wire.

    Parameters
    ----------
    a : array_like, shape (N,)
        Float (any width), int, bool, str, bytes or object values.

    Returns
    -------
    list
        Python ``float``/``int``/``bool``/``str`` elements; float NaN and
        +-inf become ``None``; bytes are decoded as UTF-8. Float arrays are
        converted without a Python-level loop.

    Raises
    ------
    ValueError
        If ``a`` is a 0-d (scalar) array.
    """
    a = np.asarray(a)
    if a.ndim == 0:
        raise ValueError("array_to_list needs an array of at least one dimension, got a scalar")
    kind = a.dtype.kind
    if kind == "f":
        bad = ~np.isfinite(a)
        if not bad.any():
            return a.tolist()
        obj = a.astype(object)
        obj[bad] = None
        return obj.tolist()
    if kind in "iub":
        return a.tolist()
    if kind == "U":
        return a.tolist()
    if kind == "S":
        return [x.decode("utf-8", "replace") for x in a.tolist()]
    if a.ndim > 1:
        return [array_to_list(row) for row in a]
    return [_scalar(x) for x in a]


def _finalized(x):
    if x is None:
        return None
    if isinstance(x, np.generic):
        x = x.item()
    x = float(x)
    return x if math.isfinite(x) else None


def result_to_lists(result):
    """Encode a get_data result for the wire.

    Parameters
    ----------
    result : dict
        ``{"data": {field: ndarray (N_tl,)}, "timeline": {tl: {"t": ndarray of
        float64 (N_tl,) in UNIX seconds UTC, "finalized_until": float or
        None}}}``; other keys are copied unchanged.

    Returns
    -------
    dict
        A new dict of the same shape with every array replaced by
        :func:`array_to_list` and ``finalized_until`` a Python float, or
        ``None`` when it was ``None`` or NaN. The input is not modified.
    """
    out = dict(result)
    out["data"] = {f: array_to_list(v) for f, v in result.get("data", {}).items()}
    timeline = {}
    for name, tl in result.get("timeline", {}).items():
        tl = dict(tl)
        tl["t"] = array_to_list(tl.get("t", ()))
        tl["finalized_until"] = _finalized(tl.get("finalized_until"))
        timeline[name] = tl
    out["timeline"] = timeline
    return out


def _is_number(tp):
    return issubclass(tp, numbers.Real) and not issubclass(tp, (bool, np.bool_))


def list_to_array(values):
    """Decode a list from the wire into an array (the inverse of :func:`array_to_list`).

    Parameters
    ----------
    values : list, shape (N,)
        Elements as sent by a node.

    Returns
    -------
    numpy.ndarray, shape (N,)
        float64 with NaN for ``None`` when every element is a number or
        ``None`` (ints become floats); bool when every element is a bool;
        otherwise (strings, mixtures) an object array holding the elements
        as they are. ``[]`` gives an empty float64 array.
    """
    values = list(values)
    if not values:
        return np.empty(0, np.float64)
    types = {type(v) for v in values}
    if all(tp is type(None) or _is_number(tp) for tp in types):
        return np.array(values, dtype=np.float64)
    if all(issubclass(tp, (bool, np.bool_)) for tp in types):
        return np.array(values, dtype=bool)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def result_from_lists(result):
    """Decode a get_data result from the wire (the inverse of :func:`result_to_lists`).

    Parameters
    ----------
    result : dict
        ``{"data": {field: list}, "timeline": {tl: {"t": list, "finalized_until":
        float or None}}}`` as returned by a node's get_data.

    Returns
    -------
    dict
        A new dict of the same shape with every list replaced by
        :func:`list_to_array` (``t`` always float64, UNIX seconds UTC) and
        ``finalized_until`` a float or ``None``.
    """
    out = dict(result)
    out["data"] = {f: list_to_array(v) for f, v in result.get("data", {}).items()}
    timeline = {}
    for name, tl in result.get("timeline", {}).items():
        tl = dict(tl)
        tl["t"] = np.array(list(tl.get("t", [])), dtype=np.float64)  # None -> NaN
        tl["finalized_until"] = _finalized(tl.get("finalized_until"))
        timeline[name] = tl
    out["timeline"] = timeline
    return out

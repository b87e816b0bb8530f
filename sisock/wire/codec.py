"""Arrays on the wire: get_data results as lists or as raw little-endian bytes, and back.

A node computes a get_data result with numpy arrays::

    {"data": {field: ndarray},
     "timeline": {tl: {"t": ndarray, "finalized_until": float or None}}}

and sends every array in one of two encodings (``docs/wire.md``, ``get_data``):

``"list"`` (the default, what JSON and original-sisock callers get)
    A plain list of Python scalars; NaN and +-inf become ``None``
    (``null``), since JSON has no NaN. Numbers come back as float64.
``"binary"`` (asked for by callers with a binary serializer: MessagePack, CBOR)
    An array of kind bool, int, uint or float becomes
    ``{"dtype": "<f8", "shape": [N], "data": b"..."}``: its raw bytes in C
    order with a little-endian NumPy dtype string, decoded with
    ``np.frombuffer`` (no copy; the array is read-only). Strings and
    other objects stay lists. NaN and +-inf travel as they are, and ints
    keep their dtype (a list brings them back as float64).

:func:`result_to_wire` encodes a result, :func:`result_from_wire` decodes
either encoding (a decoder tells them apart by type: dict or list).

This module imports nothing from sisock.
"""

import functools
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


#: Encodings of arrays in get_data results (see the module docstring).
ENCODINGS = ("list", "binary")
#: Array kinds sent as raw bytes in the ``"binary"`` encoding: bool, int, uint, float.
BINARY_KINDS = "biuf"


def is_raw(a, encoding):
    """Whether array ``a`` travels as raw bytes in ``encoding`` (else as a list)."""
    return encoding == "binary" and a.dtype.kind in BINARY_KINDS


def array_to_wire(a, encoding="list"):
    """Encode an array for the wire.

    Parameters
    ----------
    a : array_like, shape (N,) or (N, ...)
        Any dtype.
    encoding : {"list", "binary"}
        See the module docstring.

    Returns
    -------
    list or dict
        :func:`array_to_list` of ``a``, or for ``"binary"`` and a bool, int,
        uint or float array ``{"dtype": str, "shape": [int, ...], "data":
        bytes}``: ``dtype`` a little-endian NumPy dtype string such as
        ``"<f8"``, ``"<i8"`` or ``"|b1"``, ``data`` the C-order bytes.

    Raises
    ------
    ValueError
        If ``a`` is a 0-d (scalar) array or ``encoding`` is unknown.
    """
    a = np.asarray(a)
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    if a.ndim == 0:
        raise ValueError("array_to_wire needs an array of at least one dimension, got a scalar")
    if is_raw(a, encoding):
        text = _little_endian(a.dtype)
        if text is None:  # tobytes copies in C order; only the byte order may need changing
            a = a.astype(a.dtype.newbyteorder("<"))
            text = a.dtype.str
        return {"dtype": text, "shape": list(a.shape), "data": a.tobytes()}
    return array_to_list(a)


@functools.lru_cache(maxsize=64)
def _little_endian(dtype):
    """``dtype.str`` if ``dtype`` is little-endian or has no byte order, else None (remembered:
    ``dtype.str`` builds a new string each time)."""
    text = dtype.str
    return None if text[0] == ">" else text


@functools.lru_cache(maxsize=64)
def raw_dtype(text):
    """The NumPy dtype of a raw array's ``dtype`` string; ValueError unless bool, int, uint or float
    (remembered: parsing the string is most of decoding a short array)."""
    dtype = np.dtype(text)
    if dtype.kind not in BINARY_KINDS:
        raise ValueError(f"raw arrays must be bool, int, uint or float, got dtype {text!r}")
    return dtype


def wire_to_array(value):
    """Decode one array from the wire (the inverse of :func:`array_to_wire`).

    Parameters
    ----------
    value : list or dict
        A list (see :func:`list_to_array`) or ``{"dtype", "shape", "data"}``.

    Returns
    -------
    numpy.ndarray
        For a dict, a read-only view of ``data`` (``np.frombuffer``, no copy)
        with that dtype and shape.

    Raises
    ------
    ValueError
        If a dict names a dtype that is not bool, int, uint or float, or its
        ``data`` does not hold exactly ``shape`` elements.
    """
    if isinstance(value, dict):
        a, shape = np.frombuffer(value["data"], raw_dtype(value["dtype"])), value["shape"]
        return a if shape == [len(a)] else a.reshape(shape)
    return list_to_array(value)


def finalized(x):
    """``finalized_until`` for the wire and back: a Python float, or None for None and non-finite."""
    if x is None:
        return None
    if isinstance(x, np.generic):
        x = x.item()
    x = float(x)
    return x if math.isfinite(x) else None


def result_to_wire(result, encoding="list"):
    """Encode a get_data result for the wire.

    Parameters
    ----------
    result : dict
        ``{"data": {field: ndarray (N_tl,)}, "timeline": {tl: {"t": ndarray of
        float64 (N_tl,) in UNIX seconds UTC, "finalized_until": float or
        None}}}``; other keys are copied unchanged.
    encoding : {"list", "binary"}
        How arrays travel; see :func:`array_to_wire`.

    Returns
    -------
    dict
        A new dict of the same shape with every array replaced by
        :func:`array_to_wire` and ``finalized_until`` a Python float, or
        ``None`` when it was ``None`` or NaN. The input is not modified.
    """
    out = dict(result)
    out["data"] = {f: array_to_wire(v, encoding) for f, v in result.get("data", {}).items()}
    timeline = {}
    for name, tl in result.get("timeline", {}).items():
        tl = dict(tl)
        tl["t"] = array_to_wire(np.asarray(tl.get("t", ()), dtype=np.float64), encoding)
        tl["finalized_until"] = finalized(tl.get("finalized_until"))
        timeline[name] = tl
    out["timeline"] = timeline
    return out


def result_from_wire(result):
    """Decode a get_data result from the wire (the inverse of :func:`result_to_wire`).

    Parameters
    ----------
    result : dict
        ``{"data": {field: array on the wire}, "timeline": {tl: {"t": array on
        the wire, "finalized_until": float or None}}}`` as returned by a
        node's get_data, in either encoding.

    Returns
    -------
    dict
        A new dict of the same shape with every array decoded by
        :func:`wire_to_array` (``t`` always float64, UNIX seconds UTC) and
        ``finalized_until`` a float or ``None``.
    """
    out = dict(result)
    out["data"] = {f: wire_to_array(v) for f, v in result.get("data", {}).items()}
    timeline = {}
    for name, tl in result.get("timeline", {}).items():
        tl = dict(tl)
        tl["t"] = np.asarray(wire_to_array(tl.get("t", [])), dtype=np.float64)
        tl["finalized_until"] = finalized(tl.get("finalized_until"))
        timeline[name] = tl
    out["timeline"] = timeline
    return out

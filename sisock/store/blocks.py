"""Recorded blocks as rows of the SQLite log, and back (`sisock.store.sqlite`).

A block of ``n`` co-sampled values is one row: ``t`` is ``n`` float64
(little endian) times; ``num`` the number and bool fields, in the order of
the block's layout, as a float64 matrix of shape ``(n, k)`` (sample-major:
the blobs of consecutive blocks join into one matrix); ``txt`` the string
fields as JSON ``[[str or null, ...], ...]``. A layout is the block's
``[(name, type), ...]``.
"""

import itertools
import json

import numpy as np

from sisock.store.buffer import FIELD_TYPES


def encode(t, data, kinds):
    """The row of a block.

    Parameters
    ----------
    t : numpy.ndarray, float64, shape (n,)
        UNIX seconds UTC, increasing.
    data : dict of str to numpy.ndarray, each shape (n,)
        float64 (number), bool or object arrays of str/None (string).
    kinds : dict of str to str
        ``{field: "number"|"string"|"bool"}`` for every key of ``data``.

    Returns
    -------
    tuple
        ``(t0, t1, n, t blob, num blob or None, txt str or None, size)``;
        ``size`` is the bytes of the three encoded parts.
    """
    numeric = [np.asarray(v, dtype="<f8") for f, v in data.items() if kinds[f] != "string"]
    strings = [v.tolist() for f, v in data.items() if kinds[f] == "string"]
    tb = np.ascontiguousarray(t, dtype="<f8").tobytes()
    num = np.column_stack(numeric).tobytes() if numeric else None
    txt = json.dumps(strings) if strings else None
    size = len(tb) + len(num or b"") + len((txt or "").encode())
    return float(t[0]), float(t[-1]), len(t), tb, num, txt, size


def decode(rows, kinds, layout_fields):
    """Concatenated samples of block rows, in their order.

    Runs of rows with the same layout are decoded at once: their ``t`` and
    ``num`` bytes are joined and read with one ``numpy.frombuffer``.

    Parameters
    ----------
    rows : iterable of tuple
        ``(layout id, t blob, num blob or None, txt str or None)``.
    kinds : dict of str to str
        ``{field: type}`` of the fields wanted.
    layout_fields : callable
        ``layout_fields(layout id) -> [(name, type), ...]``.

    Returns
    -------
    t : numpy.ndarray, float64, shape (m,)
    data : dict of str to numpy.ndarray, each shape (m,)
        One array per field of ``kinds`` (float64, bool or object per
        type); a block that lacks a field, or recorded it with another
        type, fills it with NaN, False or None.
    """
    runs = [_decode_run(list(group), kinds, layout_fields(layout))
            for layout, group in itertools.groupby(rows, key=lambda row: row[0])]
    t = np.concatenate([run[0] for run in runs]) if runs else np.empty(0)
    data = {}
    for name, kind in kinds.items():
        dtype, fill = FIELD_TYPES[kind]
        parts = [columns.get(name) for _, columns in runs]
        parts = [np.full(len(run[0]), fill, dtype) if p is None else p for p, run in zip(parts, runs, strict=True)]
        data[name] = np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)
    return t, data


def _decode_run(group, kinds, fields):
    """``(t, {field: column})`` of rows of one layout ``fields``, for the fields of ``kinds`` it has."""
    numeric = [f for f in fields if f[1] != "string"]
    t = np.frombuffer(b"".join(row[1] for row in group), "<f8")
    matrix = np.frombuffer(b"".join(row[2] for row in group), "<f8").reshape(len(t), len(numeric)) \
        if numeric else None
    columns = {}
    for i, (name, kind) in enumerate(numeric):
        if kinds.get(name) == kind:
            columns[name] = matrix[:, i] != 0 if kind == "bool" else matrix[:, i]
    strings = [f for f in fields if f[1] == "string"]
    if strings:
        texts = [json.loads(row[3]) for row in group]
        for i, (name, kind) in enumerate(strings):
            if kinds.get(name) == kind:
                columns[name] = np.empty(len(t), dtype=object)
                columns[name][:] = [v for text in texts for v in text[i]]
    return t, columns

"""Recorded blocks as rows of the SQLite log, and back (`sisock.store.sqlite`).

A block of ``n`` co-sampled values is one row. As recorded (codec
`packing.PLAIN`, as in schema 1): ``t`` is ``n`` float64 (little endian)
times; ``num`` the number and bool fields, in the order of the block's
layout, as a float64 matrix of shape ``(n, k)`` (sample-major: the blobs of
consecutive blocks join into one matrix). Compacted (codec `packing.PCO`,
`sisock.store.compaction`): ``t`` and each number and bool field are
columns compressed with pcodec, so a read decodes only the fields it wants.
``txt`` holds the string fields as JSON ``[[str or null, ...], ...]`` in
both. A layout is the block's ``[(name, type), ...]``.
"""

import itertools
import json

import numpy as np

from sisock.store import packing
from sisock.store.buffer import FIELD_TYPES


def encode(t, data, kinds, codec=packing.PLAIN):
    """The row of a block.

    Parameters
    ----------
    t : numpy.ndarray, float64, shape (n,)
        UNIX seconds UTC, increasing.
    data : dict of str to numpy.ndarray, each shape (n,)
        float64 (number), bool or object arrays of str/None (string).
    kinds : dict of str to str
        ``{field: "number"|"string"|"bool"}`` for every key of ``data``.
    codec : int
        `packing.PLAIN` or `packing.PCO`.

    Returns
    -------
    tuple
        ``(t0, t1, n, t blob, num blob or None, txt str or None, size)``;
        ``size`` is the bytes of the three encoded parts.
    """
    numeric = [np.asarray(v, dtype="<f8") for f, v in data.items() if kinds[f] != "string"]
    strings = [v.tolist() for f, v in data.items() if kinds[f] == "string"]
    if codec == packing.PLAIN:
        tb = np.ascontiguousarray(t, dtype="<f8").tobytes()
        num = np.column_stack(numeric).tobytes() if numeric else None
    else:
        tb = packing.pack_columns([t], codec)
        num = packing.pack_columns(numeric, codec) if numeric else None
    txt = json.dumps(strings) if strings else None
    size = len(tb) + len(num or b"") + len((txt or "").encode())
    return float(t[0]), float(t[-1]), len(t), tb, num, txt, size


def decode(rows, kinds, layout_fields):
    """Concatenated samples of block rows, in their order.

    Runs of plain rows with the same layout are decoded at once: their ``t``
    and ``num`` bytes are joined and read with one ``numpy.frombuffer``;
    compressed rows decode the columns of the fields of ``kinds`` only.

    Parameters
    ----------
    rows : iterable of tuple
        ``(layout id, codec, n, t blob, num blob or None, txt str or None)``.
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
    runs = [_decode_run(list(group), kinds, layout_fields(layout)) if codec == packing.PLAIN
            else _decode_packed(list(group), kinds, layout_fields(layout))
            for (layout, codec), group in itertools.groupby(rows, key=lambda row: row[:2])]
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
    t = np.frombuffer(b"".join(row[3] for row in group), "<f8")
    matrix = np.frombuffer(b"".join(row[4] for row in group), "<f8").reshape(len(t), len(numeric)) \
        if numeric else None
    columns = {}
    for i, (name, kind) in enumerate(numeric):
        if kinds.get(name) == kind:
            columns[name] = matrix[:, i] != 0 if kind == "bool" else matrix[:, i]
    _strings(group, kinds, fields, len(t), columns)
    return t, columns


def _decode_packed(group, kinds, fields):
    """``(t, {field: column})`` of compressed rows of one layout ``fields``, for the fields of ``kinds`` it has."""
    numeric = [f for f in fields if f[1] != "string"]
    wanted = [i for i, (name, kind) in enumerate(numeric) if kinds.get(name) == kind]
    times, parts = [], []
    for _, codec, n, tb, num, _ in group:
        times.append(packing.unpack_columns(tb, 1, n, codec)[0])
        parts.append(packing.unpack_columns(num, len(numeric), n, codec, wanted) if wanted else [])
    t = np.concatenate(times)
    columns = {}
    for j, i in enumerate(wanted):
        name, kind = numeric[i]
        column = np.concatenate([p[j] for p in parts])
        columns[name] = column != 0 if kind == "bool" else column
    _strings(group, kinds, fields, len(t), columns)
    return t, columns


def _strings(group, kinds, fields, n, columns):
    """Add the string fields of ``kinds`` that the layout ``fields`` has to ``columns``, from the rows' JSON."""
    strings = [f for f in fields if f[1] == "string"]
    if strings and any(kinds.get(name) == kind for name, kind in strings):
        texts = [json.loads(row[5]) for row in group]
        for i, (name, kind) in enumerate(strings):
            if kinds.get(name) == kind:
                columns[name] = np.empty(n, dtype=object)
                columns[name][:] = [v for text in texts for v in text[i]]

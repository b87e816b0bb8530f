"""Summaries of a timeline per epoch-aligned bucket: what downsampling needs, computed once.

A summary of width ``w`` has one entry per non-empty bucket ``j``, the
samples with ``j*w <= t < (j+1)*w`` (UNIX seconds UTC): ``t0`` its start
``j*w`` (float64), ``n`` its samples (int64, NaN values included) and, per
field, the statistics of `STATS`:

number fields
    ``count`` finite values (int64); ``sum`` of the finite values (NaN if
    none); ``min``, ``max`` ignoring NaN as `sisock.node.downsample` does
    (``numpy.fmin``: NaN if every value is NaN); ``tmin``, ``tmax`` the
    time of the first sample equal to the min / max (NaN without one);
    ``first``, ``last`` the first / last finite value (NaN if none).
bool and string fields
    ``first``, ``last``: the value of the first / last sample of the bucket.

A summary is the tuple ``(t0, n, {field: {stat: ndarray}})`` that
`sisock.store.store.Store.read_rollup` returns. A field missing in a block
counts as NaN, False or None there, as in every read. Summaries merge
exactly (`coarsen`): those of 60 s buckets make the 1 h ones, which make
the 1 d ones, without the samples.
"""

import numpy as np

from sisock.store.buffer import FIELD_TYPES

#: Statistics kept per field type.
STATS = {
    "number": ("count", "sum", "min", "max", "tmin", "tmax", "first", "last"),
    "bool": ("first", "last"),
    "string": ("first", "last"),
}


def bucket_index(t, width):
    """The bucket ``j`` of each time: ``j*width <= t < (j+1)*width`` exactly (int64 array).

    The float division can be off by one next to an edge; it is corrected
    against the edges ``j*width`` themselves.
    """
    j = np.floor(np.asarray(t, dtype=np.float64) / width)
    j += (j + 1) * width <= t
    j -= j * width > t
    return j.astype(np.int64)


def empty(kinds):
    """The summary of no bucket, for fields ``{name: type}``."""
    return _blank(kinds, 0, np.empty(0), np.empty(0, np.int64))


def _blank(kinds, m, t0, n):
    """``m`` buckets at ``t0`` with ``n`` samples that hold no value of any field of ``kinds``."""
    stats = {}
    for name, kind in kinds.items():
        dtype, fill = FIELD_TYPES[kind]
        stats[name] = {s: np.full(m, fill, dtype) for s in STATS[kind]}
        if kind == "number":
            stats[name]["count"] = np.zeros(m, np.int64)
    return np.asarray(t0, np.float64), np.asarray(n, np.int64), stats


def blank(kinds, t0, n):
    """Buckets starting at ``t0`` (float64 (m,)) with ``n`` samples, none with a value of ``kinds``' fields."""
    return _blank(kinds, len(t0), t0, n)


def _groups(j):
    """Start and end index of each run of equal ``j`` (sorted)."""
    starts = np.concatenate(([0], np.flatnonzero(np.diff(j)) + 1))
    return starts, np.append(starts[1:], len(j))


def _sample_buckets(t, width):
    """Start, first and end sample index of each non-empty bucket of sorted ``t``.

    With no more buckets than samples (the usual case), the edges ``j*width``
    are searched in ``t`` (O(buckets log n)); otherwise each sample's bucket is
    computed (`bucket_index`). Both put a sample on an edge in the later bucket.
    """
    first, last = int(np.floor(t[0] / width)) - 1, int(np.floor(t[-1] / width)) + 1
    if last - first > len(t):
        j = bucket_index(t, width)
        starts, ends = _groups(j)
        return j[starts] * width, starts, ends
    edges = np.arange(first, last + 2) * width
    at = np.searchsorted(t, edges)
    full = np.flatnonzero(at[1:] > at[:-1])
    return edges[full], at[full], at[full + 1]


def _first_hit(values, extreme, starts, ends, times):
    """``times`` of the first element of each group equal to the group's ``extreme``; NaN where none."""
    hits = np.flatnonzero(values == np.repeat(extreme, ends - starts))
    k = np.searchsorted(hits, starts)
    found = k < len(hits)
    found[found] = hits[k[found]] < ends[found]
    out = np.full(len(starts), np.nan)
    out[found] = times[hits[k[found]]]
    return out


def _first_last(valid, starts, ends):
    """Index of the first and last ``valid`` element of each group (-1 where none)."""
    where = np.flatnonzero(valid)
    k0 = np.searchsorted(where, starts)
    k1 = np.searchsorted(where, ends) - 1
    has = k1 >= k0
    first = np.where(has, where[np.minimum(k0, len(where) - 1)] if len(where) else -1, -1)
    last = np.where(has, where[np.maximum(k1, 0)] if len(where) else -1, -1)
    return first, last


def _pick(values, index):
    """``values[index]``, NaN where ``index`` is -1."""
    return np.where(index >= 0, values[np.maximum(index, 0)], np.nan) if len(values) else np.full(len(index), np.nan)


def summarize(t, data, kinds, width):
    """Summaries of samples, per bucket of ``width`` seconds.

    Parameters
    ----------
    t : numpy.ndarray, float64, shape (m,)
        UNIX seconds UTC, strictly increasing.
    data : dict of str to numpy.ndarray, each shape (m,)
        A value array per field of ``kinds`` (float64, bool or object);
        fields missing from it count as NaN, False or None.
    kinds : dict of str to str
        ``{field: "number"|"bool"|"string"}``.
    width : float
        Bucket width in seconds, > 0.

    Returns
    -------
    tuple
        ``(t0 float64 (b,), n int64 (b,), {field: {stat: ndarray (b,)}})``,
        the non-empty buckets in time order (see the module docstring).
    """
    if len(t) == 0:
        return empty(kinds)
    t0, starts, ends = _sample_buckets(t, float(width))
    n = ends - starts
    out = blank({f: k for f, k in kinds.items() if f not in data}, t0, n)[2]
    for name, kind in kinds.items():
        v = data.get(name)
        if v is None:
            continue
        if kind != "number":
            out[name] = {"first": v[starts], "last": v[ends - 1]}
            continue
        finite = np.isfinite(v)
        if finite.all():   # the usual case, in fewer passes
            low, high = np.minimum.reduceat(v, starts), np.maximum.reduceat(v, starts)
            out[name] = {"count": n.copy(), "sum": np.add.reduceat(v, starts), "min": low, "max": high,
                         "first": v[starts], "last": v[ends - 1]}
        else:
            count = np.add.reduceat(finite.astype(np.int64), starts)
            low, high = np.fmin.reduceat(v, starts), np.fmax.reduceat(v, starts)
            first, last = _first_last(finite, starts, ends)
            out[name] = {"count": count, "min": low, "max": high, "first": _pick(v, first), "last": _pick(v, last),
                         "sum": np.where(count > 0, np.add.reduceat(np.where(finite, v, 0.0), starts), np.nan)}
        out[name]["tmin"] = _first_hit(v, low, starts, ends, t)
        out[name]["tmax"] = _first_hit(v, high, starts, ends, t)
    return t0, n, out


def concat(parts, kinds):
    """The summaries ``parts`` (in time order) as one; fields a part lacks get empty statistics."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return empty(kinds)
    if len(parts) == 1 and set(parts[0][2]) == set(kinds):
        return parts[0]
    filled = []
    for t0, n, stats in parts:
        missing = blank({f: k for f, k in kinds.items() if f not in stats}, t0, n)[2]
        filled.append({f: stats.get(f, missing.get(f)) for f in kinds})
    stats = {f: {s: np.concatenate([p[f][s] for p in filled]) for s in STATS[k]} for f, k in kinds.items()}
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), stats


def coarsen(summary, kinds, width):
    """Merge the buckets of ``summary`` into buckets of ``width`` (a multiple of theirs, or the same).

    Also merges the equal buckets of two summaries joined with `concat`
    (the open bucket and its continuation). The result is what `summarize`
    gives on the samples themselves (sums up to rounding).
    """
    t0, n, stats = summary
    if len(t0) == 0:
        return summary
    j = bucket_index(t0, width)
    starts, ends = _groups(j)
    if len(starts) == len(t0) and np.array_equal(t0, j * float(width)):
        return summary
    out = {}
    for name, kind in kinds.items():
        s = stats[name]
        if kind != "number":
            out[name] = {"first": s["first"][starts], "last": s["last"][ends - 1]}
            continue
        count = np.add.reduceat(s["count"], starts)
        has = s["count"] > 0
        first, last = _first_last(has, starts, ends)
        low, high = np.fmin.reduceat(s["min"], starts), np.fmax.reduceat(s["max"], starts)
        out[name] = {"count": count,
                     "sum": np.where(count > 0, np.add.reduceat(np.where(has, s["sum"], 0.0), starts), np.nan),
                     "min": low, "max": high,
                     "tmin": _first_hit(s["min"], low, starts, ends, s["tmin"]),
                     "tmax": _first_hit(s["max"], high, starts, ends, s["tmax"]),
                     "first": _pick(s["first"], first), "last": _pick(s["last"], last)}
    return j[starts] * float(width), np.add.reduceat(n, starts), out


def take(summary, mask):
    """The buckets of ``summary`` where ``mask`` (bool or index array) selects them."""
    t0, n, stats = summary
    return t0[mask], n[mask], {f: {s: v[mask] for s, v in st.items()} for f, st in stats.items()}

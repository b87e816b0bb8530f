"""Bucketed downsampling of time series, in O(N) with NumPy.

``get_data(..., min_stride=s)`` promises that consecutive returned samples
are at least ``s`` seconds apart, and that they summarise the whole range
rather than a silent subset of it. This module keeps that promise: the range
is cut into buckets ``[start + k*s, start + (k+1)*s)`` anchored at the
requested start, and each non-empty bucket becomes one sample stamped with
its left edge. Numeric fields are reduced (mean, min or max); other fields
keep the first value of the bucket.

The min/max envelope (``how="minmax"``) keeps spikes visible: buckets are
``2*s`` wide and each gives two samples, ``s`` apart, holding the bucket's
minimum and maximum in the order they occurred; the spacing promise and
``len(values[f]) == len(t)`` both still hold.

All times are seconds since the UNIX epoch, UTC, as float64.
"""


import numpy as np

from sisock.wire import validate
from sisock.wire.errors import InvalidArgument

#: Accepted values of ``how``.
HOW = ("mean", "min", "max", "minmax")

_NUMERIC_KINDS = "iuf"


def needs_downsampling(t, min_stride):
    """Whether any two consecutive samples are closer than ``min_stride``.

    Parameters
    ----------
    t : array_like of float64, shape (N,)
        Sample times, seconds since the UNIX epoch (UTC), strictly increasing.
    min_stride : float or None
        Minimum spacing in seconds. ``None`` means no downsampling was asked
        for, and the answer is ``False``.

    Returns
    -------
    bool
        ``True`` when ``np.diff(t)`` has an element ``< min_stride``.

    Raises
    ------
    sisock.wire.errors.InvalidArgument
        If ``min_stride`` is neither ``None`` nor a finite number > 0.
    """
    if min_stride is None:
        return False
    stride = validate.positive_seconds("min_stride", min_stride)
    t = np.asarray(t, dtype=np.float64)
    if t.size < 2:
        return False
    return bool(np.any(np.diff(t) < stride))


def _bucket_ids(t, start, stride):
    """Bucket index of every sample: the k with start + k*stride <= t < start + (k+1)*stride.

    The float division can be off by one near an edge (``0.3 / 0.1`` is
    2.999...), so the estimate is corrected against the very edges that the
    output is stamped with; a sample exactly on an edge lands in the later
    bucket.
    """
    k = np.floor((t - start) / stride)
    k = np.clip(k, 0, None).astype(np.int64)
    k += (start + (k + 1) * stride) <= t
    k -= (k > 0) & ((start + k * stride) > t)
    return k


def _buckets(t, start, stride):
    """First sample index and bucket number of every non-empty bucket, in O(N).

    Returns ``(idx, k)``: ``t[idx[j]:idx[j+1]]`` is bucket ``k[j]``. When
    there are no more buckets than samples (the usual case: downsampling a
    dense series), the edges are located with a binary search instead of
    computing every sample's bucket.
    """
    last = int(_bucket_ids(t[-1:], start, stride)[0])
    if last < t.size:
        edges = start + np.arange(1, last + 1) * stride  # the same float expression as _bucket_ids
        first = np.concatenate(([0], np.searchsorted(t, edges, side="left")))
        k = np.flatnonzero(first < np.append(first[1:], t.size))
        return first[k], k
    k = _bucket_ids(t, start, stride)
    idx = np.concatenate(([0], np.flatnonzero(np.diff(k)) + 1))
    return idx, k[idx]


def _reduce_numeric(v, idx, how):
    v = v.astype(np.float64, copy=False)
    if how == "minmax":
        return _envelope(v, idx)
    finite = np.isfinite(v)
    if how == "mean":
        if finite.all():
            return np.add.reduceat(v, idx) / np.diff(np.append(idx, v.size))
        sums = np.add.reduceat(np.where(finite, v, 0.0), idx)
        counts = np.add.reduceat(finite.astype(np.int64), idx)
        out = np.full(len(idx), np.nan)
        np.divide(sums, counts, out=out, where=counts > 0)
        return out
    if finite.all():
        return (np.minimum if how == "min" else np.maximum).reduceat(v, idx)
    return (np.fmin if how == "min" else np.fmax).reduceat(v, idx)


def _envelope(v, idx):
    """Min and max of each bucket interleaved, shape (2*len(idx),), earlier-occurring first."""
    lo, hi = np.fmin.reduceat(v, idx), np.fmax.reduceat(v, idx)
    counts = np.diff(np.append(idx, v.size))

    def first_of(extreme):
        # Index of the first sample equal to its bucket's extreme; an all-NaN
        # bucket has none and gets any index (its two samples are both NaN).
        hits = np.flatnonzero(v == np.repeat(extreme, counts))
        if hits.size == 0:
            return np.zeros(len(idx), np.int64)
        return hits[np.minimum(np.searchsorted(hits, idx), hits.size - 1)]

    hi_first = first_of(hi) < first_of(lo)
    out = np.empty(2 * len(idx))
    out[0::2] = np.where(hi_first, hi, lo)
    out[1::2] = np.where(hi_first, lo, hi)
    return out


def downsample(t, values, start, min_stride, how="mean"):
    """Reduce samples to at most one per ``min_stride``-wide bucket (two per double-width one for ``"minmax"``).

    Buckets are ``[start + k*min_stride, start + (k+1)*min_stride)`` for
    integer ``k >= 0``; only non-empty buckets are returned, each stamped
    with its left edge. Every returned time therefore lies in the requested
    range and consecutive returned times differ by at least ``min_stride``
    (up to float64 rounding of ``start + k*min_stride``). Runs in O(N).

    Parameters
    ----------
    t : array_like of float64, shape (N,)
        Sample times, seconds since the UNIX epoch (UTC), strictly increasing,
        all ``>= start`` (earlier samples are counted in bucket 0).
    values : dict of str to numpy.ndarray, each shape (N,)
        Field name to values. Float (may hold NaN), int, bool, str or object.
    start : float
        Start of the requested range, UNIX seconds UTC; anchors the buckets.
    min_stride : float
        Bucket width in seconds, finite and > 0.
    how : {"mean", "min", "max", "minmax"}, optional
        Reduction of numeric (float and int) fields: mean of the finite
        values, or min / max ignoring NaN; NaN for a bucket with nothing to
        reduce. ``"minmax"`` is the envelope: buckets ``2*min_stride``
        wide, each giving two samples stamped at its left edge and
        ``min_stride`` later that hold its min and max, in the order they
        occurred (min first on a tie). Non-numeric fields (bool, str,
        object) take the first value of the bucket whatever ``how`` is
        (twice for ``"minmax"``).

    Returns
    -------
    t_out : numpy.ndarray of float64, shape (M,)
        ``start + k*min_stride`` for each non-empty bucket ``k``, strictly
        increasing; ``M <= N`` (``M <= 2*N`` for ``"minmax"``).
    values_out : dict of str to numpy.ndarray, each shape (M,)
        Numeric fields as float64; other fields keep their dtype.

    Raises
    ------
    sisock.wire.errors.InvalidArgument
        If ``min_stride`` is not a finite number > 0, ``how`` is not one of
        `HOW`, ``start`` is not a finite number, ``t`` is not 1-D, or a
        field's length differs from ``len(t)``.
    """
    stride = validate.positive_seconds("min_stride", min_stride)
    how = validate.choice("how", how, HOW)
    start = validate.finite_number("start", start)
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 1:
        raise InvalidArgument(f"t must be a 1-D array of times, got shape {t.shape}")
    arrays = {}
    for name, v in values.items():
        v = np.asarray(v)
        if v.shape != t.shape:
            raise InvalidArgument(
                f"field {name!r} has shape {v.shape}, expected {t.shape} like t"
            )
        arrays[name] = v

    if t.size == 0:
        return np.empty(0, np.float64), {
            name: np.empty(0, np.float64 if v.dtype.kind in _NUMERIC_KINDS else v.dtype)
            for name, v in arrays.items()
        }

    width = 2 * stride if how == "minmax" else stride
    idx, k = _buckets(t, start, width)
    t_out = start + k * width
    if how == "minmax":
        t_out = np.column_stack((t_out, t_out + stride)).ravel()
    out = {}
    for name, v in arrays.items():
        if v.dtype.kind in _NUMERIC_KINDS:
            out[name] = _reduce_numeric(v, idx, how)
        else:
            out[name] = np.repeat(v[idx], 2) if how == "minmax" else v[idx]
    return t_out, out

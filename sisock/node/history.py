"""Downsampled reads of a node's store from its rollup tiers: years at the cost of a day.

``get_data(..., min_stride=s)`` of a live node reduces its samples in
buckets ``[start + k*W, start + (k+1)*W)`` (``W = s``, or ``2*s`` for the
``minmax`` envelope; `sisock.node.downsample`). The store keeps summary
tiers of every timeline (`sisock.store.Store.read_rollup`): per field and
epoch-aligned bucket ``[j*w, (j+1)*w)`` its count, sum, min, max, first
and last value and the times of the min and the max. Summaries merge, so a
request bucket is answered from whole tier buckets inside it plus the few
raw samples at its two edges, and the answer equals what downsampling the
raw samples gives (up to float rounding of sums).

How a request bucket ``[a, b)`` is cut, coarsest tier first:

1. the tier buckets of the coarsest tier with ``w <= W`` that lie wholly in
   ``[a, b)`` (and are finished and kept) answer its middle;
2. what is left at either edge (less than ``w`` wide) goes to the next
   finer tier, and so on;
3. what is left after the finest tier is read raw: a window of less than
   the finest width (60 s by default) at each bucket edge, and the newest
   part of the range that no tier has finished yet.

Where raw data has expired (the store keeps raw samples for less time than
its tiers), the finest tier still kept is the only truth: its buckets go
whole to the request bucket their start falls in. Each source answers its
own stretch of time, its lower end aligned to the next coarser tier, so no
sample is counted twice and none is lost.

All times are seconds since the UNIX epoch, UTC, as float64.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sisock.node.downsample import downsample, needs_downsampling

#: The summaries each reduction of a number field needs (bool and string fields need ``first``).
_NEEDS = {"mean": ("count", "sum"), "min": ("min",), "max": ("max",), "minmax": ("min", "max", "tmin", "tmax")}


def get_data(store: Any, fields: list[str], start: float, end: float, min_stride: float,
             how: str = "mean") -> dict[str, Any]:
    """``store``'s samples of ``fields`` in ``[start, end)`` reduced to ``min_stride``, from its tiers where they fit.

    Parameters
    ----------
    store : sisock.store.Store
        The node's store (read in this thread: call it from a pool thread).
    fields : list of str
        Field names; an unknown one gets an empty float64 array.
    start, end : float
        UNIX seconds UTC, ``start < end``.
    min_stride : float
        Seconds, finite and > 0.
    how : {"mean", "min", "max", "minmax"}
        As `sisock.node.downsample.downsample`.

    Returns
    -------
    dict
        Shaped as `sisock.store.Store.get_data` returns it, every timeline
        already reduced: ``{"data": {f: ndarray}, "timeline": {tl: {"t":
        ndarray float64, "finalized_until": float, "field": [f, ...]}}}``.
        Numbers are float64, bools and strings keep their dtype.
    """
    result: dict[str, Any] = {"data": {}, "timeline": {}}
    raw = []
    width = 2 * min_stride if how == "minmax" else min_stride
    for timeline, names in store.by_timeline(fields, result["data"]).items():
        got = _from_tiers(store, timeline, names, start, end, min_stride, width, how)
        if got is None:
            raw.extend(names)
            continue
        t, values, finalized = got
        result["timeline"][timeline] = {"t": t, "finalized_until": finalized, "field": names}
        result["data"].update(values)
    if raw:
        rest = store.get_data(raw, start, end)
        reduce_timelines(rest, start, min_stride, how)
        result["timeline"].update(rest["timeline"])
        result["data"].update(rest["data"])
    return result


def reduce_timelines(result: dict[str, Any], start: float, min_stride: float, how: str) -> None:
    """Downsample, in place, every timeline of a get_data ``result`` whose samples are closer than ``min_stride``.

    ``result`` is shaped as `sisock.store.Store.get_data` returns it, each
    timeline naming its fields in ``field``; a timeline already sparser
    than ``min_stride`` is left as it is.
    """
    data = result["data"]
    for v in result["timeline"].values():
        if needs_downsampling(v["t"], min_stride):
            members = {f: data[f] for f in v["field"] if f in data}
            v["t"], values = downsample(v["t"], members, start, min_stride, how)
            data.update(values)


def _from_tiers(store, timeline, names, start, end, stride, width, how):
    """``(t, values, finalized_until)`` of one timeline reduced from tiers and raw edges, or None.

    None when no tier fits (every tier is wider than a request bucket or
    has nothing in the range) or the samples need no downsampling: the
    caller then reads raw samples as before.
    """
    coverage = store.coverage(timeline)
    tiers = [(w, *coverage[w]) for w in store.rollup_widths if not math.isnan(coverage[w][0])]
    if not any(w <= width and lo < end and hi > start for w, lo, hi in tiers):
        return None
    edges = _edges(start, end, width)
    kinds = store.kinds(timeline)
    raw_lo, finalized = coverage["raw"]
    windows, raw_windows = _plan(edges, end, width, tiers, _stretches(store, timeline, tiers, raw_lo))
    pieces = [_tier_pieces(store.read_rollup(timeline, w, names, _merged(*windows[w]), _NEEDS[how]), names, kinds,
                           how) for w in windows]
    if len(raw_windows[0]):
        t, values = store.read_raw(timeline, names, _merged(*raw_windows))
        pieces.append(_raw_pieces(t, values, names, kinds, how))
    pieces = [p for p in pieces if len(p["time"])]
    if not pieces:
        return np.empty(0), {f: np.empty(0, np.float64 if kinds[f] == "number" else _dtype(kinds[f]))
                             for f in names}, finalized
    merged = {key: np.concatenate([p[key] for p in pieces]) for key in pieces[0] if key != "fields"}
    merged["fields"] = {f: {stat: np.concatenate([p["fields"][f][stat] for p in pieces])
                            for stat in pieces[0]["fields"][f]} for f in names}
    if not _needs_reducing(merged, width, stride):
        return None
    t, values = _reduce(merged, edges, start, width, stride, how, kinds)
    return t, values, finalized


def _dtype(kind):
    return bool if kind == "bool" else object


def _edges(start, end, width):
    """Request bucket edges ``start + k*width``, k = 0..K, the last at or after ``end``.

    The same float expression as `sisock.node.downsample`, so a sample is
    in the same bucket here as there.
    """
    count = max(1, math.ceil((end - start) / width))
    edges = start + np.arange(count + 1) * width
    while edges[-1] < end:
        edges = np.append(edges, start + len(edges) * width)
    while len(edges) > 2 and edges[-2] >= end:
        edges = edges[:-1]
    return edges


def _plan(edges, end, width, tiers, stretches):
    """Windows to read: ``({w: (lo, hi)}, (lo, hi))`` of bucket starts per tier width and of raw samples.

    ``tiers`` is ``[(w, first bucket start, end of last finished bucket),
    ...]`` ascending in ``w``; ``stretches`` `_stretches`. In each stretch
    the request buckets are cut coarsest tier first (`_cut`); what is left
    goes to the stretch's source.
    """
    lo = edges[:-1].copy()
    hi = np.minimum(edges[1:], end)
    windows = {w: [[], []] for w, _, _ in tiers}
    raw = (np.empty(0), np.empty(0))
    for source, lower, upper in stretches:
        a, b = np.maximum(lo, lower), np.minimum(hi, upper)
        inside = a < b
        a, b = a[inside], b[inside]
        levels = [(w, f, h) for w, f, h in reversed(tiers) if (source or 0.0) < w <= width]
        for w, cut_lo, cut_hi in _cut(a, b, levels):
            windows[w][0].append(cut_lo)
            windows[w][1].append(cut_hi)
        a, b = _left_over(a, b, levels)
        if source is None:
            raw = (a, b)
        else:
            windows[source][0].append(a)
            windows[source][1].append(b)
    return {w: (np.concatenate(v[0]), np.concatenate(v[1])) for w, v in windows.items() if v[0]}, raw


def _stretches(store, timeline, tiers, raw_lo):
    """``[(source, lower, upper), ...]``: the stretch of time each source answers, newest first.

    The source is None for raw samples, else a tier width. Raw samples
    answer from where they start; each tier from where the next finer
    source starts, aligned up to its own buckets so that none of its
    buckets reaches into the finer stretch, unless the finer source holds
    every sample of the bucket that straddles (it counts the same samples:
    compared by their number), as when nothing has expired yet.
    """
    sources = [(None, raw_lo if not math.isnan(raw_lo) else math.inf)] + [(w, first) for w, first, _ in tiers]
    bounds = [math.inf]
    for (finer, first), (coarser, _) in zip(sources, sources[1:], strict=False):
        bound = _ceil(first, coarser)
        if math.isfinite(bound) and bound > first and _holds(store, timeline, finer, bound - coarser, bound, coarser):
            bound -= coarser
        bounds.append(bound)
    bounds.append(-math.inf)
    for i in range(len(bounds) - 2, 0, -1):  # newer stretches start no earlier than older ones end
        bounds[i] = _ceil(max(bounds[i], bounds[i + 1]), sources[i][0])
    return [(source, bounds[i + 1], bounds[i]) for i, (source, _) in enumerate(sources) if bounds[i + 1] < bounds[i]]


def _holds(store, timeline, finer, lo, hi, coarser):
    """Whether source ``finer`` has as many samples in ``[lo, hi)`` as tier ``coarser``'s bucket there."""
    window = np.array([[lo, hi]])
    n = store.read_rollup(timeline, coarser, [], window)[1]
    if not len(n):
        return True
    if finer is None:
        have = len(store.read_raw(timeline, [], window)[0])
    else:
        have = int(np.sum(store.read_rollup(timeline, finer, [], window)[1]))
    return have >= int(n[0])


def _ceil(t, w):
    return math.ceil(t / w) * w if math.isfinite(t) else t


def _interior(a, b, w, first, last):
    """The whole ``w``-buckets inside each ``[a, b)`` that the tier keeps and has finished: ``(lo, hi)``."""
    lo = np.maximum(np.ceil(a / w) * w, first)
    hi = np.minimum(np.floor(b / w) * w, last)
    lo = np.where(lo < a, lo + w, lo)  # float rounding of a / w: never start before a...
    hi = np.where(hi > b, hi - w, hi)  # ...nor end after b
    return lo, hi


def _cut(a, b, levels):
    """``[(w, lo, hi), ...]``: the middles of ``[a, b)`` taken by each level, coarsest first."""
    taken = []
    for w, first, last in levels:
        lo, hi = _interior(a, b, w, first, last)
        take = lo < hi
        taken.append((w, lo[take], hi[take]))
        a, b = _remainders(a, b, lo, hi, take)
    return taken


def _left_over(a, b, levels):
    """What `_cut` leaves of ``[a, b)`` after every level."""
    for w, first, last in levels:
        lo, hi = _interior(a, b, w, first, last)
        a, b = _remainders(a, b, lo, hi, lo < hi)
    return a, b


def _remainders(a, b, lo, hi, take):
    """The parts of each ``[a, b)`` outside its taken middle ``[lo, hi)``, in time order."""
    left = take & (a < lo)
    right = take & (hi < b)
    starts = np.concatenate([a[~take], a[left], hi[right]])
    ends = np.concatenate([b[~take], lo[left], b[right]])
    order = np.argsort(starts, kind="stable")
    return starts[order], ends[order]


def _merged(lo, hi):
    """Sorted windows ``(k, 2)`` with touching ones joined (fewer, longer reads)."""
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], hi[order]
    if len(lo) == 0:
        return np.empty((0, 2))
    new = np.concatenate(([True], lo[1:] > hi[:-1]))
    starts = lo[new]
    ends = np.maximum.reduceat(hi, np.flatnonzero(new))
    return np.column_stack((starts, ends))


def _tier_pieces(rollup, names, kinds, how):
    """Tier buckets as pieces: ``{"time", "n", "fields": {f: {summary: ndarray}}}`` with what ``how`` needs."""
    t0, n, stats = rollup
    fields = {f: {k: stats[f][k] for k in (_NEEDS[how] if kinds[f] == "number" else ("first",))} for f in names}
    return {"time": np.asarray(t0, np.float64), "n": np.asarray(n, np.int64), "fields": fields}


def _raw_pieces(t, values, names, kinds, how):
    """Raw samples as pieces of one sample each (the same shape as `_tier_pieces`)."""
    fields = {}
    for f in names:
        v = values[f]
        if kinds[f] != "number":
            fields[f] = {"first": v}
            continue
        finite = np.isfinite(v)
        every = {"count": finite.astype(np.int64), "sum": np.where(finite, v, 0.0), "min": v, "max": v,
                 "tmin": t, "tmax": t}
        fields[f] = {k: every[k] for k in _NEEDS[how]}
    return {"time": np.asarray(t, np.float64), "n": np.ones(len(t), np.int64), "fields": fields}


def _needs_reducing(pieces, width, stride):
    """Whether two samples are closer than ``stride``: a tier bucket (``w <= width``) holding two, or raw ones."""
    if np.any(pieces["n"] >= 2):
        return True
    t = np.sort(pieces["time"])
    return bool(len(t) > 1 and np.any(np.diff(t) < stride))


def _reduce(pieces, edges, start, width, stride, how, kinds):
    """Merge pieces into one sample per non-empty request bucket (two for ``"minmax"``)."""
    order = np.argsort(pieces["time"], kind="stable")
    order = order[pieces["n"][order] > 0]
    bucket = np.searchsorted(edges, pieces["time"][order], side="right") - 1
    if len(bucket) == 0:
        return np.empty(0), {f: v["first"][:0] if kinds[f] != "number" else np.empty(0)
                             for f, v in pieces["fields"].items()}
    idx = np.concatenate(([0], np.flatnonzero(np.diff(bucket)) + 1))
    k = bucket[idx]
    t = start + k * width
    if how == "minmax":
        t = np.column_stack((t, t + stride)).ravel()
    values = {}
    for f, stats in pieces["fields"].items():
        s = {key: v[order] for key, v in stats.items()}
        if kinds[f] != "number":
            first = s["first"][idx]
            values[f] = np.repeat(first, 2) if how == "minmax" else first
        else:
            values[f] = _reduce_numeric(s, idx, how)
    return t, values


def _reduce_numeric(s, idx, how):
    """Mean, min, max or the min/max envelope of each bucket of pieces (NaN where a bucket has no finite value)."""
    if how == "mean":
        count = np.add.reduceat(s["count"], idx)
        total = np.add.reduceat(np.where(s["count"] > 0, s["sum"], 0.0), idx)  # a sum of nothing is NaN
        out = np.full(len(idx), np.nan)
        np.divide(total, count, out=out, where=count > 0)
        return out
    if how == "min":
        return np.fmin.reduceat(s["min"], idx)
    if how == "max":
        return np.fmax.reduceat(s["max"], idx)
    lo = np.fmin.reduceat(s["min"], idx)
    hi = np.fmax.reduceat(s["max"], idx)
    sizes = np.diff(np.append(idx, len(s["min"])))
    t_lo = np.minimum.reduceat(np.where(s["min"] == np.repeat(lo, sizes), s["tmin"], np.inf), idx)
    t_hi = np.minimum.reduceat(np.where(s["max"] == np.repeat(hi, sizes), s["tmax"], np.inf), idx)
    hi_first = t_hi < t_lo
    out = np.empty(2 * len(idx))
    out[0::2] = np.where(hi_first, hi, lo)
    out[1::2] = np.where(hi_first, lo, hi)
    return out

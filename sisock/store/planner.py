"""What the read planner asks a live node's store: coverage, raw samples by windows, summary tiers.

`PlannerReads` is the part of `sisock.store.store.Store` that composes
downsampled answers from the summary tiers (`sisock.store.tiers`) and the
raw samples at their edges. Every method blocks (the file is read, the
writer thread synced first): call them in a thread, never in the reactor.
"""

import math

import numpy as np

from sisock.store import rollup
from sisock.wire.errors import InvalidArgument


class PlannerReads:
    """Reads by windows and tiers; mixed into `sisock.store.store.Store` (uses its timelines, log and options)."""

    @property
    def rollup_widths(self):
        """tuple of float: the widths of the summary tiers in seconds, ascending (empty before `open`)."""
        return () if self._log_options is None else tuple(w for w, _ in self._log_options[3])

    def _meta(self, timeline, fields):
        """``(buffer, {field: type})`` of ``fields`` on ``timeline``, or InvalidArgument naming what is unknown."""
        entry = self._timelines.get(timeline)
        if entry is None:
            raise InvalidArgument(f"timeline: {timeline!r} is not declared; declared: {sorted(self._timelines)}")
        buffer, _, meta = entry
        unknown = [f for f in fields if f not in meta]
        if unknown:
            raise InvalidArgument(f"fields: {unknown[0]!r} is not on timeline {timeline!r}; it has {sorted(meta)}")
        return buffer, {f: meta[f]["type"] for f in fields}

    def kinds(self, timeline):
        """``{field: "number" | "string" | "bool"}`` of every field declared on ``timeline``.

        Raises
        ------
        InvalidArgument
            If ``timeline`` is not declared.
        """
        entry = self._timelines.get(timeline)
        return self._meta(timeline, list(entry[2]) if entry is not None else [])[1]

    def coverage(self, timeline):
        """What memory, the file and each summary tier hold of ``timeline`` (blocking: call it in a thread).

        Returns
        -------
        dict
            ``{"raw": (lo, hi), width: (lo, hi), ...}`` in UNIX seconds UTC:
            ``raw`` from the first sample held (memory or file) to the last
            one recorded; a tier from the start of its first kept bucket to
            the end of its last finished bucket, i.e. the start of the bucket
            that holds the last sample (buckets before it are finished, those
            with no sample have no entry); ``(nan, nan)`` for nothing.

        Raises
        ------
        InvalidArgument
            If ``timeline`` is not declared.
        """
        buffer, _ = self._meta(timeline, [])
        first, last = buffer.span()
        disk = {"raw": (math.nan, math.nan)}
        if self._log is not None:
            self._log.sync(timeline)
            disk = self._log.coverage(timeline)
        lo = min(math.inf if first is None else first, math.inf if math.isnan(disk["raw"][0]) else disk["raw"][0])
        hi = last if last is not None else disk["raw"][1]
        out = {"raw": (lo, hi) if lo < math.inf else (math.nan, math.nan)}
        for width in self.rollup_widths:
            start, end = disk.get(width, (math.nan, math.nan))
            if not math.isnan(start) and not math.isnan(hi):
                end = max(end, math.floor(hi / width) * width)   # empty buckets since the last row are finished too
            out[width] = (start, end)
        return out

    def read_raw(self, timeline, fields, windows):
        """Samples of ``fields`` in any of ``windows``, from memory and file (blocking: call it in a thread).

        Parameters
        ----------
        timeline : str
        fields : list of str
            Fields of ``timeline``.
        windows : array_like, float64, shape (k, 2)
            ``[lo, hi)`` rows, UNIX seconds UTC, sorted and disjoint.

        Returns
        -------
        t : numpy.ndarray, float64, shape (m,)
            The samples with ``lo <= t < hi`` for some row, in time order.
        data : dict of str to numpy.ndarray, each shape (m,)
            float64, bool or object per field type, as `get_data`.

        Raises
        ------
        InvalidArgument
            Unknown timeline or field, or windows not of shape (k, 2).
        """
        buffer, kinds = self._meta(timeline, fields)
        windows = _windows(windows)
        first = buffer.span()[0]
        split = math.inf if first is None else first
        t, data = buffer.query_windows(np.clip(windows, split, None), fields)
        if self._log is not None and len(windows) and windows[0, 0] < split:
            old = np.clip(windows[windows[:, 0] < split], None, split)
            self._log.sync(timeline, split)
            old_t, old_data = self._log.read_windows(timeline, kinds, old)
            t = np.concatenate([old_t, t])
            data = {f: np.concatenate([old_data[f], data[f]]) for f in fields}
        return t, data

    def read_rollup(self, timeline, width, fields, windows, stats=None):
        """Finished buckets of tier ``width`` starting in any of ``windows`` (blocking: call it in a thread).

        Parameters
        ----------
        timeline : str
        width : float
            One of `rollup_widths`.
        fields : list of str
            Fields of ``timeline``.
        windows : array_like, float64, shape (k, 2)
            ``[lo, hi)`` rows, UNIX seconds UTC, sorted and disjoint.
        stats : sequence of str, optional
            The statistics wanted of number fields (all by default): a
            compacted row decodes only those.

        Returns
        -------
        t0 : numpy.ndarray, float64, shape (m,)
            Bucket starts, multiples of ``width``, in time order.
        n : numpy.ndarray, int64, shape (m,)
            Samples in each bucket.
        stats : dict of str to dict of str to numpy.ndarray, each (m,)
            ``{field: {stat: values}}``: a number field has ``count``
            (int64), ``sum``, ``min``, ``max``, ``tmin``, ``tmax``,
            ``first``, ``last`` (float64), or those of ``stats``; a bool or
            string field ``first`` and ``last`` (bool / object). See
            `sisock.store.rollup`.

        Raises
        ------
        InvalidArgument
            Unknown timeline, field, width or statistic, or windows not of shape (k, 2).
        """
        _, kinds = self._meta(timeline, fields)
        if width not in self.rollup_widths:
            raise InvalidArgument(f"width: {width!r} is not a tier of this store; tiers: {self.rollup_widths}")
        if stats is not None and not set(stats) <= set(rollup.STATS["number"]):
            raise InvalidArgument(f"stats: {sorted(set(stats) - set(rollup.STATS['number']))} are not statistics"
                                  f" of a tier; they are {rollup.STATS['number']}")
        windows = _windows(windows)
        if self._log is None or not len(windows):
            return rollup.empty(kinds)
        self._log.sync(timeline)
        return self._log.read_rollup(timeline, float(width), kinds, windows, stats)


def _windows(windows):
    """``windows`` as a float64 array (k, 2), or InvalidArgument."""
    try:
        out = np.asarray(windows, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"windows: cannot be read as [lo, hi) pairs of UNIX seconds ({exc})") from None
    if out.size == 0:
        return out.reshape(0, 2)
    if out.ndim != 2 or out.shape[1] != 2:
        raise InvalidArgument(f"windows: must have shape (k, 2), got {out.shape}")
    return out

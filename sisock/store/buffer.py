"""A bounded in-memory buffer of one timeline.

A live data node keeps its recent history in memory: one
:class:`TimelineBuffer` per timeline, holding several fields sampled at the
same times. Storage is a set of preallocated NumPy ring arrays, so an append
costs O(block) and a query O(log N + result), whatever the buffer holds.

Times are seconds since the UNIX epoch, UTC (float64). Ranges are
``[start, end)``: start inclusive, end exclusive, as everywhere in sisock.
"""

import math
import threading

import numpy as np

from sisock.wire.errors import InvalidArgument

#: Field type names (as in ``get_fields``) and their storage dtype and fill.
FIELD_TYPES = {
    "number": (np.float64, np.nan),
    "string": (object, None),
    "bool": (np.bool_, False),
}


def _as_1d(name, values, dtype):
    """``values`` as a 1-D array of ``dtype``, or InvalidArgument naming it."""
    if isinstance(values, np.ndarray) and values.dtype == dtype and values.ndim == 1:
        return values  # already what is stored: no conversion (the hot path of Store.append)
    try:
        if dtype is object:
            if isinstance(values, (str, bytes)):
                raise ValueError("a string is not a sequence of samples")
            arr = np.empty(len(values), dtype=object)
            arr[:] = list(values)
        else:
            arr = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(
            f"{name}: cannot be read as a 1-D array of {np.dtype(dtype).name} ({exc})"
        ) from None
    if arr.ndim != 1:
        raise InvalidArgument(f"{name}: must be 1-D, got shape {arr.shape}")
    return arr


class TimelineBuffer:
    """The newest ``capacity`` samples of one timeline, in memory.

    Parameters
    ----------
    fields : dict of str to str
        Field name to type: ``"number"`` (stored float64, missing = NaN),
        ``"string"`` (stored as Python objects, missing = None) or
        ``"bool"`` (stored bool, missing = False).
    capacity : int
        Most samples kept (>= 1). When full, each append overwrites the
        oldest samples.

    Raises
    ------
    InvalidArgument
        If ``capacity`` is not an int >= 1, or a field type is unknown.

    Notes
    -----
    Every method takes an internal :class:`threading.Lock`, so a sampling
    thread may append while queries run in the Twisted thread pool.
    """

    def __init__(self, fields, capacity):
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) \
                or capacity < 1:
            raise InvalidArgument(f"capacity: must be an int >= 1, not {capacity!r}")
        try:
            items = dict(fields).items()
        except (TypeError, ValueError):
            raise InvalidArgument(
                f"fields: must be a dict of name to type, not {type(fields).__name__}"
            ) from None
        for name, kind in items:
            if not isinstance(name, str) or kind not in FIELD_TYPES:
                raise InvalidArgument(
                    f"fields[{name!r}]: type must be one of "
                    f"{sorted(FIELD_TYPES)}, not {kind!r}")
        self._capacity = int(capacity)
        self._types = dict(items)
        self._t = np.empty(self._capacity, dtype=np.float64)
        self._data = {}
        for name, kind in self._types.items():
            dtype, fill = FIELD_TYPES[kind]
            self._data[name] = np.full(self._capacity, fill, dtype=dtype)
        self._start = 0        # physical index of the oldest sample
        self._n = 0            # number of samples held
        self._last_t = None    # newest time ever appended (ordering guard)
        self._lock = threading.Lock()

    # -- properties -------------------------------------------------------

    @property
    def capacity(self):
        """int: the most samples kept."""
        return self._capacity

    @property
    def fields(self):
        """dict of str to str: field name to type, as given."""
        return dict(self._types)

    def __len__(self):
        with self._lock:
            return self._n

    def span(self):
        """The times of the oldest and newest samples held.

        Returns
        -------
        tuple of (float, float) or (None, None)
            ``(first_t, last_t)`` in UNIX seconds UTC; ``(None, None)`` when
            empty.
        """
        with self._lock:
            if self._n == 0:
                return (None, None)
            last = (self._start + self._n - 1) % self._capacity
            return (float(self._t[self._start]), float(self._t[last]))

    # -- writing ----------------------------------------------------------

    def append(self, t, data):
        """Append a block of co-sampled values.

        Parameters
        ----------
        t : array_like of float, shape (n,)
            Sample times, UNIX seconds UTC, finite and strictly increasing,
            all later than the newest time appended before.
        data : dict of str to array_like, each shape (n,)
            Values per field. Fields left out are filled with NaN (number),
            None (string) or False (bool).

        Raises
        ------
        InvalidArgument
            If ``t`` is not 1-D, not finite, not strictly increasing or not
            after the newest stored time; if a field is unknown, has another
            length than ``t`` or cannot be converted to its type. Nothing is
            stored when it is raised.

        Notes
        -----
        O(n). A block longer than ``capacity`` keeps its newest ``capacity``
        samples.
        """
        t, cols = self._checked(t, data)
        n = len(t)
        if n == 0:
            return
        if n > self._capacity:
            t = t[-self._capacity:]
            cols = {k: v[-self._capacity:] for k, v in cols.items()}
            n = self._capacity
        with self._lock:
            if self._last_t is not None and not t[0] > self._last_t:
                raise InvalidArgument(
                    f"t: {t[0]!r} is not after the last stored time {self._last_t!r};"
                    " blocks must be appended in time order")
            cap = self._capacity
            w0 = (self._start + self._n) % cap      # first physical write slot
            a = min(n, cap - w0)                     # length of the first slice
            self._write(self._t, t, w0, a)
            for name, arr in self._data.items():
                col = cols.get(name)
                if col is None:
                    fill = FIELD_TYPES[self._types[name]][1]
                    arr[w0:w0 + a] = fill
                    if a < n:
                        arr[:n - a] = fill
                else:
                    self._write(arr, col, w0, a)
            total = self._n + n
            if total > cap:
                self._start = (self._start + total - cap) % cap
                self._n = cap
            else:
                self._n = total
            self._last_t = float(t[-1])

    def _checked(self, t, data):
        """``(t, {field: column})`` of a block as arrays, or `InvalidArgument` (see `append`)."""
        t = _as_1d("t", t, np.float64)
        n = len(t)
        if not isinstance(data, dict):
            raise InvalidArgument(
                f"data: must be a dict of field to values, not {type(data).__name__}")
        cols = {}
        for name, values in data.items():
            if name not in self._types:
                raise InvalidArgument(
                    f"data: unknown field {name!r}; known: {sorted(self._types)}")
            col = _as_1d(f"data[{name!r}]", values,
                         FIELD_TYPES[self._types[name]][0])
            if len(col) != n:
                raise InvalidArgument(
                    f"data[{name!r}]: has {len(col)} values but t has {n}")
            cols[name] = col
        if n == 0:
            return t, cols
        if not (math.isfinite(t[0]) and math.isfinite(t[-1])):
            raise InvalidArgument("t: every time must be finite")
        if n > 1 and not (t[1:] > t[:-1]).all():  # with finite ends, passing this rules out NaN/inf inside
            if not np.isfinite(t).all():
                raise InvalidArgument("t: every time must be finite")
            raise InvalidArgument("t: must be strictly increasing within a block")
        return t, cols

    @staticmethod
    def _write(arr, src, w0, a):
        arr[w0:w0 + a] = src[:a]
        if a < len(src):  # the block wraps around the end of the ring
            arr[:len(src) - a] = src[a:]

    def drop_before(self, t0):
        """Forget samples older than ``t0`` (retention by age).

        Parameters
        ----------
        t0 : float
            UNIX seconds UTC; samples with ``t < t0`` are dropped.

        Notes
        -----
        The ordering guard is kept: later appends must still be after the
        newest time ever appended, even if it was dropped.
        """
        t0 = float(t0)
        with self._lock:
            (k,) = self._search((t0,))
            if k == 0:
                return
            for arr in self._data.values():
                if arr.dtype == object:         # release references
                    for lo, hi in self._slices(0, k):
                        arr[lo:hi] = None
            self._start = (self._start + k) % self._capacity
            self._n -= k

    # -- reading ----------------------------------------------------------

    def query(self, start, end, fields=None, most=None):
        """Samples with ``start <= t < end``, in time order.

        Parameters
        ----------
        start, end : float
            UNIX seconds UTC; start inclusive, end exclusive.
        fields : iterable of str, optional
            Fields to return; unknown names are left out of the result.
            All fields when omitted.
        most : int, optional
            Return None instead of more than ``most`` samples (nothing is copied then).

        Returns
        -------
        t : numpy.ndarray, float64, shape (m,)
            Sample times, strictly increasing.
        data : dict of str to numpy.ndarray, each shape (m,)
            Values of each known requested field (float64, object or bool).
            The arrays are copies, safe to keep.

        Notes
        -----
        O(log N + m): binary search on the ring, at most two slices
        concatenated once.
        """
        start, end = float(start), float(end)
        if fields is None:
            names = list(self._types)
        elif isinstance(fields, str):
            names = [fields] if fields in self._types else []
        else:
            names = [f for f in fields if f in self._types]
        with self._lock:
            i0, i1 = self._search((start, end))
            if most is not None and i1 - i0 > most:
                return None
            slices = self._slices(i0, i1)
            return _take(self._t, slices), {name: _take(self._data[name], slices) for name in names}

    def query_windows(self, windows, fields):
        """Samples with ``lo <= t < hi`` for any row ``[lo, hi)`` of ``windows``, in time order.

        Parameters
        ----------
        windows : numpy.ndarray, float64, shape (k, 2)
            UNIX seconds UTC, sorted and disjoint.
        fields : list of str
            Known fields.

        Returns
        -------
        t, data
            As `query` (copies), in one vectorised pass over the windows.
        """
        bounds = tuple(np.asarray(windows, dtype=np.float64).ravel().tolist())
        with self._lock:
            found = np.array(self._search(bounds) if bounds and self._n else [0] * len(bounds), dtype=np.int64)
            i0, i1 = found[0::2], np.maximum(found[1::2], found[0::2])
            counts = i1 - i0
            logical = np.repeat(i0 - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            physical = (self._start + logical) % self._capacity
            return self._t[physical], {name: self._data[name][physical] for name in fields}

    # -- ring helpers (call with the lock held) ---------------------------

    def _segments(self):
        """Physical (lo, hi) of the sorted held data: one or two slices."""
        end = self._start + self._n
        if end <= self._capacity:
            return [(self._start, end)]
        return [(self._start, self._capacity), (0, end - self._capacity)]

    def _search(self, xs):
        """Logical indices of the first held sample with ``t >= x``, for each of ``xs`` (a tuple)."""
        segments = self._segments()
        lo, hi = segments[0]
        found = self._t[lo:hi].searchsorted(xs).tolist()
        if len(segments) == 2:  # what is past the first segment is in the second
            n0, (lo, hi) = hi - lo, segments[1]
            found = [k if k < n0 else n0 + int(self._t[lo:hi].searchsorted(x)) for k, x in zip(found, xs, strict=True)]
        return found

    def _slices(self, i0, i1):
        """Physical (lo, hi) slices of logical range ``[i0, i1)``; at most 2."""
        if i1 <= i0:
            return []
        cap = self._capacity
        p0 = (self._start + i0) % cap
        m = i1 - i0
        if p0 + m <= cap:
            return [(p0, p0 + m)]
        return [(p0, cap), (0, p0 + m - cap)]


def _take(arr, slices):
    """A copy of ``arr``'s physical ``slices`` (`TimelineBuffer._slices`), concatenated in order."""
    if len(slices) == 1:
        lo, hi = slices[0]
        return arr[lo:hi].copy()
    if not slices:
        return arr[:0].copy()
    return np.concatenate([arr[lo:hi] for lo, hi in slices])

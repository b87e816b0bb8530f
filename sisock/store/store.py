"""What a live data node records: timelines of co-sampled fields, kept in memory and on disk.

A :class:`Store` holds one :class:`~sisock.store.buffer.TimelineBuffer` per
timeline (the newest samples, in memory) and, once `Store.open` was called,
a :class:`~sisock.store.sqlite.SqliteLog` behind them: every block appended is
also written to ``<data_dir>/<node name>.sqlite`` by a writer thread, in
batches. It answers ``get_fields`` and ``get_data`` in the shapes of the
wire contract (``docs/wire.md``) with NumPy arrays: from memory when the range is
there, and from the file for older ranges. `sisock.node.recording.Recording.record` appends
to it; `sisock.node.run.run_node` opens it with the node's command-line options
(`sisock.node.run.add_store_arguments`).

Durability: a block is safe from a process crash or ``kill -9`` once its
``done`` callback was called with None (see `sisock.store.sqlite`).
"""

import math
import threading

import numpy as np

from sisock.store.buffer import TimelineBuffer
from sisock.store.options import check_rollups
from sisock.store.planner import PlannerReads
from sisock.store.sqlite import DEFAULT_MAX_BYTES, DEFAULT_RETENTION, DEFAULT_ROLLUPS, SqliteLog, StoreError
from sisock.wire.errors import InvalidArgument

__all__ = ["Store", "StoreError", "FIELD_TYPES"]

FIELD_TYPES = ("number", "string", "bool")


class Store(PlannerReads):
    """Recorded history of a data node: in memory, and in SQLite once opened."""

    def __init__(self):
        self._timelines = {}   # name -> (buffer, interval, {field: meta})
        self._latest = {}      # name -> (t, {field: ndarray}) of the newest block
        self._lock = threading.Lock()
        self._log = None
        self._log_options = None

    # -- persistence --------------------------------------------------------
    def open(self, path, retention=DEFAULT_RETENTION, max_bytes=DEFAULT_MAX_BYTES, rollups=DEFAULT_ROLLUPS):
        """Persist to the SQLite file ``path`` and load its recent history.

        Call before recording. Each declared timeline gets back its newest
        samples (up to its capacity, within ``retention``) and its last
        block (`latest`). If no timeline is declared yet, the file is opened
        at the first `declare` (and a failure is raised there).

        Parameters
        ----------
        path : str
            The store file, e.g. ``<data_dir>/<node name>.sqlite``.
        retention : float or None
            Seconds of history kept (older blocks are deleted from the file
            and from memory); None or ``inf`` for no age limit.
        max_bytes : float or None
            Most bytes of recorded raw data kept in the file, oldest dropped
            first; None or ``inf`` for no limit.
        rollups : sequence of (float, float or None)
            The summary tiers (`sisock.store.tiers`): ``(width, retention)``
            seconds, widths ascending and each a multiple of the one before;
            retention None or ``inf`` keeps a tier forever. ``()`` for none.

        Raises
        ------
        StoreError
            If the file cannot be opened (the message names it and why), or
            the store is open already.
        ValueError
            If ``rollups`` is not as described (the message says why).
        """
        if self._log_options is not None:
            raise StoreError(f"the store is open already ({self._log_options[0]})")
        self._log_options = (path, retention, max_bytes, check_rollups(rollups))
        if self._timelines:
            self._open_log()

    def _open_log(self):
        path, retention, max_bytes, rollups = self._log_options
        self._log = self._new_log(path, _limit(retention), _limit(max_bytes), rollups)
        for timeline in self._timelines:
            self._load(timeline)

    def _new_log(self, path, retention, max_bytes, rollups):
        """The `SqliteLog` of the file ``path`` this store persists to (a store sharing one file
        with others, `sisock.store.shared`, gives its part of that file's log instead)."""
        return SqliteLog(path, retention, max_bytes, on_drop=self._dropped, rollups=rollups)

    def _load(self, timeline):
        buffer, _, meta = self._timelines[timeline]
        self._log.declare(timeline, _kinds(meta))
        t, data, latest = self._log.load(timeline, _kinds(meta), buffer.capacity)
        buffer.append(t, data)
        if latest is not None:
            self._latest[timeline] = latest

    def _dropped(self, timeline, t):
        """Retention deleted blocks of ``timeline`` up to time ``t``: forget them in memory too."""
        entry = self._timelines.get(timeline)
        if entry is None:
            return
        entry[0].drop_before(np.nextafter(t, np.inf))
        with self._lock:
            latest = self._latest.get(timeline)
            if latest is not None and latest[0][-1] <= t:
                del self._latest[timeline]

    def close(self):
        """Commit every block appended so far and close the file (idempotent)."""
        if self._log is not None:
            self._log.close()

    # -- declaring and recording ---------------------------------------------
    def declare(self, timeline, fields, interval=None, capacity=86400):
        """Declare a timeline and its fields before recording to it.

        Parameters
        ----------
        timeline : str
            Timeline name.
        fields : dict
            ``{field: {"type": "number"|"string"|"bool", "units": str|None,
            "description": str|None}}``; ``type`` defaults to ``"number"``.
        interval : float or None
            Nominal seconds between samples; None if aperiodic.
        capacity : int
            Most samples kept in memory; older ones are read from the file.

        Raises
        ------
        InvalidArgument
            On an unknown field type or a field already on another timeline.
        StoreError
            If the store was opened with `open` and its file cannot be.
        """
        meta = {}
        for name, spec in fields.items():
            kind = spec.get("type", "number")
            if kind not in FIELD_TYPES:
                raise InvalidArgument(f"type of field {name!r} must be one of {FIELD_TYPES}, got {kind!r}")
            owner = self.timeline_of(name)
            if owner not in (None, timeline):
                raise InvalidArgument(f"field {name!r} is already recorded on timeline {owner!r}")
            meta[name] = {"description": spec.get("description"), "timeline": timeline, "type": kind,
                          "units": spec.get("units")}
        self._timelines[timeline] = (TimelineBuffer(_kinds(meta), capacity), interval, meta)
        if self._log is not None:
            self._load(timeline)
        elif self._log_options is not None:
            self._open_log()

    def timeline_of(self, field):
        """Name of the timeline that records ``field``, or None."""
        for name, (_, _, meta) in self._timelines.items():
            if field in meta:
                return name
        return None

    def by_timeline(self, fields, data):
        """``{timeline: [field, ...]}`` of the recorded ones of ``fields``, in their order.

        Each field no timeline records gets an empty float64 array in the
        dict ``data`` (as get_data answers an unknown field).
        """
        wanted = {}
        for f in fields:
            tl = self.timeline_of(f)
            if tl is None:
                data[f] = np.empty(0)
            else:
                wanted.setdefault(tl, []).append(f)
        return wanted

    def append(self, timeline, t, data, done=None):
        """Append a block of co-sampled values; thread-safe.

        Parameters
        ----------
        timeline : str
            A declared timeline.
        t : array_like of float, shape (n,)
            UNIX seconds UTC, finite, strictly increasing and after the last
            sample of ``timeline``.
        data : dict
            ``{field: array_like of shape (n,)}`` for fields of ``timeline``:
            numbers (None is NaN), str (or None) or bools. Fields left out
            are missing in this block.
        done : callable, optional
            ``done(error)``: called once the block is committed to the file
            (``error`` None) or failed to be (a `StoreError`), from the
            writer thread; at once, in this thread, when the store is not
            open or the block is empty.

        Returns
        -------
        t : numpy.ndarray, float64, shape (n,)
        data : dict of str to numpy.ndarray
            The block as stored (float64, object or bool arrays); do not
            modify them.

        Raises
        ------
        InvalidArgument
            Unknown timeline or field, a value of the wrong type, wrong
            lengths, time not finite or going backwards; the message names
            the timeline and field. Nothing is stored then.
        """
        entry = self._timelines.get(timeline)
        if entry is None:
            raise InvalidArgument(f"timeline: {timeline!r} is not declared; declared: {sorted(self._timelines)}")
        buffer, _, meta = entry
        t, columns = _block(timeline, meta, t, data)
        with self._lock:
            try:
                buffer.append(t, columns)
            except InvalidArgument as exc:
                raise InvalidArgument(f"timeline {timeline!r}: {exc.message}") from None
            if len(t):
                self._latest[timeline] = (t, columns)
                if self._log is not None:
                    self._log.write(timeline, t, columns, _kinds({f: meta[f] for f in columns}), done)
                    return t, columns
        if done is not None:
            done(None)
        return t, columns

    # -- reading ----------------------------------------------------------------
    def latest(self):
        """The newest block of each timeline that has one.

        Returns
        -------
        dict
            ``{timeline: {"t": ndarray float64, "data": {field: ndarray}}}``
            with the fields the block was recorded with; survives restarts.
        """
        with self._lock:
            return {tl: {"t": t, "data": dict(data)} for tl, (t, data) in self._latest.items()}

    def get_fields(self, start, end):
        """Fields with at least one sample in ``[start, end)``: ``(field, timeline)`` as on the wire.

        Each timeline's entry is ``{"interval", "field", "first", "last"}``:
        ``first`` and ``last`` are the times (UNIX seconds UTC) of its oldest
        and newest recorded samples, in memory or in the file, whatever the range.
        """
        field, timeline = {}, {}
        for name, (buffer, interval, meta) in self._timelines.items():
            first, last = buffer.span()
            present = first is not None and last >= start and first < end
            if not present and self._log is not None and (first is None or first > start):
                present = self._log.has_samples(name, start, end if first is None else min(first, end))
            if present:
                timeline[name] = {"interval": interval, "field": sorted(meta), **self._span(name, first, last)}
                field.update(meta)
        return field, timeline

    def _span(self, timeline, first, last):
        """``{"first", "last"}`` of ``timeline``: of the file and of memory (``first``, ``last``) together."""
        if self._log is not None:
            old_first, old_last = self._log.span(timeline)
            first = old_first if first is None else first if old_first is None else min(first, old_first)
            last = old_last if last is None else last if old_last is None else max(last, old_last)
        return {"first": first, "last": last}

    def get_data(self, fields, start, end, most=None):
        """Recorded samples of ``fields`` in ``[start, end)`` (UNIX seconds UTC).

        Memory answers what it holds; the part of the range older than
        memory is read from the file (blocking: call it in a thread).

        Parameters
        ----------
        fields : list of str
        start, end : float
        most : int, optional
            Answer from memory alone, with at most ``most`` samples over
            every timeline: None when part of the range would be read from
            the file, or memory holds more. Reads no file (quick enough for
            the reactor thread).

        Returns
        -------
        dict
            ``{"data": {f: ndarray}, "timeline": {tl: {"t": ndarray float64,
            "finalized_until": float, "field": [f, ...]}}}`` (``field``: the
            asked fields on that timeline); an unknown field gets an empty
            float64 array. ``finalized_until`` is the last recorded time:
            samples before it no longer change. None only with ``most``.
        """
        data, timelines, held = {}, {}, 0
        for tl, names in self.by_timeline(fields, data).items():
            buffer, _, meta = self._timelines[tl]
            got = buffer.query(start, end, names, None if most is None else most - held)
            if got is None:
                return None
            t, values = got
            held += len(t)
            first, last = buffer.span()  # after the query: ``first`` can only have grown
            if self._log is not None and (first is None or first > start):
                if most is not None:
                    return None
                bound = t[0] if len(t) else end
                self._log.sync(tl, bound)
                old_t, old = self._log.read(tl, _kinds({f: meta[f] for f in names}), start, bound)
                if len(old_t):
                    t = np.concatenate([old_t, t])
                    values = {f: np.concatenate([old[f], values[f]]) for f in names}
            timelines[tl] = {"t": t, "finalized_until": last if last is not None else math.nan, "field": names}
            data.update(values)
        return {"data": data, "timeline": timelines}


def _limit(value):
    """None for no limit (None or inf), else the value."""
    return None if value is None or value == math.inf else value


def _kinds(meta):
    return {f: m["type"] for f, m in meta.items()}


def _block(timeline, meta, t, data):
    """Validated copies of a block: ``(t float64 (n,), {field: array (n,)})``."""
    try:
        t = np.array(t, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"t: cannot be read as UNIX seconds ({exc})") from None
    if t.ndim == 0:
        t = t.reshape(1)
    if t.ndim != 1:
        raise InvalidArgument(f"t: must be 1-D, got shape {t.shape}")
    if not isinstance(data, dict):
        raise InvalidArgument(f"data: must be a dict of field to values, not {type(data).__name__}")
    columns = {}
    for name, values in data.items():
        if name not in meta:
            raise InvalidArgument(f"data: field {name!r} is not declared on timeline {timeline!r}; "
                                  f"declared: {sorted(meta)}")
        where = f"data[{name!r}] (timeline {timeline!r})"
        column = _column(where, meta[name]["type"], values)
        if column.shape != t.shape:
            raise InvalidArgument(f"{where}: has shape {column.shape} but t has {t.shape}")
        columns[name] = column
    return t, columns


def _column(where, kind, values):
    """``values`` as a new 1-D array for a field of type ``kind``, or InvalidArgument naming it."""
    if kind == "number" and isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "fiub":
        return values.astype(np.float64)  # the common case, in one step: a copy the caller cannot change
    try:
        if isinstance(values, (str, bytes)):
            raise ValueError("a string is not a sequence of samples")
        raw = np.asarray(values, dtype=object if kind == "string" else None)
        if raw.ndim != 1:
            raise ValueError(f"shape {raw.shape}")
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{where}: must be a 1-D sequence of samples ({exc!s:.100})") from None
    if kind == "string":
        bad = [v for v in raw if v is not None and not isinstance(v, str)]
        if bad:
            raise InvalidArgument(f"{where}: a string field takes str or None, got {bad[0]!r:.80}")
        return raw.copy()
    if kind == "bool":
        if raw.dtype.kind == "b" or (raw.dtype.kind in "iu" and np.all((raw == 0) | (raw == 1))):
            return raw.astype(bool)
        raise InvalidArgument(f"{where}: a bool field takes True/False (or 0/1), got {raw.dtype} values")
    if raw.dtype.kind in "fiub":
        return raw.astype(np.float64)
    if raw.dtype.kind in "US" or any(isinstance(v, (str, bytes)) for v in raw):
        raise InvalidArgument(f"{where}: a number field takes numbers (None for missing), not strings")
    try:
        return np.array(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{where}: cannot be read as numbers ({exc})") from None


"""What a live data node records: timelines of co-sampled fields, answered by range.

A :class:`Store` holds one :class:`~sisock.buffer.TimelineBuffer` per
timeline and the metadata of its fields, and answers ``get_fields`` and
``get_data`` in the shapes of the wire contract (DESIGN.md) with NumPy
arrays. `DataNodeServer.record` appends to it.
"""

import math

import numpy as np

from sisock.buffer import TimelineBuffer
from sisock.errors import InvalidArgument

FIELD_TYPES = ("number", "string", "bool")


class Store:
    """In-memory recorded history of a data node.

    Parameters
    ----------
    retention : float or None
        Seconds of history to keep (older samples are dropped on append);
        None keeps what the capacity allows.
    """

    def __init__(self, retention=None):
        self.retention = retention
        self._timelines = {}  # name -> (buffer, interval, {field: meta})

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
            Most samples kept in memory.

        Raises
        ------
        InvalidArgument
            On an unknown field type or a field already on another timeline.
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
        buffer = TimelineBuffer({f: m["type"] for f, m in meta.items()}, capacity)
        self._timelines[timeline] = (buffer, interval, meta)

    def timeline_of(self, field):
        """Name of the timeline that records ``field``, or None."""
        for name, (_, _, meta) in self._timelines.items():
            if field in meta:
                return name
        return None

    def append(self, timeline, t, data):
        """Append a block of co-sampled values.

        Parameters
        ----------
        timeline : str
            A declared timeline.
        t : array_like, shape (n,)
            UNIX seconds UTC, strictly increasing and after the last sample.
        data : dict
            ``{field: array_like of shape (n,)}``.

        Raises
        ------
        InvalidArgument
            Unknown timeline or field, wrong lengths, time going backwards.
        """
        if timeline not in self._timelines:
            raise InvalidArgument(f"timeline {timeline!r} is not declared; declared: {sorted(self._timelines)}")
        buffer = self._timelines[timeline][0]
        buffer.append(t, data)
        if self.retention is not None:
            _, last = buffer.span()
            buffer.drop_before(last - self.retention)

    def get_fields(self, start, end):
        """Fields with at least one sample in ``[start, end)``: ``(field, timeline)`` as on the wire."""
        field, timeline = {}, {}
        for name, (buffer, interval, meta) in self._timelines.items():
            first, last = buffer.span()
            if first is None or last < start or first >= end:
                continue
            timeline[name] = {"interval": interval, "field": sorted(meta)}
            field.update(meta)
        return field, timeline

    def get_data(self, fields, start, end):
        """Recorded samples of ``fields`` in ``[start, end)``.

        Returns
        -------
        dict
            ``{"data": {f: ndarray}, "timeline": {tl: {"t": ndarray float64,
            "finalized_until": float}}}``; an unknown field gets an empty
            float64 array. ``finalized_until`` is the last recorded time:
            samples before it no longer change.
        """
        data, timelines = {}, {}
        wanted = {}
        for f in fields:
            tl = self.timeline_of(f)
            if tl is None:
                data[f] = np.empty(0)
            else:
                wanted.setdefault(tl, []).append(f)
        for tl, names in wanted.items():
            buffer = self._timelines[tl][0]
            t, values = buffer.query(start, end, names)
            _, last = buffer.span()
            timelines[tl] = {"t": t, "finalized_until": last if last is not None else math.nan}
            data.update(values)
        return {"data": data, "timeline": timelines}

"""Counters: how much a cumulative field went up between given times (the `Counters` part of `DataNode`).

A counter is a recorded number that only grows (an energy meter's
``energy_kwh``, a pulse count) except when it is reset: a meter exchanged,
a process restarted. Every node answers
``consumer.NAME.get_increase(field, edges)``, read from its own store, so
that a report across many nodes (`sisock.hub.reports.energy`) moves a few
numbers per node instead of every sample.

The increase between two consecutive samples is their difference, or,
where the counter went down (a reset: it started again from zero), the
newer value. A step belongs to the interval that holds its newer sample;
the sample before the first edge (up to `LOOKBACK` seconds before it) is
read too, so that consecutive periods add up to the whole.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from sisock.node.procedures import procedure
from sisock.wire import validate
from sisock.wire.errors import InvalidArgument

#: Most edges of one call (a month of 15-minute intervals fits).
MAX_EDGES = 4000
#: Seconds before the first edge searched for the sample that precedes it.
LOOKBACK = 3600.0


def increase(t, values, edges):
    """Increase of a counter in each interval ``[edges[i], edges[i+1])``, resets handled.

    Parameters
    ----------
    t : array_like of float, shape (n,)
        Sample times, UNIX seconds UTC, increasing.
    values : array_like of float, shape (n,)
        The counter's values; NaN samples are skipped.
    edges : array_like of float, shape (m,)
        Increasing UNIX seconds UTC, m >= 2.

    Returns
    -------
    increase : numpy.ndarray, float64, shape (m - 1,)
        Units of the counter.
    resets : int
        Times the counter went down within ``[edges[0], edges[-1])``.
    samples : int
        Samples within ``[edges[0], edges[-1])``.
    """
    t, values, edges = (np.asarray(a, dtype=np.float64) for a in (t, values, edges))
    ok = np.isfinite(values)
    t, values = t[ok], values[ok]
    samples = int(np.count_nonzero((t >= edges[0]) & (t < edges[-1])))
    if len(t) < 2:
        return np.zeros(len(edges) - 1), 0, samples
    diff = np.diff(values)
    steps = np.where(diff < 0, values[1:], diff)
    k = np.searchsorted(edges, t[1:], side="right") - 1
    inside = (k >= 0) & (k < len(edges) - 1)
    total = np.bincount(k[inside], weights=steps[inside], minlength=len(edges) - 1)
    return total, int(np.count_nonzero(diff[inside] < 0)), samples


def edge_list(edges):
    """``edges`` checked: a list of 2 to `MAX_EDGES` increasing UNIX times (float).

    Raises
    ------
    InvalidArgument
        Naming ``edges``.
    """
    if not isinstance(edges, (list, tuple)) or not 2 <= len(edges) <= MAX_EDGES:
        raise InvalidArgument(f"edges must be a list of 2 to {MAX_EDGES} UNIX times, got {edges!r:.60}")
    if not all(validate.is_number(e) and e > 0 for e in edges):
        raise InvalidArgument("edges must be UNIX times in seconds (numbers > 0)")
    out = [float(e) for e in edges]
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise InvalidArgument("edges must be strictly increasing")
    return out


class Counters:
    """The ``get_increase`` procedure of `sisock.node.base.DataNode` (see the module docstring).

    Uses the node's ``store`` and ``_in_thread``.
    """

    if TYPE_CHECKING:
        store: Any
        _in_thread: Callable[..., Any]

    @procedure(name="get_increase")
    def get_increase(self, field: str, edges: list) -> Any:
        """``consumer.NAME.get_increase(field, edges)``: increase of a counter field per interval.

        Parameters
        ----------
        field : str
            A numeric field recorded by the node (``"energy_kwh"``).
        edges : list of float
            2 to `MAX_EDGES` strictly increasing UNIX seconds UTC: the
            intervals ``[edges[i], edges[i+1])``.

        Returns
        -------
        Deferred
            Fires with ``{"increase": [float, ...] (len(edges) - 1, the
            field's units), "resets": int, "samples": int}`` (samples in
            ``[edges[0], edges[-1])``); zeros and no samples for a field the
            node does not record, as ``get_data`` answers an unknown field.

        Raises
        ------
        InvalidArgument
            A bad ``field`` or ``edges``, or a field that is not numeric.
        """
        if not isinstance(field, str) or not field:
            raise InvalidArgument(f"field must be a field name, got {field!r:.40}")
        edges = edge_list(edges)

        def read():
            found = self.store.get_data([field], edges[0] - LOOKBACK, edges[-1])
            values = found["data"][field]
            if values.dtype.kind not in "iuf":
                raise InvalidArgument(f"field {field!r} is not numeric: it cannot be a counter")
            t = next((tl["t"] for tl in found["timeline"].values() if field in tl["field"]), np.empty(0))
            total, resets, samples = increase(t, values, edges)
            return {"increase": total.tolist(), "resets": resets, "samples": samples}

        return self._in_thread("get_increase", read)

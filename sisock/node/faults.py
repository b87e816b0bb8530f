"""Fault events: what went wrong on a node, when, recorded in its store (the `Faults` part of `DataNode`).

A node that wants to report faults declares them once (in ``__init__``,
beside its other timelines) and reports each one as it happens::

    class Pump(DataNodeServer):
        def __init__(self):
            super().__init__()
            self.declare_faults()

        def sample(self):
            if pressure > LIMIT:
                self.report_fault("overpressure", f"{pressure:.1f} bar above {LIMIT} bar")

An event is a time (UNIX seconds UTC), a short ``code`` (the kind of
fault, for counting) and a one-line ``message``. Events are samples of the
aperiodic timeline `TIMELINE` (fields `CODE` and `MESSAGE`, strings), so
they are kept, persisted and served like any recorded data (``get_data``,
the live topic), and the procedure ``consumer.NAME.get_faults(start, end)``
lists them. A node that declares none answers an empty list.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sisock.node.procedures import procedure
from sisock.wire import codec, validate
from sisock.wire.errors import InvalidArgument

#: Timeline and fields of fault events.
TIMELINE, CODE, MESSAGE = "fault_events", "fault_code", "fault_message"
FIELDS = {CODE: {"type": "string", "units": None, "description": "kind of fault"},
          MESSAGE: {"type": "string", "units": None, "description": "what went wrong"}}
#: Most characters of a code and of a message.
MAX_CODE, MAX_MESSAGE = 64, 1024


class Faults:
    """Fault events of `sisock.node.base.DataNode` (see the module docstring).

    Uses the node's ``declare`` and ``record`` (`sisock.node.recording.Recording`) and ``_in_thread``.
    """

    if TYPE_CHECKING:
        declare: Callable[..., None]
        record: Callable[..., Any]
        _in_thread: Callable[..., Any]

    def declare_faults(self, capacity: int = 10000) -> None:
        """Declare the fault timeline; ``capacity`` events are kept in memory (older ones in the file)."""
        self.declare(TIMELINE, FIELDS, interval=None, capacity=capacity)

    def report_fault(self, code: str, message: str, t: float | None = None) -> Any:
        """Record one fault event (from the reactor or any thread; see `Recording.record`).

        Parameters
        ----------
        code : str
            The kind of fault, 1 to `MAX_CODE` characters (``"driver_failure"``).
        message : str
            One line saying what went wrong, at most `MAX_MESSAGE` characters.
        t : float, optional
            When, UNIX seconds UTC; now by default. After the last event.

        Returns
        -------
        Deferred or concurrent.futures.Future
            As `sisock.node.recording.Recording.record`.

        Raises
        ------
        InvalidArgument
            A bad ``code``, ``message`` or ``t``, or faults not declared.
        """
        for name, value, most in (("code", code, MAX_CODE), ("message", message, MAX_MESSAGE)):
            if not isinstance(value, str) or not 0 < len(value) <= most:
                raise InvalidArgument(f"fault {name} must be a string of 1 to {most} characters, got {value!r:.40}")
        when = time.time() if t is None else validate.finite_number("t", t)
        return self.record(TIMELINE, [when], {CODE: [code], MESSAGE: [message]})

    @procedure(name="get_faults")
    def get_faults(self, start: float, end: float) -> Any:
        """``consumer.NAME.get_faults(start, end)``: the fault events in ``[start, end)``.

        Parameters
        ----------
        start, end : float
            sisock times (UNIX seconds UTC, or <= 0 relative to now).

        Returns
        -------
        Deferred
            Fires with ``{"t": [unix_s, ...], "code": [str, ...],
            "message": [str, ...]}``, ascending in time; empty lists for a
            node that declares no faults.

        Raises
        ------
        InvalidArgument
            A bad ``start`` or ``end``.
        """
        start, end = validate.time_range(start, end)

        def read():
            if self.store.timeline_of(CODE) is None:
                return {"t": [], "code": [], "message": []}
            found = self.store.get_data([CODE, MESSAGE], start, end)
            return {"t": codec.array_to_list(found["timeline"][TIMELINE]["t"]),
                    "code": codec.array_to_list(found["data"][CODE]),
                    "message": codec.array_to_list(found["data"][MESSAGE])}

        return self._in_thread("get_faults", read)

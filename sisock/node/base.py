"""`DataNode`: what a data node is and answers, apart from any WAMP session.

A node author writes a subclass with a ``name``, a ``description`` and
either

- an archive: ``_get_fields_blocking(start, end)`` and
  ``_get_data_blocking(field, start, end, min_stride)`` reading its files, or
- a live instrument: ``declare`` its timelines and ``record`` blocks
  (`sisock.node.recording`), from a loop started in ``start()``.

Any node may also report fault events (`sisock.node.faults`).

The node answers the procedures of the wire contract (``get_fields``,
``get_data``, ``get_latest``, ``command``, ``get_api``; see
``docs/wire.md``) as plain methods: it validates arguments, runs blocking
work in threads, downsamples to ``min_stride`` and encodes the answer. It
reaches the router only through the `sisock.node.session.NodeSession`
that serves it (``self.session``), one node per session
(`sisock.node.server.DataNodeServer`) or many (the fleet).

Times are sisock times (`sisock.wire.timeutil`); the blocking methods
receive them already converted to UNIX seconds UTC.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np
import txaio
from twisted.internet import defer, threads
from twisted.python.failure import Failure

from sisock.node import commands, history, pacing
from sisock.node.counters import Counters
from sisock.node.downsample import HOW
from sisock.node.failures import log_failure
from sisock.node.faults import Faults
from sisock.node.recording import Recording
from sisock.store import Store
from sisock.wire import chunks, codec, validate
from sisock.wire.errors import InvalidArgument, NodeDisabled, NodeError, SisockError

txaio.use_twisted()  # for `DataNode.log`, whichever sisock module is imported first

#: Most samples of a get_data answered from memory in the reactor thread instead of a pool thread
#: (a thread hop costs more than reading and encoding this few).
INLINE_SAMPLES = 1000
#: ``(field, timeline)`` as ``get_fields`` answers it (see ``docs/wire.md``).
Fields = tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]


class DataNode(Recording, Faults, Counters):
    """A data node: its identity, its data and its commands.

    Parameters
    ----------
    name : str, optional
        Replaces the class attribute ``name``.
    description : str, optional
        Replaces the class attribute ``description``.

    Attributes
    ----------
    name : str
        Data node name, unique among live nodes (the hub refuses duplicates).
    description : str
        Human-readable description for consumers.
    store : sisock.store.Store
        Recorded history of a live node (see `declare` and `record`).
    location : (float, float), optional
        Where the node is, (degrees north, degrees east); kept by the hub.
    tags : dict, optional
        ``{key: str | number | bool}`` kept by the hub, selectable with
        filters such as ``zone=north``.
    chunk_bytes, max_message_bytes : int or None
        Size of the chunks of a progressive get_data answer, and most bytes
        of a result sent as one message (`sisock.wire.chunks`); None means
        ``SISOCK_CHUNK_BYTES`` / ``SISOCK_MAX_MESSAGE_BYTES`` or the defaults.
    session : sisock.node.session.NodeSession or None
        The session serving this node, set by it.
    hub_enabled : bool
        False while an admin has the node disabled (told by the hub).
    """

    name: str | None = None
    description: str | None = None
    location: tuple[float, float] | None = None
    tags: dict[str, Any] | None = None
    chunk_bytes: int | None = None
    max_message_bytes: int | None = None
    session: Any = None
    hub_enabled = True
    log = txaio.make_logger()  # type: ignore[attr-defined]

    def __init__(self, name: str | None = None, description: str | None = None):
        if name is not None:
            self.name = name
        if description is not None:
            self.description = description

    @functools.cached_property
    def store(self) -> Store:
        """The node's recorded history (made on first use, so that subclasses skipping our
        ``__init__``, as original sisock nodes do, have one too)."""
        return Store()

    @functools.cached_property
    def _flows(self) -> dict[str, pacing.Flow]:
        """Chunked get_data answers under way, by the token their callers acknowledge with (`ack_data`)."""
        return {}

    # -- hooks for node authors --------------------------------------------
    def start(self) -> None:
        """Called once when the process starts (not per connection); start loops here."""

    def _get_fields_blocking(self, start: float, end: float) -> Fields:
        """Fields available in ``[start, end)`` (UNIX seconds UTC); runs in a thread.

        The default answers from `store`. Returns ``(field, timeline)`` as
        ``get_fields`` does.
        """
        return self.store.get_fields(start, end)

    def _get_data_blocking(self, field: list[str], start: float, end: float,
                           min_stride: float | None = None) -> dict[str, Any]:
        """Data of ``field`` in ``[start, end)`` (UNIX seconds UTC); runs in a thread.

        The default answers from `store`. Returns ``{"data": {f: values},
        "timeline": {tl: {"t": times, "finalized_until": float, "field":
        [f, ...]}}}``; values may be NumPy arrays or lists. ``field`` (the
        returned fields on each timeline) spares the base class a second
        lookup of the fields when it downsamples; a reader that leaves it
        out costs one ``_get_fields_blocking`` call when it has more than
        one timeline. A node may downsample itself, otherwise the base
        class does.
        """
        return self.store.get_data(field, start, end)

    # -- the procedures ------------------------------------------------------
    def get_fields(self, start: float, end: float) -> defer.Deferred:
        """``consumer.NAME.get_fields(start, end)``: the fields with data in the range.

        Parameters
        ----------
        start, end : float
            sisock times (seconds; UNIX UTC, or <= 0 for relative to now).

        Returns
        -------
        Deferred
            Fires with ``[field, timeline]``: ``field[f] = {description,
            timeline, type, units}``, ``timeline[tl] = {interval, field}``.

        Raises
        ------
        sisock.wire.errors.InvalidArgument
            If ``start`` or ``end`` is not a finite number.
        """
        start, end = validate.time_range(start, end)
        return self._in_thread("get_fields", self._get_fields_blocking, start, end)

    def get_data(self, field: list[str], start: float, end: float, min_stride: float | None = None, *,
                 encoding: str = "list", downsample: str = "mean", details: Any = None) -> defer.Deferred:
        """``consumer.NAME.get_data``: samples of ``field`` in ``[start, end)``.

        Parameters
        ----------
        field : list of str
            Field names; an unknown one is answered with an empty list.
        start, end : float
            sisock times; ``start`` inclusive, ``end`` exclusive.
        min_stride : float or None
            Seconds; samples are reduced in buckets ``[start + k*min_stride,
            ...)``, each reported at its start, so returned samples are at
            least this far apart.
        encoding : {"list", "binary"}, keyword only
            How arrays travel (`sisock.wire.codec`); callers with positional
            arguments only (JSON, original sisock) get lists.
        downsample : {"mean", "min", "max", "minmax"}, keyword only
            Reduction of numeric fields in each bucket; ``"minmax"`` is the
            envelope (`sisock.node.downsample.downsample`). A node that
            downsamples itself in ``_get_data_blocking`` is only handed
            ``min_stride`` for ``"mean"``.
        details : autobahn.wamp.types.CallDetails, optional
            From the session; a result over `chunk_bytes` goes out in chunks
            when the caller asked for progressive results (`sisock.wire.chunks`).

        Returns
        -------
        Deferred
            Fires with ``{data: {f: [...]}, timeline: {tl: {t: [...],
            finalized_until, field: [f, ...]}}}`` (t in UNIX seconds UTC,
            strictly increasing; NaN as null; ``field`` lists the returned
            fields on that timeline), or the summary of a chunked answer.

        Raises
        ------
        sisock.wire.errors.InvalidArgument
            Bad ``field``, ``start``, ``end``, ``min_stride``, ``encoding``
            or ``downsample``.
        sisock.wire.errors.TooLarge
            If the result is over `max_message_bytes` and the caller did
            not ask for progressive results.
        sisock.wire.errors.NodeError
            If the node failed while reading (the message says how).
        sisock.wire.errors.NodeDisabled
            If an admin disabled the node.
        """
        self.check_enabled()
        field = validate.field_list(field)
        start, end = validate.time_range(start, end)
        min_stride = validate.min_stride_arg(min_stride)
        encoding = validate.choice("encoding", encoding, codec.ENCODINGS)
        how = validate.choice("downsample", downsample, HOW)
        progress = details.progress if details is not None else None
        if type(self)._get_data_blocking is DataNode._get_data_blocking:  # the store answers
            held = self.store.get_data(field, start, end, most=INLINE_SAMPLES)
            if held is not None:  # a few samples in memory: answer in the reactor, no thread hop
                try:
                    return defer.succeed(self._answer(held, start, end, min_stride, how, encoding, progress))
                except Exception:
                    return defer.fail(self._node_error(Failure(), "get_data"))
        if progress is None:
            return self._in_thread("get_data", self._answer_data, field, start, end, min_stride, how, encoding, None)
        token, flow = secrets.token_hex(8), pacing.Flow()
        self._flows[token] = flow
        send = pacing.sender(progress, getattr(getattr(self, "_transport", None), "transport", None), flow, token)
        answered = self._in_thread("get_data", self._answer_data, field, start, end, min_stride, how, encoding, send)
        return answered.addBoth(lambda outcome: (self._flows.pop(token, None), outcome)[1])

    def ack_data(self, ack: str, chunks: int) -> None:
        """``consumer.NAME.get_data_ack(ack, chunks)``: the caller of a chunked get_data answer has read
        ``chunks`` of its chunks (``ack``: the answer's token from its layout; `sisock.node.pacing`).
        An answer that has ended, or a token of none, is no error.

        Raises
        ------
        sisock.wire.errors.InvalidArgument
            If ``chunks`` is not an integer >= 0.
        """
        if not validate.is_count(chunks):
            raise InvalidArgument(f"chunks must be an integer count of chunks read, got {chunks!r:.80}")
        flow = self._flows.get(str(ack))
        if flow is not None:
            flow.ack(chunks)

    def run_command(self, *args: Any, details: Any = None, **kwargs: Any) -> defer.Deferred:
        """``consumer.NAME.command(command, *args, **kwargs)``: run a ``@command`` method
        (`sisock.node.commands.dispatch`; ``details``, from the session, says who called)."""
        return commands.dispatch(self, args, kwargs, details)

    def get_api(self) -> defer.Deferred:
        """``consumer.NAME.get_api()``: description, fields and commands (`sisock.node.commands.describe`)."""
        return commands.describe(self)

    def check_enabled(self) -> None:
        """Raise `NodeDisabled` while an admin has this node disabled.

        Raises
        ------
        sisock.wire.errors.NodeDisabled
            With a message naming the node and how to enable it.
        """
        if not self.hub_enabled:
            raise NodeDisabled(f"node {self.name!r} is disabled by an admin; "
                               f"'sisock enable {self.name}' serves it again")

    # -- inside ----------------------------------------------------------------
    def _in_thread(self, what: str, func: Callable[..., Any], *args: Any) -> defer.Deferred:
        """``func(*args)`` in the reactor's thread pool; a failure that is not a sisock error is a `NodeError`."""
        return threads.deferToThread(func, *args).addErrback(self._node_error, what)

    def _node_error(self, failure: Failure, what: str) -> Failure:
        """``failure`` itself if it is a sisock error, else a `NodeError` saying so (and logged)."""
        if failure.check(SisockError):
            return failure
        log_failure(failure, self.log, f"sisock: {what}")
        return Failure(NodeError(f"node {self.name} failed in {what}: {failure.type.__name__}: "
                                 f"{failure.getErrorMessage()}"))

    def _answer_data(self, field, start, end, min_stride, how, encoding, send):
        """Read (in a thread), complete and deliver a get_data answer (`_answer`).

        A downsampled read of the store comes from its rollup tiers where
        they fit (`sisock.node.history`), already reduced.
        """
        if min_stride and type(self)._get_data_blocking is DataNode._get_data_blocking:
            result = history.get_data(self.store, field, start, end, min_stride, how)
            return self._answer(result, start, end, None, how, encoding, send)
        result = self._get_data_blocking(field, start, end, min_stride if how == "mean" else None)
        data = {f: np.asarray(result.get("data", {}).get(f, ())) for f in field}
        timelines = {tl: dict(v, t=np.asarray(v["t"], dtype=np.float64))
                     for tl, v in result.get("timeline", {}).items()}
        self._name_fields(timelines, data, start, end)
        return self._answer({"data": data, "timeline": timelines}, start, end, min_stride, how, encoding, send)

    def _answer(self, result, start, end, min_stride, how, encoding, send):
        """Downsample and deliver a complete answer, shaped as `sisock.store.Store.get_data` returns
        it (`sisock.wire.chunks.answer`)."""
        if min_stride:
            history.reduce_timelines(result, start, min_stride, how)
        return chunks.answer(result, encoding, send, end - start, self.chunk_bytes, self.max_message_bytes)

    def _name_fields(self, timelines, data, start, end):
        """Give each timeline of an answer its ``field`` list where the reader did not.

        On a single timeline, the fields with as many values as it has
        samples are on it (an unknown field has none); with more, one
        ``_get_fields_blocking`` call says.
        """
        missing = [v for v in timelines.values() if "field" not in v]
        if len(missing) == 1 and len(timelines) == 1:
            t = missing[0]["t"]
            missing[0]["field"] = [f for f, v in data.items() if len(v) == len(t)]
        elif missing:
            members = self._get_fields_blocking(start, end)[1]
            for tl, v in timelines.items():
                if "field" not in v:
                    v["field"] = [f for f in members.get(tl, {}).get("field", ()) if f in data]

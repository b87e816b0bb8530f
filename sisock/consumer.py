"""The consumer's Twisted session: the sisock read API returning Deferreds.

``session = yield connect(...)`` gives a :class:`ConsumerSession` joined to
the router, reconnecting by itself; `sisock.client.Client` runs one in a
thread of its own for blocking code, and `sisock.aio` is its asyncio twin.
``sisock.client`` exports these names too (``sisock.client.connect``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autobahn.wamp.types import CallOptions, ComponentConfig
from twisted.internet import defer, threads
from twisted.python.failure import Failure

from sisock import config
from sisock.connection import SisockSession, start
from sisock.wire import chunks, uri
from sisock.wire.errors import InvalidArgument
from sisock.wire.session import acknowledging, get_data_options, no_such_node, node_procedure

#: Seconds a call waits for the session to (re)join before failing.
DEFAULT_TIMEOUT = 10.0

#: ``(field, timeline)`` of ``get_fields``: ``field[f] = {"description", "timeline", "type", "units"}``,
#: ``timeline[tl] = {"interval": seconds or None, "field": [f, ...], "first": seconds or None, "last": ...}``
#: (``first``/``last``: times of the timeline's oldest and newest samples; an original-sisock node leaves them out).
Fields = tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]
#: A get_data result: ``{"data": {f: ndarray}, "timeline": {tl: {"t": ndarray, "finalized_until", "field"}}}``.
DataResult = dict[str, dict[str, Any]]
#: ``progress(received_bytes, total_bytes)`` of a chunked get_data result.
Progress = Callable[[int, int], None]


class ConsumerSession(SisockSession):
    """A consumer's session, with the sisock read API returning Deferreds.

    Subscriptions made with `follow` (or `subscribe_data`) are made again
    after every reconnect; plain autobahn ``subscribe`` lasts one connection.
    """

    def __init__(self, config: ComponentConfig | None = None) -> None:
        super().__init__(config)
        self._follows: list[tuple[str, Callable[..., Any]]] = []

    @defer.inlineCallbacks
    def onJoin(self, details: Any) -> Any:
        for topic, handler in self._follows:
            yield self.subscribe(handler, topic)
        SisockSession.onJoin(self, details)

    def follow(self, topic: str, handler: Callable[..., Any]) -> defer.Deferred:
        """Subscribe ``handler`` to ``topic`` now (if joined) and again after every reconnect.

        Returns
        -------
        Deferred
            Fires once subscribed (at once if not joined: it subscribes at the next join).
        """
        self._follows.append((topic, handler))
        if self.is_attached():
            return self.subscribe(handler, topic)
        return defer.succeed(None)

    def unfollow(self, topic: str, handler: Callable[..., Any]) -> defer.Deferred:
        """Undo `follow`: no more events of ``topic`` for ``handler``, now or after a reconnect.

        Returns
        -------
        Deferred
            Fires once unsubscribed.
        """
        self._follows.remove((topic, handler))
        if not self.is_attached():
            return defer.succeed(None)
        return defer.gatherResults([sub.unsubscribe() for subs in list(self._subscriptions.values())
                                    for sub in subs if sub.topic == topic and sub.handler == handler and sub.active])

    def subscribe_data(self, node: str, handler: Callable[[dict[str, Any]], Any]) -> defer.Deferred:
        """Follow the live blocks of ``node``: ``handler({timeline, t: [...], data: {f: [...]}})``.

        Raises
        ------
        sisock.wire.errors.InvalidArgument
            If ``node`` is not a valid node name.
        """
        return self.follow(node_procedure(node, "data"), handler)

    def _call(self, procedure: str, *args: Any, **kwargs: Any) -> defer.Deferred:
        """Deferred result of calling ``procedure``: now if joined, else at the next join."""
        if self.is_attached():
            try:
                return self.call(procedure, *args, **kwargs)  # a Deferred, unless it raises at once
            except Exception:
                return defer.fail()
        return self.when_joined().addCallback(lambda _: self.call(procedure, *args, **kwargs))

    def get_data_node(self) -> defer.Deferred[list[dict[str, str]]]:
        """Deferred list of live nodes ``[{"name", "description"}, ...]``."""
        return self._call(uri.GET_DATA_NODE)

    def _node_call(self, node: str, suffix: str, then: Callable[[Any], Any], *args: Any,
                   **kwargs: Any) -> defer.Deferred:
        """Deferred ``then(result)`` of procedure ``suffix`` of ``node``, `NoSuchNode` where none answers."""
        try:
            procedure = node_procedure(node, suffix)
        except InvalidArgument:
            return defer.fail()
        return self._call(procedure, *args, **kwargs).addCallbacks(then, _no_such_node, errbackArgs=(node,))

    def get_fields(self, node: str, start: float, end: float) -> defer.Deferred[Fields]:
        """Deferred ``(field, timeline)`` of ``node``: the fields with samples in ``[start, end)``.

        Parameters
        ----------
        node : str
            Data node name.
        start, end : float
            sisock times: UNIX seconds UTC, or <= 0 for seconds relative to now.

        Returns
        -------
        Deferred of (dict, dict)
            ``field[f] = {"description": str or None, "timeline": str, "type":
            "number"|"string"|"bool", "units": str or None}`` and
            ``timeline[tl] = {"interval": float seconds or None, "field": [f, ...],
            "first": float or None, "last": float or None}``: ``first`` and
            ``last`` are the times (UNIX seconds UTC) of the timeline's oldest
            and newest samples the node holds, whatever the range (a node of
            the original sisock leaves them out).

        Raises (in the Deferred)
        ------------------------
        sisock.wire.errors.NoSuchNode
            If no node of that name is registered.
        sisock.wire.errors.InvalidArgument
            For a malformed node name, or a ``start``/``end`` the node refuses.
        """
        return self._node_call(node, "get_fields", tuple, start, end)

    def get_data(self, node: str, field: list[str], start: float, end: float, min_stride: float | None = None,
                 downsample: str | None = None, progress: Progress | None = None,
                 encoding: str | None = None) -> defer.Deferred[DataResult]:
        """Deferred get_data result of ``node`` with NumPy arrays.

        Asks for raw arrays when the connection's serializer is binary and
        for progressive results, so a result of any size arrives in chunks
        (`sisock.wire.chunks`) without breaking the connection.

        Parameters
        ----------
        node : str
        field : list of str
            Fields to read; one the node does not have gets an empty array.
        start, end : float
            ``[start, end)``, sisock times: UNIX seconds UTC, or <= 0 relative to now.
        min_stride : float or None
            Seconds; downsample so samples are at least this far apart.
        downsample : {"mean", "min", "max", "minmax"} or None
            Reduction in each bucket; None is the node's default, the mean.
            ``"minmax"``: the bucket's min and max, two samples per ``2*min_stride``.
        progress : callable or None
            ``progress(received_bytes, total_bytes)`` (ints) after each chunk
            of a chunked result, in the reactor thread; keep it short.
        encoding : {"binary", "list"} or None
            How arrays travel; None is `encoding`, what suits the serializer.

        Returns
        -------
        Deferred of dict
            ``{"data": {f: ndarray (n_tl,)}, "timeline": {tl: {"t": ndarray
            float64 (n_tl,), UNIX seconds UTC, increasing; "finalized_until":
            float or None; "field": [f, ...]}}}``, ``field`` the returned
            fields on that timeline (an original-sisock node may leave it out).
            Numbers are float64 with NaN where missing, except over a binary
            serializer: there numeric and bool arrays keep the node's dtype
            (int stays int), and a one-message result's arrays are read-only
            views of the received bytes. Bools are bool arrays; strings (and
            bools with missing values) object arrays with None where missing.

        Raises (in the Deferred)
        ------------------------
        sisock.wire.errors.SisockError
            ``NoSuchNode`` (no node of that name), ``InvalidArgument`` (the
            message names the argument), ``NodeDisabled`` (an admin disabled
            the node), ``NodeError`` (the node failed to read its data).
        """
        return self._read(chunks.Assembler(progress), node, field, start, end, min_stride, downsample, encoding)

    def stream_data(self, node: str, field: list[str], start: float, end: float,
                    on_rows: Callable[[str, Any, dict[str, Any]], Any], min_stride: float | None = None,
                    downsample: str | None = None, progress: Progress | None = None, encoding: str | None = None,
                    timeline_of: dict[str, str] | None = None,
                    on_start: Callable[[dict[str, Any]], Any] | None = None) -> defer.Deferred[dict[str, Any]]:
        """One get_data call whose answer is handed to ``on_rows`` in batches of rows as it arrives.

        What :meth:`get_data` reads, without ever holding it whole: each
        chunk's rows go to ``on_rows`` once decoded (`sisock.wire.chunks.RowStream`),
        so a range of any length can go to a file in bounded memory.

        Parameters
        ----------
        node, field, start, end, min_stride, downsample, progress, encoding
            As for :meth:`get_data`.
        on_rows : callable
            ``on_rows(timeline, t, data)``, in the reactor thread, for rows
            ``[i0, i1)`` of a timeline in order: ``t`` float64 (n,) UNIX
            seconds UTC, ``data`` ``{field: ndarray (n,)}`` for each of the
            timeline's fields (dtypes as :meth:`get_data` gives them, but
            decoded a batch at a time: a list-encoded batch with no value is
            float64 NaN whatever the field's type). Keep it short or hand
            the work to a thread; a timeline without samples gets no call.
        timeline_of : dict or None
            ``{field: timeline}`` (from :meth:`get_fields`) for a node that
            does not name each timeline's fields in its answer.
        on_start : callable or None
            ``on_start(summary)`` before the first batch, with what the
            Deferred fires with (each timeline's rows in all, known in advance).

        Returns
        -------
        Deferred of dict
            Fires after the last batch: ``{"timeline": {tl: {"rows": int,
            "finalized_until": float or None, "field": [f, ...]}}}``.

        Raises (in the Deferred)
        ------------------------
        sisock.wire.errors.SisockError
            As :meth:`get_data`; ``NodeError`` also for a malformed answer
            (then some batches may have been handed already).
        """
        stream = chunks.RowStream(on_rows, progress, timeline_of, on_start)
        return self._read(stream, node, field, start, end, min_stride, downsample, encoding)

    def _read(self, reader: Any, node: str, field: list[str], start: float, end: float, min_stride: float | None,
              downsample: str | None, encoding: str | None) -> defer.Deferred:
        """Deferred ``reader.finish(final)`` of one get_data call whose progressive results go to ``reader.feed``."""
        if not self.is_attached():  # the encoding depends on the serializer of the next connection
            return self.when_joined().addCallback(
                lambda _: self._read(reader, node, field, start, end, min_stride, downsample, encoding))
        options = get_data_options(encoding or self.encoding, downsample)

        def finish(final: Any) -> Any:  # decoding a large list result would hold up the reactor: in a thread
            if isinstance(reader, chunks.Assembler) and reader.chunked:
                return threads.deferToThread(reader.finish, final)
            return reader.finish(final)

        def acknowledge(procedure: str, *args: Any) -> None:
            if self.is_attached():
                self.call(procedure, *args).addErrback(lambda _: None)

        return self._node_call(node, "get_data", finish, field, start, end, min_stride,
                               options=CallOptions(on_progress=acknowledging(reader, node, acknowledge)), **options)

    def get_latest(self, node: str) -> defer.Deferred[dict[str, dict[str, Any]]]:
        """Deferred newest recorded block of each timeline of ``node``: ``{tl: {"t": [...], "data": {f: [...]}}}``.

        Lists (NaN as None), as the live blocks carry them; ``{}`` for a node that records nothing.

        Raises (in the Deferred)
        ------------------------
        sisock.wire.errors.NoSuchNode, sisock.wire.errors.InvalidArgument
        """
        return self._node_call(node, "get_latest", _same)

    def command(self, node: str, name: str, *args: Any, **kwargs: Any) -> defer.Deferred:
        """Deferred answer of command ``name`` of ``node`` run with ``args``/``kwargs`` (admins only).

        Raises (in the Deferred)
        ------------------------
        sisock.wire.errors.NoSuchCommand
            If the node has no command ``name``.
        sisock.wire.errors.InvalidArgument
            If the arguments do not fit the command (the message names the argument and gives the usage).
        sisock.wire.errors.NoSuchNode
        autobahn.wamp.exception.ApplicationError
            ``wamp.error.not_authorized`` for a session that is not an admin.
        """
        return self._node_call(node, "command", _same, name, *args, **kwargs)


def connection(url: str | None, realm: str | None, authid: str | None, secret: str | None) -> config.Connection:
    """The :class:`sisock.config.Connection` of a client: ``url``/``realm`` default to ``SISOCK_URL`` /
    ``SISOCK_REALM``, else the embedded defaults; WAMP-CRA with ``authid``/``secret`` when given."""
    return config.Connection(url or config.env("URL", config.DEFAULT_URL),
                             realm or config.env("REALM", config.DEFAULT_REALM), authid, secret)


def start_session(url: str | None = None, realm: str | None = None, authid: str | None = None,
                  secret: str | None = None, reactor: Any = None, binary: bool = True) -> ConsumerSession:
    """Start a :class:`ConsumerSession` connecting, and reconnecting, to a router; it returns at once.

    Parameters are those of :func:`connect`. ``session.when_joined()`` fires
    once it has joined; ``session.close()`` stops it for good, reconnecting
    included.

    Raises
    ------
    ValueError
        If ``url`` does not look like ``ws://host:port/path`` (or ``wss://``).
    """
    conn = connection(url, realm, authid, secret)
    session = ConsumerSession(ComponentConfig(conn.realm, {"connection": conn}))
    start(session, reactor, binary=binary)
    return session


def connect(url: str | None = None, realm: str | None = None, authid: str | None = None,
            secret: str | None = None, reactor: Any = None, binary: bool = True) -> defer.Deferred[ConsumerSession]:
    """Connect a :class:`ConsumerSession`; Deferred that fires with it once joined.

    Parameters
    ----------
    url, realm : str, optional
        Default ``SISOCK_URL`` / ``SISOCK_REALM`` or the embedded defaults.
    authid, secret : str, optional
        WAMP-CRA credentials (e.g. ``admin``); anonymous consumer if omitted.
    reactor : twisted reactor, optional
        Default the global one.
    binary : bool
        Offer MessagePack and CBOR before JSON (default), or JSON only.
    """
    return start_session(url, realm, authid, secret, reactor, binary).when_joined()


def _no_such_node(failure: Failure, node: str) -> Failure:
    """``failure``, or `NoSuchNode` where the router found no procedure of ``node`` (`no_such_node`)."""
    mapped = no_such_node(failure.value, node)
    return failure if mapped is failure.value else Failure(mapped)


def _same(result: Any) -> Any:
    return result

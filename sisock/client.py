"""Consumer client: read nodes from plain blocking Python (and, through `sisock.consumer`, from Twisted code).

Blocking (scripts, notebooks)::

    import sisock
    with sisock.Client("ws://127.0.0.1:8080/ws") as client:
        nodes = client.get_data_node()                 # [{"name", "description"}, ...]
        field, timeline = client.get_fields("weather", 1500076800, 1500163200)
        result = client.get_data("weather", ["temperature"], 1500076800, 1500163200)
        result["data"]["temperature"]                  # numpy float64 array, NaN for null
        result["timeline"]["hourly"]["t"]              # numpy float64 UNIX seconds UTC

Twisted: ``session = yield connect(...)`` then the same methods on
:class:`ConsumerSession`, returning Deferreds. asyncio: `sisock.aio`, the
same methods as coroutines.

Both also have ``get_latest``, ``command`` and the live blocks of a node
(``Client.subscribe``, ``ConsumerSession.subscribe_data``). Both reconnect
by themselves; a call made while the router is away waits for the next
join up to its timeout, and subscriptions are made again.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

import crochet
from twisted.internet import defer

from sisock.consumer import (  # noqa: F401  the Twisted session's names, as sisock.client.connect etc.
    DEFAULT_TIMEOUT,
    ConsumerSession,
    DataResult,
    Fields,
    Progress,
    connect,
    connection,
    start_session,
)
from sisock.dataframes import FrameMethods
from sisock.wire.session import node_procedure


class Client(FrameMethods):
    """Blocking consumer client for scripts; runs Twisted in a background thread (crochet).

    Parameters
    ----------
    url, realm, authid, secret : str, optional
        As for :func:`connect`.
    timeout : float
        Seconds each operation may take, connecting included.

    Raises
    ------
    crochet.TimeoutError
        If the session has not joined the router within ``timeout`` (router
        not reachable, or credentials refused); the client then stops
        trying to connect.
    ValueError
        If ``url`` does not look like ``ws://host:port/path`` (or ``wss://``).
    """

    def __init__(self, url: str | None = None, realm: str | None = None, authid: str | None = None,
                 secret: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        crochet.setup()
        self.timeout = timeout
        conn = connection(url, realm, authid, secret)
        self._session: ConsumerSession = self._run(start_session, conn.url, conn.realm, authid, secret)
        try:
            self._run(self._session.when_joined)
        except crochet.TimeoutError:
            self.close()  # no reconnecting left behind
            raise crochet.TimeoutError(f"router not reachable at {conn.url} (realm {conn.realm}) within "
                                       f"{timeout:g} s, or it refused us") from None

    @staticmethod
    @crochet.run_in_reactor
    def _in_reactor(func: Callable[..., Any], *args: Any) -> defer.Deferred:
        return defer.maybeDeferred(func, *args)

    def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        return self._in_reactor(func, *args).wait(self.timeout)

    def call(self, procedure: str, *args: Any, **kwargs: Any) -> Any:
        """Call any WAMP ``procedure`` and wait for its result (escape hatch for tools).

        Raises
        ------
        autobahn.wamp.exception.ApplicationError
            The callee's error (a sisock error class for sisock's URIs).
        crochet.TimeoutError
            If there is no answer within ``timeout``.
        """
        return self._run(lambda: self._session.call(procedure, *args, **kwargs))

    def get_data_node(self) -> list[dict[str, str]]:
        """Live nodes ``[{"name", "description"}, ...]``.

        Raises
        ------
        crochet.TimeoutError
            If there is no answer within ``timeout``.
        """
        return self._run(self._session.get_data_node)

    def get_fields(self, node: str, start: float, end: float) -> Fields:
        """``(field, timeline)`` of ``node`` in ``[start, end)``; see :meth:`ConsumerSession.get_fields`.

        Raises
        ------
        sisock.wire.errors.NoSuchNode, sisock.wire.errors.InvalidArgument
            As :meth:`ConsumerSession.get_fields`.
        crochet.TimeoutError
            If there is no answer within ``timeout``.
        """
        return self._run(self._session.get_fields, node, start, end)

    def get_data(self, node: str, field: list[str], start: float, end: float, min_stride: float | None = None,
                 downsample: str | None = None, progress: Progress | None = None) -> DataResult:
        """Data of ``field`` in ``[start, end)`` with NumPy arrays; see :meth:`ConsumerSession.get_data`.

        ``progress(received_bytes, total_bytes)`` runs in the reactor's
        thread, not the caller's.

        Raises
        ------
        sisock.wire.errors.SisockError
            As :meth:`ConsumerSession.get_data` (``NoSuchNode``,
            ``InvalidArgument``, ``NodeDisabled``, ``NodeError``).
        crochet.TimeoutError
            If the whole transfer takes longer than ``timeout``.
        """
        return self._run(self._session.get_data, node, field, start, end, min_stride, downsample, progress)

    def stream_data(self, node: str, field: list[str], start: float, end: float,
                    on_rows: Callable[[str, Any, dict[str, Any]], Any], min_stride: float | None = None,
                    downsample: str | None = None, progress: Progress | None = None,
                    timeline_of: dict[str, str] | None = None,
                    on_start: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
        """One get_data call handed to ``on_rows`` in row batches; see :meth:`ConsumerSession.stream_data`.

        ``on_rows``, ``on_start`` and ``progress`` run in the reactor's thread, not the caller's.

        Raises
        ------
        sisock.wire.errors.SisockError
            As :meth:`ConsumerSession.stream_data`.
        crochet.TimeoutError
            If the whole transfer takes longer than ``timeout``.
        """
        return self._run(self._session.stream_data, node, field, start, end, on_rows, min_stride, downsample,
                         progress, None, timeline_of, on_start)

    def get_latest(self, node: str) -> dict[str, dict[str, Any]]:
        """The newest recorded block of each timeline of ``node``; see :meth:`ConsumerSession.get_latest`.

        Raises
        ------
        sisock.wire.errors.NoSuchNode, sisock.wire.errors.InvalidArgument
        crochet.TimeoutError
            If there is no answer within ``timeout``.
        """
        return self._run(self._session.get_latest, node)

    def command(self, node: str, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run command ``name`` of ``node`` and return its answer; see :meth:`ConsumerSession.command`.

        Raises
        ------
        sisock.wire.errors.NoSuchCommand, sisock.wire.errors.InvalidArgument, sisock.wire.errors.NoSuchNode
            As :meth:`ConsumerSession.command`.
        crochet.TimeoutError
            If there is no answer within ``timeout``.
        """
        return self._run(lambda: self._session.command(node, name, *args, **kwargs))

    def subscribe(self, node: str) -> BlockingSubscription:
        """The live blocks of ``node``, as an iterator (made again after every reconnect).

        ``for block in client.subscribe("sensors"): ...``, each block
        ``{"timeline": tl, "t": [unix_s, ...], "data": {f: [v, ...]}}`` (lists,
        NaN as None); blocks queue up from this call on. Waiting for the
        next block can be interrupted (Ctrl-C); ``close()`` (or ``with``) unsubscribes.

        Raises
        ------
        sisock.wire.errors.InvalidArgument
            If ``node`` is not a valid node name.
        crochet.TimeoutError
            If the subscription is not made within ``timeout``.
        """
        subscription = BlockingSubscription(self, node_procedure(node, "data"))
        self._run(self._session.follow, subscription.topic, subscription.event)
        return subscription

    def close(self) -> None:
        """Leave the router and stop reconnecting."""
        self._run(self._session.close)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlockingSubscription:
    """Live blocks of one node for a blocking `Client`: an iterator, queued from `Client.subscribe` to `close`.

    Attributes
    ----------
    topic : str
        The node's live topic.
    """

    def __init__(self, client: Client, topic: str) -> None:
        self._client, self.topic = client, topic
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._open = True

    def event(self, *args: Any, **kwargs: Any) -> None:
        """The handler of the topic's events (in the reactor's thread)."""
        self._queue.put(args[0] if len(args) == 1 else args)

    def get(self, timeout: float | None = None) -> Any:
        """The next block, waiting up to ``timeout`` seconds (None: for ever).

        Raises
        ------
        queue.Empty
            If no block came within ``timeout``.
        """
        return self._queue.get(timeout=timeout)

    def __iter__(self) -> BlockingSubscription:
        return self

    def __next__(self) -> Any:
        block = self._queue.get() if self._open else self
        if block is self:  # queued by close
            raise StopIteration
        return block

    def close(self) -> None:
        """Unsubscribe; blocks not yet taken are dropped, and an iteration waiting for one ends."""
        if self._open:
            self._open = False
            self._queue.put(self)
            self._client._run(self._client._session.unfollow, self.topic, self.event)

    def __enter__(self) -> BlockingSubscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The asyncio consumer client: the read API of `sisock.Client` as coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions

from sisock.aio.session import AioSession
from sisock.consumer import DEFAULT_TIMEOUT, DataResult, Fields, Progress, connection
from sisock.dataframes import AsyncFrameMethods
from sisock.wire import chunks, uri
from sisock.wire.session import acknowledging, get_data_options, no_such_node, node_procedure


class AsyncClient(AsyncFrameMethods):
    """An asyncio consumer of a sisock router; made by :func:`connect`.

    Every method waits up to ``timeout`` seconds for the session to
    (re)join, and the call itself up to ``timeout`` seconds more; the
    errors are those of `sisock.Client` (`sisock.wire.errors`), and a
    timeout is the built-in ``TimeoutError``.

    Attributes
    ----------
    timeout : float
        Seconds each operation may take.
    """

    def __init__(self, session: AioSession, timeout: float) -> None:
        self.session, self.timeout = session, timeout

    async def call(self, procedure: str, *args: Any, **kwargs: Any) -> Any:
        """Call any WAMP ``procedure`` and return its result (escape hatch for tools).

        Raises
        ------
        autobahn.wamp.exception.ApplicationError
            The callee's error (a sisock error class for sisock's URIs).
        TimeoutError
            If the session is not joined, or there is no answer, within ``timeout``.
        """
        await self.session.when_joined(self.timeout)
        return await asyncio.wait_for(self.session.call(procedure, *args, **kwargs), self.timeout)

    async def _node_call(self, node: str, suffix: str, *args: Any, **kwargs: Any) -> Any:
        """The answer of procedure ``suffix`` of ``node``; `NoSuchNode` where none answers."""
        try:
            return await self.call(node_procedure(node, suffix), *args, **kwargs)
        except ApplicationError as exc:
            mapped = no_such_node(exc, node)
            if mapped is exc:
                raise
            raise mapped from None

    async def get_data_node(self) -> list[dict[str, str]]:
        """Live nodes ``[{"name", "description"}, ...]``."""
        return await self.call(uri.GET_DATA_NODE)

    async def get_fields(self, node: str, start: float, end: float) -> Fields:
        """``(field, timeline)`` of ``node`` in ``[start, end)``, as `sisock.consumer.ConsumerSession.get_fields`.

        Raises
        ------
        sisock.wire.errors.NoSuchNode, sisock.wire.errors.InvalidArgument
            As `sisock.consumer.ConsumerSession.get_fields`.
        """
        field, timeline = await self._node_call(node, "get_fields", start, end)
        return field, timeline

    async def get_data(self, node: str, field: list[str], start: float, end: float,
                       min_stride: float | None = None, downsample: str | None = None,
                       progress: Progress | None = None) -> DataResult:
        """Data of ``field`` in ``[start, end)`` with NumPy arrays, as `sisock.consumer.ConsumerSession.get_data`.

        A result of any size arrives in chunks (`sisock.wire.chunks`); a
        chunked one is decoded in a worker thread, so the loop keeps running.

        Parameters
        ----------
        node : str
        field : list of str
        start, end : float
            sisock times: UNIX seconds UTC, or <= 0 relative to now.
        min_stride : float or None
            Seconds; downsample so samples are at least this far apart.
        downsample : {"mean", "min", "max", "minmax"} or None
        progress : callable or None
            ``progress(received_bytes, total_bytes)`` after each chunk, in the loop's thread.

        Returns
        -------
        dict
            ``{"data": {f: ndarray}, "timeline": {tl: {"t": ndarray float64 UNIX s UTC,
            "finalized_until", "field"}}}``.

        Raises
        ------
        sisock.wire.errors.SisockError
            ``NoSuchNode``, ``InvalidArgument`` (naming the argument), ``NodeDisabled``, ``NodeError``.
        TimeoutError
            If the whole transfer takes longer than ``timeout``.
        """
        await self.session.when_joined(self.timeout)  # the encoding is the joined connection's
        assembler = chunks.Assembler(progress)
        options = get_data_options(self.session.encoding, downsample)

        def acknowledge(procedure: str, *args: Any) -> None:
            sent = asyncio.ensure_future(self.session.call(procedure, *args))
            sent.add_done_callback(lambda done: done.cancelled() or done.exception())

        final = await self._node_call(node, "get_data", field, start, end, min_stride,
                                      options=CallOptions(on_progress=acknowledging(assembler, node, acknowledge)),
                                      **options)
        if assembler.chunked:
            return await asyncio.get_running_loop().run_in_executor(None, assembler.finish, final)
        return assembler.finish(final)

    async def get_latest(self, node: str) -> dict[str, dict[str, Any]]:
        """The newest recorded block of each timeline of ``node``: ``{tl: {"t": [...], "data": {f: [...]}}}``.

        Lists (NaN as None), as the live blocks; ``{}`` for a node that records nothing.

        Raises
        ------
        sisock.wire.errors.NoSuchNode, sisock.wire.errors.InvalidArgument
        """
        return await self._node_call(node, "get_latest")

    async def command(self, node: str, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run command ``name`` of ``node`` with ``args``/``kwargs`` and return its answer (admins only).

        Raises
        ------
        sisock.wire.errors.SisockError
            As `sisock.consumer.ConsumerSession.command` (``NoSuchCommand``, ``InvalidArgument``, ``NoSuchNode``).
        """
        return await self._node_call(node, "command", name, *args, **kwargs)

    def subscribe(self, node: str) -> Subscription:
        """The live blocks of ``node``, as an async iterator (made again after every reconnect).

        Each block is ``{"timeline": tl, "t": [unix_s, ...], "data": {f: [v, ...]}}``
        (lists, NaN as None). ``async for block in client.subscribe("sensors")``;
        leave with ``break`` and ``await subscription.close()``, or use
        ``async with client.subscribe("sensors") as blocks``.

        Raises
        ------
        sisock.wire.errors.InvalidArgument
            If ``node`` is not a valid node name.
        """
        return Subscription(self.session, node_procedure(node, "data"))

    async def close(self) -> None:
        """Leave the router and stop reconnecting."""
        await self.session.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


#: Queued by `Subscription.close` to end an iteration waiting for a block.
_CLOSED = object()


class Subscription:
    """Live blocks of one node's topic, queued from subscription to `close`; an async iterator."""

    def __init__(self, session: AioSession, topic: str) -> None:
        self._session, self.topic = session, topic
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._state = "new"

    def _event(self, *args: Any, **kwargs: Any) -> None:
        self._queue.put_nowait(args[0] if len(args) == 1 else args)

    async def start(self) -> Subscription:
        """Subscribe (now if joined, else at the next join); iterating starts it too."""
        if self._state == "new":
            self._state = "open"
            await self._session.follow(self.topic, self._event)
        return self

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        await self.start()
        block = _CLOSED if self._state == "closed" else await self._queue.get()
        if block is _CLOSED:
            raise StopAsyncIteration
        return block

    async def close(self) -> None:
        """Unsubscribe; blocks not yet taken are dropped, and an iteration waiting for one ends."""
        if self._state == "open":
            await self._session.unfollow(self.topic, self._event)
        self._state = "closed"
        self._queue.put_nowait(_CLOSED)

    aclose = close

    async def __aenter__(self) -> Subscription:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Connecting:
    """What :func:`connect` returns: ``await`` it for the client, or ``async with`` it (closed at the end)."""

    def __init__(self, session: AioSession, timeout: float) -> None:
        self._session, self._timeout = session, timeout
        self._client: AsyncClient | None = None

    async def _connect(self) -> AsyncClient:
        session = self._session
        session.start()
        try:
            await session.when_joined(self._timeout)
        except TimeoutError:
            await session.close()  # no reconnecting left behind
            conn = session.connection
            raise TimeoutError(f"router not reachable at {conn.url} (realm {conn.realm}) within "
                               f"{self._timeout:g} s, or it refused us") from None
        self._client = AsyncClient(session, self._timeout)
        return self._client

    def __await__(self) -> Generator[Any, None, AsyncClient]:
        return self._connect().__await__()

    async def __aenter__(self) -> AsyncClient:
        return await self._connect()

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()


def connect(url: str | None = None, realm: str | None = None, authid: str | None = None,
            secret: str | None = None, timeout: float = DEFAULT_TIMEOUT, binary: bool = True) -> Connecting:
    """Connect an :class:`AsyncClient` to a router: ``client = await connect()`` or ``async with connect() as client``.

    Parameters
    ----------
    url, realm : str, optional
        Default ``SISOCK_URL`` / ``SISOCK_REALM`` or the embedded defaults; ``ws://`` or ``wss://`` URLs.
    authid, secret : str, optional
        WAMP-CRA credentials (e.g. ``admin``); anonymous consumer if omitted.
    timeout : float
        Seconds connecting, and then each operation, may take.
    binary : bool
        Offer MessagePack and CBOR before JSON (default), or JSON only.

    Raises
    ------
    ValueError
        At once, if ``url`` is not a ``ws://host:port/path`` or ``wss://`` URL.
    TimeoutError
        When awaited, if the session has not joined within ``timeout`` (router not
        reachable, or credentials refused); it then stops trying.
    """
    return Connecting(AioSession(connection(url, realm, authid, secret), binary), timeout)

"""The clients' pandas, xarray and fleet-query methods: `FrameMethods` (mixed into the blocking
`sisock.client.Client`) and `AsyncFrameMethods` (into the asyncio `sisock.aio.AsyncClient`).

They only fetch, with the client's `get_fields`, `get_data`, `subscribe`
and session; `sisock.frames` converts, so every client gives the same frames.
"""

from __future__ import annotations

import asyncio
import queue
import time
from typing import Any

import crochet

from sisock import frames
from sisock.hub import fanout
from sisock.wire import validate
from sisock.wire.errors import InvalidArgument

#: A get_data result (`sisock.client.DataResult`).
DataResult = dict[str, dict[str, Any]]


class FrameMethods:
    """`Client` methods returning pandas DataFrames and xarray Datasets, and queries across nodes.

    The class they are mixed into provides ``get_fields``, ``get_data``,
    ``subscribe(node)`` (live blocks), ``_run(func, *args)`` (run in the
    reactor, wait up to ``timeout``), ``_session`` and ``timeout``.
    """

    get_fields: Any
    get_data: Any
    subscribe: Any
    _run: Any
    _session: Any
    timeout: float

    def get_dataframe(self, node: str, field: list[str], start: float, end: float, min_stride: float | None = None,
                      downsample: str | None = None, join: bool = False) -> Any:
        """`get_data` as pandas DataFrames with get_fields' units (`sisock.frames.to_dataframes`).

        Returns
        -------
        dict of str to pandas.DataFrame, or pandas.DataFrame
            One DataFrame per timeline, indexed by a ``datetime64[ns, UTC]``
            ``time`` index, or with ``join`` one of every timeline
            outer-joined on time; ``attrs`` hold ``node``, ``timeline``,
            ``units``, ``description`` and ``finalized_until``.

        Raises
        ------
        ModuleNotFoundError
            Without pandas (``pip install 'sisock[pandas]'``), before anything is read.
        sisock.wire.errors.SisockError, crochet.TimeoutError
            As `get_data`.
        """
        frames.require("pandas")
        return frames.to_dataframes(*self._fetch(node, field, start, end, min_stride, downsample), node, join)

    def get_dataset(self, node: str, field: list[str], start: float, end: float, min_stride: float | None = None,
                    downsample: str | None = None) -> Any:
        """`get_data` as an xarray Dataset, a ``time_<timeline>`` coordinate per timeline (`sisock.frames.to_dataset`).

        Raises
        ------
        ModuleNotFoundError
            Without xarray (``pip install 'sisock[xarray]'``), before anything is read.
        sisock.wire.errors.SisockError, crochet.TimeoutError
            As `get_data`.
        """
        frames.require("xarray")
        return frames.to_dataset(*self._fetch(node, field, start, end, min_stride, downsample), node)

    def _fetch(self, node: str, field: list[str], start: float, end: float, min_stride: float | None,
               downsample: str | None) -> tuple[DataResult, dict[str, dict[str, Any]]]:
        """``(get_data result, get_fields' field metadata)`` of ``node``."""
        fields, _ = self.get_fields(node, start, end)
        return self.get_data(node, field, start, end, min_stride, downsample), fields

    def query(self, filter: str, field: str | list[str], start: float, end: float, min_stride: float | None = None,
              aggregate: str | None = None, group_by: str | None = None, downsample: str = "mean",
              concurrency: int = fanout.DEFAULT_CONCURRENCY) -> dict[str, Any]:
        """Read ``field`` on every live node a registry ``filter`` selects (`sisock.hub.fanout`).

        The hub selects the nodes (``fleet.lamp*``, ``zone=north kind=led``,
        ``ALL``); this client's session calls each, ``concurrency`` at a time.
        Each node has half of ``timeout`` to answer (a slower or failing node
        is in ``errors`` with the reason), the whole query ``timeout``.

        Parameters
        ----------
        filter, field, start, end, min_stride, aggregate, group_by, downsample, concurrency
            As `sisock.hub.fanout.parse`: a registry filter (``ALL`` for
            every node), the field(s), sisock times, the grid in seconds
            (required with an ``aggregate`` of ``sum``, ``mean``, ``min``,
            ``max`` or ``count``; None answers per node), the tag whose
            values group the nodes, each node's bucket reduction, and the
            node calls in flight at once.

        Returns
        -------
        dict
            The answer of `sisock.hub.fanout.query`: ``selected``, ``errors``
            and per node ``results``, or aggregated ``t`` and ``groups``.

        Raises
        ------
        sisock.wire.errors.InvalidArgument
            Naming the argument at fault (the filter included).
        crochet.TimeoutError
            If the whole query takes longer than ``timeout``.
        """
        q = fanout.parse(filter, field, start, end, min_stride, aggregate, group_by, downsample, concurrency,
                         self.timeout / 2)
        return self._run(fanout.query, self._session, q)

    def query_dataframe(self, filter: str, field: str | list[str], start: float, end: float,
                        min_stride: float | None = None, aggregate: str | None = None, group_by: str | None = None,
                        downsample: str = "mean", concurrency: int = fanout.DEFAULT_CONCURRENCY) -> dict[str, Any]:
        """`query` as ``{node: DataFrame}``, or with ``aggregate`` ``{group: DataFrame}``
        (`sisock.frames.query_frames`).

        Nodes that failed are in every DataFrame's ``attrs["errors"]`` and said in a `UserWarning`.

        Raises
        ------
        ModuleNotFoundError
            Without pandas (``pip install 'sisock[pandas]'``), before anything is read.
        sisock.wire.errors.InvalidArgument, crochet.TimeoutError
            As `query`.
        """
        frames.require("pandas")
        return frames.query_frames(self.query(filter, field, start, end, min_stride, aggregate, group_by, downsample,
                                              concurrency))

    def follow_dataframe(self, node: str, blocks: int = 5, join: bool = False, timeout: float | None = None) -> Any:
        """The next ``blocks`` live blocks of ``node`` (topic ``consumer.NODE.data``) as DataFrames.

        Subscribes (``subscribe``), waits for the blocks, unsubscribes;
        shaped as `get_dataframe` (``finalized_until`` None).

        Parameters
        ----------
        node : str
        blocks : int
            Blocks to wait for (a live node records one every sampling interval).
        join : bool
            As for `get_dataframe`.
        timeout : float, optional
            Seconds to wait for them; default the client's ``timeout``.

        Raises
        ------
        ModuleNotFoundError
            Without pandas (``pip install 'sisock[pandas]'``).
        sisock.wire.errors.InvalidArgument
            If ``blocks`` is not a whole number from 1.
        sisock.wire.errors.NoSuchNode
            If no node of that name is registered.
        crochet.TimeoutError
            If fewer than ``blocks`` came within ``timeout`` (the subscription is then dropped).
        """
        frames.require("pandas")
        _check_blocks(blocks)
        fields, _ = self.get_fields(node, 1.0, 0.0)  # the metadata of its whole history
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        received: list[dict[str, Any]] = []
        with self.subscribe(node) as live:
            while len(received) < blocks:
                try:
                    received.append(live.get(max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    raise crochet.TimeoutError(f"{len(received)} of {blocks} live blocks of {node!r} came "
                                               f"within {wait:g} s") from None
        return frames.to_dataframes(frames.blocks_result(received), fields, node, join)


def _check_blocks(blocks: Any) -> None:
    """Raise `InvalidArgument` unless ``blocks`` is a whole number from 1."""
    if not validate.is_count(blocks) or blocks < 1:
        raise InvalidArgument(f"blocks must be a whole number from 1, got {blocks!r:.40}")


class AsyncFrameMethods:
    """`sisock.aio.AsyncClient` coroutines returning pandas DataFrames and xarray Datasets.

    The same frames as `FrameMethods` (`sisock.frames` converts, in a worker
    thread so that the event loop keeps running), and the same queries
    across nodes (`sisock.hub.fanout` checks and aggregates them). The class
    they are mixed into provides the coroutines ``call``, ``get_fields``
    and ``get_data``, ``subscribe`` and ``timeout``.
    """

    call: Any
    get_fields: Any
    get_data: Any
    subscribe: Any
    timeout: float

    async def get_dataframe(self, node: str, field: list[str], start: float, end: float,
                            min_stride: float | None = None, downsample: str | None = None, join: bool = False) -> Any:
        """As `FrameMethods.get_dataframe`; a timeout is the built-in ``TimeoutError``."""
        frames.require("pandas")
        fields, _ = await self.get_fields(node, start, end)
        result = await self.get_data(node, field, start, end, min_stride, downsample)
        return await asyncio.to_thread(frames.to_dataframes, result, fields, node, join)

    async def get_dataset(self, node: str, field: list[str], start: float, end: float,
                          min_stride: float | None = None, downsample: str | None = None) -> Any:
        """As `FrameMethods.get_dataset`; a timeout is the built-in ``TimeoutError``."""
        frames.require("xarray")
        fields, _ = await self.get_fields(node, start, end)
        result = await self.get_data(node, field, start, end, min_stride, downsample)
        return await asyncio.to_thread(frames.to_dataset, result, fields, node)

    async def query(self, filter: str, field: str | list[str], start: float, end: float,
                    min_stride: float | None = None, aggregate: str | None = None, group_by: str | None = None,
                    downsample: str = "mean", concurrency: int = fanout.DEFAULT_CONCURRENCY) -> dict[str, Any]:
        """As `FrameMethods.query`: each node has half of ``timeout``, the whole query ``timeout``.

        Raises
        ------
        sisock.wire.errors.InvalidArgument
            Naming the argument at fault (the filter included).
        TimeoutError
            If the whole query takes longer than ``timeout``.
        """
        q = fanout.parse(filter, field, start, end, min_stride, aggregate, group_by, downsample, concurrency,
                         self.timeout / 2)
        return await asyncio.wait_for(self._query(q), self.timeout)

    async def _query(self, q: fanout.Query) -> dict[str, Any]:
        nodes = await self.call(fanout.SELECT, filter=q.filter)
        limit = asyncio.Semaphore(q.concurrency)
        answers, errors = {}, {}

        async def one(name: str) -> None:
            async with limit:
                try:
                    answers[name] = await asyncio.wait_for(
                        self.get_data(name, q.field, q.start, q.end, q.min_stride, q.downsample), q.timeout)
                except Exception as exc:  # one node's failure is reported in errors, not raised
                    errors[name] = fanout.reason(exc)

        names = [n["name"] for n in nodes]
        await asyncio.gather(*(one(name) for name in names))
        return await asyncio.to_thread(fanout.answer, q, nodes, {n: answers[n] for n in names if n in answers},
                                       {n: errors[n] for n in names if n in errors})

    async def query_dataframe(self, filter: str, field: str | list[str], start: float, end: float,
                              min_stride: float | None = None, aggregate: str | None = None,
                              group_by: str | None = None, downsample: str = "mean",
                              concurrency: int = fanout.DEFAULT_CONCURRENCY) -> dict[str, Any]:
        """As `FrameMethods.query_dataframe`; a timeout is the built-in ``TimeoutError``."""
        frames.require("pandas")
        answer = await self.query(filter, field, start, end, min_stride, aggregate, group_by, downsample,
                                  concurrency)
        return await asyncio.to_thread(frames.query_frames, answer)

    async def follow_dataframe(self, node: str, blocks: int = 5, join: bool = False,
                               timeout: float | None = None) -> Any:
        """As `FrameMethods.follow_dataframe`; fewer blocks than asked within ``timeout`` is ``TimeoutError``."""
        frames.require("pandas")
        _check_blocks(blocks)
        fields, _ = await self.get_fields(node, 1.0, 0.0)
        received: list[dict[str, Any]] = []

        async def collect() -> None:
            async with self.subscribe(node) as live:
                async for block in live:
                    received.append(block)
                    if len(received) == blocks:
                        return

        await asyncio.wait_for(collect(), self.timeout if timeout is None else timeout)
        return frames.to_dataframes(frames.blocks_result(received), fields, node, join)

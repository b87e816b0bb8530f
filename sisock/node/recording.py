"""Recording: what a live data node keeps and publishes (the `Recording` part of `sisock.node.base.DataNode`).

A live node declares its timelines, then records blocks of co-sampled
values, from the reactor or from a sampling thread (`Recording.every`);
each block is kept in the node's `sisock.store.store.Store` (memory, then its
SQLite file), published on ``consumer.NAME.data`` and answered by
``get_data`` and ``get_latest`` with no further code in the node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent import futures
from typing import TYPE_CHECKING, Any

from numpy.typing import ArrayLike
from twisted.internet import defer, task, threads
from twisted.python import threadable

from sisock.node.failures import RepeatedFailure
from sisock.wire import codec, uri

if TYPE_CHECKING:
    from sisock.store import Store

#: What a sampling function returns to be recorded: ``(timeline, t, data)`` as `Recording.record` takes.
Block = tuple[str, ArrayLike, Mapping[str, ArrayLike]]


class Recording:
    """Recording methods of `sisock.node.base.DataNode`.

    Uses the node's ``store`` (a `sisock.store.Store`), ``name``, ``log``
    and ``session`` (the `sisock.node.session.NodeSession` it publishes through).
    """

    if TYPE_CHECKING:
        @property
        def store(self) -> Store: ...

        name: str | None
        session: Any
        log: Any

    def declare(self, timeline: str, fields: Mapping[str, Mapping[str, Any]], interval: float | None = None,
                capacity: int = 86400) -> None:
        """Declare a recorded timeline; see :meth:`sisock.store.store.Store.declare`.

        Declare in ``__init__``: `sisock.node.run.run_node` then opens the store file before
        connecting (a file that cannot be opened stops the process with a
        clear message) and loads the recent history (``capacity`` samples)
        into memory, so `get_data` and `get_latest` answer at once.
        """
        self.store.declare(timeline, fields, interval, capacity)

    def record(self, timeline: str, t: ArrayLike, data: Mapping[str, ArrayLike]) -> defer.Deferred | futures.Future:
        """Record a block of co-sampled values, publish it live and persist it.

        Callable from the reactor thread and from other threads. The block
        is kept in memory (`get_data` answers it at once), published on
        ``consumer.NAME.data`` and queued for the node's SQLite file, which
        a writer thread commits in batches (`sisock.store.sqlite`).

        Parameters
        ----------
        timeline : str
            A timeline declared with `declare`.
        t : array_like of float, shape (n,)
            UNIX seconds UTC, finite, strictly increasing, after the last
            recorded one.
        data : dict
            ``{field: array_like of shape (n,)}``, fields declared on
            ``timeline``: numbers (None for missing), str (or None) or
            bools, as declared. Fields left out are missing in this block.

        Returns
        -------
        twisted.internet.defer.Deferred or concurrent.futures.Future
            Fires with None once the block is committed to the store file:
            from then on it survives the process being killed, even with
            ``kill -9`` ("acknowledged as recorded"). Called in the reactor
            thread, a Deferred (fired in the reactor thread); called from
            another thread, a Future (``.result(timeout)`` waits). It fails
            with `sisock.store.store.StoreError` if the file could not be written
            (the block was still kept in memory and published). A node
            without a store file (not run by `sisock.node.run.run_node`) fires it at once.

        Raises
        ------
        sisock.wire.errors.InvalidArgument
            Unknown timeline or field, a value of the wrong type, wrong
            lengths, time not finite or going backwards; the message names
            which. Nothing is recorded or published then.
        """
        from twisted.internet import reactor

        in_reactor = threadable.isInIOThread()
        waiter: defer.Deferred | futures.Future = defer.Deferred() if in_reactor else futures.Future()
        t, data = self.store.append(timeline, t, data, done=_settle(reactor, waiter))
        event = dict(_encode_block(t, data), timeline=timeline)
        if in_reactor:
            self._publish_block(event)
        else:
            reactor.callFromThread(self._publish_block, event)
        return waiter

    def _publish_block(self, event):
        session = self.session
        if session is not None and session.is_attached():
            session.publish(uri.node_uri(self.name, "data"), event)

    def every(self, interval: float, sample: Callable[[], Block | None]) -> task.LoopingCall:
        """Call ``sample()`` in a thread every ``interval`` seconds for the life of the process.

        ``sample`` returns ``None`` or ``(timeline, t, data)``, which is
        recorded. A failing call, or a block `record` refuses, is logged
        with its reason (``sisock: sampling failed: InvalidArgument: ...``;
        the traceback at debug level), the first and then at most once a
        minute with the number of failures in between
        (`sisock.node.failures.RepeatedFailure`), and the loop goes on; a
        failed store write likewise. Calls never overlap, and do not wait
        for the store.
        """
        sampling_failed = RepeatedFailure(self.log, "sisock: sampling")
        recording_failed = RepeatedFailure(self.log, "sisock: recording")

        def recorded(block):
            if block is not None:
                self.record(*block).addErrback(recording_failed)

        def tick():
            d = threads.deferToThread(sample)
            d.addCallback(recorded)
            d.addErrback(sampling_failed)
            return d

        loop = task.LoopingCall(tick)
        loop.start(interval, now=True)
        return loop

    def get_latest(self) -> dict[str, dict[str, Any]]:
        """RPC ``consumer.NAME.get_latest``: the newest recorded block of each timeline.

        Lets a display that (re)connects show current values at once,
        before the next live event; survives node restarts (read back from
        the store file).

        Returns
        -------
        dict
            ``{timeline: {"t": [...], "data": {field: [...]}}}``, each block
            encoded as the live events on ``consumer.NAME.data`` are; ``{}``
            for a node that records nothing.
        """
        latest = self.store.latest()
        return {tl: _encode_block(block["t"], block["data"]) for tl, block in latest.items()}


def _encode_block(t, data):
    """A recorded block as on the wire: ``{"t": [...], "data": {field: [...]}}`` (NaN as null).

    ``t`` is as stored: float64 and finite, so it needs no NaN check.
    """
    return {"t": t.tolist(), "data": {f: codec.array_to_list(v) for f, v in data.items()}}


def _settle(reactor, waiter):
    """A `Store.append` ``done`` callback that fires ``waiter``: a Deferred
    (in the reactor thread) or a ``concurrent.futures.Future``."""

    def done(error):
        if not isinstance(waiter, futures.Future):
            fire = waiter.errback if error else waiter.callback
            if threadable.isInIOThread():  # no store file: called from record() itself
                fire(error)
            else:
                reactor.callFromThread(fire, error)
        elif error:
            waiter.set_exception(error)
        else:
            waiter.set_result(None)

    return done

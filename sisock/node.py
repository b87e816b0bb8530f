"""`DataNodeServer`: the base class of every data node.

A node author writes a subclass with a ``name``, a ``description`` and
either

- an archive: ``_get_fields_blocking(start, end)`` and
  ``_get_data_blocking(field, start, end, min_stride)`` reading its files, or
- a live instrument: ``declare`` its timelines and ``record`` blocks, from a
  loop started in ``start()`` (e.g. with ``every``).

Everything else is inherited: authentication, reconnects, registration of
``consumer.NAME.get_fields`` / ``get_data`` and with the hub, argument
validation, blocking work in threads, downsampling to ``min_stride``,
encoding, live publishing and errors. The API is that of the original
sisock's ``sisock.base.DataNodeServer``, so a node written for it ports by
changing its import.

Wire contract (DESIGN.md)
-------------------------
``consumer.NAME.get_fields(start, end) -> [field, timeline]``
    ``field[f] = {description, timeline, type, units}``,
    ``timeline[tl] = {interval, field: [f, ...]}``.
``consumer.NAME.get_data(field, start, end, min_stride=None)``
    ``-> {data: {f: [v, ...]}, timeline: {tl: {t: [...], finalized_until}}}``;
    ``len(data[f]) == len(timeline[tl]["t"])``, ``t`` strictly increasing,
    NaN as null, unknown field -> empty list. With ``min_stride`` (seconds),
    samples are averaged in buckets ``[start + k*min_stride, ...)`` and each
    bucket is reported at its start, so returned samples are at least
    ``min_stride`` apart.
``consumer.NAME.data`` (topic)
    one event per recorded block: ``{timeline, t: [...], data: {f: [...]}}``.

Times are sisock times (`sisock.timeutil`); the blocking methods receive
them already converted to UNIX seconds UTC.
"""

import numpy as np
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer, task, threads
from twisted.python import threadable

from sisock import codec, config, uri, validate
from sisock.connection import SisockSession, run
from sisock.downsample import downsample, needs_downsampling
from sisock.errors import NodeError, SisockError
from sisock.store import Store

#: Seconds between attempts to add the node to the hub while it is refused.
ADD_RETRY = 2.0


class DataNodeServer(SisockSession):
    """Parent class of all data nodes.

    Attributes
    ----------
    name : str
        Data node name, unique among live nodes (the hub refuses duplicates);
        also the WAMP authid the node joins with.
    description : str
        Human-readable description for consumers.
    store : sisock.store.Store
        Recorded history of a live node (see `declare` and `record`).
    """

    name = None
    description = None

    def __init__(self, config=None):
        super().__init__(config)
        self.store = Store()
        self._added = False
        self._loops = []

    @property
    def connection(self):
        """How to join: from `run_node`, or (run by autobahn's ``ApplicationRunner``
        like an original sisock node) as node ``name`` with the node secret."""
        conn = (self.config.extra or {}).get("connection")
        if conn is None:
            conn = config.Connection(realm=self.config.realm, authid=self.name, secret=config.load_secret("node"))
        return conn

    # -- hooks for node authors --------------------------------------------
    def start(self):
        """Called once when the process starts (not per connection); start loops here."""

    def after_onJoin(self, details):
        """Called after every join, once procedures are registered and the hub was asked to add us."""

    def _get_fields_blocking(self, start, end):
        """Fields available in ``[start, end)`` (UNIX seconds UTC); runs in a thread.

        The default answers from `store`. Returns ``(field, timeline)`` as in
        the module docstring, listing every field whose timeline has a sample
        in the range (downsampling relies on it to know a field's timeline).
        """
        return self.store.get_fields(start, end)

    def _get_data_blocking(self, field, start, end, min_stride=None):
        """Data of ``field`` (list of str) in ``[start, end)``; runs in a thread.

        The default answers from `store`. Values may be NumPy arrays or
        lists; a node may downsample itself, otherwise the base class does.
        """
        return self.store.get_data(field, start, end)

    # -- recording (live nodes) --------------------------------------------
    def declare(self, timeline, fields, interval=None, capacity=86400):
        """Declare a recorded timeline; see :meth:`sisock.store.Store.declare`."""
        self.store.declare(timeline, fields, interval, capacity)

    def record(self, timeline, t, data):
        """Record a block of co-sampled values and publish it live.

        Callable from the reactor thread and from other threads.

        Parameters
        ----------
        timeline : str
            A timeline declared with `declare`.
        t : array_like of float, shape (n,)
            UNIX seconds UTC, strictly increasing, after the last recorded one.
        data : dict
            ``{field: array_like of shape (n,)}``.

        Raises
        ------
        sisock.errors.InvalidArgument
            Unknown timeline or field, wrong lengths, time going backwards.
        """
        t = np.asarray(t, dtype=np.float64).ravel()
        self.store.append(timeline, t, data)
        event = {"timeline": timeline, "t": codec.array_to_list(t),
                 "data": {f: codec.array_to_list(np.asarray(v).ravel()) for f, v in data.items()}}
        if threadable.isInIOThread():
            self._publish_block(event)
        else:
            from twisted.internet import reactor

            reactor.callFromThread(self._publish_block, event)

    def _publish_block(self, event):
        if self.is_attached():
            self.publish(uri.node_uri(self.name, "data"), event)

    def every(self, interval, sample):
        """Call ``sample()`` in a thread every ``interval`` seconds for the life of the process.

        ``sample`` returns ``None`` or ``(timeline, t, data)``, which is
        recorded. A failing call is logged and the loop goes on; calls
        never overlap.
        """

        def tick():
            d = threads.deferToThread(sample)
            d.addCallback(lambda block: block is not None and self.record(*block))
            d.addErrback(lambda f: self.log.failure("sisock: sampling failed", failure=f))
            return d

        loop = task.LoopingCall(tick)
        loop.start(interval, now=True)
        self._loops.append(loop)
        return loop

    # -- WAMP ----------------------------------------------------------------
    @defer.inlineCallbacks
    def onJoin(self, details):
        validate.node_name(self.name, "DataNodeServer.name")
        self._added = False
        yield self.subscribe(self._on_hub_online, uri.HUB_ONLINE)
        for proc, suffix in ((self.get_fields, "get_fields"), (self.get_data, "get_data")):
            yield self.register(proc, uri.node_uri(self.name, suffix))
        yield self._add_to_hub()
        yield defer.maybeDeferred(self.after_onJoin, details)
        SisockSession.onJoin(self, details)

    @property
    def ready_label(self):
        return f"node {self.name}"

    def _on_hub_online(self, *args, **kwargs):
        self._added = False
        return self._add_to_hub()

    @defer.inlineCallbacks
    def _add_to_hub(self):
        """Ask the hub to add this node; retried while the hub refuses or is away."""
        if self._added or not self.is_attached():
            return
        try:
            ok = yield self.call(uri.DATA_NODE_ADD, self.name, self.description, self._session_id)
        except ApplicationError as exc:
            if exc.error == "wamp.error.no_such_procedure":
                self.log.info("sisock: hub not up yet; node {name} is added when it is", name=self.name)
                return
            self.log.error("sisock: hub refused node {name}: {exc}", name=self.name, exc=exc)
            return
        if ok:
            self._added = True
            self.log.info("sisock: data node {name} added to the hub", name=self.name)
        else:
            self.log.warn("sisock: another live node is named {name}; retrying in {s} s", name=self.name,
                          s=ADD_RETRY)
            from twisted.internet import reactor

            reactor.callLater(ADD_RETRY, self._add_to_hub)

    def get_fields(self, start, end):
        """RPC ``consumer.NAME.get_fields``; see the module docstring.

        Raises
        ------
        sisock.errors.InvalidArgument
            If ``start`` or ``end`` is not a finite number.
        """
        start, end = validate.time_range(start, end)
        return self._in_thread("get_fields", self._get_fields_blocking, start, end)

    def get_data(self, field, start, end, min_stride=None):
        """RPC ``consumer.NAME.get_data``; see the module docstring.

        Raises
        ------
        sisock.errors.InvalidArgument
            Bad ``field``, ``start``, ``end`` or ``min_stride``.
        sisock.errors.NodeError
            If the node failed while reading (the message says how).
        """
        field = validate.field_list(field)
        start, end = validate.time_range(start, end)
        min_stride = validate.min_stride_arg(min_stride)
        return self._in_thread("get_data", self._answer_data, field, start, end, min_stride)

    def _in_thread(self, what, func, *args):
        def failed(failure):
            if failure.check(SisockError):
                return failure
            self.log.failure("sisock: {what} failed", failure=failure, what=what)
            raise NodeError(f"node {self.name} failed in {what}: {failure.type.__name__}: {failure.getErrorMessage()}")

        return threads.deferToThread(func, *args).addErrback(failed)

    def _answer_data(self, field, start, end, min_stride):
        """Read, complete, downsample and encode a get_data answer (in a thread)."""
        result = self._get_data_blocking(field, start, end, min_stride)
        data = {f: np.asarray(result.get("data", {}).get(f, ())) for f in field}
        timelines = {tl: dict(v, t=np.asarray(v["t"], dtype=np.float64))
                     for tl, v in result.get("timeline", {}).items()}
        if min_stride and any(needs_downsampling(v["t"], min_stride) for v in timelines.values()):
            members = self._get_fields_blocking(start, end)[1]
            for tl, v in timelines.items():
                if not needs_downsampling(v["t"], min_stride):
                    continue
                names = [f for f in members.get(tl, {}).get("field", ()) if f in data]
                v["t"], values = downsample(v["t"], {f: data[f] for f in names}, start, min_stride)
                data.update(values)
        return codec.result_to_lists({"data": data, "timeline": timelines})


def run_node(node_class, argv=None, add_arguments=None, description=None):
    """Command-line entry point of a data node (``python -m nodes.NAME``).

    Parses the shared options (`sisock.config.add_connection_arguments`)
    plus ``--name`` and whatever ``add_arguments(parser)`` adds, builds one
    ``node_class(config)`` for the life of the process, and runs it,
    reconnecting forever. ``config.extra["args"]`` holds the parsed options.
    """
    import argparse

    parser = argparse.ArgumentParser(description=description or node_class.__doc__.splitlines()[0])
    parser.add_argument("--name", default=node_class.name,
                        help="data node name, also its WAMP authid (default %(default)s)")
    config.add_connection_arguments(parser)
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    validate.node_name(args.name, "--name")
    args.authid = args.authid or args.name
    try:
        conn = config.connection_from_args(args, "node")
    except config.SecretsError as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")
    node = node_class(ComponentConfig(args.realm, {"connection": conn, "args": args}))
    node.name = args.name
    run(node, args.log_level, on_start=node.start)

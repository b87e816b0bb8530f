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
    Keyword options (`get_data`): ``encoding="binary"`` sends numeric and
    bool arrays as ``{dtype, shape, data: bytes}`` (`sisock.codec`);
    ``downsample="min"|"max"|"minmax"`` instead of the mean (``"minmax"``:
    two samples per ``2*min_stride`` bucket, its min and max, in the order
    they occurred). A large result comes in chunks, as progressive results,
    to a caller that asked for them (`sisock.chunks`); to any other caller
    one over ``max_message_bytes`` (8 MiB) is ``error.too_large``.
``consumer.NAME.data`` (topic)
    one event per recorded block: ``{timeline, t: [...], data: {f: [...]}}``.
    Lists, not raw bytes, so that JSON subscribers (the browser) read every
    event; they are built without Python loops over samples, and samples/s
    grow with the block size, not the router's events/s.
``consumer.NAME.get_latest() -> {timeline: {t: [...], data: {f: [...]}}}``
    the newest recorded block of each timeline, encoded as the events are,
    so a late subscriber shows current values at once.
``consumer.NAME.command(command, **kwargs)``, ``consumer.NAME.get_api()``
    commands declared with ``@sisock.commands.command`` on node methods,
    and the node's description, fields and commands (`sisock.commands`).

Every node session also heartbeats to the hub, sends its host, pid,
version, optional ``location`` / ``tags`` class attributes and count of
fields with ``data_node.add``, and answers ``node_disabled`` from
``get_data`` while an admin has it disabled (`sisock.presence`).

A live node's history is kept in memory and in ``<data_dir>/<name>.sqlite``
(`sisock.store`, `sisock.sqlstore`; options ``--data-dir``,
``--retention``, ``--max-bytes``); a block survives ``kill -9`` once the
Deferred of its `DataNodeServer.record` has fired.

Times are sisock times (`sisock.timeutil`); the blocking methods receive
them already converted to UNIX seconds UTC.
"""

import functools

import numpy as np
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig, RegisterOptions
from twisted.internet import defer, threads

from sisock import chunks, codec, commands, config, presence, uri, validate
from sisock import store as store_options
from sisock.connection import SisockSession, run
from sisock.downsample import HOW, downsample, needs_downsampling
from sisock.errors import NodeError, SisockError
from sisock.recording import Recording
from sisock.store import Store, StoreError

#: Seconds between attempts to add the node to the hub while it is refused.
ADD_RETRY = 2.0


class DataNodeServer(Recording, SisockSession):
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
    location : (float, float), optional
        Where the node is, (degrees north, degrees east); kept by the hub.
    tags : dict, optional
        ``{key: str | number | bool}`` kept by the hub, selectable with
        filters such as ``zone=north``.
    chunk_bytes, max_message_bytes : int or None
        Size of the chunks of a progressive get_data answer, and most bytes
        of a result sent as one message (`sisock.chunks`); None means
        ``SISOCK_CHUNK_BYTES`` / ``SISOCK_MAX_MESSAGE_BYTES`` or the defaults.
    """

    name = None
    description = None
    chunk_bytes = max_message_bytes = None

    def __init__(self, config=None):
        super().__init__(config)
        self.store = Store()
        self._added = False

    @property
    def connection(self):
        """How to join: from `run_node`, or (run by autobahn's ``ApplicationRunner``
        like an original sisock node) as node ``name`` with the node secret."""
        conn = (self.config.extra or {}).get("connection")
        if conn is None:
            conn = config.Connection(realm=self.config.realm, authid=self.name,
                                     secret=config.load_secret("node", authid=self.name))
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

    # -- WAMP ----------------------------------------------------------------
    @defer.inlineCallbacks
    def onJoin(self, details):
        validate.node_name(self.name, "DataNodeServer.name")
        self._added = False
        yield self.subscribe(self._on_hub_online, uri.HUB_ONLINE)
        for proc, suffix in ((self.get_fields, "get_fields"), (self.get_latest, "get_latest")):
            yield self.register(proc, uri.node_uri(self.name, suffix))
        # details.progress sends a large result in chunks (sisock.chunks)
        yield self.register(self.get_data, uri.node_uri(self.name, "get_data"), RegisterOptions(details_arg="details"))
        yield commands.register(self, self)  # consumer.NAME.command / get_api (sisock.commands)
        yield presence.join(self, [self])  # heartbeat and enabled state (sisock.presence)
        yield self._add_to_hub()
        yield defer.maybeDeferred(self.after_onJoin, details)
        SisockSession.onJoin(self, details)

    @property
    def ready_label(self):
        """``READY`` text of a node: ``node <name>``."""
        return f"node {self.name}"

    def _on_hub_online(self, *args, **kwargs):
        self._added = False
        return self._add_to_hub()

    @defer.inlineCallbacks
    def _add_to_hub(self):
        """Ask the hub to add this node; retried while the hub refuses or is away."""
        if self._added or not self.is_attached():
            return
        info = yield presence.describe(self)
        try:
            ok = yield self.call(uri.DATA_NODE_ADD, self.name, self.description, self._session_id, **info)
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

    def get_data(self, field, start, end, min_stride=None, *, encoding="list", downsample="mean", details=None):
        """RPC ``consumer.NAME.get_data``; see the module docstring.

        Parameters
        ----------
        field : list of str
        start, end : float
            sisock times.
        min_stride : float or None
            Seconds; downsample so returned samples are at least this far apart.
        encoding : {"list", "binary"}, keyword only
            How arrays travel (`sisock.codec`); callers with positional
            arguments only (JSON, original sisock) get lists.
        downsample : {"mean", "min", "max", "minmax"}, keyword only
            Reduction of numeric fields in each ``min_stride`` bucket;
            ``"minmax"`` is the envelope (`sisock.downsample.downsample`).
            A node that downsamples itself in ``_get_data_blocking`` is only
            handed ``min_stride`` for ``"mean"``.
        details : autobahn.wamp.types.CallDetails
            From autobahn; a result over `chunk_bytes` goes out in chunks
            when the caller asked for progressive results (`sisock.chunks`).

        Returns
        -------
        Deferred
            Fires with the wire form of the result (`sisock.codec`), or the
            summary of a chunked one.

        Raises
        ------
        sisock.errors.InvalidArgument
            Bad ``field``, ``start``, ``end``, ``min_stride``, ``encoding``
            or ``downsample``.
        sisock.errors.TooLarge
            If the result is over `max_message_bytes` and the caller did
            not ask for progressive results.
        sisock.errors.NodeError
            If the node failed while reading (the message says how).
        sisock.errors.NodeDisabled
            If an admin disabled the node (`sisock.presence`).
        """
        presence.check_enabled(self)
        field = validate.field_list(field)
        start, end = validate.time_range(start, end)
        min_stride = validate.min_stride_arg(min_stride)
        encoding = validate.choice("encoding", encoding, codec.ENCODINGS)
        how = validate.choice("downsample", downsample, HOW)
        send = None
        if details is not None and details.progress is not None:
            from twisted.internet import reactor

            send = functools.partial(threads.blockingCallFromThread, reactor, details.progress)
        return self._in_thread("get_data", self._answer_data, field, start, end, min_stride, how, encoding, send)

    def _in_thread(self, what, func, *args):
        def failed(failure):
            if failure.check(SisockError):
                return failure
            self.log.failure("sisock: {what} failed", failure=failure, what=what)
            raise NodeError(f"node {self.name} failed in {what}: {failure.type.__name__}: {failure.getErrorMessage()}")

        return threads.deferToThread(func, *args).addErrback(failed)

    def _answer_data(self, field, start, end, min_stride, how, encoding, send):
        """Read, complete, downsample and deliver a get_data answer (in a thread; `sisock.chunks.answer`)."""
        result = self._get_data_blocking(field, start, end, min_stride if how == "mean" else None)
        data = {f: np.asarray(result.get("data", {}).get(f, ())) for f in field}
        timelines = {tl: dict(v, t=np.asarray(v["t"], dtype=np.float64))
                     for tl, v in result.get("timeline", {}).items()}
        if min_stride and any(needs_downsampling(v["t"], min_stride) for v in timelines.values()):
            members = self._get_fields_blocking(start, end)[1]
            for tl, v in timelines.items():
                if not needs_downsampling(v["t"], min_stride):
                    continue
                names = [f for f in members.get(tl, {}).get("field", ()) if f in data]
                v["t"], values = downsample(v["t"], {f: data[f] for f in names}, start, min_stride, how)
                data.update(values)
        return chunks.answer({"data": data, "timeline": timelines}, encoding, send, end - start,
                             self.chunk_bytes, self.max_message_bytes)


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
    store_options.add_arguments(parser)
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
    try:
        node.store.open(**store_options.options_from_args(args))
    except StoreError as exc:
        parser.exit(1, f"{parser.prog}: {exc}\n")
    from twisted.internet import reactor

    reactor.addSystemEventTrigger("before", "shutdown", node.store.close)
    failed = []

    def start():
        try:
            node.start()
        except StoreError as exc:  # a timeline declared in start() whose store file cannot be opened
            failed.append(exc)
            reactor.stop()

    run(node, args.log_level, on_start=start)
    if failed:
        parser.exit(1, f"{parser.prog}: {failed[0]}\n")


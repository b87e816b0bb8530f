"""Consumer client: read nodes from Twisted code or from plain blocking Python.

Blocking (scripts, notebooks)::

    import sisock
    with sisock.Client("ws://127.0.0.1:8080/ws") as client:
        nodes = client.get_data_node()                 # [{"name", "description"}, ...]
        field, timeline = client.get_fields("weather", 1500076800, 1500163200)
        result = client.get_data("weather", ["temperature"], 1500076800, 1500163200)
        result["data"]["temperature"]                  # numpy float64 array, NaN for null
        result["timeline"]["hourly"]["t"]              # numpy float64 UNIX seconds UTC

Twisted: ``session = yield connect(...)`` then the same methods on
:class:`ConsumerSession`, returning Deferreds.

Both reconnect by themselves; a call made while the router is away waits
for the next join up to its timeout.
"""

import crochet
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, ComponentConfig
from twisted.internet import defer, threads

from sisock import config
from sisock.connection import SisockSession, start
from sisock.wire import chunks, uri, validate
from sisock.wire.errors import InvalidArgument, NoSuchNode

#: Seconds a call waits for the session to (re)join before failing.
DEFAULT_TIMEOUT = 10.0


class ConsumerSession(SisockSession):
    """A consumer's session, with the sisock read API returning Deferreds.

    Subscriptions made with `follow` (or `subscribe_data`) are made again
    after every reconnect; plain autobahn ``subscribe`` lasts one connection.
    """

    def __init__(self, config=None):
        super().__init__(config)
        self._follows = []

    @defer.inlineCallbacks
    def onJoin(self, details):
        for topic, handler in self._follows:
            yield self.subscribe(handler, topic)
        SisockSession.onJoin(self, details)

    def follow(self, topic, handler):
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

    def subscribe_data(self, node, handler):
        """Follow the live blocks of ``node``: ``handler({timeline, t: [...], data: {f: [...]}})``."""
        return self.follow(uri.node_uri(node, "data"), handler)

    def _call(self, procedure, *args, **kwargs):
        d = self.when_joined()
        d.addCallback(lambda s: s.call(procedure, *args, **kwargs))
        return d

    def get_data_node(self):
        """Deferred list of live nodes ``[{"name", "description"}, ...]``."""
        return self._call(uri.GET_DATA_NODE)

    def _node_call(self, node, suffix, *args, **kwargs):
        def no_such_node(failure):
            failure.trap(ApplicationError)
            if failure.value.error == "wamp.error.no_such_procedure":
                raise NoSuchNode(f"node {node!r} is not available (no such data node registered)")
            return failure

        try:
            validate.node_name(node, "node")
        except InvalidArgument:
            return defer.fail()
        return self._call(uri.node_uri(node, suffix), *args, **kwargs).addErrback(no_such_node)

    def get_fields(self, node, start, end):
        """Deferred ``(field, timeline)`` of ``node`` in ``[start, end)`` (sisock times).

        Raises (in the Deferred)
        ------------------------
        sisock.wire.errors.NoSuchNode, sisock.wire.errors.InvalidArgument
        """
        return self._node_call(node, "get_fields", start, end).addCallback(tuple)

    @property
    def encoding(self):
        """How get_data arrays should travel on this connection: ``"binary"`` over
        MessagePack or CBOR, ``"list"`` over JSON (`sisock.wire.codec`)."""
        serializer = getattr(self._transport, "_serializer", None)
        return "binary" if getattr(serializer, "SERIALIZER_ID", None) in ("msgpack", "cbor") else "list"

    def get_data(self, node, field, start, end, min_stride=None, downsample=None, progress=None, encoding=None):
        """Deferred get_data result of ``node`` with NumPy arrays.

        Asks for raw arrays when the connection's serializer is binary and
        for progressive results, so a result of any size arrives in chunks
        (`sisock.wire.chunks`) without breaking the connection.

        Parameters
        ----------
        node : str
        field : list of str
        start, end : float
            sisock times (UNIX seconds UTC, or <= 0 relative to now).
        min_stride : float or None
            Seconds; downsample so samples are at least this far apart.
        downsample : {"mean", "min", "max", "minmax"} or None
            Reduction in each bucket; None is the node's default, the mean.
            ``"minmax"`` keeps spikes: two samples per ``2*min_stride``,
            the bucket's min and max (`sisock.node.downsample.downsample`).
        progress : callable or None
            ``progress(received_bytes, total_bytes)`` after each chunk of a
            chunked result, in the reactor thread; keep it short.
        encoding : {"binary", "list"} or None
            How arrays should travel; None is `encoding`, what suits this
            connection's serializer.

        Returns
        -------
        Deferred of dict
            ``{"data": {f: ndarray}, "timeline": {tl: {"t": ndarray float64,
            "finalized_until": float or None}}}``; NaN for null. Over a
            binary serializer numeric and bool arrays keep the node's dtype
            (int stays int) and a one-message result's arrays are read-only
            views of the received bytes; over JSON numbers are float64.

        Raises (in the Deferred)
        ------------------------
        sisock.wire.errors.NoSuchNode, sisock.wire.errors.InvalidArgument, sisock.wire.errors.NodeError
        """
        assembler = chunks.Assembler(progress)

        def call(session):
            options = {"encoding": encoding or session.encoding, "options": CallOptions(on_progress=assembler.feed)}
            if downsample is not None:
                options["downsample"] = downsample
            return self._node_call(node, "get_data", field, start, end, min_stride, **options)

        def finish(final):  # decoding a large list result would hold up the reactor: in a thread
            return threads.deferToThread(assembler.finish, final) if assembler.chunked else assembler.finish(final)

        return self.when_joined().addCallback(call).addCallback(finish)


def connect(url=None, realm=None, authid=None, secret=None, reactor=None, binary=True):
    """Connect a :class:`ConsumerSession`; Deferred that fires with it once joined.

    Parameters
    ----------
    url, realm : str, optional
        Default ``SISOCK_URL`` / ``SISOCK_REALM`` or the embedded defaults.
    authid, secret : str, optional
        WAMP-CRA credentials (e.g. ``admin``); anonymous consumer if omitted.
    binary : bool
        Offer MessagePack and CBOR before JSON (default), or JSON only.
    """
    conn = config.Connection(url or config.env("URL", config.DEFAULT_URL),
                             realm or config.env("REALM", config.DEFAULT_REALM), authid, secret)
    session = ConsumerSession(ComponentConfig(conn.realm, {"connection": conn}))
    start(session, reactor, binary=binary)
    return session.when_joined()


class Client:
    """Blocking consumer client for scripts; runs Twisted in a background thread.

    Parameters
    ----------
    url, realm, authid, secret
        As for :func:`connect`.
    timeout : float
        Seconds each operation may take (connecting included).

    Raises
    ------
    crochet.TimeoutError
        If the router cannot be reached within ``timeout``.
    """

    def __init__(self, url=None, realm=None, authid=None, secret=None, timeout=DEFAULT_TIMEOUT):
        crochet.setup()
        self.timeout = timeout
        self._session = self._run(connect, url, realm, authid, secret)

    @staticmethod
    @crochet.run_in_reactor
    def _in_reactor(func, *args):
        return defer.maybeDeferred(func, *args)

    def _run(self, func, *args):
        return self._in_reactor(func, *args).wait(self.timeout)

    def call(self, procedure, *args, **kwargs):
        """Call any WAMP ``procedure`` and wait for its result (escape hatch for tools).

        Raises
        ------
        autobahn.wamp.exception.ApplicationError
            The callee's error (a sisock error class for sisock's URIs).
        """
        return self._run(lambda: self._session.call(procedure, *args, **kwargs))

    def get_data_node(self):
        """Live nodes ``[{"name", "description"}, ...]``."""
        return self._run(self._session.get_data_node)

    def get_fields(self, node, start, end):
        """``(field, timeline)`` of ``node``; see :meth:`ConsumerSession.get_fields`."""
        return self._run(self._session.get_fields, node, start, end)

    def get_data(self, node, field, start, end, min_stride=None, downsample=None, progress=None):
        """Data with NumPy arrays; see :meth:`ConsumerSession.get_data`.

        ``progress(received_bytes, total_bytes)`` runs in the reactor's
        thread, not the caller's. ``timeout`` bounds the whole transfer.
        """
        return self._run(self._session.get_data, node, field, start, end, min_stride, downsample, progress)

    def close(self):
        """Leave the router and stop reconnecting."""
        self._run(self._session.close)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""One long-lived WAMP session per process, reconnecting by itself.

Every sisock process (hub, data node, bridge, client) owns one session
object for its whole life. :func:`start` connects it through Twisted's
:class:`~twisted.application.internet.ClientService`, which reconnects with
exponential backoff whenever the router goes away; on every new connection
the same object is handed to autobahn with fresh WAMP state, so what the
process keeps (parsed archives, recorded buffers, the hub's registry) lives
across reconnects and `onJoin` registers everything again.
"""

from urllib.parse import urlparse

from autobahn.rawsocket.util import parse_url as parse_rawsocket_url
from autobahn.twisted.rawsocket import WampRawSocketClientFactory, WampRawSocketClientProtocol
from autobahn.twisted.wamp import ApplicationSession
from autobahn.twisted.websocket import WampWebSocketClientFactory, WampWebSocketClientProtocol
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer
from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import defer, task
from twisted.internet.endpoints import SSL4ClientEndpoint, TCP4ClientEndpoint, UNIXClientEndpoint

from sisock.wire import validate
from sisock.wire.errors import SisockError
from sisock.wire.session import SessionBase

#: Seconds between reconnect attempts: 0.2 s doubling up to 3 s.
RETRY_POLICY = backoffPolicy(initialDelay=0.2, factor=2.0, maxDelay=3.0, jitter=lambda: 0.0)

#: Seconds between two checks that the router is alive, and seconds it has to answer one, on every
#: transport: a WebSocket ping, or over RawSocket (which has no ping) a call (`RawSocketClientProtocol`).
PING_INTERVAL, PING_TIMEOUT = 2.0, 3.0
#: Seconds a RawSocket connection may take from connecting to joining the realm (its handshake and
#: authentication), after which it is dropped and made again.
JOIN_TIMEOUT = 15.0
#: The procedure a RawSocket session calls to see that the router is alive: the router's session meta
#: API; any answer will do (the roles without the right to call it get a quick ``not_authorized``).
LIVENESS_PROCEDURE = "wamp.session.count"

#: WebSocket options of every sisock client connection.
PROTOCOL_OPTIONS = {
    "tcpNoDelay": True,          # small events leave at once (latency)
    "maxMessagePayloadSize": 0,  # the router enforces its max_message_size
    "maxFramePayloadSize": 0,
    "autoPingInterval": PING_INTERVAL,  # notice a frozen or vanished router
    "autoPingTimeout": PING_TIMEOUT,
    "openHandshakeTimeout": 5.0,
}


class WebSocketClientProtocol(WampWebSocketClientProtocol):
    """Autobahn's WAMP WebSocket client protocol with TCP_NODELAY really set.

    Autobahn's ``connectionMade`` sets TCP_NODELAY from ``self.tcpNoDelay``
    before it copies the factory's options onto the protocol, so the option
    never reaches the socket (Nagle's algorithm then holds small events
    back for up to ~40 ms); this copies it first.
    """

    def connectionMade(self):
        self.tcpNoDelay = self.factory.tcpNoDelay
        super().connectionMade()

    def failHandshake(self, reason):
        """The opening handshake failed (the router answered no WebSocket, e.g. 404 for a wrong path):
        drop the connection and tell the session (`SisockSession.onUpgradeRefused`)."""
        super().failHandshake(reason)
        self.factory.sisock_session.onUpgradeRefused(getattr(self, "http_status_line", None), reason)


class RawSocketClientProtocol(WampRawSocketClientProtocol):
    """Autobahn's WAMP RawSocket client protocol with TCP_NODELAY and a liveness check.

    Autobahn leaves Nagle's algorithm on for RawSocket, which holds small
    events back for up to ~40 ms; a Unix socket has no such option.

    RawSocket has no ping, so a frozen router (stopped, or its host gone
    without closing the connection) would go unnoticed. Every
    `PING_INTERVAL` seconds the joined session calls `LIVENESS_PROCEDURE`;
    with no answer (result or error) within `PING_TIMEOUT` seconds, or no
    join within `JOIN_TIMEOUT` seconds of connecting, the connection is
    dropped and the session's `ClientService` connects again, as after any
    lost connection. The same time as a WebSocket's ping.
    """

    _liveness = None

    def connectionMade(self):
        from twisted.internet import reactor

        if hasattr(self.transport, "setTcpNoDelay"):
            self.transport.setTcpNoDelay(True)
        super().connectionMade()
        self._connected_at = reactor.seconds()
        self._liveness = task.LoopingCall(self._check_alive)
        self._liveness.clock = reactor
        self._liveness.start(PING_INTERVAL, now=False)

    def connectionLost(self, reason):
        if self._liveness is not None and self._liveness.running:
            self._liveness.stop()
        super().connectionLost(reason)

    def _check_alive(self):
        """One check (see the class); a Deferred, so that the next one waits for it."""
        from twisted.internet import reactor

        session = self._session
        if session is None or not session.is_attached():
            if reactor.seconds() - self._connected_at > JOIN_TIMEOUT:
                self._drop(f"no join within {JOIN_TIMEOUT:g} s")
            return None

        def silent(failure):
            if failure.check(defer.TimeoutError):
                self._drop(f"the router did not answer within {PING_TIMEOUT:g} s")
            # any other failure is an answer (an error) or the connection already going

        return session.call(LIVENESS_PROCEDURE).addTimeout(PING_TIMEOUT, reactor).addCallbacks(
            lambda _: None, silent)

    def _drop(self, why):
        self.log.warn("sisock: {why}; dropping the RawSocket connection to connect again", why=why)
        self.transport.abortConnection()


def parse_router_url(url):
    """Split a router URL into what `start` connects to.

    Parameters
    ----------
    url : str
        ``ws://host:port/path`` or ``wss://...`` (WebSocket),
        ``rs://host:port`` or ``rss://host:port`` (RawSocket over TCP, plain or
        TLS), ``rs://unix:/path/to.sock`` (Autobahn's form) or
        ``unix:///path/to.sock`` (RawSocket over a Unix socket).

    Returns
    -------
    tuple
        ``(kind, tls, host, port_or_path)``: ``kind`` is ``"websocket"``,
        ``"tcp"`` (RawSocket) or ``"unix"``; ``tls`` a bool; for ``"unix"``,
        ``host`` is None and the last item is the socket's path.

    Raises
    ------
    ValueError
        For any other form, with the accepted ones in the message.
    """
    parsed = urlparse(url)
    problem = ValueError(f"router url must look like ws://host:port/path, wss://..., rs://host:port, rss://..., "
                         f"rs://unix:/path or unix:///path, got {url!r}")
    if parsed.scheme in ("ws", "wss") and parsed.hostname:
        return "websocket", parsed.scheme == "wss", parsed.hostname, parsed.port or (
            443 if parsed.scheme == "wss" else 80)
    if parsed.scheme == "unix" and parsed.path and not parsed.netloc:
        return "unix", False, None, parsed.path
    if parsed.scheme in ("rs", "rss"):
        try:
            tls, host, where = parse_rawsocket_url(url)
        except Exception as exc:  # autobahn raises a bare Exception for a malformed URL
            raise problem from exc
        if host == "unix":
            if not where or tls:
                raise problem
            return "unix", False, None, where
        return "tcp", tls, host, where
    raise problem


def _transport(session, reactor, binary):
    """The Twisted client endpoint and WAMP transport factory for ``session.connection.url``."""
    kind, tls, host, where = parse_router_url(session.connection.url)
    if kind == "websocket":
        factory = WampWebSocketClientFactory(session.fresh, url=session.connection.url,
                                             serializers=serializers(binary))
        factory.setProtocolOptions(**PROTOCOL_OPTIONS)
        factory.protocol = WebSocketClientProtocol
        factory.sisock_session = session
    else:
        factory = WampRawSocketClientFactory(session.fresh, serializer=serializers(binary)[0])
        factory.protocol = RawSocketClientProtocol
    factory.noisy = False
    if kind == "unix":
        return UNIXClientEndpoint(reactor, where, timeout=5), factory
    if tls:
        from sisock.tls import client_options

        return SSL4ClientEndpoint(reactor, host, where, client_options(host), timeout=5), factory
    return TCP4ClientEndpoint(reactor, host, where, timeout=5), factory


def serializers(binary=True):
    """Serializers offered to the router, best first."""
    return [MsgPackSerializer(), CBORSerializer(), JsonSerializer()] if binary else [JsonSerializer()]


class SisockSession(SessionBase, ApplicationSession):
    """Base of every sisock session on Twisted: authentication (`SessionBase`) and lifecycle.

    Parameters
    ----------
    config : autobahn.wamp.types.ComponentConfig
        ``config.realm`` is the realm; ``config.extra`` may hold
        ``"connection"``, a :class:`sisock.config.Connection` whose
        ``authid``/``secret`` select WAMP-CRA (else anonymous).
    """

    #: The ClientService keeping this session connected (set by `start`).
    service = None
    #: Deferred fired at the next join (created on demand, so that subclasses
    #: calling ``ApplicationSession.__init__`` themselves, as original sisock
    #: nodes do, need nothing more).
    _joined = None

    # -- lifecycle (fresh, connection, authentication: `SessionBase`) ----------
    #: Printed as ``READY <ready_label>`` at every join (see `announce_ready`); None prints nothing.
    ready_label: str | None = None

    def onJoin(self, details):
        """Subclasses call this last in their own `onJoin`: fires `when_joined` and announces readiness."""
        d, self._joined = self._joined, None
        if d is not None:
            d.callback(self)
        if self.ready_label:
            announce_ready(self.ready_label)

    def onLeave(self, details):
        if details.reason not in ("wamp.close.normal", "wamp.close.goodbye_and_out"):
            self.log.warn("sisock: session left: {reason} {message}", reason=details.reason,
                          message=details.message or "")
        super().onLeave(details)

    def onDisconnect(self):
        self.log.info("sisock: disconnected from router; reconnecting")

    def onUpgradeRefused(self, status_line, reason):
        """The router at a ``ws://`` or ``wss://`` URL answered, but with no WebSocket: log it (the
        session keeps trying).

        Parameters
        ----------
        status_line : str or None
            The HTTP status line of the answer (``"HTTP/1.1 404 Not Found"``),
            None if there was none to read.
        reason : str
            Autobahn's words for the failed opening handshake.
        """
        self.log.warn("sisock: the router at {url} refused the WebSocket connection: {reason}",
                      url=self.connection.url, reason=reason)

    @defer.inlineCallbacks
    def close(self):
        """Say goodbye to the router (if joined) and stop reconnecting for good."""
        service, self.service = self.service, None
        if self.is_attached():
            try:  # a goodbye the router never answers (connection dying) must not hang the close
                from twisted.internet import reactor

                yield self.leave().addTimeout(5, reactor)
            except Exception:  # already leaving or the transport is gone: nothing to say goodbye on
                pass
        if service is not None:
            yield service.stopService()

    def register(self, endpoint, *args, **kwargs):
        """Register like autobahn, answering calls that do not fit a procedure's signature with
        ``invalid_argument`` (see `sisock.wire.validate.rpc`)."""
        if callable(endpoint):
            endpoint = validate.rpc(endpoint)
        return super().register(endpoint, *args, **kwargs)

    def onUserError(self, fail, msg):
        # A caller's mistake answered with a sisock error is not our failure: one line, not a traceback.
        if isinstance(fail.value, SisockError):
            self.log.info("sisock: answered {error}", error=fail.value)
            return
        super().onUserError(fail, msg)
        if msg == "While firing onJoin":
            # A join that failed half-way (e.g. a registration still held by our previous, not yet
            # cleaned-up session) must not leave a connected session serving nothing: drop the
            # connection, and the reconnect logic starts over with backoff.
            self.log.warn("sisock: joining failed ({error}); reconnecting to start over", error=fail.value)
            self.disconnect()

    def when_joined(self):
        """Deferred that fires with ``self`` at the next join (now, if joined)."""
        if self.is_attached():
            return defer.succeed(self)
        if self._joined is None:
            self._joined = defer.Deferred()
        d = defer.Deferred()
        self._joined.addCallback(lambda s: (d.callback(s), s)[1])
        return d


def start(session, reactor=None, binary=True):
    """Connect ``session`` to its router and keep it connected.

    Parameters
    ----------
    session : SisockSession
        The process's session object; reused for every connection.
    reactor : twisted reactor, optional
    binary : bool
        Offer MsgPack and CBOR before JSON (default) or JSON only; RawSocket
        carries one serializer: MsgPack, or JSON.

    Returns
    -------
    twisted.application.internet.ClientService
        Already started; ``stopService()`` disconnects for good.

    Raises
    ------
    ValueError
        If ``session.connection.url`` is none of the forms of `parse_router_url`.
    """
    if reactor is None:
        from twisted.internet import reactor
    endpoint, factory = _transport(session, reactor, binary)
    service = ClientService(endpoint, factory, retryPolicy=RETRY_POLICY)
    service.startService()
    session.service = service
    return service


def announce_ready(what):
    """Print ``READY <what>`` on stdout, the line `sisock up` waits for."""
    print(f"READY {what}", flush=True)


def run(session, log_level="info", binary=True, on_start=None):
    """Run a process around ``session`` until SIGINT/SIGTERM.

    Starts logging to stdout at ``log_level``, connects the session with
    :func:`start` (reconnecting forever), calls ``on_start()`` once the
    reactor runs, and runs the reactor. On SIGINT/SIGTERM the session says
    goodbye to the router before the process exits.
    """
    import txaio
    from twisted.internet import reactor

    txaio.use_twisted()
    txaio.start_logging(level=log_level)
    start(session, reactor, binary=binary)
    reactor.addSystemEventTrigger("before", "shutdown", session.close)
    if on_start is not None:
        reactor.callWhenRunning(on_start)
    reactor.run()

"""A sisock session on asyncio (``autobahn.asyncio``) that keeps itself connected.

The asyncio twin of `sisock.connection.start` and `sisock.consumer.ConsumerSession`:
one :class:`AioSession` object serves every connection (`SessionBase.fresh`),
reconnects with the same backoff as the Twisted sessions
(`sisock.connection.RETRY_POLICY`), joins with WAMP-CRA or anonymously
(`SessionBase`), and subscribes again after every join to what it follows.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

from sisock.aio import frameworks

frameworks.use_both()  # before autobahn.asyncio is imported

# isort: split
from autobahn.asyncio.wamp import ApplicationSession  # noqa: E402
from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.wamp.types import ComponentConfig  # noqa: E402

from sisock import config  # noqa: E402
from sisock.connection import PROTOCOL_OPTIONS, RETRY_POLICY, parse_router_url, serializers  # noqa: E402
from sisock.wire.session import SessionBase  # noqa: E402


class AioSession(SessionBase, ApplicationSession):
    """An asyncio sisock session; `keep_connected` runs its connections.

    Parameters
    ----------
    conn : sisock.config.Connection
        Router URL (``ws://`` or ``wss://``), realm and credentials.
    binary : bool
        Offer MessagePack and CBOR before JSON (default), or JSON only.

    Raises
    ------
    ValueError
        If ``conn.url`` is not a ``ws://host:port/path`` or ``wss://`` URL.
    """

    def __init__(self, conn: config.Connection, binary: bool = True) -> None:
        super().__init__(ComponentConfig(conn.realm, {"connection": conn}))
        kind, tls, self._host, self._port = parse_router_url(conn.url)
        if kind != "websocket":
            raise ValueError(f"sisock.aio connects over ws:// or wss:// URLs, got {conn.url!r}")
        self._ssl = ssl.create_default_context(cafile=config.env("CA_FILE")) if tls else None
        self._binary = binary
        self._follows: list[tuple[str, Callable[..., Any]]] = []
        self._joined = asyncio.Event()
        self._closing = self._was_joined = False
        self._task: asyncio.Task[None] | None = None

    # -- connections ------------------------------------------------------------
    def start(self) -> None:
        """Start connecting, and reconnecting, in the running loop (returns at once)."""
        self._task = asyncio.get_running_loop().create_task(self.keep_connected())

    async def keep_connected(self) -> None:
        """Connect; after every lost or failed connection wait `RETRY_POLICY` and connect again, until `close`."""
        loop = asyncio.get_running_loop()
        factory = WampWebSocketClientFactory(self.fresh, url=self.connection.url, serializers=serializers(self._binary),
                                             loop=loop)
        factory.setProtocolOptions(**PROTOCOL_OPTIONS)
        attempt = 0
        while not self._closing:
            try:
                _, protocol = await asyncio.wait_for(
                    loop.create_connection(factory, self._host, self._port, ssl=self._ssl), 5)
                await protocol.is_closed
            except Exception as exc:  # refused, unreachable, TLS or handshake failure: try again
                self.log.debug("sisock: connecting to {url} failed: {exc}", url=self.connection.url, exc=exc)
            self._joined.clear()
            if self._closing:
                break
            attempt = 0 if self._was_joined else attempt + 1
            self._was_joined = False
            await asyncio.sleep(RETRY_POLICY(attempt))

    async def onJoin(self, details: Any) -> None:
        for topic, handler in self._follows:
            await self.subscribe(handler, topic)
        self._was_joined = True
        self._joined.set()

    def onLeave(self, details: Any) -> None:
        self._joined.clear()
        super().onLeave(details)  # disconnects: keep_connected connects again

    async def when_joined(self, timeout: float) -> None:
        """Return once joined (at once if joined now), waiting at most ``timeout`` seconds.

        Raises
        ------
        TimeoutError
            If the session has not joined within ``timeout``.
        """
        if not (self._joined.is_set() and self.is_attached()):
            await asyncio.wait_for(self._joined.wait(), timeout)

    async def close(self) -> None:
        """Say goodbye to the router (if joined) and stop reconnecting for good."""
        self._closing = True
        if self.is_attached():
            try:
                await asyncio.wait_for(self.leave(), 5)
            except Exception:  # already leaving, or the connection is gone
                pass
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._transport is not None:
            self._transport.close()

    # -- subscriptions that outlive a connection --------------------------------------
    async def follow(self, topic: str, handler: Callable[..., Any]) -> None:
        """Subscribe ``handler`` to ``topic`` now (if joined) and again after every reconnect."""
        self._follows.append((topic, handler))
        if self.is_attached():
            await self.subscribe(handler, topic)

    async def unfollow(self, topic: str, handler: Callable[..., Any]) -> None:
        """Undo `follow`: no more events of ``topic`` for ``handler``, now or after a reconnect."""
        self._follows.remove((topic, handler))
        if self.is_attached():
            for subscriptions in list(self._subscriptions.values()):
                for sub in subscriptions:
                    if sub.topic == topic and sub.handler == handler and sub.active:
                        await sub.unsubscribe()

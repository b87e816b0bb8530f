"""A node's chunked get_data answer paced to what its connection has sent.

The node hands each chunk to its WebSocket connection and would go on to
the next at once: Twisted buffers whatever the socket does not take, so a
large answer (1e8 samples: 1.6 GB) piles up in the node ahead of its
answers to the router's pings, and the router drops a node whose pong
comes later than its ping timeout (3 s). `send_paced` sends a chunk and
waits until the connection holds at most `QUEUED_BYTES` unsent, so the
node sends as fast as the router reads, whatever the range.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer, task, threads

#: Bytes a node's connection may hold unsent before its next chunk goes (4 chunks of the default size).
QUEUED_BYTES = 4 * 1024 * 1024
#: Seconds between looks at the connection while it drains.
POLL_SECONDS = 0.005


def unsent(transport: Any) -> int:
    """Bytes a Twisted TCP transport holds that it has not handed to the kernel yet (0 if it does not say)."""
    try:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except (AttributeError, TypeError):
        return 0


@defer.inlineCallbacks
def send_paced(progress: Callable[[Any], Any], transport: Any, reactor: Any, message: Any) -> Any:
    """Send ``message`` with ``progress`` (in the reactor), then wait until ``transport`` holds at most
    `QUEUED_BYTES` unsent; a Deferred for ``threads.blockingCallFromThread``."""
    progress(message)
    while unsent(transport) > QUEUED_BYTES:
        yield task.deferLater(reactor, POLL_SECONDS, lambda: None)


def sender(progress: Callable[[Any], Any], transport: Any) -> Callable[[Any], Any]:
    """``send(message)`` for a thread that answers a get_data call: `send_paced` in the reactor, waited for."""
    from twisted.internet import reactor

    def send(message: Any) -> Any:
        return threads.blockingCallFromThread(reactor, send_paced, progress, transport, reactor, message)

    return send

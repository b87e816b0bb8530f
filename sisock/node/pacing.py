"""A node's chunked get_data answer paced to what its connection has sent and what the caller has read.

The node hands each chunk to its WebSocket connection and would go on to
the next at once: Twisted buffers whatever the socket does not take, so a
large answer (1e8 samples: 1.6 GB) piles up in the node ahead of its
answers to the router's pings, and the router drops a node whose pong
comes later than its ping timeout (3 s). `send_paced` sends a chunk and
waits until the connection holds at most `QUEUED_BYTES` unsent, so the
node sends as fast as the router reads, whatever the range.

The router in turn forwards as fast as it reads, and a caller that reads
slower falls behind until the router drops it the same way. So a node
also sends at most `WINDOW` chunks ahead of the caller's acknowledgements
(`Flow`): the layout names the answer (``"ack": token``) and the caller
calls ``consumer.NAME.get_data_ack(token, chunks)`` with the chunks it
has read. A caller that has not acknowledged anything `FIRST_ACK_SECONDS`
after the window filled is taken for one that does not (another WAMP
client), and the answer goes on paced by the connection alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, task, threads

#: Bytes a node's connection may hold unsent before its next chunk goes (4 chunks of the default size).
QUEUED_BYTES = 4 * 1024 * 1024
#: Seconds between looks at the connection while it drains.
POLL_SECONDS = 0.005
#: Chunks a node sends ahead of the caller's acknowledgements.
WINDOW = 8
#: Seconds a full window waits for a caller's first acknowledgement before the node stops asking for them.
FIRST_ACK_SECONDS = 2.0


class Flow:
    """The chunks of one answer sent and acknowledged by the caller (`WINDOW`, `FIRST_ACK_SECONDS`)."""

    def __init__(self) -> None:
        self.sent = self.acked = 0
        self.acking: bool | None = None   # None: not known yet
        self._full_since: float | None = None

    def ack(self, chunks: int) -> None:
        """The caller has read ``chunks`` chunks."""
        self.acked, self.acking = max(self.acked, chunks), True

    def full(self) -> bool:
        """Whether the next chunk must wait for an acknowledgement."""
        if self.acking is False or self.sent - self.acked < WINDOW:
            self._full_since = None
            return False
        now = time.monotonic()
        self._full_since = self._full_since or now
        if self.acking is None and now - self._full_since > FIRST_ACK_SECONDS:
            self.acking = False   # a caller that does not acknowledge
        return self.acking is not False


def unsent(transport: Any) -> int:
    """Bytes a Twisted TCP transport holds that it has not handed to the kernel yet (0 if it does not say)."""
    try:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except (AttributeError, TypeError):
        return 0


@defer.inlineCallbacks
def send_paced(progress: Callable[[Any], Any], transport: Any, reactor: Any, flow: Flow, message: Any) -> Any:
    """Send ``message`` with ``progress`` (in the reactor), then wait until ``transport`` holds at most
    `QUEUED_BYTES` unsent and ``flow`` has room; a Deferred for ``threads.blockingCallFromThread``."""
    progress(message)
    flow.sent += "chunk" in message
    while unsent(transport) > QUEUED_BYTES or flow.full():
        yield task.deferLater(reactor, POLL_SECONDS, lambda: None)


def sender(progress: Callable[[Any], Any], transport: Any, flow: Flow, token: str) -> Callable[[Any], Any]:
    """``send(message)`` for a thread that answers a get_data call: `send_paced` in the reactor, waited for;
    the layout gets ``"ack": token``."""
    from twisted.internet import reactor

    def send(message: Any) -> Any:
        if "layout" in message:
            message["layout"]["ack"] = token
        return threads.blockingCallFromThread(reactor, send_paced, progress, transport, reactor, flow, message)

    return send

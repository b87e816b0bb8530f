"""The bridge's Twisted web site: the Flask app in the reactor's thread pool, request bodies bounded.

Twisted receives a whole request body (to memory, or to a temporary file
past 100 kB) before the app sees it. `BoundedRequest` refuses a body
larger than the limit as soon as it is known to be (its declared
``Content-Length``, or the bytes received of a chunked body): it answers
413 JSON at once and closes its side of the connection, then reads and
drops what the client still sends for at most `LINGER` seconds (so that
the client, still sending, gets to read the answer instead of a reset),
so no body is kept past the limit, in memory or on disk. The app refuses
such bodies too (Flask's ``MAX_CONTENT_LENGTH``), for servers other than
this one.
"""

import json

from twisted.web.server import Request, Site

from grafana_bridge.app import CORS_HEADERS
from grafana_bridge.cancel import CancellingWSGIResource
from grafana_bridge.limits import body_too_large

#: Seconds a refused request's connection keeps reading (and dropping) what its client still sends.
LINGER = 10.0


class BoundedRequest(Request):
    """A ``twisted.web.server.Request`` whose body may not exceed `max_body_bytes` (set by `make_site`)."""

    max_body_bytes = None
    _received = 0
    _refused = False

    def gotLength(self, length):
        super().gotLength(length)
        if length is not None and length > self.max_body_bytes:
            self._refuse()

    def handleContentChunk(self, data):
        self._received += len(data)
        if self._received > self.max_body_bytes:
            self._refuse()
        else:
            super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        if not self._refused:  # a refused request has been answered already
            super().requestReceived(command, path, version)

    def _refuse(self):
        """Answer 413 JSON on the raw connection, half-close it, drop the rest: the app never sees the request."""
        if self._refused:
            return
        self._refused = True
        self.content.close()
        self.content = _Discard()
        body = json.dumps({"error": "too_large", "message": body_too_large(self.max_body_bytes)}).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), "Connection": "close",
                   **CORS_HEADERS}
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        transport = self.channel.transport
        transport.write(f"HTTP/1.1 413 Content Too Large\r\n{head}\r\n".encode("latin-1") + body)
        transport.loseWriteConnection()
        self.channel.callLater(LINGER, lambda: transport.connected and transport.abortConnection())


class _Discard:
    """A request's ``content`` that keeps nothing."""

    def write(self, data):
        pass

    def seek(self, *args):
        pass

    def read(self, *args):
        return b""

    def close(self):
        pass


def make_site(reactor, app, limits):
    """The ``twisted.web.server.Site`` serving ``app``.

    Parameters
    ----------
    reactor : twisted reactor
        Its thread pool runs ``app``.
    app : flask.Flask
        From `grafana_bridge.app.create_app`.
    limits : grafana_bridge.limits.Limits
        ``max_body_bytes`` bounds every request body (`BoundedRequest`).

    Returns
    -------
    twisted.web.server.Site
        Each request watched for its client leaving (`grafana_bridge.cancel`).
    """
    request = type("BoundedRequest", (BoundedRequest,), {"max_body_bytes": limits.max_body_bytes})
    site = Site(CancellingWSGIResource(reactor, reactor.getThreadPool(), app))
    site.requestFactory = request
    return site

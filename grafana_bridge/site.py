"""The bridge's Twisted web site: the Flask app in the reactor's thread pool, request bodies bounded.

Twisted receives a whole request body (to memory, or to a temporary file
past 100 kB) before the app sees it. `BoundedRequest` refuses a body
larger than the limit as soon as it is known to be (its declared
``Content-Length``, or the bytes received of a chunked body): it answers
413 JSON at once and closes the connection, so no body is kept past the
limit, in memory or on disk. The app refuses such bodies too (Flask's
``MAX_CONTENT_LENGTH``), for servers other than this one.
"""

import json

from twisted.web.server import Request, Site

from grafana_bridge.app import CORS_HEADERS
from grafana_bridge.cancel import CancellingWSGIResource
from grafana_bridge.limits import body_too_large


class BoundedRequest(Request):
    """A ``twisted.web.server.Request`` whose body may not exceed `max_body_bytes` (set by `make_site`)."""

    max_body_bytes = None
    _received = 0

    def gotLength(self, length):
        super().gotLength(length)
        if length is not None and length > self.max_body_bytes:
            self._refuse()

    def handleContentChunk(self, data):
        self._received += len(data)
        if self._received > self.max_body_bytes:
            self._refuse()
        elif not self.channel.transport.disconnecting:
            super().handleContentChunk(data)

    def _refuse(self):
        """Answer 413 JSON on the raw connection and close it: the request never reaches the app."""
        transport = self.channel.transport
        if transport.disconnecting:
            return
        body = json.dumps({"error": "too_large", "message": body_too_large(self.max_body_bytes)}).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), "Connection": "close",
                   **CORS_HEADERS}
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        transport.write(f"HTTP/1.1 413 Content Too Large\r\n{head}\r\n".encode("latin-1") + body)
        self.channel.loseConnection()


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

"""Stopping the work of a request whose client went away.

Flask answers in a thread of the reactor's pool (``twisted.web.wsgi``)
while the backend's WAMP calls run in the reactor. `CancellingWSGIResource`
gives each request a `Watch`: when the HTTP connection is lost before the
answer, the Watch cancels the request's pending Deferreds (a WAMP call's
cancellation sends CANCEL to the router, which interrupts the node) and
every later backend call of that request fails at once with
`grafana_bridge.errors.ClientGone`. The backend finds the Watch of the
request its thread serves with `current`; it never imports Flask.
"""

import threading

from twisted.web.wsgi import WSGIResource

from grafana_bridge.errors import ClientGone

_local = threading.local()


class Watch:
    """The pending work of one request, cancelled when its client goes away. Reactor thread only.

    Attributes
    ----------
    gone : bool
        True once the client went away.
    """

    def __init__(self):
        self.gone = False
        self._pending = set()

    def add(self, d):
        """Cancel Deferred ``d`` if the client goes away before it fires; at once if it is gone already.

        Returns
        -------
        twisted.internet.defer.Deferred
            ``d``.
        """
        if self.gone:
            d.cancel()
            return d
        self._pending.add(d)

        def done(result):
            self._pending.discard(d)
            return result

        return d.addBoth(done)

    def client_gone(self, _reason=None):
        """The connection was lost before the answer: cancel every pending Deferred."""
        self.gone = True
        for d in list(self._pending):
            d.cancel()

    def check(self):
        """Raise `ClientGone` if the client went away (any thread: reads one flag)."""
        if self.gone:
            raise ClientGone("the client went away")


def current():
    """The `Watch` of the request this thread is answering, or None outside a request."""
    return getattr(_local, "watch", None)


class CancellingWSGIResource(WSGIResource):
    """``twisted.web.wsgi.WSGIResource`` that gives every request a `Watch` (see the module docstring).

    Parameters
    ----------
    reactor, threadpool, application
        As for ``WSGIResource``.
    """

    def render(self, request):
        watch = Watch()
        request.notifyFinish().addErrback(watch.client_gone)
        application = self._application

        def watched(environ, start_response):
            _local.watch = watch
            try:
                return application(environ, start_response)
            finally:
                _local.watch = None

        return WSGIResource(self._reactor, self._threadpool, watched).render(request)

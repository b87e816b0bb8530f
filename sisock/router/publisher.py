"""The router's HTTP publisher answers a publication the router refuses with an HTTP error status.

Crossbar's HTTP bridge publisher (web service ``"type": "publisher"``)
checks a request's signature and body (401 and 400 when they are wrong)
and publishes it, but answers a publication the router then refuses
(``wamp.error.not_authorized``, an invalid topic) with HTTP 200 and the
WAMP error in the JSON body: an HTTP client (``curl -f``) takes it for a
success. Crossbar (26.10.1) has no option for it.

So ``/publish`` is a ``"type": "path"`` web service whose root is
`Publisher` (a Twisted ``"type": "resource"``) with Crossbar's publisher as
its only child (`sisock.router.directory.router_config`). `Publisher`
hands every request to that child, unchanged, and changes only the
status of an answer that Crossbar sends as 200 with an ``error`` in its
body: `REFUSED_STATUS` of the error (403 for ``not_authorized``), else 400.
The child cannot be reached past it (`Publisher` is a leaf).
"""

import json

from twisted.web.resource import Resource

#: HTTP status of an answer refused by the router, by WAMP error URI; any other error: 400.
REFUSED_STATUS = {"wamp.error.not_authorized": 403}


def refused_status(body):
    """The HTTP status for a 200 answer body of Crossbar's publisher: None for a success, else see the module.

    Parameters
    ----------
    body : bytes
        The first write of the answer (Crossbar writes its JSON answer at once).
    """
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    return REFUSED_STATUS.get(error, 400) if isinstance(error, str) else None


class _Answer:
    """The request as Crossbar's publisher sees it: a 200 answer carrying a WAMP error gets its status."""

    def __init__(self, request):
        self._request = request
        self._code = None

    def __getattr__(self, name):
        return getattr(self._request, name)

    def setResponseCode(self, code, message=None):  # noqa: N802 (twisted.web's name)
        self._code = code
        self._request.setResponseCode(code, message)

    def write(self, data):
        if self._code == 200:
            status = refused_status(data)
            if status is not None:
                self._request.setResponseCode(status)
        self._code = None  # the status is sent with the first write
        self._request.write(data)


class Publisher(Resource):
    """Root of ``/publish``: hands each request to Crossbar's publisher, its child (see the module).

    Parameters
    ----------
    extra : dict
        The web service's ``extra`` configuration (unused): Crossbar builds a
        ``"type": "resource"`` service as ``Publisher(extra)``.
    """

    isLeaf = True

    def __init__(self, extra=None):
        super().__init__()

    def render(self, request):
        (publisher,) = self.children.values()
        return publisher.render(_Answer(request))

"""The bridge's exceptions; `grafana_bridge.handlers` answers each with JSON.

No Flask and no WAMP here, so the request parsers and the backend can both
raise them without importing the HTTP side.
"""


class BadRequest(Exception):
    """A request body Grafana sent (or someone else did) that the bridge cannot serve; answered with 400.

    Parameters
    ----------
    message : str
        One line that names the field at fault and what is accepted, e.g.
        ``"range.from must be an ISO 8601 time, not 'yesterday'"``.
    """

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class BackendUnavailable(Exception):
    """The backend cannot reach the data (router not reachable, nodes not answering); answered with 503.

    Parameters
    ----------
    message : str
        Why, in one line.
    """

    def __init__(self, message="router not reachable"):
        super().__init__(message)
        self.message = message


class TooLarge(BadRequest):
    """A request that asks for more than the bridge's limits allow (`grafana_bridge.limits`); answered with 413.

    Parameters
    ----------
    message : str
        One line naming the limit and how to raise it.
    """


class ClientGone(Exception):
    """The client of a request went away before its answer; the request's work was cancelled."""

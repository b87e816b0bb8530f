"""The bridge's data source: a sisock consumer session, called from Flask threads.

Flask runs under ``twisted.web.wsgi`` in the reactor's thread pool; each
method here hands its WAMP work to the reactor with
``blockingCallFromThread`` and waits, so the reactor itself never blocks.
"""

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.internet.threads import blockingCallFromThread

from grafana_bridge import cancel
from grafana_bridge.errors import BackendUnavailable, ClientGone
from grafana_bridge.targets import TargetCache
from sisock.client import ConsumerSession
from sisock.hub import fanout, reports
from sisock.hub import tariff as tariffs
from sisock.wire import uri
from sisock.wire.errors import NoSuchNode

#: Seconds a request waits for the nodes before it gives up.
CALL_TIMEOUT = 30.0
#: Most alert changes an annotation request reads (``consumer.alerts.history``'s ``limit``).
HISTORY_LIMIT = 500


class BridgeSession(ConsumerSession):
    """The bridge's consumer session, with its `TargetCache`, which starts over after every (re)join.

    Parameters
    ----------
    config : autobahn.wamp.types.ComponentConfig
    reactor : twisted reactor
    """

    def __init__(self, config=None, reactor=None):
        super().__init__(config)
        self.targets = TargetCache(self, reactor)

    @defer.inlineCallbacks
    def onJoin(self, details):
        yield ConsumerSession.onJoin(self, details)  # follows the hub's topics again first
        self.targets.reset()  # events may have been missed while away


@defer.inlineCallbacks
def field_timelines(session, node, result, start, end):
    """Deferred ``{field: timeline}`` of the fields with data in a ``get_data`` answer.

    Read from the answer's ``timeline[tl]["field"]`` lists. A node that
    does not send them (the original sisock's nodes): every field with as
    many samples as the only timeline is on it; with several timelines,
    one ``get_fields(start, end)`` call says.

    Parameters
    ----------
    session : sisock.client.ConsumerSession
    node : str
    result : dict
        The node's ``get_data`` answer, ``{data, timeline}``.
    start, end : float
        The answer's range, UNIX seconds UTC.

    Raises (in the Deferred)
    ------------------------
    sisock.wire.errors.NoSuchNode
        If the node went away before answering ``get_fields``.
    """
    timelines = result["timeline"]
    if all("field" in v for v in timelines.values()):
        return {f: tl for tl, v in timelines.items() for f in v["field"]}
    if len(timelines) == 1:
        [(tl, v)] = timelines.items()
        return {f: tl for f, values in result["data"].items() if len(values) == len(v["t"])}
    field, _ = yield session.get_fields(node, start, end)
    return {f: meta["timeline"] for f, meta in field.items()}


class WampBackend:
    """Answers the Flask app from the live nodes through one consumer session.

    Parameters
    ----------
    session : BridgeSession
        Connected (and reconnecting) by the caller.
    reactor : twisted reactor
    tariff : sisock.hub.tariff.Tariff, optional
        Prices of the ``@energy`` table target; energy only without.
    """

    def __init__(self, session, reactor, tariff=tariffs.UNPRICED):
        self.session = session
        self.reactor = reactor
        self.tariff = tariff

    def _blocking(self, func, *args):
        """``func(*args)``'s Deferred, run in the reactor and waited for; cancelled if the request's
        client goes away (`grafana_bridge.cancel`), which raises `ClientGone`."""
        watch = cancel.current()
        if watch is not None:
            watch.check()
        if not self.session.is_attached():
            raise BackendUnavailable("router not reachable: the bridge is reconnecting, try again shortly")

        def call():
            d = defer.maybeDeferred(func, *args).addTimeout(CALL_TIMEOUT, self.reactor)
            return d if watch is None else watch.add(d)

        try:
            result = blockingCallFromThread(self.reactor, call)
        except defer.TimeoutError as exc:
            raise BackendUnavailable(f"no answer from the nodes within {CALL_TIMEOUT:.0f} s") from exc
        except defer.CancelledError as exc:
            raise ClientGone("the client went away") from exc
        if watch is not None:
            watch.check()  # a list of calls answers with their cancellations
        return result

    def list_targets(self):
        """Every ``node::field`` of the live nodes, sorted (`grafana_bridge.targets.TargetCache.targets`)."""
        return self._blocking(self.session.targets.targets)

    def get_data_many(self, requests):
        """Fetch ``[(node, fields, start, end, min_stride, downsample), ...]`` in parallel, one call each.

        ``downsample`` is one of `sisock.node.downsample.HOW` (``"minmax"``: the
        envelope, two samples per ``2*min_stride``); it may be left out.

        Returns
        -------
        list
            In the order of ``requests``: the get_data result (NumPy arrays)
            with ``field_timeline`` ``{field: timeline}`` added (see
            `field_timelines`), or None for a node that is gone, or the
            exception a node raised.
        """
        return self._blocking(self._get_data_many, requests)

    def query_nodes(self, q):
        """Run a query across nodes (`sisock.hub.fanout.query`) for a `sisock.hub.fanout.Query` ``q``.

        Returns
        -------
        dict
            The answer of `sisock.hub.fanout.query`; failing nodes are in its ``errors``.
        """
        return self._blocking(fanout.query, self.session, q, self.reactor)

    def faults(self, filter, start, end):
        """The fault events of the nodes ``filter`` selects in ``[start, end)`` (`sisock.hub.reports.faults`)."""
        return self._blocking(reports.faults, self.session, filter, start, end, fanout.DEFAULT_CONCURRENCY,
                              fanout.CALL_TIMEOUT, self.reactor)

    def energy(self, filter, start, end, group_by=None):
        """The energy report of the nodes ``filter`` selects in ``[start, end)``, priced by the bridge's
        tariff (`sisock.hub.reports.energy`)."""
        return self._blocking(reports.energy, self.session, filter, start, end, self.tariff, group_by,
                              reports.ENERGY_FIELD, fanout.DEFAULT_CONCURRENCY, fanout.CALL_TIMEOUT, self.reactor)

    def alerts(self, state=None):
        """The alerts of the alert service (``consumer.alerts.list``), only those in ``state`` if given.

        Returns
        -------
        list of dict
            Alert dicts (`sisock.alerts.state.Alert.to_dict`).

        Raises
        ------
        BackendUnavailable
            If no alert service is running.
        """
        return self._blocking(self._alerts_call, "list", state)

    def alerts_between(self, start, end):
        """Every alert the alert service knows of in ``[start, end)`` (UNIX seconds UTC), as it is now.

        The latest state of each alert that changed in the range (``consumer.alerts.history``, its
        newest `HISTORY_LIMIT` changes), and the alerts listed now (``consumer.alerts.list``).

        Returns
        -------
        list of dict
            Alert dicts, one per alert id.

        Raises
        ------
        BackendUnavailable
            If no alert service is running.
        """
        return self._blocking(self._alerts_between, start, end)

    @defer.inlineCallbacks
    def _alerts_between(self, start, end):
        history = yield self._alerts_call("history", start, end, None, HISTORY_LIMIT)
        listed = yield self._alerts_call("list")
        latest = {r["alert"]["id"]: r["alert"] for r in reversed(history)}  # newest first: the latest wins
        latest.update((a["id"], a) for a in listed)
        return list(latest.values())

    @defer.inlineCallbacks
    def _alerts_call(self, procedure, *args):
        """Deferred answer of ``consumer.alerts.<procedure>(*args)``; BackendUnavailable without the service."""
        try:
            answer = yield self.session.call(uri.uri(f"consumer.alerts.{procedure}"), *args)
        except ApplicationError as exc:
            if exc.error != "wamp.error.no_such_procedure":
                raise
            raise BackendUnavailable("the alert service is not running (the hub runs it: `sisock up`)") from None
        return answer

    def _get_data_many(self, requests):
        d = defer.DeferredList([self._get_one(*req) for req in requests], consumeErrors=True)
        return d.addCallback(lambda answers: [a if ok else a.value for ok, a in answers])

    @defer.inlineCallbacks
    def _get_one(self, node, fields, start, end, min_stride, downsample=None):
        try:
            result = yield self.session.get_data(node, fields, start, end, min_stride, downsample)
            timeline_of = yield field_timelines(self.session, node, result, start, end)
        except NoSuchNode:
            return None
        result["field_timeline"] = {f: timeline_of[f] for f in fields if f in timeline_of}
        return result

"""The bridge's routes: a Flask Blueprint over the app's backend.

Grafana JSON datasource (simpod ``grafana-json-datasource``): ``GET /``,
``/metrics``, ``/metric-payload-options``, ``/query``, ``/variable``,
``/tag-keys``, ``/tag-values``; legacy SimpleJSON: ``/search``,
``/annotations``; the target and annotation query ``alerts``
(`grafana_bridge.alerts`). Each route reads its body with `grafana_bridge.body`,
parses it with `grafana_bridge.query` or `grafana_bridge.lookup`, and asks
the backend (see `grafana_bridge.app`) found in
``current_app.extensions[BACKEND]``.
"""

import time

from flask import Blueprint, current_app, jsonify, request

from grafana_bridge import alerts, body, limits, lookup, query, series
from grafana_bridge.errors import BackendUnavailable
from sisock.hub import fanout, reports
from sisock.wire.errors import NoSuchNode

#: Keys of the backend and of the `grafana_bridge.limits.Limits` in ``app.extensions``.
BACKEND, LIMITS = "sisock_backend", "sisock_limits"

blueprint = Blueprint("grafana", __name__)


def _backend():
    return current_app.extensions[BACKEND]


def _body():
    """The request's JSON body as a dict (`grafana_bridge.body.decode`)."""
    return body.decode(request.get_data(cache=True))


def _targets():
    """Every target: ``alerts`` (`grafana_bridge.alerts`), then every ``node::field``."""
    return [alerts.ALERTS, *_backend().list_targets()]


def _alerts_table(target, start, end):
    """The ``/query`` table of the alerts target (its annotations as a table if it asks); empty with a notice
    while the alert service is not running."""
    try:
        if target.annotations:
            events = alerts.annotations(_backend().alerts_between(start, end), None, start, end)
            return alerts.annotation_table(events, target.ref_id)
        return alerts.table(_backend().alerts(target.state), target.ref_id)
    except BackendUnavailable as exc:
        return alerts.table([], target.ref_id, series.notice(exc.message))


def _fetch(requests):
    """Read every ``(node, fields, start, end, min_stride, downsample)`` of ``requests`` in parallel.

    Returns a list in the same order; None stands for a node that is gone.
    Any other exception a node raised is raised here.
    """
    results = _backend().get_data_many(requests)
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, NoSuchNode):
            raise r
    return [None if isinstance(r, NoSuchNode) else r for r in results]


def _field_series(result, fld):
    """``(t, values)`` of one field in a backend ``get_data`` result, or None if it has none."""
    tl = result["field_timeline"].get(fld)
    if tl is None or tl not in result["timeline"]:
        return None
    t, values = result["timeline"][tl]["t"], result["data"][fld]
    return (t, values) if len(t) == len(values) else None


def _target_result(target, result):
    """The ``/query`` answer for one `grafana_bridge.query.Target` from its node's result (None: node gone)."""
    if result is None:
        return series.empty_result(target, f"node {target.node} is not available")
    found = _field_series(result, target.field)
    if found is None:
        return series.empty_result(target, f"node {target.node} has no data for {target.field} in this range")
    t, values = found
    if target.type == query.TABLE:
        kind = getattr(values, "dtype", None)
        value_type = "number" if len(values) == 0 or (kind is not None and kind.kind in "iufb") else "string"
        return series.table(target.field, t, values, value_type=value_type, ref_id=target.ref_id)
    return series.timeseries(target.target, t, values, ref_id=target.ref_id)


def _failed_notice(answer):
    """A series ``meta`` naming the nodes of a report across nodes that did not answer or could not be
    asked (a report's ``unread``: offline), or None."""
    errors = {**answer.get("unread", {}), **answer["errors"]}
    if not errors:
        return None
    listed = "; ".join(f"{name}: {reason}" for name, reason in list(errors.items())[:5])
    more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    return series.notice(f"{len(errors)} of {len(answer['selected'])} node(s) not answered ({listed}{more})")


def _aggregate_results(target, req):
    """The ``/query`` answers of a target over many nodes: one series (or table) per group."""
    stride = query.min_stride_for(req.start, req.end, req.max_data_points, req.interval_ms)
    q = fanout.parse(target.node, target.field, req.start, req.end, stride, target.aggregate, target.group_by,
                     target.downsample)
    answer = _backend().query_nodes(q)
    meta = _failed_notice(answer)
    if not answer["groups"]:
        return [series.empty_result(target, meta["message"] if meta else f"no live node matches {target.node}")]
    out = []
    for group, entry in answer["groups"].items():
        label = target.target if target.group_by is None else f"{target.target} {target.group_by}={group}"
        values = entry["data"][target.field]
        if target.type == query.TABLE:
            out.append(series.table(label, answer["t"], values, ref_id=target.ref_id, meta=meta))
        else:
            out.append(series.timeseries(label, answer["t"], values, ref_id=target.ref_id, meta=meta))
    return out


@blueprint.route("/", methods=["GET"])
def health():
    """Grafana JSON datasource "Test connection": 200 ``{"status": "ok"}``."""
    return jsonify({"status": "ok"})


@blueprint.route("/metrics", methods=["POST"])
def metrics():
    """simpod ``/metrics``: ``[{"label": t, "value": t}, ...]``.

    Filtered by ``target`` (substring); also by ``metric`` unless it is
    exactly a known target (the panel's current choice, which must not
    hide the alternatives).
    """
    target, metric = lookup.parse_search(_body())
    names = lookup.filter_targets(_targets(), target)
    if metric and metric not in names:
        names = lookup.filter_targets(names, metric)
    return jsonify(lookup.metric_options(names))


@blueprint.route("/search", methods=["POST"])
def search():
    """SimpleJSON ``/search``: a list of target strings, filtered by ``target``."""
    target, metric = lookup.parse_search(_body())
    return jsonify(lookup.filter_targets(_targets(), target or metric))


@blueprint.route("/metric-payload-options", methods=["POST"])
def metric_payload_options():
    """simpod ``/metric-payload-options``: no payload options, ``[]``."""
    _body()
    return jsonify([])


@blueprint.route("/query", methods=["POST"], endpoint="query")
def answer_query():
    """Grafana JSON datasource / SimpleJSON ``/query``: one series or table per target, one per group
    for a target that aggregates many nodes (`grafana_bridge.query`)."""
    req = query.parse_query(_body(), now=time.time())
    limits.check_query(req, current_app.extensions[LIMITS])
    requests = req.fetches()
    keys = [(node, downsample) for node, _, _, _, _, downsample in requests]
    results = dict(zip(keys, _fetch(requests), strict=True)) if requests else {}
    out = []
    for t in req.targets:
        if t.field == query.ALERTS_FIELD:
            out.append(_alerts_table(t, req.start, req.end))
        elif t.field == query.FAULTS:
            report = _backend().faults(t.node, req.start, req.end)
            out.append(series.events_table(report["events"], t.ref_id, _failed_notice(report)))
        elif t.field == query.ENERGY:
            report = _backend().energy(t.node, req.start, req.end, t.group_by)
            out.append(series.rows_table(*reports.energy_rows(report), t.ref_id, _failed_notice(report)))
        elif t.aggregate is None:
            out.append(_target_result(t, results[t.node, t.downsample]))
        else:
            out += _aggregate_results(t, req)
    return jsonify(out)


@blueprint.route("/annotations", methods=["POST"])
def annotations():
    """SimpleJSON ``/annotations``: the alerts that fired in the range for the query ``alerts``
    (`grafana_bridge.alerts.annotations`), else the fault events of the nodes the query selects.

    The query is ``alerts`` or a node filter (``fleet.*``, ``zone=north``); without one, ``[]``.
    """
    start, end, text, annotation = lookup.parse_annotation(_body(), now=time.time())
    if text is None:
        return jsonify([])
    if alerts.is_alerts(text):
        return jsonify(alerts.annotations(_backend().alerts_between(start, end), annotation, start, end))
    return jsonify(series.fault_annotations(_backend().faults(text, start, end)["events"], annotation))


@blueprint.route("/tag-keys", methods=["POST"])
def tag_keys():
    """Grafana ad hoc filter keys: ``[{"type": "string", "text": "node"}]``."""
    _body()
    return jsonify([{"type": "string", "text": "node"}])


@blueprint.route("/tag-values", methods=["POST"])
def tag_values():
    """Grafana ad hoc filter values: ``[{"text": node}, ...]`` for key ``node``."""
    key = lookup.parse_tag_values(_body())
    if key != "node":
        return jsonify([])
    return jsonify([{"text": n} for n in lookup.nodes_of(_targets())])


@blueprint.route("/variable", methods=["POST"])
def variable():
    """simpod ``/variable``: nodes, or the targets of the node named in ``payload.target``.

    ``payload.target`` empty or ``*``: every node; a node's name: its
    ``node::field`` targets; anything else: nodes whose name contains it.
    """
    text = lookup.parse_variable(_body())
    names = _targets()
    nodes = lookup.nodes_of(names)
    if text is None or text == "*":
        values = nodes
    elif text in nodes:
        prefix = text + query.TARGET_SEPARATOR
        values = [t for t in names if t.startswith(prefix)]
    else:
        values = lookup.filter_targets(nodes, text)
    return jsonify(lookup.variable_options(values))

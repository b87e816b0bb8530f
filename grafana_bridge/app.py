"""The HTTP side of the Grafana bridge: a Flask app factory.

:func:`create_app` serves the Grafana JSON datasource contract (simpod
``grafana-json-datasource``: ``GET /``, ``/metrics``,
``/metric-payload-options``, ``/query``, ``/variable``, ``/tag-keys``,
``/tag-values``) and the legacy SimpleJSON one (``/search``,
``/annotations``, ``type: "timeserie" | "table"`` targets) over a
*backend*: an object with blocking methods, called from Flask's worker
threads, that reads sisock data nodes (the WAMP consumer lives elsewhere)::

    backend.list_targets() -> ["node::field", ...]
    backend.get_data_many([(node, fields, start, end, min_stride, downsample), ...]) -> [result | None | exception, ...]

Each result is sisock's ``get_data`` result with NumPy arrays plus
``field_timeline`` (``{field: timeline name}``); None stands for a node
that is gone. `grafana_bridge.backend.WampBackend` is the real one.

Every answer is JSON with CORS headers; errors are
``{"error": kind, "message": why}`` with a 4xx/5xx status, never an HTML page.
"""

import base64
import binascii
import hmac
import json
import logging
import re
import time

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from grafana_bridge import contract, lookup
from grafana_bridge.contract import BadRequest
from sisock.wire.errors import NodeError, NoSuchNode, SisockError

log = logging.getLogger(__name__)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "accept, content-type, authorization",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
}


class BackendUnavailable(Exception):
    """The backend cannot reach the data (router not reachable); answered with 503."""

    def __init__(self, message="router not reachable"):
        super().__init__(message)
        self.message = message


def _error(kind, message, status):
    response = jsonify({"error": kind, "message": message})
    response.status_code = status
    return response


def _snake(text):
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "error"


def _body():
    """The request's JSON body as a dict; ``{}`` for an empty body.

    Raises
    ------
    BadRequest
        If the body is not JSON, is nested deeper than the JSON parser's
        recursion limit allows, or is not a JSON object.
    """
    raw = request.get_data(cache=True)
    if not raw or not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"request body is not JSON: {e}") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply: Grafana's requests are a few levels deep") from None
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object, not {type(body).__name__}")
    return body


def _fetch(backend, requests):
    """Read every ``(node, fields, start, end, min_stride, downsample)`` of ``requests`` in parallel.

    Returns a list in the same order; None stands for a node that is gone.
    """
    results = backend.get_data_many(requests)
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, NoSuchNode):
            raise r
    return [None if isinstance(r, NoSuchNode) else r for r in results]


def _field_series(result, fld):
    """``(t, values)`` of one field in a backend ``get_data`` result, or None if it has none."""
    tl = result["field_timeline"].get(fld)
    if tl is None or tl not in result["timeline"]:
        return None
    return result["timeline"][tl]["t"], result["data"][fld]


def _target_result(target, result):
    if result is None:
        return contract.empty_result(target, f"node {target.node} is not available")
    series = _field_series(result, target.field)
    if series is None:
        return contract.empty_result(target, f"node {target.node} has no data for {target.field} in this range")
    t, values = series
    if target.type == contract.TABLE:
        kind = getattr(values, "dtype", None)
        value_type = "number" if kind is not None and kind.kind in "iufb" else "string"
        if len(values) == 0:
            value_type = "number"
        return contract.table(target.field, t, values, value_type=value_type, ref_id=target.ref_id)
    return contract.timeseries(target.target, t, values, ref_id=target.ref_id)


def authorized(auth_header, token=None, user=None, password=None):
    """Whether an ``Authorization`` header carries the configured credentials.

    Parameters
    ----------
    auth_header : str or None
        The request's ``Authorization`` header.
    token : str, optional
        Accept ``Bearer <token>``.
    user, password : str, optional
        Accept HTTP basic authentication with these.

    Returns
    -------
    bool
        True when nothing is configured, or when the header matches one of
        the configured schemes (compared in constant time).
    """
    if not token and not user:
        return True
    scheme, _, value = (auth_header or "").partition(" ")
    if token and scheme.lower() == "bearer":
        return hmac.compare_digest(value.strip().encode(), token.encode())
    if user and scheme.lower() == "basic":
        try:
            given_user, _, given_password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (hmac.compare_digest(given_user.encode(), user.encode())
                & hmac.compare_digest(given_password.encode(), (password or "").encode()))
    return False


def create_app(backend, name=__name__, token=None, user=None, password=None):
    """Build the bridge's Flask app over ``backend``.

    Parameters
    ----------
    backend : object
        Blocking reader of sisock nodes: ``list_targets()`` and
        ``get_data_many(requests)`` (see the module docstring).
    name : str
        Flask import name.
    token, user, password : str, optional
        When given, every request but a CORS preflight must carry
        ``Authorization: Bearer <token>`` or HTTP basic ``user:password``
        (see `authorized`); others get 401 JSON.

    Returns
    -------
    flask.Flask
        Serves the Grafana JSON datasource (simpod) and SimpleJSON routes.
    """
    app = Flask(name)

    @app.before_request
    def _authenticate():
        if request.method != "OPTIONS" and not authorized(request.headers.get("Authorization"), token, user, password):
            response = _error("unauthorized", "this bridge needs credentials: a bearer token or HTTP basic auth", 401)
            response.headers["WWW-Authenticate"] = 'Basic realm="sisock", charset="UTF-8"'
            return response

    @app.after_request
    def _cors(response):
        response.headers.update(CORS_HEADERS)
        return response

    @app.errorhandler(BadRequest)
    def _bad_request(e):
        return _error("bad_request", e.message, 400)

    @app.errorhandler(SisockError)
    def _sisock_error(e):
        # The caller's mistake is a 400; a node failing while answering is a bad gateway.
        return _error(e.kind, e.message, 502 if isinstance(e, NodeError) else 400)

    @app.errorhandler(BackendUnavailable)
    def _unavailable(e):
        return _error("backend_unavailable", e.message, 503)

    @app.errorhandler(HTTPException)
    def _http_error(e):
        if e.code == 400 and request.method == "POST":
            kind = "bad_request"
        else:
            kind = _snake(e.name)
        response = _error(kind, e.description or e.name, e.code or 500)
        if e.code == 405 and e.valid_methods:
            response.headers["Allow"] = ", ".join(e.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(e):
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return _error("internal_error", f"{type(e).__name__}: {e}", 500)

    def targets():
        return list(backend.list_targets())

    @app.route("/", methods=["GET"])
    def health():
        """Grafana JSON datasource "Test connection": 200 ``{"status": "ok"}``."""
        return jsonify({"status": "ok"})

    @app.route("/metrics", methods=["POST"])
    def metrics():
        """simpod ``/metrics``: ``[{"label": t, "value": t}, ...]``.

        Filtered by ``target`` (substring); also by ``metric`` unless it is
        exactly a known target (the panel's current choice, which must not
        hide the alternatives).
        """
        target, metric = lookup.parse_search(_body())
        names = lookup.filter_targets(targets(), target)
        if metric and metric not in names:
            names = lookup.filter_targets(names, metric)
        return jsonify(lookup.metric_options(names))

    @app.route("/search", methods=["POST"])
    def search():
        """SimpleJSON ``/search``: a list of target strings, filtered by ``target``."""
        target, metric = lookup.parse_search(_body())
        return jsonify(lookup.filter_targets(targets(), target or metric))

    @app.route("/metric-payload-options", methods=["POST"])
    def metric_payload_options():
        """simpod ``/metric-payload-options``: no payload options, ``[]``."""
        _body()
        return jsonify([])

    @app.route("/query", methods=["POST"])
    def query():
        """Grafana JSON datasource / SimpleJSON ``/query``: one series or table per target."""
        req = contract.parse_query(_body(), now=time.time())
        requests = req.fetches()
        keys = [(node, downsample) for node, _, _, _, _, downsample in requests]
        results = dict(zip(keys, _fetch(backend, requests))) if requests else {}
        return jsonify([_target_result(t, results[t.node, t.downsample]) for t in req.targets])

    @app.route("/annotations", methods=["POST"])
    def annotations():
        """SimpleJSON ``/annotations``: sisock has none, ``[]``."""
        _body()
        return jsonify([])

    @app.route("/tag-keys", methods=["POST"])
    def tag_keys():
        """Grafana ad hoc filter keys: ``[{"type": "string", "text": "node"}]``."""
        _body()
        return jsonify([{"type": "string", "text": "node"}])

    @app.route("/tag-values", methods=["POST"])
    def tag_values():
        """Grafana ad hoc filter values: ``[{"text": node}, ...]`` for key ``node``."""
        key = lookup.parse_tag_values(_body())
        if key != "node":
            return jsonify([])
        return jsonify([{"text": n} for n in lookup.nodes_of(targets())])

    @app.route("/variable", methods=["POST"])
    def variable():
        """simpod ``/variable``: nodes, or the targets of the node named in ``payload.target``.

        ``payload.target`` empty or ``*``: every node; a node's name: its
        ``node::field`` targets; anything else: nodes whose name contains it.
        """
        text = lookup.parse_variable(_body())
        names = targets()
        nodes = lookup.nodes_of(names)
        if text is None or text == "*":
            values = nodes
        elif text in nodes:
            prefix = text + contract.TARGET_SEPARATOR
            values = [t for t in names if t.startswith(prefix)]
        else:
            values = lookup.filter_targets(nodes, text)
        return jsonify(lookup.variable_options(values))

    return app

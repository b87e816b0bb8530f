"""The HTTP side of the Grafana bridge: a Flask app factory.

:func:`create_app` serves the Grafana JSON datasource contract (simpod
``grafana-json-datasource``: ``GET /``, ``/metrics``,
``/metric-payload-options``, ``/query``, ``/variable``, ``/tag-keys``,
``/tag-values``) and the legacy SimpleJSON one (``/search``,
``/annotations``, ``type: "timeserie" | "table"`` targets) over a
*backend*: an object with blocking methods, called from Flask's worker
threads, that reads sisock data nodes (the WAMP consumer lives elsewhere)::

    backend.list_targets() -> ["node::field", ...]
    backend.get_data_many([(node, fields, start, end, min_stride, downsample), ...])
        -> [result | None | exception, ...]

Each result is sisock's ``get_data`` result with NumPy arrays plus
``field_timeline`` (``{field: timeline name}``); None (or a
`sisock.wire.errors.NoSuchNode`) stands for a node that is gone.
`grafana_bridge.backend.WampBackend` is the real one.

The parts: `grafana_bridge.routes` (the Blueprint), `grafana_bridge.auth`
(credentials), `grafana_bridge.handlers` (every error as JSON). Every
answer carries CORS headers.
"""

from flask import Flask

from grafana_bridge.auth import require_credentials
from grafana_bridge.handlers import register_error_handlers
from grafana_bridge.limits import Limits
from grafana_bridge.routes import BACKEND, LIMITS, blueprint

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "accept, content-type, authorization",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
}


def _cors(response):
    response.headers.update(CORS_HEADERS)
    return response


def create_app(backend, name=__name__, token=None, user=None, password=None, limits=Limits()):
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
        (`grafana_bridge.auth.authorized`); others get 401 JSON.
    limits : grafana_bridge.limits.Limits
        Targets, points and body bytes one request may ask for; more is a 413.

    Returns
    -------
    flask.Flask
        Serves the Grafana JSON datasource (simpod) and SimpleJSON routes.
    """
    app = Flask(name)
    app.extensions[BACKEND] = backend
    app.extensions[LIMITS] = limits
    app.config["MAX_CONTENT_LENGTH"] = limits.max_body_bytes
    require_credentials(app, token, user, password)
    app.after_request(_cors)
    register_error_handlers(app)
    app.register_blueprint(blueprint)
    return app

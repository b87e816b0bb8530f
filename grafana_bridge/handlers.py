"""Every error the bridge answers, as JSON: ``{"error": kind, "message": why}`` with a 4xx/5xx status.

`register_error_handlers` is the one place that maps exceptions to
statuses; nothing the bridge answers is an HTML page.
"""

import logging
import re

from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from grafana_bridge.errors import BackendUnavailable, BadRequest, ClientGone, TooLarge
from grafana_bridge.limits import body_too_large
from sisock.wire.errors import NodeError, SisockError

log = logging.getLogger(__name__)


def error_response(kind, message, status):
    """A JSON error answer.

    Parameters
    ----------
    kind : str
        Short snake_case name of the error, e.g. ``"bad_request"``.
    message : str
        One line saying why.
    status : int
        HTTP status.

    Returns
    -------
    flask.Response
        ``{"error": kind, "message": message}`` with ``status``.
    """
    response = jsonify({"error": kind, "message": message})
    response.status_code = status
    return response


def _snake(text):
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "error"


def _bad_request(e):
    return error_response("bad_request", e.message, 400)


def _too_large(e):
    return error_response("too_large", e.message, 413)


def _body_too_large(e):
    return _too_large(TooLarge(body_too_large(current_app.config["MAX_CONTENT_LENGTH"])))


def _client_gone(e):
    log.warning("%s %s: the client went away, its node calls were cancelled", request.method, request.path)
    return error_response("client_gone", "the client went away before the answer", 499)


def _sisock_error(e):
    # The caller's mistake is a 400; a node failing while answering is a bad gateway.
    return error_response(e.kind, e.message, 502 if isinstance(e, NodeError) else 400)


def _unavailable(e):
    return error_response("backend_unavailable", e.message, 503)


def _http_error(e):
    kind = "bad_request" if e.code == 400 and request.method == "POST" else _snake(e.name)
    response = error_response(kind, e.description or e.name, e.code or 500)
    if e.code == 405 and e.valid_methods:
        response.headers["Allow"] = ", ".join(e.valid_methods)
    return response


def _unexpected(e):
    log.exception("unexpected error answering %s %s", request.method, request.path)
    return error_response("internal_error", f"{type(e).__name__}: {e}", 500)


def register_error_handlers(app):
    """Answer every error of ``app`` with JSON.

    =============================  ======  ==========================
    exception                      status  ``error``
    =============================  ======  ==========================
    `BadRequest`                   400     ``bad_request``
    `TooLarge`, a body too large   413     ``too_large``
    `ClientGone`                   499     ``client_gone`` (unsent)
    `sisock.wire.errors.NodeError`  502     its kind
    other `SisockError`            400     its kind
    `BackendUnavailable`           503     ``backend_unavailable``
    werkzeug ``HTTPException``     its     its name (404 ``not_found``)
    anything else                  500     ``internal_error`` (logged)
    =============================  ======  ==========================

    Parameters
    ----------
    app : flask.Flask
    """
    app.register_error_handler(BadRequest, _bad_request)
    app.register_error_handler(TooLarge, _too_large)
    app.register_error_handler(RequestEntityTooLarge, _body_too_large)
    app.register_error_handler(ClientGone, _client_gone)
    app.register_error_handler(SisockError, _sisock_error)
    app.register_error_handler(BackendUnavailable, _unavailable)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)

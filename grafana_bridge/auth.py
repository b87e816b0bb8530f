"""Who may ask the bridge: an optional bearer token and/or HTTP basic credentials.

Configured by `grafana_bridge.__main__` from ``SISOCK_BRIDGE_TOKEN``,
``SISOCK_BRIDGE_USER`` and ``SISOCK_BRIDGE_PASSWORD``; without any, every
request is served.
"""

import base64
import binascii
import hmac

from flask import request

from grafana_bridge.handlers import error_response

#: Sent with a 401 so that browsers and Grafana know basic auth is accepted.
CHALLENGE = 'Basic realm="sisock", charset="UTF-8"'


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


def require_credentials(app, token=None, user=None, password=None):
    """Make ``app`` answer 401 JSON to every request but a CORS preflight that lacks the credentials.

    Parameters
    ----------
    app : flask.Flask
    token, user, password : str, optional
        As for `authorized`; nothing is required when none is given.
    """
    if not token and not user:
        return

    @app.before_request
    def _authenticate():
        if request.method != "OPTIONS" and not authorized(request.headers.get("Authorization"), token, user, password):
            response = error_response("unauthorized",
                                      "this bridge needs credentials: a bearer token or HTTP basic auth", 401)
            response.headers["WWW-Authenticate"] = CHALLENGE
            return response

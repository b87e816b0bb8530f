"""Reading the JSON bodies Grafana sends: decoding, and typed access to their members.

Every failure is a `grafana_bridge.errors.BadRequest` whose message names
the member at fault. Pure functions: no Flask here.
"""

import json

from grafana_bridge.errors import BadRequest


def decode(raw):
    """A request body as a dict; ``{}`` for an empty (or all-blank) body.

    Parameters
    ----------
    raw : bytes
        The body as received.

    Returns
    -------
    dict

    Raises
    ------
    BadRequest
        If the body is not JSON, is nested deeper than the JSON parser's
        recursion limit allows, or is not a JSON object.
    """
    if not raw or not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"request body is not JSON: {e}") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply: Grafana's requests are a few levels deep") from None
    return expect_object(body)


def expect_object(body, name="request body"):
    """``body`` as a dict (``{}`` for None).

    Raises
    ------
    BadRequest
        If ``body`` is not a JSON object; the message names ``name``.
    """
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest(f"{name} must be a JSON object, not {type(body).__name__}")
    return body


def optional_string(body, key, name=None):
    """``body[key]`` if it is a string, None if absent.

    Raises
    ------
    BadRequest
        If it is present and not a string; the message names ``name`` (default ``key``).
    """
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{name or key} must be a string, not {type(value).__name__}")
    return value

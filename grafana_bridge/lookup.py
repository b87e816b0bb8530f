"""Request and response shapes of the bridge's lookup routes.

``/metrics`` and ``/search`` (the target list), ``/variable`` (dashboard
variables), ``/tag-keys`` and ``/tag-values`` (ad hoc filters) of the
Grafana JSON datasource (simpod) and SimpleJSON contracts, and
``/annotations`` (SimpleJSON; fault events as annotations).
`grafana_bridge.query` has ``/query``; malformed input raises
`grafana_bridge.errors.BadRequest` naming the field.
"""

from grafana_bridge.body import expect_object, optional_string
from grafana_bridge.errors import BadRequest
from grafana_bridge.query import TARGET_SEPARATOR, parse_range


def parse_search(body):
    """The substring filter of a ``/search`` (SimpleJSON) or ``/metrics`` (simpod) body.

    Parameters
    ----------
    body : dict or None
        ``{"target": "text"}`` (SimpleJSON ``/search``) or
        ``{"metric": "text", "payload": {...}}`` (simpod ``/metrics``).

    Returns
    -------
    (str or None, str or None)
        ``(target, metric)``, each None when absent.

    Raises
    ------
    grafana_bridge.errors.BadRequest
        If the body is not an object or ``target``/``metric`` is not a string.
    """
    body = expect_object(body)
    return optional_string(body, "target"), optional_string(body, "metric")


def filter_targets(targets, text):
    """Targets that contain ``text`` (case-insensitive); all of them for None or ``""``."""
    if not text:
        return list(targets)
    needle = text.lower()
    return [t for t in targets if needle in t.lower()]


def nodes_of(targets):
    """Node names of ``"node::field"`` targets, sorted, each once."""
    return sorted({t.partition(TARGET_SEPARATOR)[0] for t in targets if TARGET_SEPARATOR in t})


def parse_variable(body):
    """What a ``/variable`` body (simpod JSON datasource) asks for.

    Parameters
    ----------
    body : dict or None
        ``{"payload": {"target": "..."}, "range": {...}}``; ``payload`` may
        also be a bare string (the variable's query text).

    Returns
    -------
    str or None
        ``payload.target``, stripped; None when absent or empty.

    Raises
    ------
    grafana_bridge.errors.BadRequest
        If the body or ``payload`` has the wrong type.
    """
    body = expect_object(body)
    payload = body.get("payload")
    if payload is None:
        return None
    if isinstance(payload, str):
        text = payload
    elif isinstance(payload, dict):
        text = optional_string(payload, "target", "payload.target")
    else:
        raise BadRequest(f"payload must be an object or a string, not {type(payload).__name__}")
    text = (text or "").strip()
    return text or None


def parse_tag_values(body):
    """The ``key`` of a ``/tag-values`` body (Grafana ad hoc filters).

    Returns
    -------
    str

    Raises
    ------
    grafana_bridge.errors.BadRequest
        If the body is not an object or ``key`` is missing or not a string.
    """
    body = expect_object(body)
    key = body.get("key")
    if not isinstance(key, str):
        raise BadRequest(f"key must be a string, not {type(key).__name__}")
    return key


def variable_options(names):
    """``/variable`` response (simpod JSON datasource): ``[{"__text": n, "__value": n}, ...]``."""
    return [{"__text": n, "__value": n} for n in names]


def metric_options(names):
    """``/metrics`` response (simpod JSON datasource): ``[{"label": n, "value": n}, ...]``."""
    return [{"label": n, "value": n} for n in names]


def parse_annotation(body, now=None):
    """The range and node filter of a SimpleJSON ``/annotations`` body.

    Parameters
    ----------
    body : dict
        ``{"range": {...}, "annotation": {"query": FILTER, "name": ...}}``.
    now : float, optional
        UNIX seconds, for a body without ``range``.

    Returns
    -------
    (float, float, str or None, dict)
        ``(start, end, filter, annotation)``; ``filter`` is None when the
        annotation has no query (then there is nothing to show).

    Raises
    ------
    BadRequest
        A malformed ``range``, ``annotation`` or ``annotation.query``.
    """
    body = expect_object(body)
    start, end = parse_range(body, now)
    annotation = body.get("annotation") or {}
    if not isinstance(annotation, dict):
        raise BadRequest(f"annotation must be an object, not {type(annotation).__name__}")
    text = annotation.get("query")
    if text is not None and not isinstance(text, str):
        raise BadRequest(f"annotation.query must be a node filter string, not {type(text).__name__}")
    return start, end, (text or "").strip() or None, annotation

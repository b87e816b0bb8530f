"""Alerts in Grafana: the ``alerts`` table target and the alert annotations, as pure functions.

The alert service (`sisock.alerts`, on the hub's session) answers
``consumer.alerts.list`` and ``consumer.alerts.history`` with alert dicts
``{id, rule, name, node, state, severity, since, fired_at, resolved_at,
value, summary, acked_by, acked_at, silenced, ...}``. The bridge shows them
two ways:

* the target `ALERTS` (listed by ``/search`` and ``/metrics``): a
  ``/query`` table of the alerts, one row each, columns time (when it
  entered its state), state, severity, node, summary, acked_by; the
  target's payload (or SimpleJSON ``data``) ``{"state": "firing"}``
  keeps the alerts in that state;
* the same target with ``{"annotations": true}``: `annotation_table`, the
  annotations below as a table whose columns Grafana maps to annotation
  fields by their names (the simpod plugin's annotations are queries);
* the annotation query `ALERTS`: every alert that fired within the range
  (those the history has changes of in the range, and those listed now:
  `grafana_bridge.backend.WampBackend.alerts_between`) as a region from when
  it fired to when it resolved (to the end of the range while it still
  fires), its summary as text, tags ``[severity, node, rule, state]``.

No Flask and no WAMP here.
"""

from grafana_bridge.errors import BadRequest

#: The target (``/search``, ``/query``) and the annotation query of the alerts.
ALERTS = "alerts"
#: States an alert may be in (the alert service's contract).
STATES = ("pending", "firing", "resolved")
#: The table's columns: (name, Grafana type); the alert dict's names, ``time`` when it entered its state.
COLUMNS = (("time", "time"), ("state", "string"), ("severity", "string"), ("node", "string"),
           ("summary", "string"), ("acked_by", "string"))


def is_alerts(text):
    """Whether a target or an annotation query (a str, or anything Grafana sent) names the alerts."""
    return isinstance(text, str) and text.strip() == ALERTS


def parse_options(given, name):
    """The options of an alerts target.

    Parameters
    ----------
    given : dict
        ``{key: options}``: the target's ``payload`` (simpod) and ``data`` (SimpleJSON) objects.
    name : str
        How to name the target in an error message (``targets[0]``).

    Returns
    -------
    dict
        ``{"state": one of STATES or None (every alert), "annotations": bool}``; ``annotations``
        asks for `annotation_table` instead of `table`.

    Raises
    ------
    BadRequest
        If ``state`` is not one of `STATES` or ``annotations`` is not a boolean; the message names it.
    """
    out = {"state": None, "annotations": False}
    for key, options in given.items():
        state, annotations = options.get("state"), options.get("annotations", False)
        if state is not None and state not in STATES:
            raise BadRequest(f"{name}.{key}.state must be one of {', '.join(STATES)}, not {state!r}")
        if not isinstance(annotations, bool):
            raise BadRequest(f"{name}.{key}.annotations must be true or false, not {annotations!r}")
        out["state"] = state or out["state"]
        out["annotations"] = annotations or out["annotations"]
    return out


def _ms(t):
    return None if t is None else int(round(t * 1000))


def entered(alert):
    """UNIX seconds when ``alert`` entered its present state: resolved_at, fired_at or since."""
    if alert["state"] == "resolved" and alert.get("resolved_at") is not None:
        return alert["resolved_at"]
    if alert["state"] == "firing" and alert.get("fired_at") is not None:
        return alert["fired_at"]
    return alert["since"]


def table(alerts, ref_id=None, meta=None):
    """The ``/query`` table of the alerts target (SimpleJSON / simpod table format).

    Parameters
    ----------
    alerts : list of dict
        Alert dicts of ``consumer.alerts.list``.
    ref_id : str, optional
        Grafana's ``refId``, echoed.
    meta : dict, optional
        Added as ``meta`` (a notice when the alert service is not running).

    Returns
    -------
    dict
        ``{"type": "table", "columns": [{"text", "type"}, ...], "rows": [[epoch_ms, state, severity,
        node, summary, acked_by], ...]}``, newest first; ``acked_by`` "" when nobody acknowledged it.
    """
    rows = [[_ms(entered(a)), a["state"], a["severity"], a.get("node") or "", a.get("summary") or a.get("name") or "",
             a.get("acked_by") or ""] for a in alerts]
    rows.sort(key=lambda row: row[0], reverse=True)
    result = {"type": "table", "columns": [{"text": text, "type": kind} for text, kind in COLUMNS], "rows": rows}
    if ref_id is not None:
        result["refId"] = ref_id
    if meta:
        result["meta"] = meta
    return result


def annotations(alerts, annotation, start, end):
    """SimpleJSON ``/annotations`` answer: the alerts that fired within ``[start, end)`` as regions.

    Parameters
    ----------
    alerts : list of dict
        Alert dicts, each alert once as it is now; one that never fired (pending) is left out.
    annotation : dict
        The request's ``annotation``, echoed in each item.
    start, end : float
        The dashboard's range, UNIX seconds UTC.

    Returns
    -------
    list of dict
        ``{"annotation", "time": fired epoch_ms, "timeEnd": resolved epoch_ms (or the range's end),
        "isRegion": true, "title": "severity: name", "text": summary, "tags": [severity, node, rule, state]}``,
        oldest first.
    """
    out = []
    for a in sorted(alerts, key=lambda a: a.get("fired_at") or 0):
        fired, resolved = a.get("fired_at"), a.get("resolved_at")
        if fired is None or fired >= end or (resolved is not None and resolved < start):
            continue
        text = a.get("summary") or a.get("name") or a["rule"]
        if a.get("acked_by"):
            text += f" (acked by {a['acked_by']})"
        out.append({"annotation": annotation, "time": _ms(fired), "timeEnd": _ms(end if resolved is None else resolved),
                    "isRegion": True, "title": f"{a['severity']}: {a.get('name') or a['rule']}", "text": text,
                    "tags": [a["severity"], a.get("node") or "", a["rule"], a["state"]]})
    return out


def annotation_table(events, ref_id=None):
    """The `annotations` as a ``/query`` table: columns time, timeEnd, title, text, tags (comma-separated).

    Grafana turns a data frame into annotations by these field names (a ``timeEnd`` makes a region), so an
    annotation query of the target ``alerts`` with ``{"annotations": true}`` draws the regions of `annotations`.

    Parameters
    ----------
    events : list of dict
        The answer of `annotations`.
    ref_id : str, optional
        Grafana's ``refId``, echoed.

    Returns
    -------
    dict
        ``{"type": "table", "columns": [...], "rows": [[time_ms, time_end_ms, title, text, tags], ...]}``.
    """
    columns = (("time", "time"), ("timeEnd", "time"), ("title", "string"), ("text", "string"), ("tags", "string"))
    result = {"type": "table", "columns": [{"text": text, "type": kind} for text, kind in columns],
              "rows": [[e["time"], e["timeEnd"], e["title"], e["text"], ",".join(e["tags"])] for e in events]}
    if ref_id is not None:
        result["refId"] = ref_id
    return result

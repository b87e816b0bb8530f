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


def parse_state(options, name):
    """The state filter of an alerts target's options.

    Parameters
    ----------
    options : dict
        The target's ``payload`` or ``data`` object.
    name : str
        How to name it in an error message (``targets[0].payload``).

    Returns
    -------
    str or None
        One of `STATES`, or None for every alert.

    Raises
    ------
    BadRequest
        If ``state`` is given and is not one of `STATES`.
    """
    state = options.get("state")
    if state is not None and state not in STATES:
        raise BadRequest(f"{name}.state must be one of {', '.join(STATES)}, not {state!r}")
    return state


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

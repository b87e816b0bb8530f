"""The answers of the Grafana JSON datasource ``/query``, built from NumPy arrays.

Time series (``{"target", "datapoints": [[value, epoch_ms], ...]}``) and
tables (``{"type": "table", "columns", "rows"}``) as the simpod JSON
datasource and SimpleJSON read them: ascending in time, epoch
milliseconds, NaN and infinities as ``null``. Pure functions: no Flask and
no WAMP here.
"""

import numpy as np

from grafana_bridge.query import TABLE


def _columns(t, values):
    """Epoch-ms times and JSON-ready values, ascending in time, non-finite -> None."""
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    values = np.asarray(values).reshape(-1)
    if t.shape != values.shape:
        raise ValueError(f"t has {t.size} samples but values has {values.size}")
    order = np.argsort(t, kind="stable")
    t, values = t[order], values[order]
    ms = np.rint(t * 1000.0).astype(np.int64).astype(object)
    out = values.astype(object)
    if values.dtype.kind in "fc":
        out[~np.isfinite(values)] = None
    elif values.dtype == object:
        out[np.asarray(values != values, dtype=bool)] = None     # NaN != NaN
    return ms, out


def _pairs(first, second):
    """``[[first[i], second[i]], ...]`` as Python objects, built column-wise (no per-point Python loop)."""
    pairs = np.empty((len(first), 2), dtype=object)
    pairs[:, 0] = first
    pairs[:, 1] = second
    return pairs.tolist()


def timeseries(target, t, values, ref_id=None, meta=None):
    """One time series of a Grafana JSON datasource ``/query`` response.

    Parameters
    ----------
    target : str
        The series name, the request's ``"node::field"``.
    t : numpy.ndarray, shape (n,), float64
        Sample times, UNIX seconds UTC (as in sisock ``get_data``'s timeline ``t``).
    values : numpy.ndarray, shape (n,)
        The field's values; NaN (and +-inf) become ``null``.
    ref_id : str, optional
        Grafana's ``refId``, echoed as ``refId``.
    meta : dict, optional
        Added as ``meta``.

    Returns
    -------
    dict
        ``{"target": target, "datapoints": [[value_or_None, epoch_ms], ...]}``,
        ascending in time (SimpleJSON / simpod ``/query`` time-series format).

    Raises
    ------
    ValueError
        If ``t`` and ``values`` have different lengths.
    """
    ms, out = _columns(t, values)
    series = {"target": target, "datapoints": _pairs(out, ms)}
    if ref_id is not None:
        series["refId"] = ref_id
    if meta:
        series["meta"] = meta
    return series


def table(column, t, values, value_type="number", ref_id=None, meta=None):
    """One table of a Grafana JSON datasource ``/query`` response (``type: "table"`` target).

    Parameters
    ----------
    column : str
        Header of the value column (the field name).
    t : numpy.ndarray, shape (n,), float64
        Sample times, UNIX seconds UTC.
    values : numpy.ndarray, shape (n,)
        The field's values; NaN (and +-inf) become ``null``.
    value_type : str
        Grafana column type of the values: ``"number"``, ``"string"``, ...
    ref_id : str, optional
        Grafana's ``refId``, echoed as ``refId``.
    meta : dict, optional
        Added as ``meta``.

    Returns
    -------
    dict
        ``{"type": "table", "columns": [{"text": "Time", "type": "time"},
        {"text": column, "type": value_type}], "rows": [[epoch_ms, value], ...]}``,
        rows ascending in time (SimpleJSON / simpod ``/query`` table format).

    Raises
    ------
    ValueError
        If ``t`` and ``values`` have different lengths.
    """
    ms, out = _columns(t, values)
    rows = _pairs(ms, out)
    result = {
        "type": "table",
        "columns": [{"text": "Time", "type": "time"}, {"text": column, "type": value_type}],
        "rows": rows,
    }
    if ref_id is not None:
        result["refId"] = ref_id
    if meta:
        result["meta"] = meta
    return result


def notice(message):
    """A series ``meta`` that carries a human message.

    Returns
    -------
    dict
        ``{"message": message, "notices": [{"severity": "warning", "text": message}]}``;
        ``notices`` is Grafana's data frame meta field, shown as a warning on the panel.
    """
    return {"message": message, "notices": [{"severity": "warning", "text": message}]}


def empty_result(target, message):
    """The answer for a target whose node cannot be read (vanished, unknown field).

    Parameters
    ----------
    target : Target
        The requested target.
    message : str
        Why there is no data, e.g. ``"node weather is not available"``.

    Returns
    -------
    dict
        An empty :func:`timeseries` (``"datapoints": []``) or :func:`table`
        (``"rows": []``) with ``meta`` from :func:`notice`.
    """
    empty = np.empty(0)
    if target.type == TABLE:
        return table(target.field, empty, empty, ref_id=target.ref_id, meta=notice(message))
    return timeseries(target.target, empty, empty, ref_id=target.ref_id, meta=notice(message))


def fault_annotations(events, annotation):
    """SimpleJSON ``/annotations`` answer for fault events (`sisock.hub.reports.faults`).

    Parameters
    ----------
    events : list of dict
        ``{"t" (UNIX seconds UTC), "node", "code", "message"}``.
    annotation : dict
        The request's ``annotation``, echoed in each item.

    Returns
    -------
    list of dict
        ``[{"annotation", "time": epoch_ms, "title": code, "text": "node: message", "tags": [node, code]}]``.
    """
    return [{"annotation": annotation, "time": int(round(e["t"] * 1000)), "title": e["code"],
             "text": f"{e['node']}: {e['message']}", "tags": [e["node"], e["code"]]} for e in events]


def events_table(events, ref_id=None, meta=None):
    """A ``/query`` table of fault events: columns Time, Node, Code, Message, rows ascending in time.

    Parameters
    ----------
    events : list of dict
        As for `fault_annotations`.
    ref_id : str, optional
    meta : dict, optional

    Returns
    -------
    dict
        ``{"type": "table", "columns": [...], "rows": [[epoch_ms, node, code, message], ...]}``.
    """
    result = {"type": "table",
              "columns": [{"text": "Time", "type": "time"}, {"text": "Node", "type": "string"},
                          {"text": "Code", "type": "string"}, {"text": "Message", "type": "string"}],
              "rows": [[int(round(e["t"] * 1000)), e["node"], e["code"], e["message"]] for e in events]}
    if ref_id is not None:
        result["refId"] = ref_id
    if meta:
        result["meta"] = meta
    return result


def rows_table(header, rows, ref_id=None, meta=None):
    """A ``/query`` table of named rows (an energy report, `sisock.hub.reports.energy_rows`).

    Parameters
    ----------
    header : list of str
        Column names; the first column is text, the others numbers.
    rows : list of list
        Values; None (a cost without prices) stays null.
    ref_id : str, optional
    meta : dict, optional

    Returns
    -------
    dict
        ``{"type": "table", "columns": [{"text", "type"}, ...], "rows": rows}``.
    """
    columns = [{"text": h, "type": "string" if i == 0 else "number"} for i, h in enumerate(header)]
    result = {"type": "table", "columns": columns, "rows": rows}
    if ref_id is not None:
        result["refId"] = ref_id
    if meta:
        result["meta"] = meta
    return result

"""get_data results as pandas DataFrames and xarray Datasets, and fleet queries as DataFrames.

pandas and xarray are optional (``pip install 'sisock[pandas]'``,
``'sisock[xarray]'``); they are imported when a conversion runs, and a
missing one raises `ModuleNotFoundError` naming the extra to install.
The clients fetch (`sisock.client.Client.get_dataframe`, ``get_dataset``,
``query_dataframe``); this module only converts, so every client gives the
same frames.

Time: a timeline's ``t`` (float64 UNIX seconds UTC) becomes a
``datetime64[ns, UTC]`` index named ``time``, each time the nanosecond
nearest to the float, computed from its whole seconds and its fraction
apart (so no precision is lost on the way: a float64 of a present-day UNIX
time itself resolves about 0.24 µs).

This module imports nothing of sisock.
"""

from __future__ import annotations

import importlib
import numbers
import warnings
from typing import Any

import numpy as np

#: The extra that installs each optional library.
EXTRAS = {"pandas": "pandas", "xarray": "xarray"}
_NS = 1_000_000_000


def require(module: str) -> Any:
    """Import the optional library ``module`` ("pandas" or "xarray").

    Raises
    ------
    ModuleNotFoundError
        If it is not installed, with the ``pip install 'sisock[...]'`` line that installs it.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModuleNotFoundError(f"this needs {module}, which is not installed: pip install "
                                  f"'sisock[{EXTRAS[module]}]'", name=module) from exc


def time_index(t: Any) -> Any:
    """A ``pandas.DatetimeIndex`` (``datetime64[ns, UTC]``, named ``time``) of UNIX times.

    Parameters
    ----------
    t : array_like of float, shape (N,)
        UNIX seconds UTC.

    Returns
    -------
    pandas.DatetimeIndex
        Each time the nanosecond nearest to the float.
    """
    pd = require("pandas")
    t = np.asarray(t, dtype=np.float64)
    whole = np.floor(t)
    ns = whole.astype(np.int64) * _NS + np.rint((t - whole) * _NS).astype(np.int64)
    return pd.DatetimeIndex(ns.view("datetime64[ns]"), name="time").tz_localize("UTC")


def _column(values: Any, kind: str | None) -> Any:
    """A pandas array of one field: numbers and bools as they are, strings as ``"string"`` and bools
    with a missing value as ``"boolean"`` (missing as ``pd.NA``)."""
    pd = require("pandas")
    values = np.asarray(values)
    if values.dtype != object:
        return values
    present = [v for v in values if v is not None]
    if kind == "bool" or (kind is None and present and all(isinstance(v, bool | np.bool_) for v in present)):
        return pd.array(values, dtype="boolean")
    if kind == "number" or (kind is None and all(isinstance(v, numbers.Real) for v in present)):
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return pd.array(values, dtype="string")


def _variable_values(values: Any) -> np.ndarray:
    """A writable copy of ``values`` (a binary read gives read-only views); an object array
    with NaN where it had None (xarray's missing value)."""
    values = np.array(values)
    if values.dtype == object:
        values[[v is None for v in values]] = np.nan
    return values


def timeline_fields(result: dict, fields: dict | None = None) -> dict[str, list[str]]:
    """``{timeline: [field, ...]}`` of a get_data result, in the result's order.

    A timeline's ``field`` list names its fields; a node of the original
    sisock sends none, and then they come from ``fields`` (get_fields'
    metadata), or, on a lone timeline, are every field of the result.
    """
    out = {}
    for tl, entry in result["timeline"].items():
        if "field" in entry:
            out[tl] = [f for f in entry["field"] if f in result["data"]]
        elif fields:
            out[tl] = [f for f in result["data"] if fields.get(f, {}).get("timeline") == tl]
        else:
            out[tl] = list(result["data"]) if len(result["timeline"]) == 1 else []
    return out


def blocks_result(blocks: list[dict]) -> dict:
    """Live blocks ``[{"timeline", "t": [...], "data": {f: [...]}}, ...]`` as one get_data result.

    Returns
    -------
    dict
        ``{"data": {f: ndarray}, "timeline": {tl: {"t": float64 UNIX seconds UTC,
        "finalized_until": None, "field": [f, ...]}}}``, each timeline's
        blocks in the order they came, a field left out of a block None there.
    """
    by_timeline: dict[str, list[dict]] = {}
    for block in blocks:
        by_timeline.setdefault(block["timeline"], []).append(block)
    data, timeline = {}, {}
    for tl, group in by_timeline.items():
        names = list(dict.fromkeys(f for block in group for f in block["data"]))
        timeline[tl] = {"t": np.concatenate([np.asarray(b["t"], dtype=np.float64) for b in group]),
                        "finalized_until": None, "field": names}
        for f in names:
            values = [v for b in group for v in b["data"].get(f, [None] * len(b["t"]))]
            data[f] = np.array(values, dtype=object if any(v is None or isinstance(v, str) for v in values)
                               else None)
    return {"data": data, "timeline": timeline}


def _frame(result: dict, tl: str, names: list[str], fields: dict) -> Any:
    pd = require("pandas")
    index = time_index(result["timeline"][tl]["t"])
    return pd.DataFrame({f: _column(result["data"][f], fields.get(f, {}).get("type")) for f in names},
                        index=index, columns=names)


def _meta(fields: dict, names: list[str]) -> dict[str, dict[str, Any]]:
    return {"units": {f: fields.get(f, {}).get("units") for f in names},
            "description": {f: fields.get(f, {}).get("description") for f in names}}


def _join(frames: list) -> Any:
    """One DataFrame: ``frames`` outer-joined on their time indexes; a bool column that gains
    missing rows becomes ``"boolean"``, an int one float64 (NaN)."""
    pd = require("pandas")
    if not frames:
        return pd.DataFrame(index=time_index([]))
    index = frames[0].index
    for frame in frames[1:]:
        index = index.union(frame.index)
    grown = []
    for frame in frames:
        if len(frame.index) < len(index):
            frame = frame.astype({c: "boolean" for c in frame.columns if frame[c].dtype == bool})
        grown.append(frame.reindex(index))
    joined = pd.concat(grown, axis=1) if len(grown) > 1 else grown[0]
    joined.index.name = "time"
    return joined


def to_dataframes(result: dict, fields: dict | None = None, node: str | None = None, join: bool = False) -> Any:
    """A get_data result as one pandas DataFrame per timeline, or one joined DataFrame.

    Parameters
    ----------
    result : dict
        A get_data result as `sisock.client.Client.get_data` returns it:
        ``{"data": {f: ndarray (n_tl,)}, "timeline": {tl: {"t": float64 (n_tl,)
        UNIX seconds UTC, "finalized_until": float or None, "field": [f, ...]}}}``.
    fields : dict, optional
        get_fields' field metadata ``{f: {"units", "description", "type", "timeline"}}``.
    node : str, optional
        The node's name, for ``attrs``.
    join : bool
        One DataFrame of every timeline, outer-joined on time, instead of one per timeline.

    Returns
    -------
    dict of str to pandas.DataFrame, or pandas.DataFrame
        Indexed by `time_index`; one column per field, in the result's order:
        numbers float64 with NaN where missing (ints stay int64 where the
        transport kept them), bools ``bool`` (``"boolean"`` with ``pd.NA``
        where missing), strings ``"string"`` (``pd.NA`` where missing).
        ``attrs = {"node", "timeline", "units": {f: str or None},
        "description": {f: str or None}, "finalized_until": float or None}``;
        joined, ``timeline`` is the list of timelines, ``finalized_until``
        ``{timeline: float or None}``, and a column missing at a time of
        another timeline is NaN (an int column becomes float64) or ``pd.NA``.
        A field the node does not have is in no DataFrame.

    Raises
    ------
    ModuleNotFoundError
        If pandas is not installed.
    """
    require("pandas")
    fields = fields or {}
    by_timeline = timeline_fields(result, fields)
    frames = {}
    for tl, names in by_timeline.items():
        frame = _frame(result, tl, names, fields)
        frame.attrs = {"node": node, "timeline": tl, **_meta(fields, names),
                       "finalized_until": result["timeline"][tl].get("finalized_until")}
        frames[tl] = frame
    if not join:
        return frames
    joined = _join(list(frames.values()))
    names = [f for f in joined.columns]
    joined.attrs = {"node": node, "timeline": list(frames), **_meta(fields, names),
                    "finalized_until": {tl: f.attrs["finalized_until"] for tl, f in frames.items()}}
    return joined


def to_dataset(result: dict, fields: dict | None = None, node: str | None = None) -> Any:
    """A get_data result as an xarray Dataset with one time coordinate per timeline.

    Parameters
    ----------
    result, fields, node
        As for `to_dataframes`.

    Returns
    -------
    xarray.Dataset
        Coordinate and dimension ``time_<timeline>`` per timeline
        (``datetime64[ns]``, UTC, as `time_index`; attrs ``timeline``,
        ``timezone: "UTC"`` and ``finalized_until`` where the node gives
        one); a variable per field on its timeline's dimension holding
        get_data's array (strings, and bools with missing values, object
        arrays with NaN where missing, as xarray marks them: ``isnull()``
        finds them), attrs ``units`` and ``description`` where
        the node gives them; dataset attrs ``node``.

    Raises
    ------
    ModuleNotFoundError
        If xarray (or pandas) is not installed.
    """
    xr = require("xarray")
    fields = fields or {}
    coords, variables = {}, {}
    for tl, names in timeline_fields(result, fields).items():
        dim = f"time_{tl}"
        entry = result["timeline"][tl]
        attrs = {"timeline": tl, "timezone": "UTC"}
        if entry.get("finalized_until") is not None:
            attrs["finalized_until"] = entry["finalized_until"]
        coords[dim] = xr.Variable(dim, time_index(entry["t"]).tz_localize(None).to_numpy(), attrs)
        for f in names:
            meta = fields.get(f, {})
            variables[f] = xr.Variable(dim, _variable_values(result["data"][f]),
                                       {k: meta[k] for k in ("units", "description") if meta.get(k) is not None})
    return xr.Dataset(variables, coords=coords, attrs={} if node is None else {"node": node})


def query_frames(answer: dict) -> dict[str, Any]:
    """A query across nodes (`sisock.hub.fanout.query`) as one DataFrame per node or per group.

    Parameters
    ----------
    answer : dict
        The query's answer: per node (``"results": {name: get_data result}``)
        or aggregated (``"t"`` and ``"groups": {group: {"nodes", "data"}}``).

    Returns
    -------
    dict of str to pandas.DataFrame
        Per node, ``{name: DataFrame}``: its timelines joined as
        `to_dataframes` with ``join=True`` does, attrs ``node``,
        ``timeline`` and ``finalized_until`` (units and descriptions are
        not asked for). Aggregated, ``{group: DataFrame}`` on the grid's
        bucket left edges (`time_index`), one float64 column per field, NaN
        where the group has no value, attrs ``group``, ``nodes``,
        ``aggregate``, ``group_by``, ``min_stride``. Every DataFrame's
        attrs also hold the query's ``selected`` (names) and ``errors``
        (``{name: reason}``), and failed nodes are also said in a
        `UserWarning`.

    Raises
    ------
    ModuleNotFoundError
        If pandas is not installed.
    """
    pd = require("pandas")
    common = {"selected": answer["selected"], "errors": answer["errors"]}
    if answer["errors"]:
        warnings.warn(f"{len(answer['errors'])} node(s) failed: " + "; ".join(
            f"{name}: {reason}" for name, reason in list(answer["errors"].items())[:10]), UserWarning, stacklevel=2)
    frames = {}
    if "results" in answer:
        for name, result in answer["results"].items():
            frame = to_dataframes(result, node=name, join=True)
            frame.attrs = {"node": name, "timeline": frame.attrs["timeline"],
                           "finalized_until": frame.attrs["finalized_until"], **common}
            frames[name] = frame
        return frames
    index = time_index(answer["t"])
    for group, entry in answer["groups"].items():
        frame = pd.DataFrame(dict(entry["data"]), index=index, columns=list(entry["data"]))
        frame.attrs = {"group": group, "nodes": entry["nodes"], "aggregate": answer["aggregate"],
                       "group_by": answer["group_by"], "min_stride": answer["min_stride"], **common}
        frames[group] = frame
    return frames

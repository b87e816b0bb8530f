"""The ``/query`` request of the Grafana JSON datasource contract, as pure functions.

Parses and validates the ``/query`` bodies that Grafana's JSON datasource
plugins send (simpod ``grafana-json-datasource``; legacy SimpleJSON, with
targets of ``type: "timeserie" | "table"``) into a `QueryRequest`, and
works out what to ask the nodes for. `grafana_bridge.series` builds the
answers; `grafana_bridge.lookup` has the other routes' bodies.

Targets are ``"node::field"``. Times inside the bridge are seconds since
the UNIX epoch, UTC (float); Grafana's are ISO 8601 strings on the way in.

A target may ask the nodes for the min/max envelope instead of bucket
means, so that spikes stay visible: ``{"downsample": "minmax"}`` as its
``payload`` (simpod JSON datasource, the query's Payload field) or as its
``data`` (SimpleJSON's additional JSON data); ``"min"`` and ``"max"`` work
too (`sisock.node.downsample.downsample`).

A target whose node part is a registry filter reads every node it selects
and combines them on one time grid (`sisock.hub.fanout`):
``fleet.lamp*::power_w`` with ``{"aggregate": "sum", "group_by": "zone"}``
as its payload gives one series per zone (``aggregate`` one of ``sum``,
``mean``, ``min``, ``max``, ``count``; ``group_by`` a tag, optional).
The pseudo-field `FAULTS` (``fleet.*::@faults``, a table target) lists the
fault events of the nodes a filter selects (`sisock.hub.reports.faults`),
which ``/annotations`` also serves (`grafana_bridge.lookup.parse_annotation`). The pseudo-field
`ENERGY` (``fleet.*::@energy``, a table target, ``group_by`` in the payload
optional) is the energy report of those nodes over the range, priced by
the bridge's tariff (`sisock.hub.reports.energy`). The target ``alerts`` (no
node) is the table of the alert service's alerts (`grafana_bridge.alerts`).
"""

import math
import time
from dataclasses import dataclass
from dataclasses import field as dc_field

from grafana_bridge import alerts
from grafana_bridge.body import expect_object
from grafana_bridge.errors import BadRequest
from sisock.hub.fanout import AGGREGATES
from sisock.hub.selection import parse_filter
from sisock.node.downsample import HOW
from sisock.wire import validate
from sisock.wire.errors import InvalidArgument
from sisock.wire.timeutil import iso_to_unix
from sisock.wire.uri import is_valid_node_name

#: Separator between node and field in a target.
TARGET_SEPARATOR = "::"
#: ``maxDataPoints`` when the request does not say.
DEFAULT_MAX_DATA_POINTS = 1000
#: The range of a ``/query`` without ``range``: the last hour.
DEFAULT_RANGE_SECONDS = 3600.0
#: The pseudo-field of a table target listing fault events.
FAULTS = "@faults"
#: The pseudo-field of a table target reporting energy and its cost.
ENERGY = "@energy"
#: The pseudo-field of the target ``alerts`` (`grafana_bridge.alerts`), whose node is "".
ALERTS_FIELD = "@alerts"
#: Pseudo-fields answered by a report across nodes (or the alert service), not by reading a field.
REPORTS = (FAULTS, ENERGY, ALERTS_FIELD)
#: Target types: SimpleJSON's ``"timeserie"`` (``"timeseries"`` accepted) and ``"table"``.
TIMESERIE = "timeserie"
TABLE = "table"
_TYPES = {"timeserie": TIMESERIE, "timeseries": TIMESERIE, "table": TABLE}
#: Relative margin on the stride so float rounding never adds a bucket.
_STRIDE_SAFETY = 1e-6
#: The earliest time the bridge asks the nodes about: the smallest positive float. Grafana's times are
#: absolute, but sisock reads a time <= 0 as relative to now, so the epoch (and any time before it) is sent as this.
EARLIEST = math.ulp(0.0)


@dataclass(frozen=True)
class Target:
    """One visible target of a ``/query`` request.

    Attributes
    ----------
    target : str
        The target as Grafana sent it, ``"node::field"``.
    node, field : str
        Its two halves.
    type : str
        ``"timeserie"`` or ``"table"``.
    ref_id : str or None
        Grafana's ``refId`` (``"A"``, ``"B"``, ...), echoed back if given.
    downsample : str
        How the nodes reduce each bucket: one of `sisock.node.downsample.HOW`,
        ``"mean"`` unless the target's payload says otherwise.
    aggregate : str or None
        One of `sisock.hub.fanout.AGGREGATES` when ``node`` is a filter whose
        nodes are combined; None for one node.
    group_by : str or None
        The tag that groups the nodes of an aggregate.
    state, annotations : str or None, bool
        The alerts target's options (`grafana_bridge.alerts.parse_options`).
    """

    target: str
    node: str
    field: str
    type: str = TIMESERIE
    ref_id: str | None = None
    downsample: str = "mean"
    aggregate: str | None = None
    group_by: str | None = None
    state: str | None = None
    annotations: bool = False


@dataclass(frozen=True)
class QueryRequest:
    """A validated ``/query`` body (Grafana JSON datasource / SimpleJSON).

    Attributes
    ----------
    start, end : float
        ``range.from`` and ``range.to`` as UNIX seconds, UTC; ``start < end``.
    max_data_points : int
        ``maxDataPoints``, >= 1.
    interval_ms : float or None
        ``intervalMs``, the panel's suggested spacing in milliseconds.
    targets : list of Target
        Visible targets in request order (hidden and empty ones dropped).
    """

    start: float
    end: float
    max_data_points: int = DEFAULT_MAX_DATA_POINTS
    interval_ms: float | None = None
    targets: list[Target] = dc_field(default_factory=list)

    @property
    def min_stride(self):
        """Seconds between samples to ask the nodes for; see :func:`min_stride_for`."""
        return min_stride_for(self.start, self.end, self.max_data_points, self.interval_ms)

    def by_node(self, downsample=None):
        """Group the targets by node.

        Parameters
        ----------
        downsample : str, optional
            Only the targets with this `Target.downsample`; all by default.

        Returns
        -------
        dict
            ``{node: [field, ...]}``, nodes in first-seen order, fields unique
            in first-seen order: one backend call per node.
        """
        groups = {}
        for t in self.targets:
            if t.aggregate is not None or t.field in REPORTS:
                continue
            if downsample is not None and t.downsample != downsample:
                continue
            fields = groups.setdefault(t.node, [])
            if t.field not in fields:
                fields.append(t.field)
        return groups

    def fetches(self):
        """The backend requests that answer every target: one per node and downsampling.

        Returns
        -------
        list of tuple
            ``(node, fields, start, end, min_stride or None, downsample)``,
            the stride from :func:`min_stride_for` for that downsampling.
        """
        out = []
        for how in dict.fromkeys(t.downsample for t in self.targets if t.aggregate is None and t.field not in REPORTS):
            stride = min_stride_for(self.start, self.end, self.max_data_points, self.interval_ms, how) or None
            out += [(node, fields, self.start, self.end, stride, how) for node, fields in self.by_node(how).items()]
        return out


def split_target(text, name="target"):
    """Split a target ``"node::field"`` into its node and field.

    Parameters
    ----------
    text : str
        The target string as Grafana sends it in ``targets[i].target``.
    name : str
        How to name the field in an error message.

    Returns
    -------
    (str, str)
        ``(node, field)``; the field may itself contain ``"::"``.

    Raises
    ------
    BadRequest
        If ``text`` is not a string of the form ``node::field`` with both
        halves non-empty.
    """
    if not isinstance(text, str):
        raise BadRequest(f"{name} must be a string 'node::field', not {type(text).__name__}")
    node, sep, fld = text.partition(TARGET_SEPARATOR)
    if not sep or not node.strip() or not fld.strip():
        raise BadRequest(f"{name} must be 'node::field', not {text!r}")
    return node.strip(), fld.strip()


def parse_range(body, now=None):
    """Read ``range.from`` / ``range.to`` of a Grafana request.

    Parameters
    ----------
    body : dict
        The request body (Grafana JSON datasource ``/query`` or ``/variable``).
    now : float, optional
        Current UNIX time in seconds; ``time.time()`` when omitted.

    Returns
    -------
    (float, float)
        ``(start, end)`` in UNIX seconds, UTC, both > 0 so that sisock reads
        them as absolute times: a bound at or before the epoch becomes
        `EARLIEST`. Without ``range``: the last hour ending at ``now``.

    Raises
    ------
    BadRequest
        If ``range`` is not an object, ``range.from``/``range.to`` are missing
        or not ISO 8601 times, or ``range.to`` is not after ``range.from``.
    """
    rng = body.get("range")
    if rng is None:
        end = time.time() if now is None else float(now)
        return end - DEFAULT_RANGE_SECONDS, end
    if not isinstance(rng, dict):
        raise BadRequest(f"range must be an object with from and to, not {type(rng).__name__}")
    bounds = []
    for key in ("from", "to"):
        text = rng.get(key)
        try:
            value = iso_to_unix(text)
        except (ValueError, TypeError, OverflowError):
            value = None
        if value is None or not math.isfinite(value):
            raise BadRequest(f"range.{key} must be an ISO 8601 time, not {text!r}")
        bounds.append(value)
    start, end = bounds
    if end <= start:
        raise BadRequest(f"range.to must be after range.from "
                         f"(got from={rng.get('from')!r}, to={rng.get('to')!r})")
    return max(start, EARLIEST), max(end, EARLIEST)


def _parse_max_data_points(body):
    value = body.get("maxDataPoints")
    if value is None:
        return DEFAULT_MAX_DATA_POINTS
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest(f"maxDataPoints must be an integer >= 1, not {value!r}")
    return value


def _parse_interval_ms(body):
    value = body.get("intervalMs")
    if value is None:
        return None
    if not validate.is_number(value) or value < 0:
        raise BadRequest(f"intervalMs must be a number of milliseconds >= 0, not {value!r}")
    return float(value)


def _parse_target(item, i):
    name = f"targets[{i}]"
    if not isinstance(item, dict):
        raise BadRequest(f"{name} must be an object, not {type(item).__name__}")
    if item.get("hide") is True:
        return None
    text = item.get("target")
    if text is None or (isinstance(text, str) and not text.strip()):
        return None                      # a new, still empty query row
    ref_id = item.get("refId")
    if ref_id is not None and not isinstance(ref_id, str):
        raise BadRequest(f"{name}.refId must be a string, not {type(ref_id).__name__}")
    given = {key: item[key] for key in ("payload", "data") if isinstance(item.get(key), dict)}  # simpod, SimpleJSON
    if alerts.is_alerts(text):  # a table whatever its type
        return Target(target=alerts.ALERTS, node="", field=ALERTS_FIELD, type=TABLE, ref_id=ref_id,
                      **alerts.parse_options(given, name))
    node, fld = split_target(text, f"{name}.target")
    kind = item.get("type", TIMESERIE)
    if kind is None:
        kind = TIMESERIE
    if kind not in _TYPES:
        raise BadRequest(f"{name}.type must be 'timeserie' or 'table', not {kind!r}")
    options = {"downsample": "mean", "aggregate": None, "group_by": None}
    for key, values in given.items():
        options.update({k: values[k] for k in options if values.get(k) is not None})
        _check_options(options, f"{name}.{key}")
    if options["aggregate"] is None and fld not in REPORTS and not is_valid_node_name(node):
        _refuse_node(node, f"{name}.target {text.strip()!r}")
    return Target(target=text.strip(), node=node, field=fld, type=_TYPES[kind], ref_id=ref_id, **options)


def _refuse_node(node, name):
    """BadRequest for a target whose node part is no node name: a filter needs an aggregate."""
    try:
        parse_filter(node, required=True)
    except InvalidArgument as exc:
        raise BadRequest(f"{name}: {node!r} is neither a node name nor a node filter ({exc.message})") from None
    raise BadRequest(f"{name} selects nodes by the filter {node!r}: a filter needs an aggregate to combine "
                     f'them, e.g. the payload {{"aggregate": "sum"}} (one of {", ".join(AGGREGATES)})')


def _check_options(options, name):
    """Check a target's ``downsample``, ``aggregate`` and ``group_by`` options; BadRequest naming them."""
    for key, accepted in (("downsample", HOW), ("aggregate", (None, *AGGREGATES))):
        if options[key] not in accepted:
            shown = ", ".join(repr(a) for a in accepted if a)
            raise BadRequest(f"{name}.{key} must be one of {shown}, not {options[key]!r}")
    group_by = options["group_by"]
    if group_by is not None and (not isinstance(group_by, str) or not 0 < len(group_by) <= 64):
        raise BadRequest(f"{name}.group_by must be a tag name of 1 to 64 characters, not {group_by!r}")


def parse_query(body, now=None):
    """Validate a ``/query`` body (Grafana JSON datasource and SimpleJSON).

    Parameters
    ----------
    body : dict
        The decoded JSON body: ``range.from``/``range.to`` (ISO 8601),
        ``maxDataPoints`` (int >= 1, default 1000), ``intervalMs`` (optional),
        ``targets`` (list of ``{target: "node::field", type, refId, hide}``).
    now : float, optional
        Current UNIX time in seconds, for a body without ``range``.

    Returns
    -------
    QueryRequest
        Hidden targets and targets with an empty ``target`` are left out.

    Raises
    ------
    BadRequest
        On any malformed field; the message names it (``range.from``,
        ``maxDataPoints``, ``intervalMs``, ``targets[2].target``, ...).
    """
    body = expect_object(body)
    start, end = parse_range(body, now)
    max_points = _parse_max_data_points(body)
    interval_ms = _parse_interval_ms(body)
    items = body.get("targets")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise BadRequest(f"targets must be a list, not {type(items).__name__}")
    targets = [t for t in (_parse_target(item, i) for i, item in enumerate(items)) if t]
    return QueryRequest(start=start, end=end, max_data_points=max_points,
                        interval_ms=interval_ms, targets=targets)


def min_stride_for(start, end, max_data_points, interval_ms=None, downsample="mean"):
    """The ``min_stride`` to ask a node for so a panel gets at most ``maxDataPoints``.

    A node buckets ``[start, end)`` into bins of ``stride`` seconds anchored
    at ``start``, so it returns at most ``ceil((end - start) / stride)``
    samples per field. This picks the smallest stride that keeps that count
    <= ``max_data_points`` (with a tiny safety margin against float
    rounding), and never below Grafana's ``intervalMs``. For the min/max
    envelope (two samples per ``2*stride`` bin) it keeps
    ``2*ceil((end - start) / (2*stride))`` within ``max_data_points`` (two
    samples for ``max_data_points == 1``).

    Parameters
    ----------
    start, end : float
        UNIX seconds, UTC.
    max_data_points : int
        Grafana's ``maxDataPoints``, >= 1.
    interval_ms : float, optional
        Grafana's ``intervalMs``, milliseconds.
    downsample : str
        The target's `Target.downsample`.

    Returns
    -------
    float
        Seconds, > 0 whenever ``end > start`` or ``interval_ms > 0``;
        0.0 for an empty range without an interval.

    Raises
    ------
    ValueError
        If ``max_data_points < 1``.
    """
    if max_data_points < 1:
        raise ValueError(f"max_data_points must be >= 1, not {max_data_points!r}")
    span = float(end) - float(start)
    bins = max_data_points
    if downsample == "minmax":
        bins = 2 * max(max_data_points // 2, 1)  # an even count: whole bins of two samples
    stride = span / bins * (1.0 + _STRIDE_SAFETY) if span > 0 else 0.0
    if interval_ms:
        stride = max(stride, float(interval_ms) / 1000.0)
    return stride

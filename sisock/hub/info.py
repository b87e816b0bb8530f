"""What a node says about itself with ``data_node.add``: `check_info`, the checks of its keyword arguments.

The hub checks them before the registry keeps them (`sisock.hub.registry`),
and the admin edits of tags and locations go through the same checks
(`sisock.hub.management`).
"""

from sisock.wire import validate
from sisock.wire.errors import InvalidArgument

#: Keyword arguments a node may send with ``data_node.add`` (see `check_info`).
INFO_KEYS = ("host", "pid", "version", "location", "tags", "fields", "heartbeat")
MAX_TAGS = 32
MAX_TEXT = 256


def _bad(key, what, value):
    raise InvalidArgument(f"data_node.add: {key} must be {what}, got {value!r:.80}")


def _count(key, value):
    if value is not None and not validate.is_count(value):
        _bad(key, "None or an integer >= 0", value)
    return value


def _short_text(key, value):
    if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
        _bad(key, f"None or a string of at most {MAX_TEXT} characters", value)
    return value


def check_info(info):
    """Check the extra keyword arguments of ``data_node.add``.

    Parameters
    ----------
    info : dict
        Any of ``host`` (str), ``pid`` (int), ``version`` (str),
        ``location`` (``{"lat": degrees north, "lon": degrees east}`` or
        None), ``tags`` (``{key: str | number | bool}``, at most
        `MAX_TAGS`), ``fields`` (int, the count of the node's fields),
        ``heartbeat`` (seconds between the node's heartbeats; a node that
        sends it is expected to keep heartbeating).

    Returns
    -------
    dict
        The same keys, checked; ``location`` becomes ``latitude`` and
        ``longitude``.

    Raises
    ------
    InvalidArgument
        An unknown key or a value of the wrong type or range, named.
    """
    unknown = sorted(set(info) - set(INFO_KEYS))
    if unknown:
        raise InvalidArgument(f"data_node.add: unknown keyword {unknown[0]!r}; accepted: {', '.join(INFO_KEYS)}")
    out = {k: info[k] for k in ("host", "version") if k in info}
    for key in out:
        _short_text(key, out[key])
    for key in ("pid", "fields"):
        if key in info:
            out[key] = _count(key, info[key])
    if "heartbeat" in info:
        beat = info["heartbeat"]
        if beat is not None and (not validate.is_number(beat) or beat <= 0):
            _bad("heartbeat", "None or a positive number of seconds", beat)
        out["heartbeat"] = beat
    if "location" in info:
        loc = info["location"]
        if loc is None:
            out["latitude"] = out["longitude"] = None
        elif not isinstance(loc, dict) or set(loc) != {"lat", "lon"} or not all(map(validate.is_number, loc.values())) \
                or not -90 <= loc["lat"] <= 90 or not -180 <= loc["lon"] <= 180:
            _bad("location", "None or {'lat': -90..90, 'lon': -180..180} in degrees", loc)
        else:
            out["latitude"], out["longitude"] = float(loc["lat"]), float(loc["lon"])
    if "tags" in info:
        tags = info["tags"] or {}
        if not isinstance(tags, dict) or len(tags) > MAX_TAGS or not all(
                isinstance(k, str) and 0 < len(k) <= 64 and isinstance(v, (str, int, float, bool))
                and len(str(v)) <= MAX_TEXT for k, v in tags.items()):
            _bad("tags", f"a dict of at most {MAX_TAGS} names to strings, numbers or booleans", tags)
        out["tags"] = dict(tags)
    return out

"""Selecting registry records: filters, bounding boxes and pages.

A **filter** is a string of terms separated by spaces or commas; a record
matches when it matches every term:

``ALL``
    every node (the word is reserved; it is never a node name here).
``NAME``
    the node with exactly that name, e.g. ``weather``.
``GLOB``
    names matching a shell pattern (``*``, ``?``, ``[...]``), e.g.
    ``fleet.lamp00*``.
``ATTRIBUTE=VALUE``
    an attribute equal to ``VALUE``, which may itself be a glob:
    ``status=offline``, ``host=rack1-*``, ``zone=north``. The attributes are
    `ATTRIBUTES`; any other key is looked up in the record's tags
    (``tags.KEY=VALUE`` says so explicitly). Booleans read ``true`` /
    ``false``, a missing value reads as the empty string (``host=``).

A **bounding box** is ``[west, south, east, north]`` in degrees, the order
of GeoJSON's ``bbox``: longitude minimum, latitude minimum, longitude
maximum, latitude maximum. A box whose ``west`` is greater than its
``east`` crosses the antimeridian.
"""

import fnmatch
import re

from sisock.wire import validate
from sisock.wire.errors import InvalidArgument
from sisock.wire.uri import is_valid_node_name

ALL = "ALL"
#: Record attributes a filter term may name (see `sisock.hub.registry.NodeRecord`).
ATTRIBUTES = ("name", "description", "status", "connected", "host", "pid", "version", "authid", "fields")
#: How to select everything, for messages.
HOW_TO_SELECT = ("pass 'ALL' to select every node, or a name (weather), a glob (fleet.lamp*) "
                 "or attribute=value pairs (status=offline zone=north)")
#: Largest page a list or search answers.
MAX_LIMIT = 10000

_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
_GLOB_CHARS = set("*?[]")
_SPLIT_RE = re.compile(r"[\s,]+")


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Filter:
    """A parsed filter; call it with a record to test it.

    Attributes
    ----------
    name : str or None
        The node name when the filter is exactly one plain name (so that
        a caller can answer "no such node" when it matches nothing).
    """

    def __init__(self, tests, name=None):
        self._tests, self.name = tests, name

    def __call__(self, record):
        return all(test(record) for test in self._tests)


def _term(term):
    """One test function for one filter term, or None for ``ALL``."""
    if term == ALL:
        return None
    if "=" in term:
        key, _, pattern = term.partition("=")
        if not _KEY_RE.match(key):
            raise InvalidArgument(f"filter: {key!r} is not an attribute name (in {term!r}); attributes are "
                                  f"{', '.join(ATTRIBUTES)} or a tag key")
        if key.startswith("tags."):
            key, attribute = key[5:], False
        else:
            attribute = key in ATTRIBUTES

        def matches(record):
            value = getattr(record, key) if attribute else record.current_tags.get(key)
            return fnmatch.fnmatchcase(_text(value), pattern)

        return matches
    if _GLOB_CHARS & set(term):
        return lambda record: fnmatch.fnmatchcase(record.name, term)
    if not is_valid_node_name(term):
        raise InvalidArgument(f"filter: {term!r} is neither a node name, a glob nor attribute=value; "
                              f"{HOW_TO_SELECT}")
    return lambda record: record.name == term


def parse_filter(text, required=False):
    """Parse a filter string (see the module docstring).

    Parameters
    ----------
    text : str or None
        The filter.
    required : bool
        If true, an empty filter is an error (enable and disable ask the
        caller to say ``ALL``); otherwise it selects every node.

    Returns
    -------
    Filter

    Raises
    ------
    InvalidArgument
        ``text`` is not a string, is empty while ``required``, or has a
        term that is no name, glob or attribute=value pair.
    """
    if text is None:
        text = ""
    if not isinstance(text, str) or len(text) > 4096:
        raise InvalidArgument(f"filter must be a string of at most 4096 characters, got {type(text).__name__}")
    terms = [t for t in _SPLIT_RE.split(text.strip()) if t]
    if not terms and required:
        raise InvalidArgument(f"filter is empty; {HOW_TO_SELECT}")
    tests = [test for test in map(_term, terms) if test is not None]
    plain = len(terms) == 1 and terms[0] != ALL and "=" not in terms[0] and not _GLOB_CHARS & set(terms[0])
    return Filter(tests, terms[0] if plain else None)


def _degrees(name, value, low, high):
    if not validate.is_number(value) or not low <= value <= high:
        raise InvalidArgument(f"bbox {name} must be a number of degrees in [{low}, {high}], got {value!r:.40}")
    return float(value)


def parse_bbox(value):
    """A bounding box ``[west, south, east, north]`` in degrees, checked.

    Returns
    -------
    tuple of float
        ``(west, south, east, north)``.

    Raises
    ------
    InvalidArgument
        Not four numbers, a longitude outside [-180, 180], a latitude
        outside [-90, 90], or ``south > north``.
    """
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise InvalidArgument("bbox must be [west, south, east, north] in degrees (GeoJSON order), "
                              f"got {value!r:.80}")
    west = _degrees("west", value[0], -180, 180)
    south = _degrees("south", value[1], -90, 90)
    east = _degrees("east", value[2], -180, 180)
    north = _degrees("north", value[3], -90, 90)
    if south > north:
        raise InvalidArgument(f"bbox south ({south}) must not be greater than north ({north})")
    return west, south, east, north


def in_bbox(record, bbox):
    """Whether ``record`` has a location inside ``bbox`` (edges included)."""
    location = record.current_location
    if location is None:
        return False
    (lat, lon), (west, south, east, north) = location, bbox
    if not south <= lat <= north:
        return False
    if west <= east:
        return west <= lon <= east
    return lon >= west or lon <= east


def page(limit, offset):
    """``(limit, offset)`` checked: ``0 <= limit <= MAX_LIMIT``, ``offset >= 0``.

    Raises
    ------
    InvalidArgument
    """
    for name, value, high in (("limit", limit, MAX_LIMIT), ("offset", offset, None)):
        if not validate.is_count(value) or (high and value > high):
            bound = f"0 to {high}" if high else "0 or more"
            raise InvalidArgument(f"{name} must be an integer from {bound}, got {value!r:.40}")
    return limit, offset

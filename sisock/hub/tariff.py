"""Energy tariffs: a price per kWh, flat or by time of day, read from a TOML file.

A flat tariff::

    currency = "CHF"
    price = 0.25            # per kWh

A time-of-use tariff names its periods and when each starts, in local
time of ``timezone`` (an IANA name, ``UTC`` by default); a period lasts
until the next one starts, the last one until the first one of the next
day::

    currency = "CHF"
    timezone = "Europe/Zurich"

    [periods.day]
    start = "07:00"
    price = 0.30

    [periods.night]
    start = "22:00"
    price = 0.18

`Tariff.intervals` cuts a time range at every change of period (daylight
saving time included, by `zoneinfo`), which is what a node's counter is
asked for (`sisock.node.counters`).
"""

import datetime as dt
import re
import tomllib
import zoneinfo
from dataclasses import dataclass

from sisock.wire import validate
from sisock.wire.errors import InvalidArgument

#: The keys a tariff may have.
KEYS = ("currency", "timezone", "price", "periods")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Period:
    """One price of a tariff: ``name``, ``start`` (minutes after local midnight) and ``price`` per kWh."""

    name: str
    start: int
    price: float | None


@dataclass(frozen=True)
class Tariff:
    """A checked tariff (see the module docstring; build one with `parse` or `load`).

    Attributes
    ----------
    periods : tuple of Period
        Sorted by start; one period (start 0) for a flat tariff.
    currency : str or None
    timezone : str
        IANA time zone name of the periods' start times.
    """

    periods: tuple
    currency: str | None = None
    timezone: str = "UTC"

    @property
    def priced(self):
        """Whether the tariff has prices (the tariff of no file, `UNPRICED`, has none)."""
        return self.periods[0].price is not None

    def describe(self):
        """``{"currency", "timezone", "periods": {name: {"start": "HH:MM", "price"}}}``, JSON-ready."""
        return {"currency": self.currency, "timezone": self.timezone,
                "periods": {p.name: {"start": f"{p.start // 60:02d}:{p.start % 60:02d}", "price": p.price}
                            for p in self.periods}}

    def period_at(self, t):
        """The `Period` in force at UNIX time ``t`` (seconds UTC)."""
        local = dt.datetime.fromtimestamp(t, zoneinfo.ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        return next((p for p in reversed(self.periods) if p.start <= minute), self.periods[-1])

    def intervals(self, start, end):
        """``[start, end)`` cut where the period changes.

        Parameters
        ----------
        start, end : float
            UNIX seconds UTC, ``start < end``.

        Returns
        -------
        edges : list of float, length m + 1
            UNIX seconds UTC, ``edges[0] == start``, ``edges[-1] == end``.
        names : list of str, length m
            The period of each interval ``[edges[i], edges[i+1])``.
        """
        zone = zoneinfo.ZoneInfo(self.timezone)
        day = dt.datetime.fromtimestamp(start, zone).date() - dt.timedelta(days=1)
        last = dt.datetime.fromtimestamp(end, zone).date() + dt.timedelta(days=1)
        cuts = set()
        while len(self.periods) > 1 and day <= last:
            for p in self.periods:
                moment = dt.datetime.combine(day, dt.time(p.start // 60, p.start % 60), zone).timestamp()
                if start < moment < end:
                    cuts.add(moment)
            day += dt.timedelta(days=1)
        edges = [float(start), *sorted(cuts), float(end)]
        return edges, [self.period_at(t).name for t in edges[:-1]]


#: No prices: energy only.
UNPRICED = Tariff((Period("all", 0, None),))


def _price(value, key):
    if not validate.is_number(value) or value < 0:
        raise InvalidArgument(f"tariff: {key} must be a price per kWh (a number >= 0), got {value!r:.40}")
    return float(value)


def _periods(table):
    if not isinstance(table, dict) or len(table) < 2:
        raise InvalidArgument("tariff: periods must be a table of 2 or more periods, each "
                              "[periods.NAME] with start = \"HH:MM\" and price")
    out = []
    for name, spec in table.items():
        key = f"periods.{name}"
        if not isinstance(spec, dict):
            raise InvalidArgument(f"tariff: {key} must be a table with start and price")
        unknown = set(spec) - {"start", "price"}
        if unknown:
            raise InvalidArgument(f"tariff: {key}.{sorted(unknown)[0]} is not a tariff key (start, price)")
        match = _HHMM.match(spec.get("start", "")) if isinstance(spec.get("start"), str) else None
        if match is None:
            raise InvalidArgument(f"tariff: {key}.start must be a time of day \"HH:MM\", got {spec.get('start')!r:.40}")
        out.append(Period(name, int(match[1]) * 60 + int(match[2]), _price(spec.get("price"), f"{key}.price")))
    starts = [p.start for p in out]
    if len(set(starts)) != len(starts):
        raise InvalidArgument("tariff: two periods start at the same time")
    return tuple(sorted(out, key=lambda p: p.start))


def parse(data):
    """Check a tariff given as a dict (a TOML file's content, or JSON).

    Parameters
    ----------
    data : dict
        ``currency`` (str, optional), ``timezone`` (IANA name, optional),
        and either ``price`` (flat, per kWh) or ``periods``
        (``{name: {"start": "HH:MM", "price": float}}``, 2 or more).

    Returns
    -------
    Tariff

    Raises
    ------
    InvalidArgument
        Naming the key at fault (``periods.day.start``, ``timezone``, ...).
    """
    if not isinstance(data, dict):
        raise InvalidArgument(f"tariff must be a table of {', '.join(KEYS)}, got {type(data).__name__}")
    unknown = set(data) - set(KEYS)
    if unknown:
        raise InvalidArgument(f"tariff: {sorted(unknown)[0]} is not a tariff key ({', '.join(KEYS)})")
    currency, timezone = data.get("currency"), data.get("timezone", "UTC")
    if currency is not None and (not isinstance(currency, str) or not 0 < len(currency) <= 16):
        raise InvalidArgument(f"tariff: currency must be a short name such as \"CHF\", got {currency!r:.40}")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidArgument(f"tariff: timezone must be an IANA time zone such as \"Europe/Zurich\", "
                              f"got {timezone!r:.40}") from None
    if ("price" in data) == ("periods" in data):
        raise InvalidArgument("tariff: give either price (a flat tariff) or periods (time of use), not "
                              + ("both" if "price" in data else "neither"))
    periods = ((Period("flat", 0, _price(data["price"], "price")),) if "price" in data
               else _periods(data["periods"]))
    return Tariff(periods, currency, timezone)


def load(path):
    """Read and check the tariff TOML file ``path`` (blocking).

    Raises
    ------
    InvalidArgument
        The file cannot be read, is not TOML, or is not a valid tariff; the
        message names the file and the key.
    """
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise InvalidArgument(f"tariff file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"tariff file {path} is not TOML: {exc}") from None
    try:
        return parse(data)
    except InvalidArgument as exc:
        raise InvalidArgument(f"{path}: {exc.message.removeprefix('tariff: ')}") from None

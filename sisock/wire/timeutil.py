"""The sisock time convention.

Every time on the wire is seconds since the UNIX epoch, UTC, as a float.
A time > 0 is absolute; 0 or a negative time is relative to now (``-3600``
is an hour ago). Ranges are ``[start, end)``: start inclusive, end
exclusive. Nothing is ever read in local time.
"""

import math
import re
import time
from datetime import UTC, datetime

#: Seconds per duration unit (``y`` is 365 days).
DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, "y": 365 * 86400.0}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhdwy]?)\s*$")


def sisock_to_unix_time(t, now=None):
    """Convert a sisock time to UNIX seconds (UTC).

    Parameters
    ----------
    t : float
        A sisock time: > 0 is UNIX seconds UTC, <= 0 is relative to now.
    now : float, optional
        The current UNIX time; ``time.time()`` when omitted.

    Returns
    -------
    float
        ``t`` if ``t > 0``, else ``now + t``.

    Raises
    ------
    TypeError
        If ``t`` is not a real number (bools are refused too).
    ValueError
        If ``t`` is NaN or infinite.
    """
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise TypeError(f"time must be a number of seconds, not {type(t).__name__}")
    try:
        finite = math.isfinite(t)
    except OverflowError:  # an int beyond the range of a float
        finite = False
    if not finite:
        raise ValueError(f"time must be finite, not {t!r:.40}")
    if t > 0:
        return float(t)
    return (time.time() if now is None else now) + t


def duration(text):
    """Seconds of a duration: a number with an optional unit (``90``, ``90s``, ``15m``, ``1.5h``, ``30d``,
    ``2w``, ``1y`` = 365 d; `DURATION_UNITS`), or ``inf``.

    Parameters
    ----------
    text : str

    Returns
    -------
    float
        Seconds, >= 0 (``math.inf`` for ``inf``, ``infinity`` or ``forever``).

    Raises
    ------
    ValueError
        If ``text`` is none of these; the message quotes it.
    """
    if str(text).strip().lower() in ("inf", "infinity", "forever"):
        return math.inf
    match = _DURATION.match(str(text).lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 90, 30s, 15m, 1h, 30d, 2w or 1y")
    return float(match.group(1)) * DURATION_UNITS[match.group(2) or "s"]


def iso_to_unix(text):
    """Parse an ISO 8601 time (as Grafana sends in ``range.from``) to UNIX seconds.

    Parameters
    ----------
    text : str
        E.g. ``"2017-07-15T00:00:00.000Z"``; a time without a zone is taken as UTC.

    Returns
    -------
    float
        Seconds since the UNIX epoch, UTC.

    Raises
    ------
    ValueError
        If ``text`` is not an ISO 8601 time.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 time string, not {type(text).__name__}")
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


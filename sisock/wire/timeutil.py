"""The sisock time convention.

Every time on the wire is seconds since the UNIX epoch, UTC, as a float.
A time > 0 is absolute; 0 or a negative time is relative to now (``-3600``
is an hour ago). Ranges are ``[start, end)``: start inclusive, end
exclusive. Nothing is ever read in local time.
"""

import math
import time
from datetime import UTC, datetime


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


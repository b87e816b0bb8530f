"""What the ``sisock`` commands' options take: times, numbers in a range, counts (argparse ``type=`` functions).

Each raises ``argparse.ArgumentTypeError`` with what the option accepts,
which argparse prints as one line naming the option (exit status 2).
"""

import argparse
import datetime as dt
import math
import re
import textwrap
import time

from sisock.wire.timeutil import duration

_AGO_RE = re.compile(r"^-\d+(?:\.\d+)?[smhdw]$")
#: The last UNIX second a time option takes: 9999-12-31T23:59:59Z, the last a date can show.
LAST_TIME = 253402300799.0
#: What a time option accepts, for ``--help`` texts and the error of a time that is not one.
TIMES = ("UNIX seconds (up to 253402300799, the end of year 9999), -SECONDS or -30s/-10m/-2h/-1d/-1w ago "
         "(back to 1970), now, or ISO 8601 (2017-07-15, 2017-07-15T12:00; UTC unless it says otherwise)")
#: `TIMES` for the epilog of a command's ``--help`` (which argparse prints as it is).
TIMES_HELP = textwrap.fill(f"times (--start, --end): {TIMES}", 79, subsequent_indent="  ")
#: The largest integer an option takes: the largest a JSON number holds exactly.
MAX_INTEGER = 2**53


def parse_time(text):
    """A time option as a sisock time (UNIX seconds UTC, or <= 0 relative to now).

    Accepts a number (``1500076800``, ``-3600``), ``now``, a duration ago
    (``-30s``, ``-10m``, ``-2h``, ``-1d``, ``-1w``) or an ISO 8601 date or
    time (``2017-07-15``, ``2017-07-15T12:00``, UTC unless it says
    otherwise). For argparse ``type=``.

    Raises
    ------
    argparse.ArgumentTypeError
        For anything else, NaN and infinities, a time after `LAST_TIME`, and
        one before 1970 (a relative time reaching back that far, or an ISO
        time before the epoch, which the wire would read as relative).
    """
    text = text.strip()
    if text == "now":
        return 0.0
    try:
        value, number = (-duration(text[1:]) if _AGO_RE.match(text) else float(text)), True
    except ValueError:
        value, number = _iso_time(text), False
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a time: give {TIMES}")
    if value > LAST_TIME:
        raise argparse.ArgumentTypeError(f"{text!r} is after the year 9999: give {TIMES}")
    if (number and -value > time.time()) or (not number and value <= 0):  # a number <= 0 is relative
        raise argparse.ArgumentTypeError(f"{text!r} is before 1970: give {TIMES}")
    return value


def number_in(low, high, what):
    """An argparse ``type=`` for a number from ``low`` to ``high`` (inclusive; NaN is none).

    ``what`` names it in the error: ``must be {what} from {low} to {high}``.
    """

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {what} from {low:g} to {high:g}, got {text!r}")
        return value

    return parse


def integer_in(low, high=MAX_INTEGER):
    """An argparse ``type=`` for an integer from ``low`` to ``high`` (inclusive)."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, got {text!r}")
        return value

    return parse


def _iso_time(text):
    """UNIX seconds of ISO 8601 ``text`` (UTC unless it says otherwise); ArgumentTypeError if it is none."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time: give {TIMES}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()

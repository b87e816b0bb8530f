"""How the ``sisock`` sub-commands print: JSON for scripts, rich tables and lines for people, UTC times.

Into a pipe or a file a line is never wrapped (`console`) and a reader that
went away is a ``BrokenPipeError`` the command handles
(`sisock.cli.support.finish_output`); JSON has NaN and inf as null (`plain`).
"""

import datetime as dt
import errno
import json
import math

import numpy as np
from rich.console import Console

from sisock.wire import codec


def plain(value):
    """``value`` with NumPy arrays and scalars as Python lists and numbers, NaN and inf as None."""
    if isinstance(value, np.ndarray):
        return codec.array_to_list(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class _Console(Console):
    """rich's console, raising ``BrokenPipeError`` when the reader of its output went away
    (rich's own raises ``SystemExit``, which would escape the command's error handling)."""

    def on_broken_pipe(self):
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")


def print_json(value):
    """Print ``value`` as one line of JSON (see `plain`)."""
    print(json.dumps(plain(value), allow_nan=False), flush=True)


#: Columns of a console that is not a terminal: as many as a line takes, so no line is wrapped.
UNWRAPPED = 1 << 20


def console(stderr=False):
    """A rich console on stdout (or stderr): plain text, and lines never wrapped, when not a terminal.

    On a terminal, tables and lines fit its width; into a pipe or a file
    each line is whole (rich would wrap at 80 columns), for ``grep`` and scripts.
    """
    out = _Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not out.is_terminal:
        out.width = UNWRAPPED
    return out


def fmt_time(t):
    """``YYYY-MM-DD HH:MM:SS.fffZ`` (UTC) of UNIX time ``t``, or ``-``."""
    if t is None or (isinstance(t, float) and math.isnan(t)):
        return "-"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def fmt_ago(t, now):
    """How long before ``now`` UNIX time ``t`` was, for people: ``3 s ago``, ``2 h ago``, a date."""
    if t is None:
        return "-"
    age = max(0.0, now - t)
    for limit, unit, size in ((120, "s", 1), (7200, "min", 60), (172800, "h", 3600)):
        if age < limit:
            return f"{age / size:.0f} {unit} ago"
    return fmt_time(t)[:10]

"""Logging a node's failures with their reason, and a repeating one without flooding the log.

Twisted's ``log.failure`` keeps the exception in the event, but the
text log that sisock processes write (`sisock.connection.run`) shows only
the format: ``sisock: sampling failed`` and no why. `log_failure` puts
the exception's type and message in the line itself and the traceback
in a second event at debug level; `RepeatedFailure` does so for the first
failure of a task that runs again and again (a sampling loop), then for
at most one a minute, with the number left out::

    sisock: sampling failed: InvalidArgument: temperature: a number field takes numbers ...
    sisock: sampling failed 59 more times in the last 60 s; the last: InvalidArgument: ...
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from twisted.python.failure import Failure

from sisock.wire.errors import SisockError


def reason(failure: Failure) -> str:
    """``"Type: message"`` of a failure (a sisock error's own message, not its URI)."""
    exc = failure.value
    message = exc.message if isinstance(exc, SisockError) else failure.getErrorMessage()
    return f"{failure.type.__name__}: {message}"


def log_failure(failure: Failure, log: Any, what: str) -> None:
    """Log ``"<what> failed: <Type>: <message>"`` at error level and the traceback at debug level.

    An errback: ``d.addErrback(log_failure, self.log, "brewing: recording")``.

    Parameters
    ----------
    failure : twisted.python.failure.Failure
        What went wrong.
    log : txaio or twisted logger
        The node's ``log``.
    what : str
        What failed, e.g. ``"sisock: sampling"``.
    """
    log.error("{what} failed: {reason}", what=what, reason=reason(failure))
    log.debug("{what}: {traceback}", what=what, traceback=failure.getTraceback())


class RepeatedFailure:
    """An errback for a task that runs again and again: logs its failures at most once per ``window``.

    Parameters
    ----------
    log : txaio or twisted logger
        The node's ``log``.
    what : str
        What fails, e.g. ``"sisock: sampling"``.
    window : float
        Seconds: after a logged failure, the next ones within ``window``
        are counted, and the first one after it logs that count and
        itself.
    clock : callable
        Monotonic seconds (for tests).
    """

    def __init__(self, log: Any, what: str, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.log, self.what, self.window, self.clock = log, what, window, clock
        self.logged_at: float | None = None
        self.skipped, self.last = 0, ""

    def __call__(self, failure: Failure) -> None:
        """Log ``failure`` (the first, or the first after ``window``) or count it."""
        now = self.clock()
        since = None if self.logged_at is None else now - self.logged_at
        if since is not None and since < self.window:
            self.skipped, self.last = self.skipped + 1, reason(failure)
            return
        if self.skipped:
            self.log.error("{what} failed {n} more times in the last {since:.0f} s; the last: {reason}",
                           what=self.what, n=self.skipped, since=since, reason=self.last)
        self.logged_at, self.skipped = now, 0
        log_failure(failure, self.log, self.what)

"""What the ``sisock`` sub-commands that talk to a running stack share.

Connection options (from the environment, see `sisock.config`), one
Twisted run per command (`run_command`), the exit statuses scripts can rely
on (`EXIT_STATUS`), ``--json`` versus tables for people, and time parsing.
"""

import datetime as dt
import json
import math
import re
import sys

import numpy as np
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer

from sisock import config
from sisock.client import ConsumerSession
from sisock.connection import start
from sisock.wire import codec
from sisock.wire.errors import InvalidArgument, NoSuchCommand, NoSuchNode, NotAuthorized, SisockError

OK, ERROR, USAGE, NOT_FOUND, NOT_AUTHORIZED, INTERRUPTED = 0, 1, 2, 3, 4, 130

EXIT_STATUS = """\
exit status:
  0    success
  1    error: router not reachable, timeout, no hub running, a node failed or is disabled
  2    usage: bad options, or arguments the hub or the node refused as invalid
  3    not found: no such node or field, nothing matched the filter, no such command
  4    not authorized: no admin secret, a wrong one, or the router refused the call
  130  interrupted by Ctrl-C (sisock tail ends with 0)
"""

#: Why the router may refuse a session at join time.
_REFUSALS = ("wamp.error.not_authorized", "wamp.error.authentication_failed", "wamp.error.authorization_failed",
             "wamp.error.no_such_role", "wamp.error.no_auth_method", "wamp.error.no_such_realm")


def add_arguments(parser, admin=False):
    """Add ``--url``, ``--realm``, ``--timeout``, ``--json`` (and ``--secret-file`` for admin commands)."""
    group = parser.add_argument_group("connection")
    group.add_argument("--url", default=config.env("URL", config.DEFAULT_URL),
                       help="router WebSocket URL (env SISOCK_URL; default %(default)s)")
    group.add_argument("--realm", default=config.env("REALM", config.DEFAULT_REALM),
                       help="WAMP realm (env SISOCK_REALM; default %(default)s)")
    if admin:
        group.add_argument("--secret-file", default=None,
                           help="secrets file with the admin secret (env SISOCK_ADMIN_SECRET wins; "
                                "default $SISOCK_SECRETS_FILE or $SISOCK_HOME/secrets.json)")
    group.add_argument("--timeout", type=float, default=10.0,
                       help="seconds to wait for the router and for each answer (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")
    parser.epilog = f"{parser.epilog or ''}\n{EXIT_STATUS}"


class CliSession(ConsumerSession):
    """A consumer (or admin) session that reports a refused join instead of retrying forever."""

    on_refused = None

    def onLeave(self, details):
        if details.reason in _REFUSALS and self.on_refused is not None:
            self.on_refused(NotAuthorized(f"the router refused to let us join: {details.reason} "
                                          f"{details.message or ''}".strip()))
        super().onLeave(details)


class Failed(Exception):
    """A command's own failure: ``status`` and a one-line message for stderr."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _connect(args, admin, reactor):
    secret = None
    if admin:
        try:
            secret = config.load_secret("admin", args.secret_file)
        except config.SecretsError as exc:
            raise Failed(NOT_AUTHORIZED, f"{exc} (admin commands need the admin secret)") from None
    conn = config.Connection(args.url, args.realm, "admin" if admin else None, secret)
    session = CliSession(ComponentConfig(conn.realm, {"connection": conn}))
    try:
        start(session, reactor)
    except ValueError as exc:
        raise Failed(USAGE, str(exc)) from None
    ready = defer.Deferred()
    session.on_refused = lambda exc: ready.called or ready.errback(exc)
    session.when_joined().addCallback(lambda s: ready.called or ready.callback(s))

    def timed_out(failure):
        failure.trap(defer.CancelledError, defer.TimeoutError)
        raise Failed(ERROR, f"router not reachable at {args.url} within {args.timeout:g} s")

    return session, ready.addTimeout(args.timeout, reactor).addErrback(timed_out)


def status_of(exc):
    """``(exit status, message)`` for an exception raised while running a command."""
    if isinstance(exc, Failed):
        return exc.status, str(exc)
    if isinstance(exc, (NoSuchNode, NoSuchCommand)):
        return NOT_FOUND, exc.message
    if isinstance(exc, InvalidArgument):
        return USAGE, exc.message
    if isinstance(exc, NotAuthorized):
        return NOT_AUTHORIZED, exc.message
    if isinstance(exc, SisockError):
        return ERROR, exc.message
    if isinstance(exc, ApplicationError):
        message = exc.args[0] if exc.args else exc.error
        if exc.error == "wamp.error.not_authorized":
            return NOT_AUTHORIZED, f"not authorized: {message} (does this command need the admin role?)"
        if exc.error == "wamp.error.no_such_procedure":
            return ERROR, f"nobody serves that procedure: {message}"
        return ERROR, f"{exc.error}: {message}"
    if isinstance(exc, (defer.TimeoutError, defer.CancelledError)):
        return ERROR, "no answer in time; try a larger --timeout"
    return ERROR, f"{type(exc).__name__}: {exc}"


def run_command(args, body, admin=False, interrupted=INTERRUPTED):
    """Connect, run ``body(session, args)`` in the reactor, disconnect; the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        With the options of `add_arguments`.
    body : callable
        ``body(session, args) -> Deferred`` of an exit status (None is 0).
    admin : bool
        Join as ``admin`` with the admin secret; else as an anonymous consumer.
    interrupted : int
        Exit status when Ctrl-C stops the command.

    Returns
    -------
    int
        The exit status; a failure is printed as one line on stderr.
    """
    from twisted.internet import reactor

    outcome = {"status": interrupted}

    @defer.inlineCallbacks
    def main():
        session = None
        try:
            session, joined = _connect(args, admin, reactor)
            yield joined
            outcome["status"] = (yield defer.maybeDeferred(body, session, args)) or OK
        except Exception as exc:
            outcome["status"], message = status_of(exc)
            print(f"sisock {args.command}: {message}", file=sys.stderr)
        if session is not None:
            yield session.close()
        if reactor.running:
            reactor.stop()

    reactor.callWhenRunning(main)
    reactor.run()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()
    return outcome["status"]


# -- output -------------------------------------------------------------------

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


def quiet_stdout():
    """Point stdout at /dev/null after a broken pipe, so exiting does not fail again on flush."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def print_json(value):
    """Print ``value`` as one line of JSON (see `plain`)."""
    print(json.dumps(plain(value), allow_nan=False), flush=True)


def console(stderr=False):
    """A rich console on stdout (or stderr), plain text when not a terminal."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


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


_DURATION_RE = re.compile(r"^-(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text):
    """A time option as a sisock time (UNIX seconds UTC, or <= 0 relative to now).

    Accepts a number (``1500076800``, ``-3600``), ``now``, a duration ago
    (``-30s``, ``-10m``, ``-2h``, ``-1d``, ``-1w``) or an ISO 8601 date or
    time (``2017-07-15``, ``2017-07-15T12:00``, UTC unless it says
    otherwise). For argparse ``type=``.
    """
    import argparse

    text = text.strip()
    if text == "now":
        return 0.0
    match = _DURATION_RE.match(text)
    if match:
        return -float(match.group(1)) * _UNITS[match.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: give UNIX seconds, -SECONDS, -10m/-2h/-1d, now, or ISO 8601") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()

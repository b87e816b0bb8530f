"""What the ``sisock`` sub-commands that talk to a running stack share.

Connection options (from the environment, see `sisock.config`), one
Twisted run per command (`run_command`), the exit statuses scripts can rely
on (`EXIT_STATUS`), and the UTC range of ``--start`` and ``--end``
(`absolute_range`; what options take is in `sisock.cli.options`, how
commands print in `sisock.cli.output`).
"""

import os
import signal
import stat
import sys
import time
from urllib.parse import urlparse

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer, error
from twisted.internet.interfaces import IReadDescriptor
from zope.interface import implementer

from sisock import config
from sisock.cli.options import number_in
from sisock.cli.output import fmt_time
from sisock.client import ConsumerSession
from sisock.connection import start
from sisock.wire.errors import InvalidArgument, NoSuchCommand, NoSuchNode, NoSuchUser, NotAuthorized, SisockError
from sisock.wire.timeutil import sisock_to_unix_time

OK, ERROR, USAGE, NOT_FOUND, NOT_AUTHORIZED, INTERRUPTED, PIPE_CLOSED = 0, 1, 2, 3, 4, 130, 141

EXIT_STATUS = """\
exit status:
  0    success
  1    error: router not reachable, timeout, no hub running, a node failed or is disabled
  2    usage: bad options, or arguments the hub or the node refused as invalid
  3    not found: no such node or field, nothing matched the filter, no such command or user
  4    not authorized: no admin secret or user secret, a wrong one, a removed user, or the router refused
       the call
  130  interrupted by Ctrl-C (sisock tail ends with 0)
  141  the reader of the output went away (e.g. | head), as for grep (128 + SIGPIPE)
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
    group.add_argument("--timeout", type=number_in(0.1, 86400, "seconds"), default=10.0,
                       help="seconds to wait for the router to let us in and for each answer (default "
                            "%(default)s); a router that is not there is said at once")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")
    parser.epilog = f"{parser.epilog or ''}\n{EXIT_STATUS}"


class CliSession(ConsumerSession):
    """A consumer (or admin) session that reports a refused join instead of retrying forever, and a
    connection lost after the join (`on_lost`) instead of reconnecting."""

    on_refused = on_lost = None

    def onDisconnect(self):
        if self.on_lost is not None:
            self.on_lost()
        super().onDisconnect()

    def onLeave(self, details):
        if details.reason in _REFUSALS and self.on_refused is not None:
            self.on_refused(NotAuthorized(refusal(self.connection.authid, details)))
        super().onLeave(details)

    def onUpgradeRefused(self, status_line, reason):
        """Report at once what the router answered instead of a WebSocket (a wrong path: 404)."""
        if self.on_refused is None:
            return super().onUpgradeRefused(status_line, reason)
        url = self.connection.url
        code = (status_line or "").split()[1:2]
        if code == ["404"]:
            message = f"the router at {url} answered HTTP 404: no WAMP endpoint at {urlparse(url).path or '/'}"
        elif code:
            message = f"the router at {url} answered HTTP {status_line.split(None, 1)[1]}, not a WebSocket"
        else:
            message = f"the router at {url} refused the WebSocket connection: {reason}"
        self.on_refused(Failed(ERROR, message))


def refusal(authid, details):
    """One line on why the router refused ``authid`` (None: anonymous) at join time (a WAMP ``CloseDetails``)."""
    said = f"{details.reason} {details.message or ''}".strip()
    if not authid:
        return f"the router refused to let us join: {said}"
    if "signature is invalid" in (details.message or ""):
        said = "wrong secret (or one rotated since)"
    return f"user {authid}: the router refused to let us join: {said}"


class Failed(Exception):
    """A command's own failure: ``status`` and a one-line message for stderr."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def require_fields(node, known, wanted):
    """Raise `Failed` (NOT_FOUND) for the first of ``wanted`` (field names) that ``known`` (node ``node``'s
    fields, as ``get_fields`` gives them) lacks, naming those it has."""
    missing = [f for f in wanted if f not in known]
    if missing:
        raise Failed(NOT_FOUND, f"node {node} has no field {missing[0]!r}; it has: "
                                f"{', '.join(sorted(known)) or 'none'}")


def _connect(args, admin, reactor):
    authid = secret = None
    if admin:
        try:
            authid, secret = config.credentials(args.secret_file)
        except config.SecretsError as exc:
            raise Failed(NOT_AUTHORIZED, f"{exc} (admin commands need SISOCK_USER and SISOCK_SECRET, "
                                         "or the admin secret)") from None
    conn = config.Connection(args.url, args.realm, authid, secret)
    session = CliSession(ComponentConfig(conn.realm, {"connection": conn}))
    try:
        start(session, reactor)
    except ValueError as exc:
        raise Failed(USAGE, str(exc)) from None
    ready = defer.Deferred()
    session.on_refused = lambda exc: ready.called or ready.errback(exc)
    session.when_joined().addCallback(lambda s: ready.called or ready.callback(s))
    session.service.whenConnected(failAfterFailures=1).addErrback(  # later: not inside the service's own turn
        lambda failure: reactor.callLater(0, _unreachable, failure, args.url, session.on_refused))

    def timed_out(failure):
        failure.trap(defer.CancelledError, defer.TimeoutError)
        raise Failed(ERROR, f"router not reachable at {args.url} within {args.timeout:g} s")

    return session, ready.addTimeout(args.timeout, reactor).addErrback(timed_out)


def _unreachable(failure, url, refused):
    """The first connection to the router failed (nothing listens there, no such host): say so at once."""
    if failure.check(defer.CancelledError):  # the command ended first
        return
    if failure.check(error.ConnectionRefusedError):
        cause = "connection refused"
    elif failure.check(error.DNSLookupError):
        cause = "no such host"
    else:
        cause = failure.getErrorMessage()
    refused(Failed(ERROR, f"router not reachable at {url}: {cause}"))


def status_of(exc):
    """``(exit status, message)`` for an exception raised while running a command."""
    if isinstance(exc, Failed):
        return exc.status, str(exc)
    if isinstance(exc, (NoSuchNode, NoSuchCommand, NoSuchUser)):
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


@implementer(IReadDescriptor)
class _ReaderWatch:
    """Calls ``gone()`` once the reader of stdout, a pipe, goes away (``| head`` ended, say).

    The writing end of a pipe never becomes readable: registered for
    reading, the reactor reports it (readable or lost, depending on the
    reactor) only once the reading end is closed, the way
    `twisted.internet.process.ProcessWriter` watches a child's pipes.
    Unlike Twisted's own writers it leaves the descriptor blocking, so
    ``print`` keeps working.
    """

    def __init__(self, reactor, fd, gone):
        self.reactor, self.fd, self.gone = reactor, fd, gone

    @classmethod
    def start(cls, reactor, gone):
        """Watch stdout if it is a pipe (a terminal or a file has no reader to lose)."""
        try:
            fd = sys.stdout.fileno()
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                return
        except (OSError, ValueError):  # no real stdout
            return
        reactor.addReader(cls(reactor, fd, gone))

    def fileno(self):
        return self.fd

    def logPrefix(self):
        return "stdout"

    def doRead(self):
        self.connectionLost(None)

    def connectionLost(self, reason):
        self.reactor.removeReader(self)
        self.gone()


class _Run:
    """One command in the reactor: connect, run its body, and end once, whatever ends it first
    (the body, a failure, or the reader of stdout going away)."""

    def __init__(self, reactor, args, status):
        self.reactor, self.args = reactor, args
        self.status, self.session, self.ended = status, None, False
        #: The exit status Ctrl-C gives, and once it was pressed (``interrupted``), the one it gave.
        self.on_interrupt, self.interrupted = status, None
        self.said = False  # why the command ends is said already

    def lost(self):
        """The connection to the router dropped after the join (the router stopped): say so, end with `ERROR`."""
        if not (self.ended or self.said):
            self.said = True
            print(f"sisock {self.args.command}: lost the router at {self.args.url}", file=sys.stderr)
            self.reactor.callLater(0, self.end, ERROR)  # not inside the connection's own ending

    def interrupt(self, signum, frame):
        """SIGINT (Ctrl-C) handler: end with `on_interrupt`, whatever else ends the command next.

        Ctrl-C signals the whole pipeline, so the reader of a pipe (``|
        cat``) goes away with it: that must not turn an interruption into
        `PIPE_CLOSED`. The status is fixed here, at once; the rest of the
        ending is left to the reactor.
        """
        self.interrupted = self.on_interrupt
        self.reactor.callFromThread(self.end, self.on_interrupt)

    @defer.inlineCallbacks
    def main(self, body, admin):
        try:
            self.session, joined = _connect(self.args, admin, self.reactor)
            yield joined
            self.session.on_lost = self.lost
            status = (yield defer.maybeDeferred(body, self.session, self.args)) or OK
        except BrokenPipeError:
            status = PIPE_CLOSED
        except Exception as exc:
            status, message = status_of(exc)
            if not (self.ended or self.said):
                print(f"sisock {self.args.command}: {message}", file=sys.stderr)
        yield self.end(status)

    def crashed(self, failure):
        """A body that raised what is not an ``Exception`` still ends the command."""
        print(f"sisock {self.args.command}: {failure.type.__name__}: {failure.getErrorMessage()}", file=sys.stderr)
        return self.end(ERROR)

    @defer.inlineCallbacks
    def end(self, status):
        """End with exit status ``status`` (the first call wins): goodbye to the router, stop the reactor."""
        if self.ended:
            return
        self.ended, self.status = True, status if self.interrupted is None else self.interrupted
        if self.session is not None:
            yield self.session.close()
        if self.reactor.running:
            self.reactor.stop()


def run_command(args, body, admin=False, interrupted=INTERRUPTED):
    """Connect, run ``body(session, args)`` in the reactor, disconnect; the exit status.

    The command ends at once, quietly, with `PIPE_CLOSED` when the reader of
    stdout goes away: when a write fails with ``BrokenPipeError`` or, for a
    pipe, as soon as its reading end is closed, even while nothing is
    written (``sisock tail`` of a quiet node). Ctrl-C ends it with
    ``interrupted``, even when it ends the reader of a pipe too
    (``sisock tail ... | cat``).

    Parameters
    ----------
    args : argparse.Namespace
        With the options of `add_arguments`.
    body : callable
        ``body(session, args) -> Deferred`` of an exit status (None is 0).
    admin : bool
        Join with credentials (`sisock.config.credentials`: ``SISOCK_USER`` and
        ``SISOCK_SECRET``, else ``admin`` with the admin secret); else as an
        anonymous consumer.
    interrupted : int
        Exit status when Ctrl-C stops the command.

    Returns
    -------
    int
        The exit status; a failure is printed as one line on stderr.
    """
    from twisted.internet import reactor

    run = _Run(reactor, args, interrupted)

    def begin():
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # as a shell starts a script's `command &`
            signal.signal(signal.SIGINT, run.interrupt)  # over the reactor's own, which only stops it
        _ReaderWatch.start(reactor, lambda: run.end(PIPE_CLOSED))
        run.main(body, admin).addErrback(run.crashed)

    reactor.callWhenRunning(begin)
    reactor.run()
    status = finish_output(run.status)
    return status if run.interrupted is None else run.interrupted


def finish_output(status):
    """Flush stdout before exiting; ``status``, or `PIPE_CLOSED` if its reader went away.

    After a broken pipe stdout is pointed at /dev/null, so that Python's
    own flush at exit has nothing left to fail on.
    """
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return PIPE_CLOSED
    return status


def absolute_range(start, end):
    """``(start, end)``, sisock times of ``--start`` and ``--end``, as UNIX seconds UTC with one "now".

    Raises
    ------
    Failed
        `USAGE`, unless ``end`` is after ``start``; the message gives both as UTC times.
    """
    now = time.time()
    start, end = sisock_to_unix_time(start, now), sisock_to_unix_time(end, now)
    if not end > start:
        raise Failed(USAGE, f"--end ({fmt_time(end)}) must be after --start ({fmt_time(start)})")
    return start, end

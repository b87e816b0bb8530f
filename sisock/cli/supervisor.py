"""Supervise one child process: spawn it, see when it is ready, restart it when it dies.

A `Part` names a command and the text its output prints once it is ready;
a `Child` runs it under the Twisted reactor (``spawnProcess``, never a
blocking call), appends its output to a log file, and spawns it again with
exponential backoff after each death until it is told to stop.
"""

import os
import re
import signal
import sys
import time
from dataclasses import dataclass

from twisted.internet import defer, error
from twisted.internet.protocol import ProcessProtocol

#: Restart backoff of a part that died: first delay and longest delay (seconds), doubling.
RESTART_FIRST, RESTART_MAX = 1.0, 30.0
#: A part that ran at least this long (seconds) before dying restarts after `RESTART_FIRST` again.
RESTART_RESET_AFTER = 60.0
#: Seconds between SIGTERM and SIGKILL when stopping a part.
STOP_GRACE = 5.0
#: Bytes at the end of a run's log that `Child.last_error` reads.
LAST_ERROR_BYTES = 65536
#: The line of a Python traceback that names the exception (``ValueError: ...``).
EXCEPTION_LINE = re.compile(r"^(?:[\w.]*(?:Error|Exception|Exit)|Exception)(?::|$)")
#: The time and ``[Worker pid]`` in front of each line of Crossbar's log.
CROSSBAR_PREFIX = re.compile(r"^\d{4}-\d\d-\d\dT\S+ \[[^\]]*\] ?")
#: The start of the notes `Child` writes into the log itself.
NOTE = "---- sisock up"


@dataclass(frozen=True)
class Part:
    """One process of the stack.

    Attributes
    ----------
    name : str
        Short name, used for its log file ``<name>.log``, the ``[name]``
        prefix of echoed output and the status lines.
    argv : tuple of str
        Command line; ``argv[0]`` is an absolute path.
    ready : str
        The part is ready when a line of its output (stdout or stderr)
        contains this text.
    """

    name: str
    argv: tuple
    ready: str


class PartExited(Exception):
    """A part's process ended while something waited for it to be ready."""


def describe_exit(reason):
    """``"exited with status 3"`` or ``"was killed by signal 9 (SIGKILL)"`` from a processEnded reason."""
    value = reason.value
    sig = getattr(value, "signal", None)
    if sig:
        try:
            return f"was killed by signal {sig} ({signal.Signals(sig).name})"
        except ValueError:
            return f"was killed by signal {sig}"
    return f"exited with status {getattr(value, 'exitCode', None)}"


class Child(ProcessProtocol):
    """The process of one `Part`, spawned again after each death.

    Its stdout and stderr are appended to ``<log_dir>/<name>.log`` as they
    arrive and scanned line by line for the part's ready text.

    Parameters
    ----------
    part : Part
    env : dict
        Environment of the process.
    log_dir : str
    reactor : twisted reactor
    echo : callable or None
        Called with ``"[name] line"`` for every output line (``--verbose``).
    on_exit : callable
        Called as ``on_exit(child, pid, status, ran_for)`` after every
        death: the pid that ended, ``status`` from `describe_exit`,
        ``ran_for`` in seconds.
    """

    def __init__(self, part, env, log_dir, reactor, echo=None, on_exit=None):
        self.part, self.env, self.reactor, self.echo, self.on_exit = part, env, reactor, echo, on_exit
        self.name = part.name
        self.log_path = os.path.join(log_dir, f"{part.name}.log")
        self.pid = None
        self.is_ready = self.ever_ready = False
        self.starts = 0
        self.delay = RESTART_FIRST
        self._started = 0.0
        self._run_offset = 0
        self._log = None
        self._partial = {}
        self._ready_waiters, self._end_waiters = [], []

    # -- control -------------------------------------------------------------
    def spawn(self):
        """Start the process; return its pid."""
        self._log = open(self.log_path, "ab")
        self._run_offset = self._log.tell()
        self._log_note(f"starting {' '.join(self.part.argv)}")
        self._partial = {}
        self.is_ready = False
        self.reactor.spawnProcess(self, self.part.argv[0], list(self.part.argv), env=self.env)
        self.pid = self.transport.pid
        self._started = self.reactor.seconds()
        self.starts += 1
        return self.pid

    def when_ready(self):
        """Deferred firing with the pid once ready; fails with `PartExited` if the process ends first."""
        if self.is_ready:
            return defer.succeed(self.pid)
        d = defer.Deferred()
        self._ready_waiters.append(d)
        return d

    def next_delay(self, ran_for):
        """Seconds to wait before the next restart (1 s doubling to 30 s; reset after 60 s of running)."""
        if ran_for >= RESTART_RESET_AFTER:
            self.delay = RESTART_FIRST
        delay, self.delay = self.delay, min(self.delay * 2, RESTART_MAX)
        return delay

    @defer.inlineCallbacks
    def stop(self, grace=STOP_GRACE):
        """SIGTERM the process, SIGKILL it if it is still alive after ``grace`` seconds; fires once it ended."""
        if self.pid is None:
            return
        ended = defer.Deferred()
        self._end_waiters.append(ended)
        self._signal("TERM")
        kill = self.reactor.callLater(grace, self._signal, "KILL")
        ended.addTimeout(grace + STOP_GRACE, self.reactor)
        try:
            yield ended
        except defer.TimeoutError:
            print(f"sisock: {self.name} (pid {self.pid}) did not end even after SIGKILL", file=sys.stderr, flush=True)
        finally:
            if kill.active():
                kill.cancel()

    def _signal(self, name):
        try:
            self.transport.signalProcess(name)
        except (error.ProcessExitedAlready, OSError):
            pass

    # -- ProcessProtocol -----------------------------------------------------
    def connectionMade(self):
        self.transport.closeStdin()

    def childDataReceived(self, fd, data):
        self._log.write(data)
        self._log.flush()
        *lines, self._partial[fd] = (self._partial.get(fd, b"") + data).split(b"\n")
        for line in lines:
            self._line(line)

    def processEnded(self, reason):
        for rest in self._partial.values():
            if rest:
                self._line(rest)
        self._partial = {}
        status, pid = describe_exit(reason), self.pid
        ran_for = self.reactor.seconds() - self._started
        self._log_note(f"pid {pid} {status}")
        self._log.close()
        self.pid, self.is_ready = None, False
        waiters, self._ready_waiters = self._ready_waiters, []
        for d in waiters:
            d.errback(PartExited(f"{self.name} (pid {pid}) {status}"))
        ended, self._end_waiters = self._end_waiters, []
        for d in ended:
            d.callback(status)
        if self.on_exit is not None:
            self.on_exit(self, pid, status, ran_for)

    def _line(self, raw):
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if self.echo is not None:
            self.echo(f"[{self.name}] {line}")
        if not self.is_ready and self.part.ready in line:
            self.is_ready = self.ever_ready = True
            waiters, self._ready_waiters = self._ready_waiters, []
            for d in waiters:
                d.callback(self.pid)

    def _log_note(self, text):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self._log.write(f"{NOTE} {stamp}: {text}\n".encode())
        self._log.flush()

    def last_error(self):
        """Why the latest run of the process failed, as its log says: one line, or None if it printed nothing.

        The last line naming a Python exception (``RuntimeError: ...``), else
        the last line that says error, else the last line it printed; without
        Crossbar's time and worker prefix.
        """
        try:
            with open(self.log_path, "rb") as fp:
                fp.seek(max(self._run_offset, os.path.getsize(self.log_path) - LAST_ERROR_BYTES))
                text = fp.read().decode("utf-8", "replace")
        except OSError:
            return None
        lines = [CROSSBAR_PREFIX.sub("", line).strip() for line in text.splitlines()]
        lines = [line for line in lines if line and not line.startswith(NOTE)]
        for says_why in (EXCEPTION_LINE.match, lambda line: "error" in line.lower(), bool):
            found = [line for line in lines if says_why(line)]
            if found:
                return found[-1]
        return None

    def tail(self, lines=20):
        """The last ``lines`` lines of the log file, for error messages."""
        try:
            with open(self.log_path, "rb") as fp:
                fp.seek(max(0, os.path.getsize(self.log_path) - 16384))
                return fp.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            return []


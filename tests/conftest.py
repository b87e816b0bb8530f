"""Fixtures: a real Crossbar router on a free loopback port, real sisock processes.

Every process writes its output to a log file under the test's temporary
directory; readiness is the ``READY ...`` line a sisock process prints
(`sisock.connection.announce_ready`), waited for with a timeout while the
reactor keeps running. Processes are ended by the PID we started.
"""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError, TransportLost
from twisted.internet import defer, reactor, task

from sisock import client, config
from sisock.router.directory import prepare_cbdir
from sisock.tls import make_certificate

#: The checkout the tests run from.
ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CROSSBAR = os.path.join(os.path.dirname(PYTHON), "crossbar")


#: The APEX weather archive the weather node serves.
APEX_DIR = ROOT / "nodes" / "weather" / "data"


def read_apex(field):
    """An independent plain-Python parse of ``apex_<field>.dat``.

    Returns
    -------
    header : list of str
        The file's first four comment lines: description, timeline, units, first day.
    rows : list of (float, float)
        Every ``(t, value)`` row in file order (t in UNIX seconds UTC); a later
        row for the same t replaces an earlier one, so ``dict(rows)`` is what a node serves.
    """
    header, rows = [], []
    with open(APEX_DIR / f"apex_{field}.dat") as fp:
        for line in fp:
            if line.startswith("#"):
                header.append(line[1:].strip())
            elif line.strip():
                t, v = line.split()
                rows.append((float(t), float(v)))
    return header[:4], rows


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.05):
    """Block until ``predicate()`` is true (plain tests, no reactor needed); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)


def wait_for(predicate, timeout, what, interval=0.05):
    """Deferred firing when ``predicate()`` is true; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout

    @defer.inlineCallbacks
    def poll():
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            yield task.deferLater(reactor, interval, lambda: None)

    return poll()


def pause(seconds):
    """Deferred firing after ``seconds`` with the reactor running (to watch what happens over a while,
    never to wait for something: wait for it with `wait_for`)."""
    return task.deferLater(reactor, seconds, lambda: None)


@defer.inlineCallbacks
def until(call, predicate, what, timeout=15.0, interval=0.1):
    """Deferred of ``call()``'s answer once ``predicate(answer)`` holds; polls, fails after ``timeout`` s.

    A call that fails with a WAMP error, a lost transport or no answer within 5 s (a part restarting)
    is asked again.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = yield defer.maybeDeferred(call).addTimeout(5, reactor)
        except (ApplicationError, TransportLost, defer.TimeoutError):
            answer = None
        if answer is not None and predicate(answer):
            return answer
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}; last answer: {answer!r:.300}")
        yield pause(interval)


class Proc:
    """A child process whose output goes to ``<dir>/<name>.log``."""

    def __init__(self, name, argv, env, directory):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = os.path.join(directory, f"{name}.log")
        self.popen = None

    def start(self):
        log = open(self.log_path, "ab")
        self._offset = os.path.getsize(self.log_path)
        self.popen = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        return self

    @property
    def pid(self):
        return self.popen.pid

    def output(self):
        """Everything this run of the process printed so far."""
        with open(self.log_path, "rb") as fp:
            fp.seek(self._offset)
            return fp.read().decode(errors="replace")

    def count(self, pattern):
        return len(re.findall(pattern, self.output()))

    def wait_output(self, pattern, timeout=30.0, count=1):
        """Deferred: until ``pattern`` has appeared ``count`` times in this run's output."""

        def seen():
            if self.popen.poll() is not None and self.count(pattern) < count:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.output()[-3000:]}")
            return self.count(pattern) >= count

        return wait_for(seen, timeout, f"{pattern!r} x{count} from {self.name}")

    def ready(self, timeout=30.0, count=1):
        """Deferred: until the process has printed ``READY`` ``count`` times."""
        return self.wait_output(r"READY ", timeout, count)

    def signal(self, sig):
        os.kill(self.popen.pid, sig)

    def stop(self, timeout=10.0):
        """End the process: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            self.popen.send_signal(signal.SIGCONT)
            self.popen.terminate()
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class Stack:
    """A router and the sisock processes started against it."""

    def __init__(self, directory, tls=False):
        self.dir = str(directory)
        self.port = free_port()
        self.url = f"{'wss' if tls else 'ws'}://127.0.0.1:{self.port}/ws"
        self.env = dict(os.environ, SISOCK_HOME=os.path.join(self.dir, "home"), SISOCK_URL=self.url,
                        PYTHONUNBUFFERED="1")
        for name in ("HUB_SECRET", "NODE_SECRET", "ADMIN_SECRET", "CA_FILE"):
            self.env.pop(f"SISOCK_{name}", None)
        self.tls = make_certificate(os.path.join(self.dir, "tls")) if tls else None
        if tls:
            self.env["SISOCK_CA_FILE"] = self.tls[1]
        self.cbdir = prepare_cbdir(os.path.join(self.dir, "router"), self.port, tls=self.tls)
        self.router = Proc("router", [CROSSBAR, "start", "--cbdir", self.cbdir], self.env, self.dir)
        self.procs = []

    def start_router(self, timeout=60.0):
        """Start Crossbar; blocks (reactor running) until it has booted."""
        self.router.start()
        pytest_twisted.blockon(self.router.wait_output("NODE_BOOT_COMPLETE", timeout))

    def spawn(self, name, *args, ready=True, timeout=30.0, env=None):
        """Start ``python -m <args>`` (with ``env`` added to the stack's environment) and wait for its READY line."""
        proc = Proc(name, [PYTHON, "-m", *args], dict(self.env, **(env or {})), self.dir).start()
        self.procs.append(proc)
        if ready:
            pytest_twisted.blockon(proc.ready(timeout))
        return proc

    @contextlib.contextmanager
    def running(self, name, *args, **kwargs):
        """`spawn` for a block (a fixture's life): the process is stopped and forgotten at its end."""
        proc = self.spawn(name, *args, **kwargs)
        try:
            yield proc
        finally:
            proc.stop()
            self.procs.remove(proc)

    def spawn_bridge(self, *args, ready=True):
        """Start the Grafana bridge (``*args``: more of its options) on a free loopback port.

        Sets `bridge_port`, `bridge_url` (``http://127.0.0.1:<port>``) and
        `bridge` (its `Proc`, also returned); waits for its READY line if ``ready``.
        """
        self.bridge_port = free_port()
        self.bridge_url = f"http://127.0.0.1:{self.bridge_port}"
        self.bridge = self.spawn("bridge", "grafana_bridge", "--port", str(self.bridge_port), *args, ready=ready)
        return self.bridge

    def secret(self, role, authid=None):
        """The ``role`` secret of this stack (generated by its router), of node ``authid`` if it has its own."""
        return config.load_secret(role, os.path.join(self.env["SISOCK_HOME"], "secrets.json"), authid)

    def connect(self):
        """Deferred of a consumer session to this stack's router."""
        return client.connect(self.url)

    def stop(self):
        for proc in reversed(self.procs):
            proc.stop()
        self.router.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """A router with the hub, the weather and sensors nodes and the bridge, for the session."""
    s = Stack(tmp_path_factory.mktemp("stack"))
    try:
        s.start_router()
        s.hub = s.spawn("hub", "sisock.hub")
        s.weather = s.spawn("weather", "nodes.weather")
        s.sensors = s.spawn("sensors", "nodes.sensors", "--interval", "0.2")
        s.spawn_bridge()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def fleet(stack):
    """Eight lamps ``fleet.lamp0001``-``0008`` (six in zone north, two in south) sampling every second on the
    session stack, with 10 minutes of history from the start; they stay until the stack stops."""
    stack.fleet = stack.spawn("fleet", "nodes.fleet", "--count", "8", "--interval", "1", "--backfill", "600",
                              timeout=60)
    return stack.fleet


#: Bytes of one chunk of the `chunky` node's get_data answers.
CHUNKY_BYTES = 65536


@pytest.fixture(scope="session")
def chunky(stack, tmp_path_factory):
    """`tests.wirenode` named ``chunky`` on the session stack, answering get_data in `CHUNKY_BYTES` chunks
    (a few thousand samples already come in several); it stays until the stack stops."""
    env = dict(stack.env, SISOCK_CHUNK_BYTES=str(CHUNKY_BYTES), PYTHONPATH=str(ROOT))
    proc = Proc("chunky", [PYTHON, "-m", "tests.wirenode", "--name", "chunky"], env,
                str(tmp_path_factory.mktemp("chunky"))).start()
    stack.procs.append(proc)
    pytest_twisted.blockon(proc.ready(60))
    return proc


@pytest.fixture
def fresh_stack(tmp_path):
    """A router of its own for tests that restart or kill the router; hub started."""
    s = Stack(tmp_path)
    try:
        s.start_router()
        s.hub = s.spawn("hub", "sisock.hub")
        yield s
    finally:
        s.stop()


@pytest.fixture
def consumer(stack):
    """An anonymous consumer session on the session stack, closed after the test."""
    session = pytest_twisted.blockon(stack.connect())
    yield session
    pytest_twisted.blockon(session.close())


class Events:
    """Collects events of a topic; `wait` until a predicate over them holds."""

    def __init__(self):
        self.items = []

    def __call__(self, *args, **kwargs):
        self.items.append(args[0] if len(args) == 1 else args)

    def wait(self, predicate, timeout=10.0, what="events"):
        return wait_for(lambda: predicate(self.items), timeout, what)


@pytest.fixture
def events():
    """Factory of `Events` collectors."""
    return Events

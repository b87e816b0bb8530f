"""Start the parts of a sisock stack as child processes (``sisock up``).

The router directory it starts Crossbar in is written by
`sisock.router.directory.prepare_cbdir`.

`Launcher` runs the whole stack under one Twisted reactor: router, hub,
weather, sensors, pixels and brewing nodes, Grafana bridge (see
`stack_parts`), started in that order, each once the one before is
ready. Ready means a line on the child's output:
``NODE_BOOT_COMPLETE`` for Crossbar, ``READY ...`` for a sisock process
(`sisock.connection.announce_ready`). A part that dies later is restarted
with exponential backoff; the others reconnect to a restarted router by
themselves. SIGINT/SIGTERM stops the children in reverse order.
"""

import os
import signal
import socket
import sys

from twisted.internet import defer

from sisock import config
from sisock.cli.links import link_problems, router_dir
from sisock.cli.supervisor import Child, Part, PartExited
from sisock.router.directory import WEB_DIR, prepare_cbdir, socket_path
from sisock.router.links import node_public_key
from sisock.router.python import SCRIPT
from sisock.tls import make_certificate

# -- the stack ---------------------------------------------------------------

#: Seconds a part may take to become ready while the stack starts.
READY_TIMEOUT = 60.0

#: Street lamps of the fleet `sisock up` simulates by default (``--fleet``).
DEFAULT_FLEET = 20

PYTHON = sys.executable
CROSSBAR = os.path.join(os.path.dirname(PYTHON), "crossbar")


def stack_parts(home, bridge_port=8081, weather=True, sensors=True, demo=False, router_only=False,
                fleet=DEFAULT_FLEET):
    """The parts `sisock up` starts, in start order.

    Parameters
    ----------
    home : str
        Absolute ``SISOCK_HOME``; the router directory is ``<home>/router``.
    bridge_port : int
        TCP port of the Grafana bridge.
    weather, sensors : bool
        Include the weather and the sensors node.
    demo : bool
        Include the pixel demos: the status board on ``pixels``, the race on a 64-pixel strip ``race``.
    fleet : int
        Street lamps of the simulated fleet (``fleet.lamp0001`` ...; 0: no fleet).
    router_only : bool
        Only the router (the other arguments but ``home`` are then ignored).

    Returns
    -------
    list of Part
    """
    ready = "READY "  # sisock.connection.announce_ready
    cbdir = router_dir(home)  # the router runs through the script prepare_cbdir writes there (sisock.router.python)
    parts = [Part("router", (os.path.join(cbdir, SCRIPT), "start", "--cbdir", cbdir), "NODE_BOOT_COMPLETE")]
    if router_only:
        return parts
    parts.append(Part("hub", (PYTHON, "-m", "sisock.hub"), ready))
    if weather:
        parts.append(Part("weather", (PYTHON, "-m", "nodes.weather"), ready))
    if sensors:
        parts.append(Part("sensors", (PYTHON, "-m", "nodes.sensors"), ready))
    parts.append(Part("pixels", (PYTHON, "-m", "nodes.pixels"), ready))
    parts.append(Part("brewing", (PYTHON, "-m", "nodes.brewing"), ready))
    if fleet:
        parts.append(Part("fleet", (PYTHON, "-m", "nodes.fleet", "--count", str(fleet)), ready))
    parts.append(Part("bridge", (PYTHON, "-m", "grafana_bridge", "--port", str(bridge_port)), ready))
    if demo:
        race = ("--name", "race", "--strip", "64", "--description",
                "Gravwell-style race (demo): ships on a 64-pixel track")
        parts += [Part("race", (PYTHON, "-m", "nodes.pixels", *race), ready),
                  Part("demo-status", (PYTHON, "-m", "nodes.pixels.demo", "status"), ready),
                  Part("demo-race", (PYTHON, "-m", "nodes.pixels.demo", "gravwell", "--display", "race"), ready)]
    return parts


def port_problem(port, option):
    """None if ``127.0.0.1:port`` can be listened on, else a sentence saying why not."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", int(port)))
        except OSError as exc:
            return f"port {port} ({option}) is not free on 127.0.0.1: {exc.strerror}"
    return None


class Launcher:
    """Runs a whole sisock stack as child processes until SIGINT/SIGTERM.

    Parameters
    ----------
    home : str
        ``SISOCK_HOME`` of the stack (made absolute): secrets, ``router/``,
        ``data/``, ``logs/<part>.log``.
    port : int
        Router port (WebSocket ``/ws``, web client ``/``), on 127.0.0.1.
    rawsocket_port : int, optional
        Router RawSocket port (``rs://``) on 127.0.0.1; None: none. The
        stack's own parts connect through the router's Unix socket in
        ``<home>/router/`` (RawSocket, the fastest); if that path is too
        long for a Unix socket, through this port, else the WebSocket.
    bridge_port : int
        Grafana bridge HTTP port, on 127.0.0.1.
    proxies : int
        Crossbar proxy workers serving the router port (0: the router worker serves it).
    weather, sensors : bool
        Start the weather / sensors node.
    demo : bool
        Start the pixel display's demo clients too.
    fleet : int
        Street lamps of the simulated fleet (0: none).
    verbose : bool
        Echo every child output line on stdout, prefixed ``[part]``.
    ready_timeout : float
        Seconds each part may take to be ready at start-up.
    tls : bool
        Serve ``wss://`` and ``https://`` with the certificate in
        ``<home>/tls/`` (a self-signed one is made there if missing); the
        children trust it through ``SISOCK_CA_FILE``.
    router_only : bool
        Start the router alone (nodes connect to it by themselves).
    link : str, optional
        This is a site router: its realm joins the central router at this
        ``ws://`` or ``wss://`` URL through a Crossbar router link
        (`sisock.router.links`); implies ``router_only`` (the hub runs
        once, there). A ``wss://`` central router is trusted through
        ``SISOCK_CA_FILE`` if set, else the system's CAs.
    link_keys : dict, optional
        This is a central router: ``{site_name: public_key_hex}`` of the
        site routers whose links it accepts (``sisock link-key`` on each site).
    """

    def __init__(self, home, port=8080, bridge_port=8081, weather=True, sensors=True, verbose=False,
                 ready_timeout=READY_TIMEOUT, reactor=None, tls=False, rawsocket_port=None, proxies=0, demo=False,
                 router_only=False, link=None, link_keys=None, fleet=DEFAULT_FLEET):
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.home = os.path.abspath(home)
        self.log_dir = os.path.join(self.home, "logs")
        self.port, self.bridge_port = int(port), int(bridge_port)
        tls_dir = os.path.join(self.home, "tls")
        self.tls = (os.path.join(tls_dir, "key.pem"), os.path.join(tls_dir, "cert.pem")) if tls else None
        self.url = f"{'wss' if tls else 'ws'}://127.0.0.1:{self.port}/ws"
        self.rawsocket_port = None if rawsocket_port is None else int(rawsocket_port)
        self.proxies = int(proxies)
        self.router_dir = router_dir(self.home)
        self.socket = socket_path(self.router_dir)
        self.local_url = (f"unix://{self.socket}" if self.socket else self.url if self.rawsocket_port is None
                          else f"{'rss' if tls else 'rs'}://127.0.0.1:{self.rawsocket_port}")
        self.link, self.link_keys = link, dict(link_keys or {})
        self.router_only = bool(router_only or link)
        self.parts = stack_parts(self.home, self.bridge_port, weather, sensors, demo, self.router_only, fleet)
        self.verbose, self.ready_timeout = verbose, ready_timeout
        self.children = []
        self.exit_code = 0
        self.stopping = False
        self._stop_asked = False
        self._restarts = {}

    # -- output --------------------------------------------------------------
    @staticmethod
    def say(text):
        """Print one ``sisock: <text>`` line on stdout."""
        print(f"sisock: {text}", flush=True)

    def status(self, child, note=""):
        """Print the status line ``<part>  running  pid <pid><note>`` (what tests and people read).

        The part names are padded to the longest one's length, so the lines of the stack line up.
        """
        width = max(len(part.name) for part in self.parts)
        print(f"{child.name:<{width}}  running  pid {child.pid}{note}", flush=True)

    # -- running -------------------------------------------------------------
    def problems(self):
        """Reasons the stack cannot start (missing crossbar, ports taken), as sentences."""
        found = []
        if not os.access(CROSSBAR, os.X_OK):
            found.append(f"no crossbar script at {CROSSBAR}; install sisock with its dependencies")
        if self.proxies < 0:
            found.append(f"--proxies must be 0 or more, got {self.proxies}")
        found += link_problems(self.link, self.link_keys, self.proxies)
        ports = {"--port": self.port, "--rawsocket-port": self.rawsocket_port,
                 "--bridge-port": None if self.router_only else self.bridge_port}
        ports = {option: port for option, port in ports.items() if port is not None}
        if len(set(ports.values())) < len(ports):
            found.append(f"--port, --rawsocket-port and --bridge-port must differ: {ports}")
        for option, port in ports.items():
            problem = port_problem(port, option)
            if problem:
                found.append(problem)
        return found

    def run(self):
        """Start the stack and run the reactor until SIGINT/SIGTERM.

        Takes over the process: sets ``SISOCK_HOME`` in ``os.environ``.

        Returns
        -------
        int
            Exit status: 0 after a stop by signal, 1 if the stack could not start.
        """
        problems = self.problems()
        if problems:
            for problem in problems:
                print(f"sisock: error: {problem}", file=sys.stderr, flush=True)
            return 1
        os.makedirs(self.log_dir, exist_ok=True)
        os.environ["SISOCK_HOME"] = self.home
        if config.ensure_secrets():
            self.say(f"generated new secrets in {config.secrets_file()} (mode 0600)")
        config.ensure_http_publisher_secret()
        if self.tls and not all(os.path.exists(p) for p in self.tls):
            self.tls = make_certificate(os.path.dirname(self.tls[0]))
            self.say(f"generated a self-signed certificate {self.tls[1]} (key mode 0600)")
        prepare_cbdir(self.router_dir, self.port, tls=self.tls, rawsocket_port=self.rawsocket_port,
                      proxies=self.proxies, link=self.link, link_keys=self.link_keys,
                      link_ca=config.env("CA_FILE"))
        if not (WEB_DIR / "vendor" / "autobahn.min.js").is_file():
            self.say(f"warning: the web client's libraries are missing from {WEB_DIR / 'vendor'}: run "
                     "`npm ci && node web/build.mjs` in the checkout (then install it again)")
        self.reactor.callWhenRunning(self._own_signals)
        self.reactor.callWhenRunning(self._start_all)
        self.reactor.addSystemEventTrigger("before", "shutdown", self.stop)
        self.reactor.run()
        return self.exit_code

    def _own_signals(self):
        """Take SIGINT and SIGTERM over from the reactor's handlers, which stop the reactor at every
        signal: a second Ctrl-C while the parts stop would be a traceback (the reactor stopped already)."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.reactor.callFromThread(self._signalled))

    def _signalled(self):
        if self._stop_asked or self.stopping:
            self.say("still stopping the stack (each part has 5 s before SIGKILL)")
            return
        self._stop_asked = True
        self.reactor.stop()

    def env(self):
        """Environment of every child: its router URL is `local_url`."""
        env = dict(os.environ, SISOCK_URL=self.local_url, SISOCK_HOME=self.home, PYTHONUNBUFFERED="1")
        if self.tls:
            env["SISOCK_CA_FILE"] = self.tls[1]
        return env

    def _start_all(self):
        d = self._start_parts()
        d.addErrback(lambda f: self.fail(f"unexpected error while starting: {f.getTraceback()}"))

    @defer.inlineCallbacks
    def _start_parts(self):
        self.say(f"starting the stack in {self.home} (logs in {self.log_dir})")
        env, echo = self.env(), (self._echo if self.verbose else None)
        for part in self.parts:
            if self.stopping:
                return
            child = Child(part, env, self.log_dir, self.reactor, echo, self._exited)
            self.children.append(child)
            child.spawn()
            self.say(f"started {part.name} (pid {child.pid}), waiting until it is ready")
            try:
                yield child.when_ready().addTimeout(self.ready_timeout, self.reactor)
            except defer.TimeoutError:
                return self.fail(f"{part.name} was not ready within {self.ready_timeout:g} s", child)
            except PartExited as exc:
                return self.fail(f"{exc} before it was ready", child)
        if self.stopping:
            return
        self.say(f"router WebSocket  {self.url}")
        if self.rawsocket_port is not None:
            self.say(f"router RawSocket  {'rss' if self.tls else 'rs'}://127.0.0.1:{self.rawsocket_port}")
        if self.socket:
            self.say(f"router socket     unix://{self.socket} (the stack's own parts)")
        self.say(f"web client        {'https' if self.tls else 'http'}://127.0.0.1:{self.port}/")
        if self.router_only:
            self.say_router_only()
        else:
            self.say(f"Grafana bridge    http://127.0.0.1:{self.bridge_port}/")
        if self.link_keys:
            self.say(f"accepting router links from {', '.join(sorted(self.link_keys))}")
        for child in self.children:
            self.status(child)
        self.say("stack ready")

    def say_router_only(self):
        """Say how this router's nodes connect, and for a site router where it links to, with which key."""
        self.say(f"nodes connect with SISOCK_URL={self.local_url} SISOCK_HOME={self.home}")
        if self.link:
            self.say(f"linked to         {self.link} (the central router; the hub runs there)")
            self.say(f"link key          {node_public_key(self.router_dir)} "
                     "(the central router accepts it: sisock up --accept-link NAME=KEY)")

    def fail(self, message, child=None):
        """Report that the stack cannot start (with why, from ``child``'s log), stop everything, exit with status 1."""
        if self.stopping:
            return
        why = child.last_error() if child is not None else None
        print(f"sisock: error: {message}{f': {why}' if why else ''}", file=sys.stderr, flush=True)
        if child is not None:
            print(f"sisock: last lines of {child.log_path}:", file=sys.stderr)
            for line in child.tail():
                print(f"    {line}", file=sys.stderr)
            sys.stderr.flush()
        self.exit_code = 1
        if self.reactor.running:
            self.reactor.stop()

    def _echo(self, line):
        print(line, flush=True)

    def _exited(self, child, pid, status, ran_for):
        if self.stopping or not child.ever_ready:
            return  # stopping, or dead before its first READY: _start_parts reports it
        delay = child.next_delay(ran_for)
        why = child.last_error() if status.startswith("exited") else None  # not for a signal from outside
        self.say(f"{child.name} (pid {pid}) {status}{f' ({why})' if why else ''}; restarting it in {delay:g} s")
        self._restarts[child.name] = self.reactor.callLater(delay, self._restart, child)

    def _restart(self, child):
        self._restarts.pop(child.name, None)
        if self.stopping:
            return
        child.spawn()
        self.say(f"restarted {child.name} (pid {child.pid})")
        note = f"  (restart {child.starts - 1})"
        child.when_ready().addCallbacks(lambda _: self.status(child, note), lambda _: None)

    @defer.inlineCallbacks
    def stop(self):
        """Stop every child in reverse start order (SIGTERM, SIGKILL after 5 s)."""
        if self.stopping:
            return
        self.stopping = True
        for call in self._restarts.values():
            call.cancel()
        self._restarts.clear()
        if any(c.pid for c in self.children):
            self.say("stopping the stack")
        for child in reversed(self.children):
            try:
                yield child.stop()
            except Exception as exc:  # keep stopping the others
                print(f"sisock: could not stop {child.name}: {exc}", file=sys.stderr, flush=True)
        self.say("stack stopped")

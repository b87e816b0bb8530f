"""A throwaway stack for the benchmark: a Crossbar router on a free loopback port and child processes.

Everything lives in a temporary ``SISOCK_HOME`` (router directory made by
`sisock.router.directory.prepare_cbdir`, generated secrets, logs) and is stopped by
the PIDs started here; the directory is removed after a run that went
well and kept (with every process's log) after one that failed.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from sisock.cli.launcher import CROSSBAR
from sisock.config import ensure_secrets
from sisock.router.directory import CONFIG_FILE, PROJECT_DIR, prepare_cbdir

_STARTED = time.monotonic()


def log(text):
    """Print ``text`` on stderr after the seconds since the benchmark started."""
    print(f"{time.monotonic() - _STARTED:6.1f} s  {text}", file=sys.stderr, flush=True)


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """Router plus the processes spawned against it.

    Parameters
    ----------
    chunk_bytes : int
        ``SISOCK_CHUNK_BYTES`` of every process.
    """

    def __init__(self, chunk_bytes):
        self.dir = tempfile.mkdtemp(prefix="sisock-bench-")
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.env = dict(os.environ, SISOCK_HOME=os.path.join(self.dir, "home"), SISOCK_URL=self.url,
                        SISOCK_CHUNK_BYTES=str(chunk_bytes), PYTHONUNBUFFERED="1")
        for role in ("HUB", "NODE", "ADMIN"):
            self.env.pop(f"SISOCK_{role}_SECRET", None)
        ensure_secrets(os.path.join(self.dir, "home", "secrets.json"))
        self.procs = {}

    def spawn(self, name, argv, ready="READY ", timeout=120.0):
        """Start ``argv`` with output to ``<dir>/<name>.log``; wait until it prints ``ready``."""
        path = os.path.join(self.dir, f"{name}.log")
        with open(path, "wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=PROJECT_DIR)
        self.procs[name] = proc
        deadline = time.monotonic() + timeout
        while True:
            with open(path, "rb") as fp:
                if ready.encode() in fp.read():
                    return proc
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(path, "rb") as fp:
                    tail = fp.read()[-2000:].decode(errors="replace")
                raise RuntimeError(f"{name} did not become ready (see {path}):\n{tail}")
            time.sleep(0.1)

    def start_router(self):
        cbdir = prepare_cbdir(os.path.join(self.dir, "router"), self.port)
        return self.spawn("router", [CROSSBAR, "start", "--cbdir", cbdir], ready="NODE_BOOT_COMPLETE")

    def start_bare_router(self):
        """Start the baseline: a bare Crossbar router on `bare_url`, see `bare_router_config`."""
        self.bare_port = free_port()
        self.bare_url = f"ws://127.0.0.1:{self.bare_port}/ws"
        cbdir = os.path.join(self.dir, "bare_router")
        os.makedirs(cbdir)
        with open(os.path.join(cbdir, "config.json"), "w") as fp:
            json.dump(bare_router_config(self.bare_port), fp, indent=2)
        return self.spawn("bare_router", [CROSSBAR, "start", "--cbdir", cbdir], ready="NODE_BOOT_COMPLETE")

    def python(self, name, module, *args, **kwargs):
        """Start ``python -m module *args`` (a sisock process) and wait for its READY line."""
        return self.spawn(name, [sys.executable, "-m", module, *map(str, args)], **kwargs)

    def stop(self):
        """SIGTERM every process in reverse start order, SIGKILL what is left after 10 s."""
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def remove(self):
        """Delete the temporary directory (after `stop`)."""
        shutil.rmtree(self.dir, ignore_errors=True)


def bare_router_config(port):
    """Crossbar config of the baseline router: realm ``sisock``, anonymous sessions, static permissions.

    One role (``anonymous``) may do anything, decided by Crossbar's static
    permissions and cached; no authenticator, no authorizer, no sisock
    component. Its WebSocket transport has the options of the sisock
    router's (serializers, message size, pings), on ``127.0.0.1:port``.
    """
    sisock_ws = json.loads(CONFIG_FILE.read_text())["workers"][0]["transports"][0]["paths"]["ws"]
    everything = {"uri": "", "match": "prefix", "allow": {"call": True, "register": True, "publish": True,
                                                            "subscribe": True},
                  "disclose": {"caller": True, "publisher": True}, "cache": True}
    websocket = dict(sisock_ws, auth={"anonymous": {"type": "static", "role": "anonymous"}})
    return {"version": 2, "controller": {}, "workers": [{
        "type": "router",
        "realms": [{"name": "sisock", "roles": [{"name": "anonymous", "permissions": [everything]}]}],
        "transports": [{"type": "websocket", "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": port},
                        "serializers": websocket["serializers"], "options": websocket["options"],
                        "auth": websocket["auth"]}],
    }]}


def run_and_report(stack, measure, table, args):
    """Run a benchmark on ``stack`` and print what it found; the shared end of every ``bench`` script.

    Parameters
    ----------
    stack : Stack
        Stopped (by the PIDs it started) in every case; its directory is
        removed after a run that went well and kept, with every process's
        log, after one that failed.
    measure : callable
        ``measure()`` runs the benchmark and returns its results: a dict
        with ``"targets"``, a list of ``(name, measured, met)``.
    table : callable
        ``table(results, args)``: the text printed without ``--json``.
    args : argparse.Namespace
        ``args.json``: print the results as JSON instead.

    Returns
    -------
    int
        The process's exit status: 0, or 1 if the results have measurements
        that failed (``results["failed"]``, ``{measurement: why}``), whose
        logs are then kept.
    """
    try:
        results = measure()
    except BaseException:
        stack.stop()
        print(f"benchmark failed; logs of every process in {stack.dir}", file=sys.stderr, flush=True)
        raise
    stack.stop()
    failed = results.get("failed")
    if failed:
        print(f"{len(failed)} measurement(s) failed; logs of every process in {stack.dir}", file=sys.stderr,
              flush=True)
    else:
        stack.remove()
    if args.json:
        results["targets"] = [{"target": n, "measured": v, "met": ok} for n, v, ok in results["targets"]]
        print(json.dumps(results, indent=2, default=str))
    else:
        print(table(results, args))
    return 1 if failed else 0

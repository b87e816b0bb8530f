"""`sisock up` and the `sisock` command: the whole stack as real processes on loopback.

Plain (non-Twisted) tests: `sisock up` runs as a child process with its
output in a file, and each test waits for the line it is about, with a
deadline.
"""

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time

import psutil
import pytest
import requests

from tests.conftest import free_port

SISOCK = os.path.join(os.path.dirname(sys.executable), "sisock")
PARTS = ("router", "hub", "weather", "sensors", "brewing", "pixels", "fleet", "bridge")


def clean_env(**extra):
    """The test environment without any SISOCK_* setting of the developer's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SISOCK_")}
    env.update(extra)
    return env


def two_free_ports():
    port = free_port()
    while (bridge := free_port()) == port:
        pass
    return port, bridge


def gone(pid):
    """True if ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Up:
    """A `sisock up` process whose stdout and stderr go to ``<dir>/up.out``.

    It runs with ``--home <dir>/home``, or, given ``cwd``, in that directory
    with its default home ``<cwd>/.sisock``. ``sisock`` is the command.
    """

    def __init__(self, directory, *args, env=None, sisock=SISOCK, cwd=None):
        self.port, self.bridge_port = two_free_ports()
        self.out_path = os.path.join(directory, "up.out")
        argv = [sisock, "up", "--port", str(self.port), "--bridge-port", str(self.bridge_port), *args]
        if cwd is None:
            self.home = os.path.join(directory, "home")
            argv += ["--home", self.home]
        else:
            self.home = os.path.join(cwd, ".sisock")
        with open(self.out_path, "wb") as out:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env or clean_env(),
                                          cwd=cwd)

    def output(self):
        with open(self.out_path, "rb") as fp:
            return fp.read().decode(errors="replace")

    def wait_line(self, pattern, timeout=30.0):
        """The first match of ``pattern`` (a whole-line regex) in the output, waiting up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern, re.M)
        while True:
            match = regex.search(self.output())
            if match:
                return match
            if self.popen.poll() is not None:
                pytest.fail(f"sisock up exited with {self.popen.returncode} before printing {pattern!r}:\n"
                            f"{self.output()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no line {pattern!r} from sisock up within {timeout} s:\n{self.output()[-4000:]}")
            time.sleep(0.1)

    def pid_of(self, part):
        """Pid of ``part`` from its latest status line (``weather  running  pid 1234``)."""
        pids = re.findall(rf"^{part}\s+running\s+pid (\d+)", self.output(), re.M)
        assert pids, f"no status line for {part}:\n{self.output()}"
        return int(pids[-1])

    def stop(self):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def sigterm_and_check_every_process_is_gone(up, again=None):
    """SIGTERM a ready `Up` (and, given ``again``, send that signal once it is stopping, as an impatient
    user's second Ctrl-C): it exits 0 without a traceback once every part it started (and their
    children) has ended."""
    printed = [int(p) for p in re.findall(r"\bpid (\d+)", up.output())]
    descendants = [p.pid for p in psutil.Process(up.popen.pid).children(recursive=True)]
    assert {up.pid_of(part) for part in PARTS} <= set(descendants)
    up.popen.send_signal(signal.SIGTERM)
    if again is not None:
        up.wait_line(r"^sisock: stopping the stack$")
        up.popen.send_signal(again)
    assert up.popen.wait(20) == 0
    assert re.search(r"^sisock: stack stopped$", up.output(), re.M)
    assert "Traceback" not in up.output()
    deadline = time.monotonic() + 10  # crossbar's orphaned worker notices its controller is gone
    while not all(gone(pid) for pid in printed + descendants):
        assert time.monotonic() < deadline, [p for p in printed + descendants if not gone(p)]
        time.sleep(0.1)


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    """One `sisock up --demo` stack for the tests below, which run in order (the last one stops it)."""
    launched = Up(str(tmp_path_factory.mktemp("up")), "--demo")
    try:
        launched.wait_line(r"^sisock: stack ready$", timeout=90)
        yield launched
    finally:
        launched.stop()


def test_up_starts_every_part_and_says_where_to_connect(up):
    out = up.output()
    assert f"ws://127.0.0.1:{up.port}/ws" in out
    assert f"http://127.0.0.1:{up.port}/" in out
    assert f"http://127.0.0.1:{up.bridge_port}/" in out
    for part in PARTS:
        assert psutil.pid_exists(up.pid_of(part)), part
        assert os.path.getsize(os.path.join(up.home, "logs", f"{part}.log")) > 0
    secrets = os.path.join(up.home, "secrets.json")
    assert f"generated new secrets in {secrets}" in out
    assert stat.S_IMODE(os.stat(secrets).st_mode) == 0o600
    for value in leaves(json.load(open(secrets))):
        assert value not in out


def test_the_status_lines_line_up_whatever_the_length_of_the_part_names(up):
    found = re.findall(r"^(\S+ +)running  pid \d+$", up.output(), re.M)
    assert {"demo-status", "demo-race"} <= {name.strip() for name in found}, up.output()
    assert len({len(name) for name in found}) == 1, found


def leaves(value):
    """Every string in a JSON value (the secrets file nests per-node and HTTP publisher secrets)."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in leaves(v)]
    return [value] if isinstance(value, str) else []


def test_bridge_and_web_client_answer_once_the_stack_is_ready(up):
    bridge = f"http://127.0.0.1:{up.bridge_port}"
    assert requests.get(f"{bridge}/", timeout=10).status_code == 200
    reply = requests.post(f"{bridge}/search", json={"target": ""}, timeout=10)
    assert reply.status_code == 200
    targets = reply.json()
    assert "weather::temperature" in targets
    assert any(t.startswith("sensors::") for t in targets), targets
    page = requests.get(f"http://127.0.0.1:{up.port}/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_a_killed_node_is_restarted_and_serves_again(up):
    old = up.pid_of("weather")
    os.kill(old, signal.SIGKILL)
    up.wait_line(rf"^sisock: weather \(pid {old}\) was killed by signal 9 \(SIGKILL\); restarting it in 1 s$")
    new = int(up.wait_line(r"^weather\s+running\s+pid (\d+)\s+\(restart 1\)$", timeout=60).group(1))
    assert new != old and psutil.pid_exists(new)
    # The restarted node adds itself to the hub again, so the bridge lists it.
    deadline = time.monotonic() + 30
    while "weather::temperature" not in requests.post(
            f"http://127.0.0.1:{up.bridge_port}/search", json={"target": ""}, timeout=10).json():
        assert time.monotonic() < deadline, "weather::temperature not listed again after the restart"
        time.sleep(0.2)


def test_sigterm_and_a_second_ctrl_c_stop_the_stack_and_leave_no_process_behind(up):
    sigterm_and_check_every_process_is_gone(up, again=signal.SIGINT)


def failed_up(directory, *args, env=None):
    """The output of a `sisock up` with ``args`` that must exit with status 1."""
    failing = Up(str(directory), *args, env=env)
    try:
        assert failing.popen.wait(90) == 1
    finally:
        failing.stop()
    return failing.output()


def test_up_reports_a_part_that_cannot_start_and_stops_the_others(tmp_path):
    # An invalid log level makes the hub exit at once (txaio refuses it).
    out = failed_up(tmp_path, "--no-weather", "--no-sensors", env=clean_env(SISOCK_LOG_LEVEL="nonsense"))
    assert re.search(r"^sisock: error: hub \(pid \d+\) exited with status \d+ before it was ready: "
                     r"RuntimeError: Invalid log level 'nonsense'.*$", out, re.M), out  # the last error of hub.log
    router = int(re.search(r"started router \(pid (\d+)\)", out).group(1))
    assert gone(router)
    assert "stack ready" not in out


def test_up_says_why_the_router_could_not_start(tmp_path):
    router_dir = tmp_path / "home" / "router"
    router_dir.mkdir(parents=True)
    (router_dir / "key.priv").write_text("not a key\n")  # Crossbar refuses a damaged node key
    out = failed_up(tmp_path, "--router-only")
    assert re.search(r"^sisock: error: router \(pid \d+\) exited with status 1 before it was ready: "
                     rf"Exception: Corrupt node private key file {router_dir / 'key.priv'}\b.*$", out, re.M), out


def test_up_refuses_a_port_that_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([SISOCK, "up", "--port", str(port), "--bridge-port", str(free_port()),
                                 "--home", str(tmp_path)], capture_output=True, text=True, timeout=60,
                                env=clean_env())
    assert result.returncode == 1
    assert f"port {port} (--port) is not free" in result.stderr


def test_help_lists_every_command_and_option():
    top = subprocess.run([SISOCK, "--help"], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0
    for command in ("up", "hub", "secrets", "link-key"):
        assert re.search(rf"^\s+{command}\s+\S", top.stdout, re.M), command
    sub = subprocess.run([SISOCK, "up", "--help"], capture_output=True, text=True, timeout=60)
    assert sub.returncode == 0
    for option in ("--port", "--bridge-port", "--home", "--no-sensors", "--no-weather", "--verbose",
                   "--router-only", "--link-to", "--accept-link"):
        assert option in sub.stdout
    said = " ".join(sub.stdout.split("\n\n")[1].split())  # the description (after the usage), on one line
    for part in PARTS:
        assert re.search(rf"\b{part}\b", said), f"sisock up --help does not say it starts {part}: {said}"
    assert "examples:" in sub.stdout
    hub = subprocess.run([SISOCK, "hub", "--help"], capture_output=True, text=True, timeout=60)
    assert hub.returncode == 0 and "--url" in hub.stdout
    version = subprocess.run([SISOCK, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("sisock ")


def test_secrets_creates_a_private_file_once_and_never_prints_it(tmp_path):
    env = clean_env(SISOCK_HOME=str(tmp_path))
    path = tmp_path / "secrets.json"
    first = subprocess.run([SISOCK, "secrets"], capture_output=True, text=True, timeout=60, env=env)
    assert first.returncode == 0 and "created" in first.stdout and str(path) in first.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = json.loads(path.read_text())
    assert set(values) == {"hub", "node", "admin"}
    second = subprocess.run([SISOCK, "secrets"], capture_output=True, text=True, timeout=60, env=env)
    assert second.returncode == 0 and "exists" in second.stdout
    assert json.loads(path.read_text()) == values
    shown = subprocess.run([SISOCK, "secrets", "--show-path"], capture_output=True, text=True, timeout=60, env=env)
    assert shown.stdout.strip() == str(path)
    for value in values.values():
        assert value not in first.stdout + second.stdout + shown.stdout


def test_secrets_node_gives_a_node_its_own_secret_without_printing_it(tmp_path):
    env = clean_env(SISOCK_HOME=str(tmp_path))
    made = subprocess.run([SISOCK, "secrets", "--node", "weather"], capture_output=True, text=True, timeout=60, env=env)
    assert made.returncode == 0 and "weather" in made.stdout
    values = json.loads((tmp_path / "secrets.json").read_text())
    assert set(values["nodes"]) == {"weather"} and values["nodes"]["weather"] != values["node"]
    assert values["nodes"]["weather"] not in made.stdout
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600
    bad = subprocess.run([SISOCK, "secrets", "--node", "bad name"], capture_output=True, text=True, timeout=60,
                         env=env)
    assert bad.returncode == 2 and "--node" in bad.stderr and "Traceback" not in bad.stderr


def test_cert_writes_a_private_key_and_a_certificate_for_the_hosts(tmp_path):
    from cryptography import x509

    run = subprocess.run([SISOCK, "cert", "--dir", str(tmp_path), "--host", "daq.example", "--host", "10.1.2.3"],
                         capture_output=True, text=True, timeout=60, env=clean_env())
    assert run.returncode == 0, run.stderr
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["daq.example"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]


def test_up_with_tls_serves_wss_and_https_with_a_certificate_it_makes(tmp_path):
    launched = Up(str(tmp_path), "--tls", "--no-sensors")
    try:
        launched.wait_line(r"^sisock: stack ready$", timeout=90)
        cert = os.path.join(launched.home, "tls", "cert.pem")
        assert f"wss://127.0.0.1:{launched.port}/ws" in launched.output()
        assert requests.get(f"https://127.0.0.1:{launched.port}/", verify=cert, timeout=10).status_code == 200
        found = requests.post(f"http://127.0.0.1:{launched.bridge_port}/search", json={}, timeout=10).json()
        assert "weather::temperature" in found  # the bridge reached the nodes over wss://
    finally:
        launched.stop()

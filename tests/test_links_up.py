"""Two routers from the command line, as an operator joins a site to the central router.

The central stack is ``sisock up --accept-link site=KEY`` (hub, bridge, the
weather, brewing and pixel nodes; no sensors); the site is ``sisock up --link-to URL`` (its
router alone), where KEY is ``sisock link-key`` of the site's home and the
test starts the site's sensors node against the site router, as its
operator would. Grafana-style queries go to the central bridge, and a
headless Chromium opens the web client on either router. Plain tests
(processes and HTTP), in order: the last ones kill the site router.
"""

import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from tests.conftest import wait_until
from tests.test_launcher import SISOCK, Up, clean_env, gone
from tests.test_web import Scenario, browser  # noqa: F401 (browser: the fixture)

HEARTBEAT_TIMEOUT = 5.0  # the hub's default (sisock.hub.liveness.HEARTBEAT_TIMEOUT)


def link_key(home):
    return subprocess.run([SISOCK, "link-key", "--home", home], check=True, capture_output=True, text=True,
                          env=clean_env()).stdout.strip()


class Sites:
    """The central stack, the site router and the site's sensors node."""

    def __init__(self, directory):
        site_dir, central_dir = (os.path.join(directory, name) for name in ("site", "central"))
        os.makedirs(site_dir)
        os.makedirs(central_dir)
        self.key = link_key(os.path.join(site_dir, "home"))
        self.central = Up(central_dir, "--no-sensors", "--accept-link", f"site={self.key}")
        self.site = self.sensors = None
        self.site_dir = site_dir

    def start(self):
        self.central.wait_line(r"^sisock: stack ready$", timeout=90)
        self.site = Up(self.site_dir, "--link-to", f"ws://127.0.0.1:{self.central.port}/ws")
        self.site.wait_line(r"^sisock: stack ready$", timeout=60)
        url = self.site.wait_line(r"^sisock: nodes connect with SISOCK_URL=(\S+) SISOCK_HOME=(\S+)$").groups()
        self.sensors_log = os.path.join(self.site_dir, "sensors.out")
        with open(self.sensors_log, "wb") as out:
            self.sensors = subprocess.Popen([sys.executable, "-m", "nodes.sensors", "--interval", "0.5"],
                                            stdout=out, stderr=subprocess.STDOUT,
                                            env=clean_env(SISOCK_URL=url[0], SISOCK_HOME=url[1]))

    def stop(self):
        if self.sensors is not None and self.sensors.poll() is None:
            self.sensors.terminate()
            self.sensors.wait(20)
        for up in (self.site, self.central):
            if up is not None:
                up.stop()


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    started = Sites(str(tmp_path_factory.mktemp("sites")))
    try:
        started.start()
        yield started
    finally:
        started.stop()


def search(up):
    """The central bridge's Grafana ``/search`` answer: every ``node::field`` target."""
    reply = requests.post(f"http://127.0.0.1:{up.bridge_port}/search", json={"target": ""}, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def sensors_listed(up):
    return "sensors::cpu_percent" in search(up)


def test_the_site_runs_its_router_alone_linked_with_its_key(sites):
    out = sites.site.output()
    assert re.search(rf"^sisock: linked to\s+ws://127\.0\.0\.1:{sites.central.port}/ws ", out, re.M)
    assert re.search(rf"^sisock: link key\s+{sites.key} ", out, re.M)
    assert re.findall(r"^(\S+)\s+running\s+pid", out, re.M) == ["router"]
    assert "Grafana bridge" not in out
    assert "sisock: accepting router links from site" in sites.central.output()


def test_grafana_queries_on_the_central_bridge_read_the_site_node(sites):
    wait_until(lambda: sensors_listed(sites.central), 30, "sensors::cpu_percent on the central bridge")
    now = time.time()
    iso = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) for t in (now - 120, now + 5)]
    body = {"range": {"from": iso[0], "to": iso[1]}, "maxDataPoints": 100, "intervalMs": 1000,
            "targets": [{"target": "sensors::cpu_percent", "refId": "A"}]}
    reply = requests.post(f"http://127.0.0.1:{sites.central.bridge_port}/query", json=body, timeout=10)
    assert reply.status_code == 200, reply.text
    [series] = reply.json()
    assert series["target"] == "sensors::cpu_percent"
    points = series["datapoints"]
    assert 0 < len(points) <= 100
    assert all(0 <= value <= 100 for value, _ in points)
    assert points[-1][1] > (now - 30) * 1000  # milliseconds, recent


def test_a_browser_on_the_central_router_follows_the_site_node(browser, sites):  # noqa: F811
    wait_until(lambda: sensors_listed(sites.central), 30, "sensors listed centrally")
    scenario = Scenario(browser, "sensors-live", f"http://127.0.0.1:{sites.central.port}/")
    try:
        result = scenario.result()
    finally:
        scenario.kill()
    assert result["first"]["points"] >= 1
    assert result["grown"]["appended"] >= result["first"]["appended"] + 3  # live events across the link
    assert result["connection"] == "connected"


def test_a_browser_on_the_site_router_lists_the_central_nodes(browser, sites):  # noqa: F811
    scenario = Scenario(browser, "lists", f"http://127.0.0.1:{sites.site.port}/")
    try:
        result = scenario.result()
    finally:
        scenario.kill()
    assert result["routerUrl"] == f"ws://127.0.0.1:{sites.site.port}/ws"
    assert {"weather", "brewing", "pixels", "sensors"} <= set(result["nodes"])


def test_killing_the_site_router_takes_its_node_offline_and_its_restart_back(sites):
    wait_until(lambda: sensors_listed(sites.central), 30, "sensors listed centrally")
    router = sites.site.pid_of("router")
    os.kill(router, signal.SIGKILL)
    killed = time.monotonic()
    wait_until(lambda: not sensors_listed(sites.central), HEARTBEAT_TIMEOUT + 5, "sensors offline centrally")
    assert time.monotonic() - killed <= HEARTBEAT_TIMEOUT + 5
    sites.site.wait_line(r"^router\s+running\s+pid (\d+)\s+\(restart 1\)$", timeout=60)
    assert gone(router) and sites.sensors.poll() is None  # the node waited for its router and reconnects
    wait_until(lambda: sensors_listed(sites.central), 60, "sensors back centrally after the site router restarted")
    assert psutil.pid_exists(sites.site.pid_of("router"))


def test_link_key_is_made_once_private_and_printed_alone(tmp_path):
    home = str(tmp_path / "home")
    first, again = link_key(home), link_key(home)
    assert re.fullmatch(r"[0-9a-f]{64}", first) and again == first
    assert os.stat(os.path.join(home, "router", "key.priv")).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("args, status, message", [
    (["--link-to", "http://central:8080/ws"], 1, "--link-to: the link URL must be ws://HOST:PORT/ws or wss://"),
    (["--link-to", "ws://central/ws"], 1, "--link-to: the link URL must be"),
    (["--link-to", "ws://127.0.0.1:9/ws", "--accept-link", f"b={'0' * 64}"], 1, "join sites in a star"),
    (["--accept-link", f"b={'0' * 64}", "--proxies", "2"], 1, "--proxies cannot be combined with router links"),
    (["--accept-link", "B=00"], 2, "argument --accept-link: NAME of NAME=KEY must be lower case"),
    (["--accept-link", "b=xyz"], 2, "KEY of b=KEY must be the site's 64 hex digits public key"),
])
def test_up_refuses_links_it_cannot_make_and_says_why(tmp_path, args, status, message):
    done = subprocess.run([SISOCK, "up", "--home", str(tmp_path / "home"), *args], capture_output=True, text=True,
                          env=clean_env(), timeout=60)
    assert done.returncode == status
    assert message in done.stderr
    assert not os.path.exists(tmp_path / "home" / "router" / "config.json")  # nothing started

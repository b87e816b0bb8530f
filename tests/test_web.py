"""The web client in real headless Chromium against the session stack.

Debian's ``/usr/bin/chromium`` is driven by ``tests/browser/scenario.mjs``
(playwright-core, no browser download), which opens the page the router
serves at ``http://127.0.0.1:<port>/``, waits for DOM states with timeouts
and prints what it saw as JSON. Screenshots go to ``test-artifacts/``.
Nothing is skipped: without chromium, node or the npm packages the tests
fail and say how to get them (``make test`` installs all three).
"""

import json
import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import threads

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "browser" / "scenario.mjs"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("SISOCK_CHROMIUM", "/usr/bin/chromium")
TIMEOUT = 120.0  # seconds for one scenario, browser start included

APEX_DAY = 1500076800  # 2017-07-15 00:00:00 UTC


@pytest.fixture(scope="module")
def browser():
    """Check once that a scenario can run at all; fail (never skip) with the fix if not."""
    problems = []
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"{CHROMIUM} is missing: install Debian's chromium "
                        "(`apt-get install -y chromium`; `make test` does it)")
    node = shutil.which("node")
    if node is None:
        problems.append("node is not on PATH: install Node.js")
    if not (ROOT / "node_modules" / "playwright-core").is_dir():
        problems.append("node_modules/playwright-core is missing: run `npm ci` (`make test` does it)")
    if not (ROOT / "sisock" / "web" / "vendor" / "autobahn.min.js").is_file():
        problems.append("sisock/web/vendor/ is missing: run `npm ci && node web/build.mjs` (`make test` does it)")
    if problems:
        pytest.fail("the browser tests cannot run:\n  " + "\n  ".join(problems), pytrace=False)
    return node


class Scenario:
    """One run of ``scenario.mjs``: its JSON lines, read with a deadline.

    Its methods block: tests call them in a thread (`threads.deferToThread`)
    so that the reactor of the test process keeps running meanwhile.
    """

    def __init__(self, node, name, url, *args):
        self.name = name
        self.deadline = time.monotonic() + TIMEOUT
        self.proc = subprocess.Popen(
            [node, str(SCENARIO), name, url, "--artifacts", str(ARTIFACTS), *args],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def next(self):
        """The next JSON line; fails the test on timeout or on exit without one."""
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.kill()
                pytest.fail(f"scenario {self.name} printed nothing within {TIMEOUT:g} s")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                continue
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait()
                pytest.fail(f"scenario {self.name} exited with {self.proc.returncode} without a result:\n"
                            f"{self.proc.stderr.read()[-3000:]}")
            if line.startswith("{"):
                return json.loads(line)

    def step(self, expected):
        message = self.next()
        if message.get("step") != expected:
            self.kill()
            pytest.fail(f"scenario {self.name}: expected step {expected!r}, got {message}")

    def go(self):
        """Tell the scenario to go on (after the test did what the last step asked for)."""
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self):
        """The scenario's result; fails the test with its error (and screenshot) if it had one."""
        message = self.next()
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()
        if "error" in message:
            pytest.fail(f"scenario {self.name}: {message['error']}\nseen: {json.dumps(message.get('partial'))}",
                        pytrace=False)
        result = message["result"]
        assert result["problems"] == [], f"errors in the page: {result['problems']}"
        return result

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run(browser, stack, name, *args):
    """Deferred result of scenario ``name`` against the stack, run in a thread."""

    def blocking():
        scenario = Scenario(browser, name, f"http://127.0.0.1:{stack.port}/", *args)
        try:
            return scenario.result()
        finally:
            scenario.kill()

    return threads.deferToThread(blocking)


@pytest_twisted.inlineCallbacks
def test_page_connects_and_lists_the_nodes(browser, stack):
    result = yield run(browser, stack, "lists")
    assert result["connection"].split() == ["connected"]
    assert result["routerUrl"] == f"ws://127.0.0.1:{stack.port}/ws"
    assert {"weather", "sensors"} <= set(result["nodes"])
    assert int(result["count"]) == len(result["nodes"]) + sum(result["groups"].values())  # a.b names in group a
    assert Path(result["screenshot"]).is_file()


@pytest_twisted.inlineCallbacks
def test_sensors_chart_shows_history_and_grows_with_live_events(browser, stack):
    result = yield run(browser, stack, "sensors-live")
    assert result["range"] == "last 15 min"
    first, grown = result["first"], result["grown"]
    assert first["points"] >= 1
    # three new points from live events, newer than the history; the count
    # grows by them less what slid out of a full 15 min window on the left
    assert grown["appended"] >= first["appended"] + 3
    assert grown["points"] - first["points"] == (grown["appended"] - first["appended"]) - (
        grown["dropped"] - first["dropped"])
    assert grown["last"] > first["last"]
    # history downsampled to the chart's pixel width: min_stride = (end - start) / width
    assert first["stride"] == pytest.approx(900 / first["plotWidth"], rel=1e-4)
    # (the live points come on top, one per event: only the history is bounded by the width)
    assert first["points"] - first["appended"] + first["dropped"] <= first["plotWidth"] + 1
    history = [args for args in result["getData"] if args[0] == ["cpu_percent"]]
    assert history and history[0][1:3] == [-900, 0]
    assert history[0][3] == pytest.approx(first["stride"])
    assert result["value"].endswith("%") and result["value"] != "—"
    assert result["memory"]["points"] >= 1
    # another range: history again, both charts, at the stride of the 1 h window
    assert result["hourRange"] == "last 1 h"
    hour = [args for args in result["getData"] if args[1:3] == [-3600, 0]]
    assert {f for args in hour for f in args[0]} == {"cpu_percent", "mem_percent"}
    # one call per stride: charts whose y labels differ in width differ in plot width
    cpu = [args for args in hour if "cpu_percent" in args[0]]
    assert cpu[-1][3] == pytest.approx(3600 / result["hour"]["plotWidth"], rel=1e-4)
    assert result["hash"] == "#node=sensors&range=1h&fields=cpu_percent,mem_percent"
    assert result["connection"] == "connected"
    assert Path(result["screenshot"]).is_file()


@pytest_twisted.inlineCallbacks
def test_killed_node_disappears_from_the_list(browser, stack):
    victim = stack.spawn("web_victim", "nodes.weather", "--name", "weather_web_victim", ready=False)
    yield victim.ready()
    scenario = Scenario(browser, "node-leaves", f"http://127.0.0.1:{stack.port}/", "--node", "weather_web_victim")
    try:
        yield threads.deferToThread(scenario.step, "listed")
        victim.signal(signal.SIGKILL)
        victim.popen.wait(10)
        scenario.go()
        result = yield threads.deferToThread(scenario.result)
    finally:
        scenario.kill()
        victim.stop()
    assert "weather_web_victim" in result["before"]
    assert "weather_web_victim" not in result["after"]
    assert {"weather", "sensors"} <= set(result["after"])
    assert "node weather_web_victim left" in result["activity"]
    assert "left the hub" in result["banner"]


@pytest_twisted.inlineCallbacks
def test_apex_temperature_chart_for_2017_07_15_shows_24_points(browser, stack):
    result = yield run(browser, stack, "apex-day")
    assert result["day"] == "2017-07-15"
    assert result["range"] == "2017-07-15 (UTC day)"
    temperature = result["temperature"]
    assert temperature["points"] == 24
    assert temperature["stride"] == pytest.approx(86400 / temperature["plotWidth"], rel=1e-4)
    calls = [args for args in result["dayCalls"] if args[0] == ["temperature"]]
    assert calls[0][1:3] == [APEX_DAY, APEX_DAY + 86400]
    assert result["value"].endswith(" C")
    assert result["at"].startswith("2017-07-15 ")
    assert result["nextDay"]["points"] == 24  # 2017-07-16, by the "next day" button
    assert result["back"]["points"] == 24  # 2017-07-15 again, typed into the date picker
    assert result["custom"]["points"] == 6  # custom from/to, read as UTC
    assert result["customLabel"] == "2017-07-15 06:00:00 to 2017-07-15 12:00:00 UTC"
    assert f"range={APEX_DAY + 6 * 3600}-{APEX_DAY + 12 * 3600}" in result["customHash"]
    assert Path(result["screenshot"]).is_file()


@pytest_twisted.inlineCallbacks
def test_page_shows_reconnecting_and_recovers_after_a_router_restart(browser, fresh_stack):
    s = fresh_stack
    weather = s.spawn("weather", "nodes.weather", ready=False)
    yield weather.ready()
    scenario = Scenario(browser, "reconnect", f"http://127.0.0.1:{s.port}/")
    try:
        yield threads.deferToThread(scenario.step, "connected")
        s.router.signal(signal.SIGKILL)
        s.router.popen.wait(30)
        scenario.go()
        yield threads.deferToThread(scenario.step, "reconnecting")
        s.router.start()
        yield s.router.wait_output("NODE_BOOT_COMPLETE", 60)
        scenario.go()
        result = yield threads.deferToThread(scenario.result)
    finally:
        scenario.kill()
    assert result["before"]["points"] == 24
    assert result["reconnecting"].startswith("reconnecting")
    assert result["states"][0] == "connected" and result["states"][-1] == "connected"
    assert "reconnecting" in result["states"]
    assert "reconnected to the router" in result["activity"]
    assert result["after"]["points"] == 24  # the view loaded its chart again


@pytest_twisted.inlineCallbacks
def test_a_reloaded_page_shows_the_node_range_and_charts_its_address_names(browser, stack):
    result = yield run(browser, stack, "bookmark", "--hash", "node=sensors&range=1h&fields=load_1m,cpu_percent")
    assert result["title"] == "sensors"
    assert result["range"] == "last 1 h"
    assert result["charts"] == ["load_1m", "cpu_percent"]
    assert result["load_1m"]["points"] >= 1 and result["cpu_percent"]["points"] >= 1
    assert result["values"] >= 10  # every field of the table has its latest value

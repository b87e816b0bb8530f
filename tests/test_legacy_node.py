"""Node files written for the original sisock run unmodified with ``sisock legacy-node``.

The files in ``tests/legacy_nodes/`` use ``import sisock`` and
``sisock.base`` only, override ``get_data``/``get_fields`` directly (plain
lists or Deferreds) or their ``_blocking`` variants, and have a
``__main__`` block that would connect with wss and a certificate file. They
run against a router over wss (a self-signed certificate trusted through
``SISOCK_CA_FILE``) with the hub and the Grafana bridge, and are checked
through both, and again after the router is killed and restarted.
"""

import datetime
import os
import shutil
import signal
import subprocess

import pytest
import pytest_twisted
import requests

from sisock.wire.errors import InvalidArgument
from tests.conftest import PYTHON, Proc, Stack, wait_for
from tests.registry_support import until

NODES = os.path.join(os.path.dirname(__file__), "legacy_nodes")
T0 = 1600000000.0
LEVEL = [(T0 + 60 * i, 1.0 + 0.25 * i) for i in range(12)]
TEMPERATURE = [(T0 + 60 * i, 15.0 + i) for i in range(12)]
FLOW = [(T0 + 10 * i, float(i % 7)) for i in range(60)]
RPM = [(T0 + 5 * i, 1000.0 + 10 * i) for i in range(24)]
VALVE = [(T0 + 30 * i, float(i % 2)) for i in range(8)]
LEGACY = ["pump_log", "tank_archive", "valve_log"]


def legacy_node(*args):
    """argv of ``sisock legacy-node *args``."""
    return [PYTHON, "-m", "sisock.cli.main", "legacy-node", *args]


def write_readings(directory, quantity, about, clock, units, step, rows):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"{quantity}.txt"), "w") as fp:
        fp.write(f"# about: {about}\n# clock: {clock}\n# units: {units}\n# step: {step}\n")
        fp.writelines(f"{t} {v}\n" for t, v in rows)


def write_csv(path, rows):
    with open(path, "w") as fp:
        fp.writelines(f"{t},{v}\n" for t, v in rows)


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.UTC).isoformat()


@pytest.fixture(scope="module")
def shelf(tmp_path_factory):
    """A wss stack (router, hub, bridge) running the original-style files: tank_archive.py in its own
    directory with ./readings/, pumps.py's two classes with --data-dir."""
    directory = tmp_path_factory.mktemp("legacy")
    tank = directory / "shelf" / "tank"
    tank.mkdir(parents=True)
    shutil.copy(os.path.join(NODES, "tank_archive.py"), tank)
    write_readings(tank / "readings", "level", "Water level in the tank", "slow", "m", 60, LEVEL)
    write_readings(tank / "readings", "temperature", "Water temperature", "slow", "C", 60, TEMPERATURE)
    write_readings(tank / "readings", "flow", "Outflow", "fast", "l/s", 10, FLOW)
    pumps, data = directory / "shelf" / "pumps", directory / "pumpdata"
    pumps.mkdir()
    data.mkdir()
    shutil.copy(os.path.join(NODES, "pumps.py"), pumps)
    write_csv(data / "pump_rpm.csv", RPM)
    write_csv(data / "valve_state.csv", VALVE)

    s = Stack(directory, tls=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SISOCK_CA_FILE", s.tls[1])
        try:
            s.start_router()
            s.hub = s.spawn("hub", "sisock.hub")
            s.spawn_bridge(ready=False)
            s.legacy = {
                "tank_archive": Proc("tank_archive", legacy_node(str(tank / "tank_archive.py")), s.env, s.dir),
                "pump_log": Proc("pump_log", legacy_node(str(pumps / "pumps.py"), "--class", "pump_log",
                                                         "--data-dir", str(data)), s.env, s.dir),
                "valve_log": Proc("valve_log", legacy_node(str(pumps / "pumps.py"), "--class", "valve_log",
                                                           "--data-dir", str(data)), s.env, s.dir)}
            s.procs.extend(p.start() for p in s.legacy.values())
            for proc in [s.bridge, *s.legacy.values()]:
                pytest_twisted.blockon(proc.ready())
            yield s
        finally:
            s.stop()


@pytest.fixture
def consumer(shelf):
    session = pytest_twisted.blockon(shelf.connect())
    yield session
    pytest_twisted.blockon(session.close())


def times_and_values(result, timeline, field):
    return list(result["timeline"][timeline]["t"]), list(result["data"][field])


@pytest_twisted.inlineCallbacks
def test_original_files_are_listed_by_the_hub_and_serve_what_their_files_hold(shelf, consumer):
    nodes = yield consumer.get_data_node()
    assert sorted(n["name"] for n in nodes) == LEGACY
    assert {"name": "tank_archive", "description": "Tank readings kept in text files."} in nodes

    field, timeline = yield consumer.get_fields("tank_archive", T0, T0 + 3600)
    assert field["level"]["units"] == "m" and field["flow"]["timeline"] == "fast"
    assert sorted(timeline["slow"]["field"]) == ["level", "temperature"]
    result = yield consumer.get_data("tank_archive", ["level", "flow"], T0, T0 + 120)
    assert times_and_values(result, "slow", "level") == ([t for t, _ in LEVEL[:2]], [v for _, v in LEVEL[:2]])
    assert times_and_values(result, "fast", "flow") == ([t for t, _ in FLOW[:12]], [v for _, v in FLOW[:12]])
    assert result["timeline"]["slow"]["field"] == ["level"] and result["timeline"]["fast"]["field"] == ["flow"]

    field, timeline = yield consumer.get_fields("pump_log", T0, T0 + 3600)  # a Deferred, "field" a string
    assert field["rpm"]["units"] == "1/min" and timeline["pump"]["field"] == ["rpm"]
    result = yield consumer.get_data("pump_log", ["rpm"], T0 + 10, T0 + 30)
    assert times_and_values(result, "pump", "rpm") == ([t for t, _ in RPM[2:6]], [v for _, v in RPM[2:6]])
    result = yield consumer.get_data("valve_log", ["open"], T0, T0 + 3600)
    assert times_and_values(result, "valve", "open") == ([t for t, _ in VALVE], [v for _, v in VALVE])


@pytest_twisted.inlineCallbacks
def test_direct_overrides_gain_min_stride_downsampling_and_argument_checks(shelf, consumer):
    result = yield consumer.get_data("tank_archive", ["level"], T0, T0 + 720, 180)
    means = [sum(v for _, v in LEVEL[i:i + 3]) / 3 for i in range(0, 12, 3)]
    assert times_and_values(result, "slow", "level") == ([T0 + 180 * k for k in range(4)], means)
    result = yield consumer.get_data("pump_log", ["rpm"], T0, T0 + 120, 20)  # a Deferred, downsampled too
    assert list(result["data"]["rpm"]) == [sum(v for _, v in RPM[i:i + 4]) / 4 for i in range(0, 24, 4)]

    for args, named in [(("level", T0, T0 + 60), "field"), ((["level"], "yesterday", T0), "start"),
                        ((["level"], T0, T0 + 60, -5), "min_stride")]:
        with pytest.raises(InvalidArgument, match=named):
            yield consumer.get_data("tank_archive", *args)
    result = yield consumer.get_data("tank_archive", ["level"], T0, T0 + 60)
    assert list(result["data"]["level"]) == [LEVEL[0][1]]


def bridge(shelf, path, body):
    return requests.post(shelf.bridge_url + path, json=body, timeout=30)


def test_the_grafana_bridge_lists_and_serves_them(shelf):
    targets = bridge(shelf, "/search", {}).json()
    assert {"tank_archive::level", "tank_archive::flow", "pump_log::rpm", "valve_log::open"} <= set(targets)
    answer = bridge(shelf, "/query", {"targets": [{"target": "tank_archive::temperature"}, {"target": "pump_log::rpm"}],
                                      "range": {"from": iso(T0), "to": iso(T0 + 600)}, "maxDataPoints": 1000})
    assert answer.status_code == 200, answer.text
    series = {s["target"]: s["datapoints"] for s in answer.json()}
    assert series["tank_archive::temperature"] == [[v, t * 1000] for t, v in TEMPERATURE[:10]]
    assert series["pump_log::rpm"] == [[v, t * 1000] for t, v in RPM]


def bridge_serves(shelf, target):
    try:
        answer = bridge(shelf, "/query", {"targets": [{"target": target}], "maxDataPoints": 1000,
                                          "range": {"from": iso(T0), "to": iso(T0 + 600)}})
        return answer.status_code == 200 and answer.json()[0]["datapoints"]
    except (requests.RequestException, ValueError, KeyError, IndexError):
        return False


@pytest_twisted.inlineCallbacks
def test_they_are_back_after_the_router_is_killed(shelf):
    shelf.router.signal(signal.SIGKILL)
    shelf.router.popen.wait(30)
    shelf.router.start()
    yield shelf.router.wait_output("NODE_BOOT_COMPLETE", 60)
    for proc in shelf.legacy.values():
        yield proc.ready(timeout=30, count=2)
    yield shelf.legacy["pump_log"].wait_output("pump_log: after_onJoin", count=2)
    consumer = yield shelf.connect()
    try:
        yield until(consumer.get_data_node, lambda nodes: sorted(n["name"] for n in nodes) == LEGACY,
                    "the hub listing the three legacy nodes again", timeout=30)
        result = yield consumer.get_data("valve_log", ["open"], T0, T0 + 3600)
        assert list(result["data"]["open"]) == [v for _, v in VALVE]
    finally:
        yield consumer.close()
    yield wait_for(lambda: bridge_serves(shelf, "tank_archive::level"), 30, "the bridge serving tank_archive")


# -- the runner's own mistakes: one line, exit status 2 -----------------------------------------

def run_legacy_node(*args, cwd=None):
    return subprocess.run(legacy_node(*args), capture_output=True, text=True, timeout=60, cwd=cwd,
                          env=dict(os.environ, SISOCK_URL="ws://127.0.0.1:9/ws"))


def test_help_says_what_it_runs_and_how():
    done = run_legacy_node("--help")
    assert done.returncode == 0
    for words in ("original sisock", "__main__", "--class", "--data-dir", "--url", "SISOCK_CA_FILE"):
        assert words in done.stdout


#: Files the bad-input tests write: a class that is no DataNodeServer, and one needing more than a config.
WRITTEN = {"plain.py": "import sisock\n\n\nclass plain:\n    name = 'plain'\n",
           "feed.py": "import sisock\n\n\nclass feed_node(sisock.base.DataNodeServer):\n"
                      "    def __init__(self, config, name, feed):\n        pass\n"}


@pytest.mark.parametrize("args, message", [
    (["no_such_node.py"], "no such file: no_such_node.py"),
    (["plain.py"], "plain.py defines no subclass of sisock.base.DataNodeServer"),
    (["pumps.py"], "pumps.py defines several DataNodeServer subclasses (pump_log, valve_log): choose one with --class"),
    (["pumps.py", "--class", "pump"], "--class: pumps.py defines no DataNodeServer subclass 'pump'"),
    (["pumps.py", "--class", "pump_log", "--data-dir", "nowhere"], "--data-dir: no such directory"),
    (["feed.py"], "feed_node(config, name, feed) needs more than a config"),
], ids=["no-file", "no-subclass", "two-subclasses", "unknown-class", "no-data-dir", "constructor"])
def test_bad_input_is_one_line_and_exit_status_2(tmp_path, args, message):
    shutil.copy(os.path.join(NODES, "pumps.py"), tmp_path)
    for name, text in WRITTEN.items():
        (tmp_path / name).write_text(text)
    done = run_legacy_node(*args, cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"sisock legacy-node: error: {message}"), done.stderr


def test_a_file_importing_a_module_that_is_not_installed_says_which_in_one_line(tmp_path):
    (tmp_path / "epics_node.py").write_text("import sisock\nimport caproto_missing.threading.client\n\n\n"
                                            "class epics_node(sisock.base.DataNodeServer):\n    pass\n")
    done = run_legacy_node("epics_node.py", cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("sisock legacy-node: error: epics_node.py line 2 imports module 'caproto_missing', "
                               "which is not installed here"), done.stderr

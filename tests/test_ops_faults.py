"""Daily faults: fault events as a node feature, listed across the fleet."""

import json
import subprocess
import sys

import pytest
import pytest_twisted
import requests
from twisted.internet import threads

from sisock.hub import reports
from sisock.node import DataNode
from sisock.node.faults import CODE
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument
from tests.registry_support import connect_admin, joined, offline_lamp, start_stack

COUNT = 50


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A router, a hub, 50 lamps and a Grafana bridge."""
    stack = start_stack(tmp_path_factory.mktemp("ops_faults"), fleet_args=["--count", str(COUNT), "--interval", "1"],
                        bridge_args=())
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def admin(fleet):
    yield from joined(connect_admin(fleet))


@pytest.fixture
def consumer(fleet):
    yield from joined(fleet.connect())


@pytest.fixture(scope="module")
def drill(fleet, admin):
    """Lamps 3 and 7 fail with given codes, lamp 3 twice (reset between); the fleet's own faults come on top."""
    for lamp, code in (("fleet.lamp0003", "driver_failure"), ("fleet.lamp0007", "lamp_out")):
        pytest_twisted.blockon(admin.call(uri.node_uri(lamp, "command"), "fail", code=code))
    pytest_twisted.blockon(admin.call(uri.node_uri("fleet.lamp0003", "command"), "reset"))
    pytest_twisted.blockon(admin.call(uri.node_uri("fleet.lamp0003", "command"), "fail", code="overheat"))


@pytest_twisted.inlineCallbacks
def test_the_fault_report_matches_the_events_recorded_by_each_lamp(drill, consumer):
    report = yield reports.faults(consumer, "fleet.*", -600, 0)
    assert report["errors"] == {} and len(report["selected"]) == COUNT
    assert report["counts"]["fleet.lamp0003"]["driver_failure"] == 1
    assert report["counts"]["fleet.lamp0003"]["overheat"] == 1
    assert report["counts"]["fleet.lamp0007"]["lamp_out"] == 1
    for name in report["selected"]:  # against each lamp's own recorded fault_code samples
        recorded = yield consumer.get_data(name, [CODE], report["start"], report["end"])
        assert sorted(recorded["data"][CODE].tolist()) == sorted(
            e["code"] for e in report["events"] if e["node"] == name)
    assert report["total"] == sum(report["by_code"].values()) == len(report["events"])
    assert [e["t"] for e in report["events"]] == sorted(e["t"] for e in report["events"])


@pytest_twisted.inlineCallbacks
def test_sisock_faults_counts_per_node_and_code_for_today(drill, fleet):
    argv = [sys.executable, "-m", "sisock.cli.main", "faults", "fleet.lamp000*", "--json"]
    run = yield threads.deferToThread(subprocess.run, argv, env=fleet.env, capture_output=True, text=True,
                                      timeout=60)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["end"] - report["start"] == 86400 and report["start"] % 86400 == 0
    assert report["counts"]["fleet.lamp0003"] == {"driver_failure": 1, "overheat": 1}
    run = yield threads.deferToThread(subprocess.run, [*argv[:-1], "--day", "2026-13-01"], env=fleet.env,
                                      capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--day" in run.stderr


@pytest_twisted.inlineCallbacks
def test_the_bridge_serves_faults_as_annotations_and_as_a_table(drill, fleet):
    rng = {"from": "2020-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
    body = {"range": rng, "annotation": {"name": "faults", "query": "fleet.lamp0007"}}
    response = yield threads.deferToThread(requests.post, f"{fleet.bridge_url}/annotations", json=body, timeout=30)
    assert response.status_code == 200, response.text
    [note] = [a for a in response.json() if a["title"] == "lamp_out"]
    assert note["tags"] == ["fleet.lamp0007", "lamp_out"] and note["text"].startswith("fleet.lamp0007: lamp out")
    body = {"range": rng, "targets": [{"target": "fleet.lamp0003::@faults", "type": "table", "refId": "F"}]}
    response = yield threads.deferToThread(requests.post, f"{fleet.bridge_url}/query", json=body, timeout=30)
    [table] = response.json()
    assert [c["text"] for c in table["columns"]] == ["Time", "Node", "Code", "Message"]
    assert [row[2] for row in table["rows"]][-2:] == ["driver_failure", "overheat"]


@pytest_twisted.inlineCallbacks
def test_any_node_may_declare_and_report_faults_and_bad_ones_are_refused():
    node = DataNode("pump", "a pump")
    assert (yield node.get_faults(1, 0)) == {"t": [], "code": [], "message": []}
    node.declare_faults()
    node.report_fault("overpressure", "3.2 bar above 3 bar", t=1_700_000_000.0)
    answer = yield node.get_faults(1, 0)
    assert answer == {"t": [1_700_000_000.0], "code": ["overpressure"], "message": ["3.2 bar above 3 bar"]}
    with pytest.raises(InvalidArgument, match="code"):
        node.report_fault("", "no code")


@pytest_twisted.inlineCallbacks
def test_annotations_and_the_faults_table_from_the_epoch_read_every_fault_up_to_the_range_end(drill, fleet):
    rng = {"from": "1970-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
    body = {"range": rng, "annotation": {"name": "faults", "query": "fleet.lamp0007"}}
    response = yield threads.deferToThread(requests.post, f"{fleet.bridge_url}/annotations", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert "lamp_out" in [a["title"] for a in response.json()]
    body = {"range": rng, "targets": [{"target": "fleet.lamp0003::@faults", "type": "table", "refId": "F"}]}
    response = yield threads.deferToThread(requests.post, f"{fleet.bridge_url}/query", json=body, timeout=30)
    assert response.status_code == 200, response.text
    [table] = response.json()
    assert [row[2] for row in table["rows"]][-2:] == ["driver_failure", "overheat"]


@pytest.fixture(scope="module")
def gone_and_disabled(fleet, admin, drill):
    """Lamp ``annex.lamp0001`` (a fleet of its own) went offline; ``fleet.lamp0007`` (lamp_out) is disabled."""
    record = offline_lamp(fleet, admin)
    pytest_twisted.blockon(admin.call(uri.HUB_NODES + "disable", "fleet.lamp0007"))
    yield record["last_seen"]
    pytest_twisted.blockon(admin.call(uri.HUB_NODES + "enable", "fleet.lamp0007"))


@pytest_twisted.inlineCallbacks
def test_a_lamp_that_went_offline_is_a_fault_and_a_disabled_one_still_reports_its_faults(gone_and_disabled,
                                                                                          consumer, fleet):
    last_seen = gone_and_disabled
    report = yield reports.faults(consumer, "*.lamp000*", -3600, 0)
    assert {"t": last_seen, "node": "annex.lamp0001", "code": "offline"}.items() <= next(
        e for e in report["events"] if e["node"] == "annex.lamp0001").items()
    assert "offline" in report["unread"]["annex.lamp0001"]
    assert report["disabled"] == ["fleet.lamp0007"] and report["counts"]["fleet.lamp0007"]["lamp_out"] == 1
    argv = [sys.executable, "-m", "sisock.cli.main", "faults", "*.lamp000*", "--start=-1h"]
    run = yield threads.deferToThread(subprocess.run, [*argv, "--json"], env=fleet.env, capture_output=True,
                                      text=True, timeout=60)
    assert json.loads(run.stdout)["unread"] == report["unread"]
    run = yield threads.deferToThread(subprocess.run, argv, env=fleet.env, capture_output=True, text=True,
                                      timeout=60)
    assert "annex.lamp0001" in run.stdout and "offline" in run.stdout and "disabled: fleet.lamp0007" in run.stdout
    rng = {"from": "2020-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
    body = {"range": rng, "targets": [{"target": "*.lamp000*::@faults", "type": "table", "refId": "F"}]}
    response = yield threads.deferToThread(requests.post, f"{fleet.bridge_url}/query", json=body, timeout=30)
    [table] = response.json()
    rows = {(row[1], row[2]) for row in table["rows"]}
    assert {("annex.lamp0001", "offline"), ("fleet.lamp0007", "lamp_out")} <= rows
    assert "annex.lamp0001" in table["meta"]["message"]
    with pytest.raises(InvalidArgument, match="every"):
        yield consumer.call(uri.GET_DATA_NODE, filter="*.lamp000*", every="yes")

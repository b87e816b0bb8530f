"""Attributes: admins tag, untag and locate nodes; kept across a hub restart."""

import json
import subprocess
import sys

import pytest
import pytest_twisted
from twisted.internet import threads

from sisock.wire import uri
from sisock.wire.errors import InvalidArgument, NoSuchNode
from tests.registry_support import connect_admin, joined, start_stack, until

GET = uri.HUB_NODES + "get"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("ops_attributes"), fleet_args=["--count", "9", "--interval", "1"])
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def admin(fleet):
    yield from joined(connect_admin(fleet))


def _sisock(fleet, *argv):
    return threads.deferToThread(subprocess.run, [sys.executable, "-m", "sisock.cli.main", *argv, "--json"],
                                 env=fleet.env, capture_output=True, text=True, timeout=60)


@pytest_twisted.inlineCallbacks
def test_edits_show_beside_the_nodes_own_values_publish_node_changed_and_survive_a_hub_restart(
        fleet, admin, events):
    changed = events()
    yield admin.subscribe(changed, uri.NODE_CHANGED)
    own = yield admin.call(GET, "fleet.lamp0001")
    run = yield _sisock(fleet, "tag", "fleet.lamp0001", "zone=south", "owner=city")
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert record["tags"] == dict(own["tags"], zone="south", owner="city")
    assert record["own"]["tags"] == own["tags"] and record["overrides"]["tags"] == {"zone": "south", "owner": "city"}
    yield _sisock(fleet, "untag", "fleet.lamp0001", "kind")
    yield _sisock(fleet, "locate", "fleet.lamp0001", "-33.5", "-70.6")
    yield changed.wait(lambda items: sum(e["name"] == "fleet.lamp0001" and e["change"] == "edited"
                                         for e in items) == 3)
    south = yield admin.call(uri.HUB_NODES + "list", "zone=south owner=city")
    assert [n["name"] for n in south["nodes"]] == ["fleet.lamp0001"]
    found = yield admin.call(uri.HUB_NODES + "search", [-71, -34, -70, -33])
    assert [n["name"] for n in found["nodes"]] == ["fleet.lamp0001"]
    fleet.hub.stop()
    fleet.hub = fleet.spawn("hub-again", "sisock.hub", ready=False)
    yield fleet.hub.ready()
    after = yield until(lambda: admin.call(GET, "fleet.lamp0001"), lambda r: r["connected"], "the lamp back")
    assert after["tags"] == {"street": own["tags"]["street"], "zone": "south", "owner": "city"}
    assert after["location"] == {"lat": -33.5, "lon": -70.6} and after["own"]["location"] == own["location"]
    run = yield _sisock(fleet, "locate", "fleet.lamp0001", "--own")
    assert json.loads(run.stdout)["location"] == own["location"]


@pytest_twisted.inlineCallbacks
def test_bad_edits_are_refused_with_the_argument_named(admin):
    with pytest.raises(NoSuchNode):
        yield admin.call(uri.HUB_NODES + "tag", "fleet.lamp9999", {"zone": "x"})
    with pytest.raises(InvalidArgument, match="location"):
        yield admin.call(uri.HUB_NODES + "locate", "fleet.lamp0002", 95, 0)
    with pytest.raises(InvalidArgument, match="keys"):
        yield admin.call(uri.HUB_NODES + "untag", "fleet.lamp0002", "zone")


@pytest_twisted.inlineCallbacks
def test_a_location_outside_the_globe_is_refused_naming_the_coordinate_not_data_node_add(fleet, admin):
    with pytest.raises(InvalidArgument) as info:
        yield admin.call(uri.HUB_NODES + "locate", "fleet.lamp0003", 123, 6)
    assert info.value.message == "location: latitude must be in [-90, 90] degrees, got 123"
    with pytest.raises(InvalidArgument, match=r"longitude must be in \[-180, 180\] degrees, got -200"):
        yield admin.call(uri.HUB_NODES + "locate", "fleet.lamp0003", 45, -200)
    run = yield threads.deferToThread(subprocess.run, [sys.executable, "-m", "sisock.cli.main", "locate",
                                                       "fleet.lamp0003", "123", "6"],
                                      env=fleet.env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "90" in run.stderr and "data_node.add" not in run.stderr, run.stderr

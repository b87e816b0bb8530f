"""The fleet demo: 500 lamps in one process, registered, listed, read and commanded."""

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError

from nodes.fleet.fleet import build_lamps, grid_location
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument, NoSuchCommand, NoSuchNode
from tests.registry_support import connect_admin, connect_node, joined, start_stack

COUNT = 500
LIST = uri.HUB_NODES + "list"


@pytest.fixture(scope="module")
def fleet500(tmp_path_factory):
    """A router, a hub and ``python -m nodes.fleet --count 500`` (READY once every lamp is added)."""
    stack = start_stack(tmp_path_factory.mktemp("fleet"), fleet_args=["--count", str(COUNT), "--interval", "2"])
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def admin(fleet500):
    yield from joined(connect_admin(fleet500))


@pytest.fixture
def consumer(fleet500):
    yield from joined(fleet500.connect())


@pytest_twisted.inlineCallbacks
def test_500_fleet_nodes_are_registered_and_listed(admin, consumer):
    names = [f"fleet.lamp{i:04d}" for i in range(1, COUNT + 1)]
    page = yield admin.call(LIST, "fleet.*", 1000)
    assert page["total"] == COUNT and [n["name"] for n in page["nodes"]] == names
    assert {n["status"] for n in page["nodes"]} == {"online"}
    assert all(n["location"] and n["fields"] == 4 for n in page["nodes"])
    paged = []
    for offset in range(0, COUNT, 100):
        paged += [n["name"] for n in (yield admin.call(LIST, "ALL", 100, offset))["nodes"]]
    assert paged == names
    live = yield consumer.get_data_node()
    assert sorted(n["name"] for n in live) == names


@pytest_twisted.inlineCallbacks
def test_500_lamps_are_served_by_the_one_prefix_registration_alone(fleet500, consumer):
    # a join of thousands of exact registrations would be slow: the URI of a lamp's get_data stays free
    squatter = yield connect_node(fleet500, "fleet")
    try:
        taken = yield squatter.register(lambda *args, **kwargs: "squatter", uri.node_uri("fleet.lamp0499", "get_data"))
        yield taken.unregister()
    finally:
        yield squatter.close()
    result = yield consumer.get_data("fleet.lamp0499", ["power_w"], -60, 0)
    assert len(result["data"]["power_w"]) == len(result["timeline"]["lamp"]["t"])


@pytest_twisted.inlineCallbacks
def test_a_lamp_serves_fields_data_and_live_samples(consumer, events):
    field, timeline = yield consumer.get_fields("fleet.lamp0250", 1, 0)
    assert set(field) == {"power_w", "energy_kwh", "faults", "state"}
    assert field["power_w"]["units"] == "W" and timeline["lamp"]["interval"] == 2.0
    blocks = events()
    yield consumer.subscribe(blocks, uri.node_uri("fleet.lamp0250", "data"))
    yield blocks.wait(lambda items: len(items) >= 1, timeout=10)
    assert blocks.items[0]["data"]["state"][0] in ("on", "off", "fault")
    result = yield consumer.get_data("fleet.lamp0250", ["power_w", "state"], -60, 0)
    assert len(result["data"]["power_w"]) == len(result["timeline"]["lamp"]["t"]) > 0


@pytest_twisted.inlineCallbacks
def test_lamps_take_commands_and_unknown_ones_get_a_clear_error(admin):
    command = uri.node_uri("fleet.lamp0007", "command")
    status = yield admin.call(command, "dim", level=40)
    assert status["level"] == 40.0
    assert (yield admin.call(command, "switch", on=False))["mode"] == "manual"
    assert (yield admin.call(command, "switch"))["mode"] == "schedule"
    with pytest.raises(NoSuchCommand) as info:
        yield admin.call(command, "explode")
    assert "explode" in info.value.message and "dim" in info.value.message
    with pytest.raises(InvalidArgument) as info:
        yield admin.call(command, "dim")
    assert "level" in info.value.message
    with pytest.raises(InvalidArgument):
        yield admin.call(command, "dim", level=400)
    with pytest.raises(InvalidArgument):
        yield admin.call(command, "dim", 40, brightness=3)


@pytest_twisted.inlineCallbacks
def test_get_api_lists_description_fields_and_commands_with_parameters(consumer):
    api = yield consumer.call(uri.node_uri("fleet.lamp0001", "get_api"))
    assert api["name"] == "fleet.lamp0001" and "lamp" in api["description"].lower()
    assert set(api["fields"]) == {"power_w", "energy_kwh", "faults", "state"}
    commands = {c["name"]: c for c in api["commands"]}
    assert set(commands) == {"dim", "switch", "reset", "status", "fail"}
    assert commands["dim"]["parameters"] == [{"name": "level", "type": "float", "required": True, "default": None,
                                              "description": "Percent of rated power, 0 to 100."}]
    assert commands["switch"]["parameters"][0]["required"] is False


@pytest_twisted.inlineCallbacks
def test_consumers_may_read_but_not_command_and_unknown_lamps_are_no_such_node(consumer):
    with pytest.raises(ApplicationError) as info:
        yield consumer.call(uri.node_uri("fleet.lamp0001", "command"), "status")
    assert info.value.error == "wamp.error.not_authorized"
    with pytest.raises(NoSuchNode):
        yield consumer.get_fields("fleet.lamp9999", 1, 0)


def test_the_layout_depends_only_on_the_options():
    first = build_lamps(9, "f", (10.0, 20.0), 50.0, 5.0, 60.0, seed=1)
    second = build_lamps(9, "f", (10.0, 20.0), 50.0, 5.0, 60.0, seed=1)
    assert [(a.name, a.location, a.tags, a.rated_w) for a in first] == \
        [(b.name, b.location, b.tags, b.rated_w) for b in second]
    (lat, lon), row = grid_location(4, 9, (10.0, 20.0), 50.0)
    assert (round(lat, 6), round(lon, 6), row) == (10.0, 20.0, 1)  # the middle lamp of a 3 x 3 grid

"""The hub's registry: metadata, paging, filters, enable/disable, search, forget, restarts."""

import signal
import socket
import sqlite3

import pytest
import pytest_twisted
import requests
from autobahn.wamp.exception import ApplicationError
from twisted.internet import threads

import sisock
from nodes.fleet.fleet import grid_location
from sisock.hub.info import check_info
from sisock.hub.registry import NodeRecord, Registry
from sisock.hub.selection import in_bbox, parse_bbox, parse_filter
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument, NodeDisabled, NoSuchNode
from tests.conftest import free_port
from tests.registry_support import connect_admin, connect_node, joined, start_stack, until

LIST, GET, SEARCH = uri.HUB_NODES + "list", uri.HUB_NODES + "get", uri.HUB_NODES + "search"
ENABLE, DISABLE, FORGET = uri.HUB_NODES + "enable", uri.HUB_NODES + "disable", uri.HUB_NODES + "forget"
COUNT = 40
CENTER = (46.2044, 6.1432)  # the default --center of nodes.fleet


@pytest.fixture(scope="module")
def fleet_stack(tmp_path_factory):
    """Router, hub, a fleet of 40 lamps sampling every second, and the Grafana bridge."""
    stack = start_stack(tmp_path_factory.mktemp("registry"), fleet_args=["--count", str(COUNT), "--interval", "1"])
    try:
        port = free_port()
        stack.bridge_url = f"http://127.0.0.1:{port}"
        stack.spawn("bridge", "grafana_bridge", "--port", str(port))
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def admin(fleet_stack):
    """A session joined as admin, for the module."""
    yield from joined(connect_admin(fleet_stack))


@pytest.fixture
def consumer(fleet_stack):
    """An anonymous consumer session, for one test."""
    yield from joined(fleet_stack.connect())


def names(records):
    return [r["name"] for r in records]


def bridge_targets(url):
    return requests.post(f"{url}/search", json={}, timeout=10).json()


# -- what is recorded, paging, search -----------------------------------------------

@pytest_twisted.inlineCallbacks
def test_every_added_node_is_recorded_with_its_metadata(fleet_stack, admin):
    record = yield admin.call(GET, "fleet.lamp0001")
    (lat, lon), _ = grid_location(0, COUNT, CENTER, 30.0)
    assert record["status"] == "online" and record["connected"] and record["enabled"]
    assert record["host"] == socket.gethostname() and record["pid"] == fleet_stack.fleet.pid
    assert record["version"] == sisock.__version__ and record["authid"] == "fleet"
    assert record["location"] == {"lat": lat, "lon": lon}
    assert set(record["tags"]) == {"street", "zone", "kind"} and record["fields"] == 4
    later = yield until(lambda: admin.call(GET, "fleet.lamp0001"),
                        lambda r: r["last_seen"] > record["first_seen"] + 1.0, "heartbeats to move last_seen")
    assert later["first_seen"] == record["first_seen"]


@pytest_twisted.inlineCallbacks
def test_list_pages_through_every_node_with_a_total_count(admin):
    pages = []
    for offset in (0, 15, 30, 45):
        pages.append((yield admin.call(LIST, "fleet.*", 15, offset)))
    assert [p["total"] for p in pages] == [COUNT] * 4
    assert [len(p["nodes"]) for p in pages] == [15, 15, 10, 0]
    listed = [n for p in pages for n in names(p["nodes"])]
    assert listed == [f"fleet.lamp{i:04d}" for i in range(1, COUNT + 1)]
    everything = yield admin.call(LIST)
    assert everything["total"] == COUNT and everything["limit"] == 100
    for limit, offset in ((-1, 0), (10, -5), (10**6, 0), ("ten", 0)):
        with pytest.raises(InvalidArgument):
            yield admin.call(LIST, "ALL", limit, offset)


@pytest_twisted.inlineCallbacks
def test_search_finds_the_nodes_located_in_a_bounding_box(admin):
    records = (yield admin.call(LIST, "ALL", 1000))["nodes"]
    lats = [r["location"]["lat"] for r in records]
    lons = [r["location"]["lon"] for r in records]
    north_west = [min(lons) - 1e-6, CENTER[0], CENTER[1], max(lats) + 1e-6]
    expected = [r["name"] for r in records
                if r["location"]["lat"] >= CENTER[0] and r["location"]["lon"] <= CENTER[1]]
    found = yield admin.call(SEARCH, north_west, None, 1000)
    assert 0 < len(expected) < COUNT and names(found["nodes"]) == expected and found["total"] == len(expected)
    led = yield admin.call(SEARCH, north_west, "kind=led", 1000)
    assert names(led["nodes"]) == [n for n, r in zip(names(records), records, strict=True)
                                   if n in expected and r["tags"]["kind"] == "led"]
    nowhere = yield admin.call(SEARCH, [0, 0, 1, 1])
    assert nowhere["total"] == 0
    with pytest.raises(InvalidArgument):
        yield admin.call(SEARCH, [0, 10, 1, 5])


# -- enable and disable ------------------------------------------------------------

FILTERS = {
    "name": ("fleet.lamp0002", lambda r: r["name"] == "fleet.lamp0002"),
    "glob": ("fleet.lamp001*", lambda r: r["name"].startswith("fleet.lamp001")),
    "attributes": ("zone=south kind=led", lambda r: r["tags"]["zone"] == "south" and r["tags"]["kind"] == "led"),
    "ALL": ("ALL", lambda r: True),
}


@pytest.mark.parametrize("kind", list(FILTERS))
@pytest_twisted.inlineCallbacks
def test_disable_and_enable_select_nodes_by_name_glob_attributes_or_all(admin, consumer, events, kind):
    text, selects = FILTERS[kind]
    changes = events()
    yield consumer.subscribe(changes, uri.NODE_CHANGED)
    records = (yield admin.call(LIST, "ALL", 1000))["nodes"]
    expected = sorted(r["name"] for r in records if selects(r))
    try:
        answer = yield admin.call(DISABLE, text)
        assert sorted(answer["changed"]) == expected and answer["matched"] == len(expected)
        disabled = yield admin.call(LIST, "status=disabled", 1000)
        assert names(disabled["nodes"]) == expected
        assert all(r["connected"] for r in disabled["nodes"])
        live = set(names((yield consumer.get_data_node())))
        assert not live & set(expected) and len(live) == COUNT - len(expected)
        yield changes.wait(lambda items: sorted(e["name"] for e in items if e["change"] == "disabled") == expected)
        again = yield admin.call(DISABLE, text)
        assert again == {"matched": len(expected), "changed": []}
    finally:
        answer = yield admin.call(ENABLE, text)
    assert sorted(answer["changed"]) == expected
    yield changes.wait(lambda items: sorted(e["name"] for e in items if e["change"] == "enabled") == expected)
    assert len((yield consumer.get_data_node())) == COUNT


@pytest.mark.parametrize("empty", ["", "   ", None])
@pytest_twisted.inlineCallbacks
def test_an_empty_filter_is_refused_and_says_how_to_select_all(admin, empty):
    for procedure in (ENABLE, DISABLE):
        with pytest.raises(InvalidArgument) as info:
            yield admin.call(procedure, empty)
        assert "'ALL'" in info.value.message


@pytest_twisted.inlineCallbacks
def test_a_bad_filter_or_unknown_name_is_a_clear_error(admin):
    with pytest.raises(InvalidArgument) as info:
        yield admin.call(DISABLE, "no such name!")
    assert "filter" in info.value.message
    with pytest.raises(NoSuchNode):
        yield admin.call(DISABLE, "fleet.lamp9999")
    assert (yield admin.call(DISABLE, "nosuch.*")) == {"matched": 0, "changed": []}
    with pytest.raises(NoSuchNode):
        yield admin.call(GET, "fleet.lamp9999")


@pytest_twisted.inlineCallbacks
def test_a_disabled_node_is_hidden_from_consumers_and_the_bridge_and_refuses_get_data(fleet_stack, admin, consumer,
                                                                                       events):
    name, target = "fleet.lamp0005", "fleet.lamp0005::power_w"
    added, gone = events(), events()
    yield consumer.subscribe(added, uri.DATA_NODE_ADDED)
    yield consumer.subscribe(gone, uri.DATA_NODE_SUBTRACTED)
    assert target in (yield threads.deferToThread(bridge_targets, fleet_stack.bridge_url))
    yield admin.call(DISABLE, name)
    try:
        yield gone.wait(lambda items: names(items) == [name])
        assert name not in names((yield consumer.get_data_node()))
        assert target not in (yield threads.deferToThread(bridge_targets, fleet_stack.bridge_url))
        with pytest.raises(NodeDisabled) as info:
            yield consumer.get_data(name, ["power_w"], -60, 0)
        assert name in info.value.message and "sisock enable" in info.value.message
        field, _ = yield consumer.get_fields(name, -60, 0)  # still connected, still describes itself
        assert "power_w" in field
    finally:
        yield admin.call(ENABLE, name)
    yield added.wait(lambda items: names(items) == [name])
    result = yield consumer.get_data(name, ["power_w"], -60, 0)
    assert len(result["data"]["power_w"]) > 0
    assert target in (yield threads.deferToThread(bridge_targets, fleet_stack.bridge_url))
    assert names(gone.items) == [name]


# -- who may, forget -----------------------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_anonymous_consumers_and_nodes_may_not_manage_the_registry(fleet_stack, consumer):
    node = yield connect_node(fleet_stack, "regtest_intruder")
    try:
        for session in (consumer, node):
            for procedure, args in ((LIST, ()), (DISABLE, ("ALL",)), (FORGET, ("fleet.lamp0001",))):
                with pytest.raises(ApplicationError) as info:
                    yield session.call(procedure, *args)
                assert info.value.error == "wamp.error.not_authorized"
    finally:
        yield node.close()


@pytest_twisted.inlineCallbacks
def test_forget_removes_an_offline_record_and_refuses_a_connected_one(fleet_stack, admin, consumer, events):
    changes = events()
    yield consumer.subscribe(changes, uri.NODE_CHANGED)
    node = yield connect_node(fleet_stack, "regtest_gone")
    assert (yield node.call(uri.DATA_NODE_ADD, "regtest_gone", "soon gone", node._session_id, host="elsewhere"))
    with pytest.raises(InvalidArgument) as info:
        yield admin.call(FORGET, "regtest_gone")
    assert "connected" in info.value.message
    yield node.close()
    offline = yield until(lambda: admin.call(GET, "regtest_gone"), lambda r: r["status"] == "offline",
                          "regtest_gone to go offline")
    assert offline["host"] == "elsewhere" and offline["last_seen"] >= offline["first_seen"]
    assert (yield admin.call(FORGET, "regtest_gone")) is None
    with pytest.raises(NoSuchNode):
        yield admin.call(GET, "regtest_gone")
    with pytest.raises(NoSuchNode):
        yield admin.call(FORGET, "regtest_gone")
    yield changes.wait(lambda items: [e["change"] for e in items if e["name"] == "regtest_gone"]
                       == ["added", "offline", "forgotten"])


@pytest_twisted.inlineCallbacks
def test_bad_metadata_at_add_time_is_refused_naming_the_argument(fleet_stack):
    node = yield connect_node(fleet_stack, "regtest_bad")
    try:
        for kwargs, word in (({"location": {"lat": 91, "lon": 0}}, "location"), ({"pid": -1}, "pid"),
                             ({"colour": "red"}, "colour"), ({"tags": {"k": [1]}}, "tags")):
            with pytest.raises(InvalidArgument) as info:
                yield node.call(uri.DATA_NODE_ADD, "regtest_bad", "d", node._session_id, **kwargs)
            assert word in info.value.message
    finally:
        yield node.close()


# -- restarts --------------------------------------------------------------------------

@pytest.fixture
def small_fleet(tmp_path):
    """Router, hub and five lamps of their own, for a test that restarts them."""
    stack = start_stack(tmp_path, fleet_args=["--count", "5", "--interval", "1"])
    yield stack
    stack.stop()


@pytest_twisted.inlineCallbacks
def test_the_registry_survives_hub_and_router_restarts(small_fleet):
    stack = small_fleet
    admin = yield connect_admin(stack)
    consumer = yield stack.connect()
    try:
        yield admin.call(DISABLE, "fleet.lamp0002")
        before = (yield admin.call(LIST))["nodes"]

        def all_back(page):
            return [(r["name"], r["status"]) for r in page["nodes"]] == [  # the online first, then the disabled
                ("fleet.lamp0001", "online"), ("fleet.lamp0003", "online"), ("fleet.lamp0004", "online"),
                ("fleet.lamp0005", "online"), ("fleet.lamp0002", "disabled")] \
                and all(r["connected"] for r in page["nodes"])

        def same_records(after):
            keep = ("name", "first_seen", "status", "location", "tags", "fields", "host", "pid", "description")
            assert [{k: r[k] for k in keep} for r in after["nodes"]] == [{k: r[k] for k in keep} for r in before]

        stack.hub.signal(signal.SIGKILL)
        stack.hub.popen.wait(30)
        stack.hub.start()
        yield stack.hub.ready()
        same_records((yield until(lambda: admin.call(LIST), all_back, "the fleet back after a hub restart")))

        stack.router.signal(signal.SIGKILL)
        stack.router.popen.wait(30)
        stack.router.start()
        yield stack.router.wait_output("NODE_BOOT_COMPLETE", 60)
        yield stack.hub.ready(count=2)
        same_records((yield until(lambda: admin.call(LIST), all_back, "the fleet back after a router restart",
                                  timeout=30)))
        live = yield until(consumer.get_data_node, lambda nodes: len(nodes) == 4, "four listed nodes")
        assert "fleet.lamp0002" not in names(live)
    finally:
        yield admin.close()
        yield consumer.close()


# -- the parts without a router --------------------------------------------------------

def test_a_registry_file_keeps_records_and_their_state_across_reopening(tmp_path):
    path = str(tmp_path / "hub" / "registry.sqlite3")
    registry = Registry(path)
    record, created = registry.seen("lamp", "a lamp", check_info({"location": {"lat": 1.5, "lon": 2.5},
                                                                 "tags": {"zone": "x"}, "fields": 3}), "lamp", 100.0)
    assert created and record.status == "online"
    registry.set_enabled([record], False)
    registry.touch(["lamp"], 150.0)
    registry.close()
    again = Registry(path)
    kept = again.get("lamp")
    assert (kept.first_seen, kept.last_seen, kept.status, kept.connected) == (100.0, 150.0, "disabled", False)
    assert (kept.latitude, kept.longitude, kept.tags, kept.fields) == (1.5, 2.5, {"zone": "x"}, 3)
    same, created = again.seen("lamp", "back", {}, "lamp", 200.0)
    assert not created and same.first_seen == 100.0 and same.description == "back" and same.fields == 3
    again.close()


def test_a_change_is_in_the_file_once_sync_is_done_without_closing(tmp_path):
    path = str(tmp_path / "r.sqlite3")
    registry = Registry(path)
    registry.seen("lamp", "a lamp", {}, "lamp", 100.0)
    registry.forget("lamp")
    registry.seen("pump", "a pump", {}, "pump", 101.0)
    registry.sync().result(timeout=10)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name, last_seen FROM nodes").fetchall() == [("pump", 101.0)]
    registry.close()


@pytest.mark.parametrize("text, matching", [
    ("ALL", ["a.x", "a.y", "b"]),
    ("", ["a.x", "a.y", "b"]),
    ("b", ["b"]),
    ("a.*", ["a.x", "a.y"]),
    ("zone=north", ["a.x"]),
    ("tags.zone=n*, status=offline", ["a.y"]),
    ("host=", ["b"]),
    ("a.* connected=true", ["a.x"]),
])
def test_filters_select_by_name_glob_and_attribute_values(tmp_path, text, matching):
    registry = Registry(str(tmp_path / "r.sqlite3"))
    registry.seen("a.x", "", check_info({"host": "h1", "tags": {"zone": "north"}}), "a", 1.0)
    registry.seen("a.y", "", check_info({"host": "h2", "tags": {"zone": "nowhere"}}), "a", 1.0)
    registry.left("a.y", 2.0)
    registry.seen("b", "", {}, "b", 1.0)
    assert [r.name for r in registry.select(parse_filter(text))] == matching
    registry.close()


def test_bounding_boxes_are_checked_and_may_cross_the_antimeridian():
    def At(lat, lon):  # noqa: N802  (reads like a place)
        return NodeRecord("somewhere", latitude=lat, longitude=lon)

    across = parse_bbox([170, -10, -170, 10])
    assert in_bbox(At(0, 175), across) and in_bbox(At(0, -175), across) and not in_bbox(At(0, 0), across)
    assert not in_bbox(At(None, None), parse_bbox([-180, -90, 180, 90]))
    for bad in ([0, 0, 1], [0, 0, 200, 1], [0, 5, 1, 1], "box"):
        with pytest.raises(InvalidArgument):
            parse_bbox(bad)

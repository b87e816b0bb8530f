"""Liveness: heartbeats keep nodes online; silence takes them offline once, whatever comes after.

The hub here runs with ``--heartbeat-timeout 1``; the router drops a frozen
connection only after its WebSocket ping times out (3 to 4 s), so what
happens within the first second or two is the heartbeat path alone.
"""

import re
import signal
import time

import pytest
import pytest_twisted

from sisock.wire import uri
from tests.conftest import pause
from tests.registry_support import connect_admin, connect_node, joined, start_stack, until

TIMEOUT = 1.0  # the hub's --heartbeat-timeout
GET = uri.HUB_NODES + "get"


@pytest.fixture(scope="module")
def quick_hub(tmp_path_factory):
    """A router and a hub that takes a node offline after 1 s without heartbeats."""
    stack = start_stack(tmp_path_factory.mktemp("liveness"), hub_args=["--heartbeat-timeout", str(TIMEOUT)])
    yield stack
    stack.stop()


@pytest.fixture
def watcher(quick_hub):
    yield from joined(connect_admin(quick_hub))


def named(items, name):
    return [e for e in items if e["name"] == name]


@pytest_twisted.inlineCallbacks
def test_a_node_silent_past_the_timeout_goes_offline_once_even_when_its_session_leaves_later(
        quick_hub, watcher, events):
    gone, added = events(), events()
    yield watcher.subscribe(gone, uri.DATA_NODE_SUBTRACTED)
    yield watcher.subscribe(added, uri.DATA_NODE_ADDED)
    node = yield connect_node(quick_hub, "quiet")
    yield node.call(uri.DATA_NODE_ADD, "quiet", "heartbeats, then stops", node._session_id, heartbeat=0.2)
    for _ in range(5):
        yield node.publish(uri.HUB_HEARTBEAT)
        yield pause(0.2)
    assert named(gone.items, "quiet") == []
    yield gone.wait(lambda items: named(items, "quiet"), timeout=TIMEOUT + 2.0, what="quiet to be subtracted")
    record = yield watcher.call(GET, "quiet")
    assert record["status"] == "offline" and node.is_attached()
    # Its session leaving now is no second departure; adding the name again shows the hub has seen the leave.
    yield node.close()
    again = yield connect_node(quick_hub, "quiet")
    yield again.call(uri.DATA_NODE_ADD, "quiet", "back", again._session_id)
    yield added.wait(lambda items: len(named(items, "quiet")) == 2)
    assert len(named(gone.items, "quiet")) == 1
    yield again.close()
    yield gone.wait(lambda items: len(named(items, "quiet")) == 2)


@pytest_twisted.inlineCallbacks
def test_an_expired_session_that_heartbeats_again_is_asked_to_add_its_nodes(quick_hub, watcher, events):
    gone, nudged = events(), events()
    yield watcher.subscribe(gone, uri.DATA_NODE_SUBTRACTED)
    node = yield connect_node(quick_hub, "sleepy")
    yield node.subscribe(nudged, uri.HUB_ONLINE)
    yield node.call(uri.DATA_NODE_ADD, "sleepy", "d", node._session_id, heartbeat=0.2)
    yield gone.wait(lambda items: named(items, "sleepy"), timeout=TIMEOUT + 2.0)
    yield node.publish(uri.HUB_HEARTBEAT)
    yield nudged.wait(lambda items: len(items) == 1, timeout=5.0, what="hub.online sent to the expired session")
    assert (yield node.call(uri.DATA_NODE_ADD, "sleepy", "d", node._session_id, heartbeat=0.2)) is True
    assert (yield watcher.call(GET, "sleepy"))["status"] == "online"
    yield node.close()


@pytest_twisted.inlineCallbacks
def test_a_frozen_node_process_goes_offline_by_heartbeat_with_one_subtracted_event_each(quick_hub, watcher, events):
    gone, added = events(), events()
    yield watcher.subscribe(gone, uri.DATA_NODE_SUBTRACTED)
    yield watcher.subscribe(added, uri.DATA_NODE_ADDED)
    lamps = ["frozen.lamp0001", "frozen.lamp0002", "frozen.lamp0003"]
    fleet = quick_hub.spawn("frozen", "nodes.fleet", "--count", "3", "--authid", "frozen", "--heartbeat", "0.2",
                            ready=False)
    yield fleet.ready()
    yield added.wait(lambda items: sorted(e["name"] for e in items) == lamps)
    fleet.signal(signal.SIGSTOP)
    try:
        stopped = time.monotonic()
        yield gone.wait(lambda items: sorted(e["name"] for e in items) == lamps, timeout=TIMEOUT + 2.0,
                        what="the frozen lamps to be subtracted")
        took = time.monotonic() - stopped
        offline = yield until(lambda: watcher.call(GET, "frozen.lamp0002"), lambda r: r["status"] == "offline",
                              "frozen.lamp0002 offline")
        assert not offline["connected"]
        by_heartbeat = re.search(r"no heartbeat from session \d+ for [\d.]+ s; 3 node\(s\) offline",
                                 quick_hub.hub.output())
        assert by_heartbeat, f"subtracted after {took:.1f} s, but not for want of heartbeats"

    finally:
        fleet.signal(signal.SIGCONT)
    yield added.wait(lambda items: sorted(e["name"] for e in items) == sorted(lamps * 2), timeout=30,
                     what="the lamps back after SIGCONT")
    assert sorted(e["name"] for e in gone.items) == lamps
    fleet.stop()
    yield gone.wait(lambda items: sorted(e["name"] for e in items) == sorted(lamps * 2))

"""Two routers joined by a Crossbar router link into one realm: a central router A with the hub, a site router B.

B's link reaches A through a TCP forwarder in this test process, so a test
can cut the link and restore it without killing either router.
"""

import signal
import time

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions
from twisted.internet import defer, reactor
from twisted.protocols import portforward

from sisock import client
from sisock.router.directory import prepare_cbdir
from sisock.router.links import node_public_key
from sisock.wire import uri
from sisock.wire.errors import NodeDisabled, NotAuthorized
from tests.conftest import ROOT, Events, Stack, free_port, pause, until
from tests.registry_support import connect_admin, connect_node, joined
from tests.test_wire import ALL, CHUNK, MAX_MESSAGE, assert_matches_truth
from tests.wirenode import T0

TIMEOUT = 2.0  # the hub's --heartbeat-timeout
GET = uri.HUB_NODES + "get"
ENABLE, DISABLE = uri.HUB_NODES + "enable", uri.HUB_NODES + "disable"
NO_HEARTBEAT = r"no heartbeat from session \d+"
LINK_LEFT = r"router link session \d+ left; [1-9]\d* node\(s\) behind it offline"


class Cable(portforward.ProxyFactory):
    """A TCP forwarder to ``port`` on loopback that can be cut and plugged in again."""

    def __init__(self, port):
        super().__init__("127.0.0.1", port)
        self.listen_port, self.listener, self.open = free_port(), None, []

    def buildProtocol(self, addr):
        proto = super().buildProtocol(addr)
        self.open.append(proto)
        return proto

    def plug(self):
        self.listener = reactor.listenTCP(self.listen_port, self, interface="127.0.0.1")

    def cut(self):
        d = self.listener.stopListening()
        for proto in self.open:
            proto.transport.abortConnection()
        self.open = []
        return d


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    """Central router A with the hub and node ``central`` (there before the link); site router B
    linked to A, with the sensors node."""
    base = tmp_path_factory.mktemp("links")
    a, b = Stack(base / "a"), Stack(base / "b")
    cable = Cable(a.port)
    cable.plug()
    prepare_cbdir(b.cbdir, b.port, link=f"ws://127.0.0.1:{cable.listen_port}/ws")
    prepare_cbdir(a.cbdir, a.port, link_keys={"b": node_public_key(b.cbdir)})
    a.cable = cable
    try:
        a.start_router()
        a.hub = a.spawn("hub", "sisock.hub", "--heartbeat-timeout", str(TIMEOUT))
        a.central = a.spawn("central", "nodes.sensors", "--name", "central", "--interval", "0.2")
        b.start_router()
        b.sensors = b.spawn("sensors", "nodes.sensors", "--interval", "0.2")
        yield a, b
    finally:
        b.stop()
        a.stop()
        pytest_twisted.blockon(cable.cut())


@pytest.fixture
def on_a(linked):
    yield from joined(client.connect(linked[0].url))


@pytest.fixture
def on_b(linked):
    yield from joined(client.connect(linked[1].url))


@pytest.fixture
def admin_a(linked):
    yield from joined(connect_admin(linked[0]))


def listed(name):
    return lambda nodes: name in [n["name"] for n in nodes]


def unlisted(name):
    return lambda nodes: name not in [n["name"] for n in nodes]


@pytest_twisted.inlineCallbacks
def test_a_node_on_b_appears_in_the_hub_on_a(on_a):
    yield until(on_a.get_data_node, listed("sensors"), "sensors (on B) listed by the hub on A", timeout=30)


@defer.inlineCallbacks
def reads_live_and_history(consumer, name):
    """Check that ``consumer`` follows node ``name`` live and reads its last minute."""
    live = Events()
    yield consumer.subscribe_data(name, live)
    yield live.wait(lambda items: len(items) >= 2, timeout=10, what=f"live blocks of {name}")
    assert set(live.items[0]) >= {"timeline", "t", "data"}
    field, _ = yield consumer.get_fields(name, -60, 0)
    first = sorted(field)[0]
    answer = yield consumer.get_data(name, [first], -60, 0)
    t = answer["timeline"][field[first]["timeline"]]["t"]
    assert len(answer["data"][first]) == len(t) > 0
    assert t[-1] > time.time() - 60


@pytest_twisted.inlineCallbacks
def test_a_consumer_on_a_reads_a_node_on_b_live_and_historically(on_a):
    yield until(on_a.get_data_node, listed("sensors"), "sensors listed", timeout=30)
    yield reads_live_and_history(on_a, "sensors")


@pytest_twisted.inlineCallbacks
def test_a_consumer_on_a_reads_a_large_answer_of_a_node_on_b_in_chunks_exactly(linked, on_a):
    # over the node's message limit unless its answer comes in progressive chunks through the link
    _, b = linked
    limits = {"SISOCK_CHUNK_BYTES": str(CHUNK), "SISOCK_MAX_MESSAGE_BYTES": str(MAX_MESSAGE), "PYTHONPATH": str(ROOT)}
    with b.running("wire", "tests.wirenode", env=limits, ready=False) as wire:
        yield wire.ready(60)
        yield until(on_a.get_data_node, listed("wire"), "wire (on B) listed on A", timeout=30)
        start, end = T0, T0 + 600  # a few MiB
        progress = []
        result = yield on_a.get_data("wire", ALL, start, end, progress=lambda *a: progress.append(a))
        assert len(progress) > 10 and progress[-1][0] == progress[-1][1]
        assert_matches_truth(result, start, end, ALL)


@pytest_twisted.inlineCallbacks
def test_a_consumer_on_b_lists_every_node_and_reads_one_there_before_the_link(on_b):
    # `central` registered its procedures on A before B linked: Crossbar 26.10.1's link
    # forwards only exact registrations made before it came up (sisock.router.links mends it)
    yield until(on_b.get_data_node, lambda nodes: {"central", "sensors"} <= {n["name"] for n in nodes},
                "every node listed on B", timeout=30)
    yield until(lambda: on_b.get_fields("central", -60, 0), bool, "central's fields read on B", timeout=10)
    yield reads_live_and_history(on_b, "central")


@pytest_twisted.inlineCallbacks
def test_a_node_on_b_adds_names_of_its_own_across_the_link_and_no_other(linked, on_a):
    _, b = linked
    yield until(on_a.get_data_node, listed("sensors"), "sensors listed", timeout=30)
    node = yield connect_node(b, "probe")
    try:
        yield until(lambda: node.call(uri.DATA_NODE_ADD, "probe.x", "mine", node._session_id), bool,
                    "probe.x added from B", timeout=15)
        # The hub refuses both, and its errors cross the link (Crossbar 26.10.1's link answered
        # null: sisock.router.links mends it)
        with pytest.raises(NotAuthorized, match="node 'probe' may not add a data node named 'sensors'"):
            yield node.call(uri.DATA_NODE_ADD, "sensors", "not mine", node._session_id)
        with pytest.raises(NotAuthorized, match="only the session that added 'sensors' may subtract it"):
            yield node.call(uri.DATA_NODE_SUBTRACT, "sensors", node._session_id)
        admin = yield connect_admin(linked[0])
        record = yield admin.call(GET, "sensors")
        yield admin.close()
        assert record["status"] == "online" and record["description"] != "not mine"
        yield until(on_a.get_data_node, listed("probe.x"), "probe.x listed on A")
    finally:
        yield node.close()


@pytest.mark.parametrize("where", [0, 1])
@pytest_twisted.inlineCallbacks
def test_no_session_but_a_link_may_speak_for_another_through_forward_for(linked, on_a, where):
    yield until(on_a.get_data_node, listed("sensors"), "sensors listed", timeout=30)
    node = yield connect_node(linked[where], "evil")
    try:
        for authid, authrole in (("sensors", "node"), ("hub", "hub")):
            forged = CallOptions(forward_for=[{"session": 1, "authid": authid, "authrole": authrole}])
            for call in ((uri.DATA_NODE_ADD, "sensors", "forged", 1), (uri.DATA_NODE_SUBTRACT, "sensors", 1)):
                with pytest.raises(ApplicationError) as refused:
                    yield node.call(*call, options=forged)
                assert refused.value.error == "wamp.error.not_authorized"
        answer = yield on_a.get_data_node()
        assert listed("sensors")(answer)
        assert [n["description"] for n in answer if n["name"] == "sensors"] != ["forged"]
    finally:
        yield node.close()


@pytest_twisted.inlineCallbacks
def test_a_cut_link_takes_b_offline_and_restored_loses_no_registry_state(linked, on_a, admin_a):
    a, _ = linked
    yield until(on_a.get_data_node, listed("sensors"), "sensors listed", timeout=30)
    before = yield admin_a.call(GET, "sensors")
    silent, left = (a.hub.count(pattern) for pattern in (NO_HEARTBEAT, LINK_LEFT))
    yield a.cable.cut()
    try:
        yield until(on_a.get_data_node, unlisted("sensors"), "sensors offline after the link is cut",
                    timeout=TIMEOUT + 2)
        # at once, as the link's session leaves A: not after its heartbeats have been missed
        yield a.hub.wait_output(LINK_LEFT, timeout=5, count=left + 1)
        assert a.hub.count(NO_HEARTBEAT) == silent
    finally:
        a.cable.plug()
    yield until(on_a.get_data_node, listed("sensors"), "sensors back with the link", timeout=30)
    after = yield admin_a.call(GET, "sensors")
    assert after["status"] == "online"
    assert after["authid"] == "sensors"
    for key in ("name", "description", "first_seen", "tags", "location", "authid"):
        assert after.get(key) == before.get(key), key
    # both ways again: the link forwards the registrations made while it was cut
    yield until(lambda: on_a.get_fields("sensors", -60, 0), bool, "sensors' fields read on A", timeout=10)
    b_side = yield client.connect(linked[1].url)
    try:
        yield until(lambda: b_side.get_fields("central", -60, 0), bool, "central's fields read on B", timeout=10)
    finally:
        yield b_side.close()


@pytest_twisted.inlineCallbacks
def test_a_node_on_b_disabled_on_a_refuses_reads_until_enabled_again(on_a, admin_a):
    yield until(on_a.get_data_node, listed("sensors"), "sensors listed", timeout=30)
    yield admin_a.call(DISABLE, "sensors")
    try:
        yield until(lambda: refused(on_a.get_data("sensors", ["cpu_percent"], -10, 0)), bool,
                    "sensors (on B) refusing reads once disabled on A", timeout=10)
    finally:
        yield admin_a.call(ENABLE, "sensors")
    yield until(lambda: refused(on_a.get_data("sensors", ["cpu_percent"], -10, 0)), lambda why: not why,
                "sensors serving again once enabled", timeout=10)


@defer.inlineCallbacks
def refused(deferred):
    """Deferred: True if ``deferred`` fails with NodeDisabled, False if it succeeds."""
    try:
        yield deferred
    except NodeDisabled:
        return True
    return False


@pytest_twisted.inlineCallbacks
def test_a_node_that_joins_b_while_the_link_is_down_is_listed_once_the_link_is_back(linked, on_a):
    # The node's data_node.add finds no hub behind B (no_such_procedure), and the hub publishes
    # hub.online to all only when it joins: the hub asks a heartbeating session that owns no name
    # to add its nodes. `sensors` on B is frozen meanwhile, so that no hub.online meant for it
    # (after its expiry) reaches the new node through the link.
    a, b = linked
    yield until(on_a.get_data_node, listed("sensors"), "sensors listed", timeout=30)
    b.sensors.signal(signal.SIGSTOP)
    try:
        yield a.cable.cut()
        with b.running("late", "nodes.sensors", "--name", "late", "--interval", "0.5", ready=False) as late:
            yield late.wait_output("the hub is not up yet", timeout=30)
            a.cable.plug()
            yield until(on_a.get_data_node, listed("late"), "late (joined B while the link was down) listed on A",
                        timeout=15)
    finally:
        b.sensors.signal(signal.SIGCONT)


@pytest_twisted.inlineCallbacks
def test_killing_router_b_marks_its_nodes_offline_and_restarting_it_brings_them_back(linked, on_a):
    _, b = linked
    yield until(on_a.get_data_node, listed("sensors"), "sensors listed", timeout=30)
    b.router.signal(signal.SIGKILL)
    b.router.popen.wait()
    killed = time.monotonic()
    yield until(on_a.get_data_node, unlisted("sensors"), "sensors offline", timeout=TIMEOUT + 2)
    assert time.monotonic() - killed <= TIMEOUT + 2
    yield pause(0.5)
    b.router.start()
    yield b.router.wait_output("NODE_BOOT_COMPLETE", 60)
    yield until(on_a.get_data_node, listed("sensors"), "sensors back after B restarts", timeout=60)


@pytest.fixture
def tls_linked(tmp_path):
    """Central router A serving only wss:// with a self-signed certificate; site B linked to it,
    trusting that certificate, with the sensors node."""
    a, b = Stack(tmp_path / "a", tls=True), Stack(tmp_path / "b")
    prepare_cbdir(b.cbdir, b.port, link=a.url, link_ca=a.tls[1])
    prepare_cbdir(a.cbdir, a.port, tls=a.tls, link_keys={"b": node_public_key(b.cbdir)})
    try:
        a.start_router()
        a.spawn("hub", "sisock.hub")
        b.start_router()
        b.spawn("sensors", "nodes.sensors", "--interval", "0.2")
        yield a
    finally:
        b.stop()
        a.stop()


@pytest_twisted.inlineCallbacks
def test_a_site_links_to_a_central_router_over_tls_trusting_its_certificate(tls_linked, monkeypatch):
    monkeypatch.setenv("SISOCK_CA_FILE", tls_linked.tls[1])
    on_a = yield client.connect(tls_linked.url)
    try:
        yield until(on_a.get_data_node, listed("sensors"), "sensors (on B) listed over wss:// on A", timeout=30)
        yield reads_live_and_history(on_a, "sensors")
    finally:
        yield on_a.close()

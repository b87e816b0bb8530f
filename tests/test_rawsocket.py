"""RawSocket: the router listens on TCP and on a Unix socket; sisock connects by ``rs://`` and ``unix://``."""

import os
import re
import signal
import socket
import sys

import psutil
import pytest
import pytest_twisted

from sisock import client
from sisock.connection import parse_router_url
from sisock.router.directory import prepare_cbdir, socket_path
from tests.conftest import Proc, Stack, free_port, wait_for


@pytest.mark.parametrize("url, expected", [
    ("ws://127.0.0.1:8080/ws", ("websocket", False, "127.0.0.1", 8080)),
    ("wss://example.org/ws", ("websocket", True, "example.org", 443)),
    ("rs://127.0.0.1:8082", ("tcp", False, "127.0.0.1", 8082)),
    ("rss://example.org:9000", ("tcp", True, "example.org", 9000)),
    ("unix:///var/lib/sisock/router/sisock.sock", ("unix", False, None, "/var/lib/sisock/router/sisock.sock")),
    ("rs://unix:/tmp/x.sock", ("unix", False, None, "/tmp/x.sock")),
])
def test_router_urls_of_every_transport_are_understood(url, expected):
    assert parse_router_url(url) == expected


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "tcp://127.0.0.1:8082", "unix://host/path", "rs://",
                                 "127.0.0.1:8080", "rss://unix:/tmp/x.sock"])
def test_other_router_urls_are_refused_with_the_accepted_forms(url):
    with pytest.raises(ValueError, match=r"ws://host:port/path.*rs://host:port.*unix:///path"):
        parse_router_url(url)


@pytest.fixture
def rs_stack(tmp_path):
    """A router listening on WebSocket, RawSocket TCP and its Unix socket; the hub joins by the socket."""
    s = Stack(tmp_path)
    s.rs_port = free_port()
    prepare_cbdir(s.cbdir, s.port, rawsocket_port=s.rs_port)
    s.socket = socket_path(s.cbdir)
    try:
        s.start_router()
        s.env["SISOCK_URL"] = f"unix://{s.socket}"
        s.hub = s.spawn("hub", "sisock.hub")
        yield s
    finally:
        s.stop()


@pytest_twisted.inlineCallbacks
def test_a_node_over_rawsocket_tcp_serves_a_consumer_on_the_unix_socket_and_one_on_websocket(rs_stack):
    assert rs_stack.socket.startswith(rs_stack.cbdir) and os.path.exists(rs_stack.socket)
    env = dict(rs_stack.env, SISOCK_URL=f"rs://127.0.0.1:{rs_stack.rs_port}")
    node = Proc("weather", [sys.executable, "-m", "nodes.weather"], env, rs_stack.dir).start()
    rs_stack.procs.append(node)
    yield node.ready()
    for url in (f"unix://{rs_stack.socket}", rs_stack.url, f"rs://unix:{rs_stack.socket}"):
        consumer = yield client.connect(url)
        try:
            assert [n["name"] for n in (yield consumer.get_data_node())] == ["weather"]
            result = yield consumer.get_data("weather", ["temperature"], 1500076800, 1500163200)
            assert len(result["data"]["temperature"]) == 24
        finally:
            yield consumer.close()


@pytest_twisted.inlineCallbacks
def test_rawsocket_over_tcp_sets_tcp_nodelay(rs_stack):
    consumer = yield client.connect(f"rs://127.0.0.1:{rs_stack.rs_port}")
    try:
        sock = consumer._transport.transport.getHandle()
        assert sock.family == socket.AF_INET
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        yield consumer.close()


def signal_router(router, sig):
    """Send ``sig`` to Crossbar's controller process and every worker under it."""
    controller = psutil.Process(router.pid)
    for process in (controller, *controller.children(recursive=True)):
        process.send_signal(sig)


@pytest_twisted.inlineCallbacks
def test_rawsocket_parts_notice_a_frozen_router_and_join_again_once_it_runs(rs_stack):
    consumer = yield client.connect(f"rs://127.0.0.1:{rs_stack.rs_port}")
    try:
        signal_router(rs_stack.router, signal.SIGSTOP)
        try:  # like a WebSocket part (ping every 2 s, 3 s timeout), within about 5 s
            yield wait_for(lambda: not consumer.is_attached(), 15, "the rs:// consumer to drop the frozen router")
            yield rs_stack.hub.wait_output("disconnected from router", timeout=15)  # on the Unix socket
        finally:
            signal_router(rs_stack.router, signal.SIGCONT)
        yield rs_stack.hub.ready(count=2, timeout=30)
        yield wait_for(consumer.is_attached, 30, "the rs:// consumer to join again")
        assert (yield consumer.get_data_node()) == []
    finally:
        yield consumer.close()


@pytest_twisted.inlineCallbacks
def test_sisock_up_connects_its_own_parts_by_the_unix_socket(tmp_path):
    home, port, rs_port, bridge_port = str(tmp_path / "h"), free_port(), free_port(), free_port()
    sisock = os.path.join(os.path.dirname(sys.executable), "sisock")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for name in ("URL", "HOME", "HUB_SECRET", "NODE_SECRET", "ADMIN_SECRET"):
        env.pop(f"SISOCK_{name}", None)
    up = Proc("up", [sisock, "up", "--home", home, "--port", str(port), "--rawsocket-port", str(rs_port),
                     "--bridge-port", str(bridge_port), "--no-sensors", "--fleet", "0"], env, str(tmp_path)).start()
    try:
        yield up.wait_output("stack ready", timeout=120)
        sock = socket_path(os.path.join(home, "router"))
        assert f"unix://{sock}" in up.output() and f"rs://127.0.0.1:{rs_port}" in up.output()
        pids = dict(re.findall(r"^(\w+) +running +pid (\d+)", up.output(), re.M))
        assert set(pids) == {"router", "hub", "weather", "brewing", "pixels", "bridge"}
        for part in set(pids) - {"router"}:
            with open(f"/proc/{pids[part]}/environ", "rb") as fp:
                assert f"SISOCK_URL=unix://{sock}".encode() in fp.read().split(b"\0")
        consumer = yield client.connect(f"rs://127.0.0.1:{rs_port}")
        try:
            assert sorted(n["name"] for n in (yield consumer.get_data_node())) == ["brewing", "pixels", "weather"]
        finally:
            yield consumer.close()
    finally:
        up.stop(timeout=30)

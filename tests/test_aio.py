"""The asyncio client (`sisock.aio`) against the real router and nodes of the session stack.

Each test runs its coroutine with ``asyncio.run`` in a worker thread (the
reactor of pytest-twisted keeps the main thread), beside the test's Twisted
`consumer` session: the two flavours of autobahn in one process, as in a
notebook.
"""

import asyncio
import threading
import time

import numpy as np
import pytest
import pytest_twisted
from twisted.internet import reactor, threads
from twisted.protocols import portforward

import sisock
from sisock import client
from sisock.wire.errors import InvalidArgument, NoSuchCommand, NoSuchNode
from tests.conftest import CHUNKY_BYTES, pause, wait_for
from tests.wirenode import T0

JUL15, JUL16 = 1500076800, 1500163200


def run(coroutine):
    """Deferred result of ``coroutine`` run by ``asyncio.run`` in a worker thread."""
    return threads.deferToThread(asyncio.run, coroutine)


async def errors_of(url):
    """Each bad call's ``(class, message)``, and a good call after them."""
    out = {}
    async with sisock.aio.connect(url) as client:
        for key, call in {
            "no_such_node": client.get_data("no_such_node", ["x"], JUL15, JUL16),
            "fields_no_such_node": client.get_fields("no_such_node", JUL15, JUL16),
            "bad_field": client.get_data("weather", "temperature", JUL15, JUL16),
            "bad_stride": client.get_data("weather", ["temperature"], JUL15, JUL16, min_stride=-1),
            "bad_node": client.get_latest("no such node"),
            "anonymous_command": client.command("weather", "anything"),
        }.items():
            try:
                await call
            except Exception as exc:
                out[key] = (type(exc), getattr(exc, "message", None), getattr(exc, "error", None))
        out["still"] = await client.get_data("weather", ["temperature"], JUL15, JUL16)
    return out


@pytest_twisted.inlineCallbacks
def test_bad_calls_raise_the_blocking_clients_errors_naming_the_argument(stack):
    out = yield run(errors_of(stack.url))
    assert out["no_such_node"][0] is NoSuchNode and "no_such_node" in out["no_such_node"][1]
    assert out["fields_no_such_node"][0] is NoSuchNode
    assert out["bad_field"][0] is InvalidArgument and out["bad_field"][1].startswith("field")
    assert out["bad_stride"][0] is InvalidArgument and out["bad_stride"][1].startswith("min_stride")
    assert out["bad_node"][0] is InvalidArgument and out["bad_node"][1].startswith("node")
    assert out["anonymous_command"][2] == "wamp.error.not_authorized"
    assert len(out["still"]["data"]["temperature"]) == 24


async def chunked_read(url, start, end):
    progress = []
    async with sisock.aio.connect(url) as client:
        result = await client.get_data("chunky", ["x", "i", "b", "s"], start, end,
                                       progress=lambda got, total: progress.append((got, total)))
    return result, progress


@pytest_twisted.inlineCallbacks
def test_a_chunked_get_data_equals_the_twisted_clients(stack, chunky, consumer):
    start, end = T0, T0 + 200  # 20,000 samples: about 0.5 MB, several chunks
    result, progress = yield run(chunked_read(stack.url, start, end))
    assert len(progress) >= 4 and progress[-1][0] == progress[-1][1] > 4 * CHUNKY_BYTES
    expected = yield consumer.get_data("chunky", ["x", "i", "b", "s"], start, end)
    t = result["timeline"]["fast"]["t"]
    assert len(t) == 20000 and np.array_equal(t, expected["timeline"]["fast"]["t"])
    for f in ("x", "i", "b", "s"):
        assert result["data"][f].dtype == expected["data"][f].dtype, f
        np.testing.assert_array_equal(result["data"][f], expected["data"][f])
    assert result["data"]["i"].dtype == np.int64  # binary arrays: ints stay ints


async def live_blocks(url, node, count):
    async with sisock.aio.connect(url) as client:
        blocks = []
        async with client.subscribe(node) as subscription:
            async for block in subscription:
                blocks.append(block)
                if len(blocks) == count:
                    break
        latest = await client.get_latest(node)
        quiet = await client.subscribe("weather").start()  # an archive: no live blocks ever
        waiting = asyncio.ensure_future(quiet.__anext__())
        await asyncio.sleep(0)  # one turn of the loop: the iteration is waiting for a block
        await quiet.close()  # ends the iteration waiting for a block
        try:
            await asyncio.wait_for(waiting, 5)
        except StopAsyncIteration:
            latest["closed"] = True
    return blocks, latest


@pytest_twisted.inlineCallbacks
def test_subscribe_yields_the_live_blocks_and_get_latest_the_newest(stack):
    blocks, latest = yield run(asyncio.wait_for(live_blocks(stack.url, "sensors", 3), 20))
    assert [b["timeline"] for b in blocks] == ["host"] * 3
    t = [b["t"][-1] for b in blocks]
    assert t == sorted(t) and len(set(t)) == 3
    assert all(0 <= v <= 100 for b in blocks for v in b["data"]["cpu_percent"])
    assert latest["host"]["t"][-1] >= t[-1]
    assert latest.pop("closed")
    assert set(latest["host"]["data"]) >= {"cpu_percent", "mem_used"}


async def admin_commands(url, secret):
    async with sisock.aio.connect(url, authid="admin", secret=secret) as client:
        out = {"answer": await client.command("aio_thermometer", "calibrate", offset=2.5)}
        for key, call in {"bad": client.command("aio_thermometer", "calibrate", offset="abc"),
                          "unknown": client.command("aio_thermometer", "explode")}.items():
            try:
                await call
            except Exception as exc:
                out[key] = (type(exc), exc.message)
        out["reading"] = await client.call("org.simonsobservatory.consumer.aio_thermometer.reading")
    return out


@pytest.fixture
def thermometer(stack):
    """The README's thermometer (`tests.thermometer_node`), a node with a typed command, as ``aio_thermometer``."""
    node = stack.spawn("aio_thermometer", "tests.thermometer_node", "--name", "aio_thermometer")
    yield node
    node.stop()


@pytest_twisted.inlineCallbacks
def test_an_admin_joining_with_wamp_cra_runs_a_command(stack, thermometer):
    out = yield run(admin_commands(stack.url, stack.secret("admin")))
    twisted_admin = yield client.connect(stack.url, authid="admin", secret=stack.secret("admin"))
    try:  # the same through the Twisted session that sisock.Client runs
        assert (yield twisted_admin.command("aio_thermometer", "calibrate", offset=0.0)) == {"offset": 0.0}
        latest = yield twisted_admin.get_latest("aio_thermometer")
        with pytest.raises(NoSuchCommand):
            yield twisted_admin.command("aio_thermometer", "explode")
    finally:
        yield twisted_admin.close()
    assert set(latest) == {"room"} and latest["room"]["data"]["temperature"][-1] in (21.0, 23.5)
    assert out["answer"] == {"offset": 2.5}
    assert out["reading"] == 23.5
    assert out["bad"][0] is InvalidArgument and "offset" in out["bad"][1]
    assert out["unknown"][0] is NoSuchCommand and "calibrate" in out["unknown"][1]


class LoopThread:
    """An asyncio loop in a thread of its own, kept across the steps of one test."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, awaitable, timeout=30.0):
        """Deferred result of ``awaitable`` awaited in the loop (waited for in a worker thread)."""

        async def wait():
            return await awaitable

        future = asyncio.run_coroutine_threadsafe(wait(), self.loop)
        return threads.deferToThread(future.result, timeout)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class Cuttable(portforward.ProxyFactory):
    """A TCP forwarder to the router whose connections the test can cut, as a router going away does."""

    def __init__(self, port):
        super().__init__("127.0.0.1", port)
        self.servers = []

    def buildProtocol(self, addr):
        server = super().buildProtocol(addr)
        self.servers.append(server)
        return server

    def cut(self):
        """Drop every forwarded connection (the router sees the client gone and forgets its session)."""
        for server in self.servers:
            server.transport.abortConnection()
        self.servers.clear()


@pytest_twisted.inlineCallbacks
def test_after_the_connection_is_lost_calls_wait_for_the_join_and_the_subscription_is_made_again(stack):
    proxy = Cuttable(stack.port)
    listening = reactor.listenTCP(0, proxy, interface="127.0.0.1")
    loop = LoopThread()
    try:
        port = listening.getHost().port
        url = f"ws://127.0.0.1:{port}/ws"
        client = yield loop.run(sisock.aio.connect(url))
        subscription = client.subscribe("sensors")
        assert (yield loop.run(subscription.__anext__()))["timeline"] == "host"

        yield listening.stopListening()  # the router is away: no connection until it is back
        proxy.cut()
        yield wait_for(lambda: not client.session.is_attached(), 10, "the client to see the connection lost")
        call = loop.run(client.get_fields("sensors", -60, 0))  # made while the router is away
        yield pause(1.0)  # longer than the first pauses of the backoff: refused attempts meanwhile
        assert not call.called
        back = time.time()
        listening = reactor.listenTCP(port, proxy, interface="127.0.0.1")
        field, _ = yield call
        assert field["cpu_percent"]["units"] == "%"
        block = yield loop.run(subscription.__anext__())
        while block["t"][-1] < back:  # blocks queued before the connection was lost
            block = yield loop.run(subscription.__anext__())
        assert block["timeline"] == "host"
        yield loop.run(client.close())
    finally:
        loop.stop()
        yield listening.stopListening()

"""Faults injected into real processes: each part survives, or comes back by itself."""

import signal
import sys
import textwrap
import time

import pytest
import pytest_twisted
import requests
from autobahn.wamp.types import RegisterOptions

from sisock.wire import uri
from sisock.wire.errors import NodeError
from tests.conftest import Proc, wait_for

# A node whose get_data fails or blocks on request: field "boom" raises,
# field "slow" blocks its thread for 3 s, anything else answers at once.
FAULTY_NODE = textwrap.dedent('''
    import time
    from sisock.node import DataNodeServer, run_node

    class Faulty(DataNodeServer):
        """A node that misbehaves on request."""
        name = "faulty"
        description = "raises or blocks on request"

        def _get_fields_blocking(self, start, end):
            return {"x": {"description": None, "timeline": "tl", "type": "number", "units": None}}, \\
                   {"tl": {"interval": None, "field": ["x"]}}

        def _get_data_blocking(self, field, start, end, min_stride=None):
            if field == ["boom"]:
                raise ZeroDivisionError("the instrument divided by zero")
            if field == ["slow"]:
                time.sleep(3)
            return {"data": {"x": [1.0]}, "timeline": {"tl": {"t": [1500000000.0], "finalized_until": None}}}

    run_node(Faulty)
''')


@pytest.fixture
def faulty(stack, tmp_path):
    script = tmp_path / "faulty.py"
    script.write_text(FAULTY_NODE)
    proc = Proc("faulty", [sys.executable, str(script)], stack.env, str(tmp_path)).start()
    pytest_twisted.blockon(proc.ready())
    yield proc
    proc.stop()


@pytest_twisted.inlineCallbacks
def test_a_node_that_raises_in_get_data_answers_a_wamp_error_and_keeps_serving(faulty, consumer):
    with pytest.raises(NodeError) as info:
        yield consumer.get_data("faulty", ["boom"], 1, 0)
    assert "ZeroDivisionError" in info.value.message and "divided by zero" in info.value.message
    result = yield consumer.get_data("faulty", ["x"], 1, 0)
    assert list(result["data"]["x"]) == [1.0]


@pytest_twisted.inlineCallbacks
def test_a_slow_get_data_delays_neither_other_calls_nor_liveness(faulty, consumer, events):
    gone = events()
    yield consumer.subscribe(gone, uri.DATA_NODE_SUBTRACTED)
    finished = []
    slow = consumer.get_data("faulty", ["slow"], 1, 0).addBoth(lambda r: finished.append("slow") or r)
    fast = yield consumer.get_data("faulty", ["x"], 1, 0)
    finished.append("fast")
    assert list(fast["data"]["x"]) == [1.0]
    yield slow
    assert finished == ["fast", "slow"], "the fast call should come back while the slow one still runs"
    assert "faulty" in [n["name"] for n in (yield consumer.get_data_node())]
    assert gone.items == []


@pytest_twisted.inlineCallbacks
def test_a_killed_node_is_subtracted_within_1_s(stack, consumer, events):
    gone = events()
    yield consumer.subscribe(gone, uri.DATA_NODE_SUBTRACTED)
    node = stack.spawn("kill1", "nodes.weather", "--name", "weather_kill1", ready=False)
    yield node.ready()
    killed = time.monotonic()
    node.signal(signal.SIGKILL)
    yield gone.wait(lambda items: any(e["name"] == "weather_kill1" for e in items), timeout=5.0)
    assert time.monotonic() - killed < 1.0


@pytest_twisted.inlineCallbacks
def test_a_frozen_node_is_subtracted_within_5_s_and_back_after_sigcont(stack, consumer, events):
    gone, added = events(), events()
    yield consumer.subscribe(gone, uri.DATA_NODE_SUBTRACTED)
    yield consumer.subscribe(added, uri.DATA_NODE_ADDED)
    node = stack.spawn("frozen", "nodes.weather", "--name", "weather_frozen", ready=False)
    yield node.ready()
    frozen = time.monotonic()
    node.signal(signal.SIGSTOP)
    try:
        yield gone.wait(lambda items: any(e["name"] == "weather_frozen" for e in items), timeout=10.0)
        assert time.monotonic() - frozen < 5.0
        assert "weather_frozen" not in [n["name"] for n in (yield consumer.get_data_node())]
    finally:
        node.signal(signal.SIGCONT)
    yield added.wait(lambda items: [e["name"] for e in items].count("weather_frozen") == 2, timeout=15.0)
    result = yield consumer.get_data("weather_frozen", ["temperature"], 1500076800, 1500163200)
    assert len(result["data"]["temperature"]) == 24


def _post_query(url):
    body = {"range": {"from": "2017-07-15T00:00:00Z", "to": "2017-07-16T00:00:00Z"},
            "targets": [{"target": "weather::temperature"}]}
    try:
        return requests.post(f"{url}/query", json=body, timeout=5)
    except requests.RequestException:
        return None


@pytest_twisted.inlineCallbacks
def test_router_killed_under_load_everything_is_back_within_15_s_and_the_bridge_says_503_meanwhile(fresh_stack):
    s = fresh_stack
    parts = [s.spawn("weather", "nodes.weather", ready=False),
             s.spawn("sensors", "nodes.sensors", "--interval", "0.05", ready=False),
             s.spawn_bridge(ready=False)]
    bridge_url = s.bridge_url
    for p in parts:
        yield p.ready()
    consumer = yield s.connect()
    live = []
    yield consumer.subscribe_data("sensors", live.append)
    yield wait_for(lambda: len(live) >= 5, 10, "sensors publishing")
    assert _post_query(bridge_url).status_code == 200

    s.router.signal(signal.SIGKILL)
    killed = time.monotonic()
    s.router.popen.wait(10)
    down = yield wait_for(lambda: (r := _post_query(bridge_url)) is not None and r.status_code == 503 and r.json(),
                          10, "the bridge answering 503")
    assert down["error"] == "backend_unavailable" and "router" in down["message"]

    s.router.start()
    for p in [s.hub, *parts]:
        yield p.ready(timeout=30, count=2)
    yield wait_for(lambda: (r := _post_query(bridge_url)) is not None and r.status_code == 200
                   and len(r.json()[0]["datapoints"]) == 24, 15, "the bridge answering again")
    count = len(live)
    yield wait_for(lambda: len(live) > count + 5, 10, "live events flowing again to the reconnected consumer")
    assert time.monotonic() - killed < 15.0
    yield consumer.close()


@pytest_twisted.inlineCallbacks
def test_a_node_whose_join_fails_half_way_reconnects_until_it_succeeds(stack, consumer):
    from sisock import client
    squatter = yield client.connect(stack.url, authid="weather_late", secret=stack.secret("node"))
    # as our previous, not yet cleaned-up session would: the node session's own prefix registration
    yield squatter.register(lambda *a, **kw: None, uri.node_prefix("weather_late"), RegisterOptions(match="prefix"))
    node = stack.spawn("late", "nodes.weather", "--name", "weather_late", ready=False)
    yield node.wait_output("joining failed .*procedure_already_exists", timeout=20)
    assert "READY" not in node.output()
    yield squatter.close()
    yield node.ready(timeout=20)
    assert "weather_late" in [n["name"] for n in (yield consumer.get_data_node())]
    result = yield consumer.get_data("weather_late", ["temperature"], 1500076800, 1500163200)
    assert len(result["data"]["temperature"]) == 24

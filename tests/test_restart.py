"""A router restart needs no manual step: every part comes back and is listed again."""

import signal
import time

import pytest
import pytest_twisted
import requests

from tests.conftest import wait_for


def bridge_lists(url, target):
    try:
        return target in requests.post(f"{url}/search", json={}, timeout=2).json()
    except (requests.RequestException, ValueError):
        return False


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
@pytest_twisted.inlineCallbacks
def test_after_a_router_restart_hub_nodes_and_bridge_are_back_within_30_s(fresh_stack, how):
    s = fresh_stack
    parts = [s.spawn("weather", "nodes.weather", ready=False),
             s.spawn("sensors", "nodes.sensors", ready=False),
             s.spawn_bridge(ready=False)]
    for p in parts:
        yield p.ready()
    bridge_url = s.bridge_url
    assert bridge_lists(bridge_url, "weather::temperature")

    s.router.signal(how)
    s.router.popen.wait(30)
    restarted = time.monotonic()
    s.router.start()
    yield s.router.wait_output("NODE_BOOT_COMPLETE", 60)

    for p in [s.hub, *parts]:
        yield p.ready(timeout=30, count=2)
    consumer = yield s.connect()
    try:
        yield wait_for(lambda: bridge_lists(bridge_url, "sensors::cpu_percent"), 30, "the bridge listing sensors")
        nodes = yield consumer.get_data_node()
        assert sorted(n["name"] for n in nodes) == ["sensors", "weather"]
        result = yield consumer.get_data("weather", ["temperature"], 1500076800, 1500163200)
        assert len(result["data"]["temperature"]) == 24
    finally:
        yield consumer.close()
    assert time.monotonic() - restarted < 30

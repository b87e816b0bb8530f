"""The sensors node over WAMP: live host metrics, recorded and published as blocks."""

import math
import time

import numpy as np
import pytest_twisted

from sisock.wire import uri

try:
    from tests.conftest import wait_for
except ImportError:  # tests/ is not a package
    from conftest import wait_for

#: The stack fixture runs the sensors node with ``--interval 0.2``.
INTERVAL = 0.2
TIMELINE = "host"


@pytest_twisted.inlineCallbacks
def test_the_last_10_s_are_live_samples_with_cpu_percent_between_0_and_100(consumer):
    result = yield consumer.get_data("sensors", ["cpu_percent", "mem_used"], -10, 0)
    now = time.time()
    t = result["timeline"][TIMELINE]["t"]
    cpu = result["data"]["cpu_percent"]
    assert len(t) > 0
    assert len(cpu) == len(t) == len(result["data"]["mem_used"])
    assert np.all(np.diff(t) > 0)
    assert np.all((t > now - 15) & (t <= now + 1)), (t.min(), t.max(), now)
    assert np.all(np.isfinite(cpu)) and np.all((cpu >= 0) & (cpu <= 100)), cpu
    assert np.all(result["data"]["mem_used"] > 0)


@pytest_twisted.inlineCallbacks
def test_a_subscriber_receives_blocks_of_aligned_samples_increasing_across_events(consumer, events):
    blocks = events()
    yield consumer.subscribe(blocks, uri.node_uri("sensors", "data"))
    yield blocks.wait(lambda items: len(items) >= 3, timeout=10.0, what="3 sensors blocks")
    field, _ = yield consumer.get_fields("sensors", -60, 0)
    previous = -math.inf
    for event in blocks.items:
        assert set(event) == {"timeline", "t", "data"}
        assert event["timeline"] == TIMELINE
        assert isinstance(event["t"], list) and len(event["t"]) >= 1
        assert set(event["data"]) == set(field)
        for f, values in event["data"].items():
            assert len(values) == len(event["t"]), f
        assert np.all(np.diff(event["t"]) > 0)
        assert event["t"][0] > previous
        previous = event["t"][-1]
        cpu = event["data"]["cpu_percent"]
        assert all(v is None or 0 <= v <= 100 for v in cpu)
    assert abs(previous - time.time()) < 15


@pytest_twisted.inlineCallbacks
def test_the_history_grows_between_two_get_data_calls(consumer, events):
    blocks = events()
    yield consumer.subscribe(blocks, uri.node_uri("sensors", "data"))
    start = time.time() - 3600
    first = yield consumer.get_data("sensors", ["cpu_percent"], start, 0)
    t1 = first["timeline"][TIMELINE]["t"]
    assert len(t1) > 0
    yield wait_for(lambda: any(e["t"][0] > t1[-1] for e in blocks.items), 10.0, "a block after the first answer")
    newer = [x for e in blocks.items for x in e["t"] if x > t1[-1]]
    second = yield consumer.get_data("sensors", ["cpu_percent"], start, 0)
    t2 = second["timeline"][TIMELINE]["t"]
    assert len(t2) > len(t1)
    np.testing.assert_array_equal(t2[:len(t1)], t1)
    assert set(newer) <= set(t2)
    assert len(second["data"]["cpu_percent"]) == len(t2)


@pytest_twisted.inlineCallbacks
def test_get_fields_gives_units_the_host_timeline_and_its_interval(consumer):
    field, timeline = yield consumer.get_fields("sensors", -60, 0)
    assert field["mem_used"]["units"] == "bytes"
    assert field["mem_available"]["units"] == "bytes"
    assert field["cpu_percent"]["units"] == "%"
    assert field["mem_percent"]["units"] == "%"
    for f, meta in field.items():
        assert meta["timeline"] == TIMELINE, f
        assert meta["type"] == "number", f
        assert isinstance(meta["description"], str) and meta["description"], f
    assert list(timeline) == [TIMELINE]
    assert timeline[TIMELINE]["interval"] == INTERVAL
    assert sorted(timeline[TIMELINE]["field"]) == sorted(field)


@pytest_twisted.inlineCallbacks
def test_min_stride_buckets_the_live_history(consumer):
    result = yield consumer.get_data("sensors", ["cpu_percent"], -30, 0, 1.0)
    t = result["timeline"][TIMELINE]["t"]
    assert len(t) > 0
    assert np.all(np.diff(t) >= 1.0 - 1e-6)
    assert np.all(np.isfinite(result["data"]["cpu_percent"]))

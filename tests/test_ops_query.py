"""Queries across nodes: the 500-lamp fleet read as one, per node or summed by tag."""

import math
import signal
import time

import numpy as np
import pytest
import pytest_twisted

from grafana_bridge.query import min_stride_for
from nodes.fleet.fleet import build_lamps
from sisock.hub import fanout
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument
from tests.ops_support import start_broken
from tests.registry_support import joined, start_stack

COUNT = 500
INTERVAL = 2.0
#: The fleet's default layout, computed here independently of the hub: name -> zone.
ZONES = {lamp.name: lamp.tags["zone"] for lamp in build_lamps(COUNT, "fleet", (46.2044, 6.1432), 30.0,
                                                                 INTERVAL, 3600.0)}


@pytest.fixture(scope="module")
def fleet500(tmp_path_factory):
    """A router, a hub, 500 lamps sampling every 2 s (with a minute of history at start), and a node whose reads
    fail."""
    directory = tmp_path_factory.mktemp("ops_query")
    stack = start_stack(directory, fleet_args=["--count", str(COUNT), "--interval", str(INTERVAL), "--backfill", "60"])
    try:
        start_broken(stack, directory)
    except BaseException:
        stack.stop()
        raise
    yield stack
    stack.stop()


@pytest.fixture
def consumer(fleet500):
    yield from joined(fleet500.connect())


def _stable_range(seconds):
    """A range ending a few samples in the past, so that its data no longer changes."""
    end = math.floor(time.time()) - 3 * INTERVAL
    return end - seconds, end


@pytest_twisted.inlineCallbacks
def test_the_hub_selects_live_nodes_by_filter_with_their_tags(consumer):
    north = yield consumer.call(uri.GET_DATA_NODE, filter="fleet.lamp* zone=north")
    assert sorted(n["name"] for n in north) == sorted(n for n, z in ZONES.items() if z == "north")
    assert all(n["tags"]["zone"] == "north" and n["location"] for n in north)
    plain = yield consumer.get_data_node()
    assert set(plain[0]) == {"name", "description"}, "without a filter, the original answer"
    with pytest.raises(InvalidArgument) as info:
        yield consumer.call(uri.GET_DATA_NODE, filter="zone=north ~~")
    assert "filter" in info.value.message


@pytest_twisted.inlineCallbacks
def test_a_sum_by_zone_equals_the_sum_of_the_per_node_answers(consumer):
    yield _wait_for_history(consumer, 40)
    start, end = _stable_range(40)
    q = fanout.parse("fleet.lamp*", "power_w", start, end, min_stride=10, aggregate="sum", group_by="zone")
    answer = yield fanout.query(consumer, q)
    assert answer["errors"] == {} and len(answer["selected"]) == COUNT
    assert set(answer["groups"]) == {"north", "south"}
    expected = {}  # (zone, bucket time) -> sum, from one plain get_data per lamp
    for name, zone in ZONES.items():
        result = yield consumer.get_data(name, ["power_w"], start, end, 10)
        for t, v in zip(result["timeline"]["lamp"]["t"], result["data"]["power_w"], strict=True):
            expected[zone, float(t)] = expected.get((zone, float(t)), 0.0) + float(v)
    for zone, group in answer["groups"].items():
        assert sorted(group["nodes"]) == sorted(n for n, z in ZONES.items() if z == zone)
        got = dict(zip(answer["t"].tolist(), group["data"]["power_w"].tolist(), strict=True))
        want = {t: v for (z, t), v in expected.items() if z == zone}
        assert got.keys() == want.keys() and len(got) == 4
        for t in want:
            assert got[t] == pytest.approx(want[t], rel=1e-9)
        assert set(group["count"]["power_w"].tolist()) == {len(group["nodes"])}


@pytest_twisted.inlineCallbacks
def test_mean_min_max_and_count_agree_with_the_per_node_answers(consumer):
    yield _wait_for_history(consumer, 20)
    start, end = _stable_range(20)
    per_node = yield fanout.query(consumer, fanout.parse("street=street-01", "power_w", start, end, 20))
    values = np.array([r["data"]["power_w"][0] for r in per_node["results"].values()])
    assert len(values) == 23  # the first row of a 23 x 23 grid
    for how, want in (("mean", values.mean()), ("min", values.min()), ("max", values.max()), ("count", 23)):
        q = fanout.parse("street=street-01", "power_w", start, end, 20, aggregate=how)
        answer = yield fanout.query(consumer, q)
        assert answer["groups"][fanout.ALL_GROUP]["data"]["power_w"].tolist() == [pytest.approx(want)]


@pytest_twisted.inlineCallbacks
def test_failing_and_frozen_nodes_are_reported_by_name_and_the_rest_answered(fleet500, consumer, tmp_path):
    frozen = fleet500.spawn("fleetz", "nodes.fleet", "--authid", "fleetz", "--count", "2", "--interval", "1",
                            ready=False)
    yield frozen.ready()
    frozen.signal(signal.SIGSTOP)
    try:
        q = fanout.parse("fleet*", "power_w", -60, 0, 10, aggregate="sum", group_by="zone", timeout=2)
        answer = yield fanout.query(consumer, q)
    finally:
        frozen.signal(signal.SIGCONT)
        frozen.stop()
    assert set(answer["errors"]) == {"fleetbad", "fleetz.lamp0001", "fleetz.lamp0002"}
    assert "the meter is unplugged" in answer["errors"]["fleetbad"]
    assert answer["errors"]["fleetz.lamp0001"] == "no answer in time"
    assert sum(len(g["nodes"]) for g in answer["groups"].values()) == COUNT


def test_an_aggregate_needs_a_grid_and_a_known_reduction():
    with pytest.raises(InvalidArgument, match="min_stride"):
        fanout.parse("ALL", "power_w", -60, 0, aggregate="sum")
    with pytest.raises(InvalidArgument, match="aggregate"):
        fanout.parse("ALL", "power_w", -60, 0, 10, aggregate="median")
    with pytest.raises(InvalidArgument, match="filter"):
        fanout.parse("", "power_w", -60, 0)
    with pytest.raises(InvalidArgument, match="buckets"):
        fanout.parse("ALL", "power_w", -86400 * 365, 0, 1, aggregate="sum")


def _wait_for_history(consumer, seconds):
    """Deferred: until lamp 1 has recorded ``seconds`` of samples before the stable range's end."""
    from tests.conftest import until

    return until(lambda: consumer.get_data("fleet.lamp0001", ["power_w"], 1, _stable_range(seconds)[0]),
                 lambda r: len(r["data"]["power_w"]) > 0, "40 s of lamp history", timeout=60)


@pytest.fixture(scope="module")
def bridge(fleet500):
    from tests.conftest import free_port

    port = free_port()
    fleet500.spawn("bridge", "grafana_bridge", "--port", str(port))
    return f"http://127.0.0.1:{port}"


def _iso(t):
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


@pytest_twisted.inlineCallbacks
def test_a_grafana_target_over_the_fleet_gives_one_summed_series_per_zone(bridge, consumer):
    import requests
    from twisted.internet import threads

    yield _wait_for_history(consumer, 60)
    start, end = _stable_range(60)
    body = {"range": {"from": _iso(start), "to": _iso(end)}, "maxDataPoints": 6,
            "targets": [{"target": "fleet.lamp*::power_w", "refId": "A",
                         "payload": {"aggregate": "sum", "group_by": "zone"}}]}
    response = yield threads.deferToThread(requests.post, f"{bridge}/query", json=body, timeout=30)
    assert response.status_code == 200, response.text
    series = {s["target"]: s for s in response.json()}
    assert set(series) == {"fleet.lamp*::power_w zone=north", "fleet.lamp*::power_w zone=south"}
    stride = min_stride_for(start, end, 6)  # the bridge's grid for 6 points
    direct = yield fanout.query(consumer, fanout.parse("fleet.lamp*", "power_w", start, end, stride, "sum", "zone"))
    for zone in ("north", "south"):
        points = series[f"fleet.lamp*::power_w zone={zone}"]["datapoints"]
        assert [p[1] for p in points] == [round(t * 1000) for t in direct["t"]]
        assert [p[0] for p in points] == pytest.approx(direct["groups"][zone]["data"]["power_w"].tolist())
    body["targets"][0]["payload"] = {"aggregate": "median"}
    response = yield threads.deferToThread(requests.post, f"{bridge}/query", json=body, timeout=30)
    assert response.status_code == 400 and "aggregate" in response.json()["message"]


@pytest_twisted.inlineCallbacks
def test_sisock_query_prints_the_sum_by_zone_and_names_the_nodes_that_failed(fleet500):
    import json
    import subprocess
    import sys

    from twisted.internet import threads

    argv = [sys.executable, "-m", "sisock.cli.main", "query", "fleet*", "--field", "power_w", "--start=-30s",
            "--min-stride", "10", "--aggregate", "sum", "--by", "zone", "--json"]
    run = yield threads.deferToThread(subprocess.run, argv, env=fleet500.env, capture_output=True, text=True,
                                      timeout=60)
    assert run.stdout, run.stderr
    answer = json.loads(run.stdout)
    assert run.returncode == 1, "a node failed: exit status 1"
    assert set(answer["groups"]) == {"north", "south"} and list(answer["errors"]) == ["fleetbad"]
    assert run.stderr.startswith("fleetbad: ") and "the meter is unplugged" in run.stderr

"""The Grafana JSON datasource contract of the bridge, as pure functions (no HTTP)."""

import json
import math
import random
import subprocess
import sys

import numpy as np
import pytest

from grafana_bridge.errors import BadRequest
from grafana_bridge.lookup import filter_targets, nodes_of, parse_search, parse_tag_values, parse_variable
from grafana_bridge.query import (
    DEFAULT_MAX_DATA_POINTS,
    TABLE,
    TIMESERIE,
    QueryRequest,
    Target,
    min_stride_for,
    parse_query,
    parse_range,
    split_target,
)
from grafana_bridge.series import empty_result, table, timeseries

T0 = 1500076800.0          # 2017-07-15T00:00:00Z


def body(**extra):
    b = {
        "range": {"from": "2017-07-15T00:00:00.000Z", "to": "2017-07-15T01:00:00.000Z"},
        "maxDataPoints": 500,
        "intervalMs": 2000,
        "targets": [{"target": "weather::temperature", "refId": "A"}],
    }
    b.update(extra)
    return b


def bad(b, now=T0):
    with pytest.raises(BadRequest) as info:
        parse_query(b, now=now)
    return info.value.message


# -- range -------------------------------------------------------------------

def test_range_from_and_to_become_unix_seconds():
    q = parse_query(body())
    assert q.start == T0
    assert q.end == T0 + 3600


def test_range_with_offset_is_read_as_utc():
    q = parse_query(body(range={"from": "2017-07-15T02:00:00+02:00",
                                "to": "2017-07-15T01:00:00Z"}))
    assert (q.start, q.end) == (T0, T0 + 3600)


def test_request_without_range_is_the_last_hour_ending_now():
    q = parse_query({"targets": []}, now=T0 + 10)
    assert (q.start, q.end) == (T0 + 10 - 3600, T0 + 10)
    assert q.max_data_points == DEFAULT_MAX_DATA_POINTS == 1000
    assert q.interval_ms is None
    assert parse_range({}, now=5000.0) == (1400.0, 5000.0)


@pytest.mark.parametrize("key", ["from", "to"])
@pytest.mark.parametrize("value", ["yesterday", 1500000000, None, "", "2017-13-45T00:00:00Z"])
def test_a_bad_range_bound_names_its_field(key, value):
    rng = {"from": "2017-07-15T00:00:00Z", "to": "2017-07-15T01:00:00Z"}
    rng[key] = value
    message = bad(body(range=rng))
    assert message.startswith(f"range.{key} must be an ISO 8601 time")


def test_range_that_is_not_an_object_is_refused():
    assert bad(body(range="now-6h")).startswith("range must be an object")


@pytest.mark.parametrize("to", ["2017-07-15T00:00:00Z", "2017-07-14T23:00:00Z"])
def test_range_to_must_be_after_range_from(to):
    message = bad(body(range={"from": "2017-07-15T00:00:00Z", "to": to}))
    assert message.startswith("range.to must be after range.from")


# -- maxDataPoints, intervalMs ----------------------------------------------

@pytest.mark.parametrize("value", [0, -5, 1.5, "100", True, [10], float("nan")])
def test_max_data_points_must_be_an_integer_of_at_least_one(value):
    assert bad(body(maxDataPoints=value)).startswith("maxDataPoints must be an integer >= 1")


def test_max_data_points_accepts_an_integral_float_and_defaults_to_1000():
    assert parse_query(body(maxDataPoints=250.0)).max_data_points == 250
    assert parse_query(body(maxDataPoints=None)).max_data_points == 1000
    b = body()
    del b["maxDataPoints"]
    assert parse_query(b).max_data_points == 1000


@pytest.mark.parametrize("value", [-1, "30s", True, float("inf")])
def test_interval_ms_must_be_a_non_negative_number(value):
    assert bad(body(intervalMs=value)).startswith("intervalMs must be a number")


# -- targets -----------------------------------------------------------------

def test_targets_are_split_into_node_and_field_with_default_type_timeserie():
    q = parse_query(body(targets=[
        {"target": "weather::temperature", "refId": "A"},
        {"target": "sensors::cpu::user", "refId": "B", "type": "table"},
        {"target": "weather::humidity", "refId": "C", "type": "timeseries"},
    ]))
    assert q.targets == [
        Target("weather::temperature", "weather", "temperature", TIMESERIE, "A"),
        Target("sensors::cpu::user", "sensors", "cpu::user", TABLE, "B"),
        Target("weather::humidity", "weather", "humidity", TIMESERIE, "C"),
    ]


def test_hidden_and_empty_targets_are_skipped():
    q = parse_query(body(targets=[
        {"target": "weather::temperature", "hide": True},
        {"refId": "B"},
        {"target": "", "refId": "C"},
        {"target": "weather::pressure", "hide": False},
    ]))
    assert [t.target for t in q.targets] == ["weather::pressure"]


def test_targets_are_grouped_by_node_once_per_field():
    q = parse_query(body(targets=[
        {"target": "weather::temperature"}, {"target": "sensors::load"},
        {"target": "weather::humidity"}, {"target": "weather::temperature", "type": "table"},
    ]))
    assert q.by_node() == {"weather": ["temperature", "humidity"], "sensors": ["load"]}


@pytest.mark.parametrize("text", ["weather", "weather:temperature", "::temperature",
                                  "weather::", " :: "])
def test_a_target_without_node_and_field_names_its_index(text):
    message = bad(body(targets=[{"target": "weather::temperature"}, {"target": text}]))
    assert message.startswith("targets[1].target must be 'node::field'")
    assert repr(text) in message


def test_a_target_of_the_wrong_type_is_refused():
    assert bad(body(targets=[{"target": 42}])).startswith("targets[0].target must be a string")
    assert bad(body(targets=["weather::temperature"])).startswith("targets[0] must be an object")
    assert bad(body(targets={"target": "a::b"})).startswith("targets must be a list")
    assert bad(body(targets=[{"target": "a::b", "type": "graph"}])).startswith(
        "targets[0].type must be 'timeserie' or 'table'")


@pytest.mark.parametrize("payload", [[], "x", 3, True])
def test_a_body_that_is_not_an_object_is_refused(payload):
    assert bad(payload).startswith("request body must be a JSON object")


def test_split_target():
    assert split_target("weather::temperature") == ("weather", "temperature")
    with pytest.raises(BadRequest, match="target must be 'node::field'"):
        split_target("temperature")


# -- min_stride_for ----------------------------------------------------------

def buckets(start, end, stride):
    return math.ceil((end - start) / stride)


def test_min_stride_spreads_the_range_over_max_data_points():
    stride = min_stride_for(T0, T0 + 3600, 360)
    assert 10.0 <= stride < 10.0 * 1.001
    assert buckets(T0, T0 + 3600, stride) == 360


def test_min_stride_is_never_below_interval_ms():
    assert min_stride_for(T0, T0 + 3600, 1000, interval_ms=30000) == 30.0
    assert min_stride_for(T0, T0 + 60, 1000, interval_ms=1) >= 60 / 1000


def test_min_stride_keeps_the_bucket_count_within_max_data_points_for_any_range():
    rng = random.Random(20170715)
    for _ in range(20000):
        start = rng.choice([0.0, T0, rng.uniform(0, 2e9)]) + rng.random()
        span = 10 ** rng.uniform(-3, 9)
        end = start + span
        if end <= start:
            continue
        n = rng.choice([1, 2, 3, 7, 100, 550, 1000, 1001, rng.randint(1, 100000)])
        interval = rng.choice([None, 0, 1, 50, rng.uniform(0, 1e7)])
        stride = min_stride_for(start, end, n, interval)
        assert stride > 0
        assert buckets(start, end, stride) <= n, (start, end, n, stride)
        if interval:
            assert stride >= interval / 1000


def test_query_request_min_stride_uses_its_own_fields():
    q = parse_query(body(maxDataPoints=100, intervalMs=None))
    assert q.min_stride == min_stride_for(T0, T0 + 3600, 100)
    assert buckets(q.start, q.end, q.min_stride) <= 100


def test_min_stride_refuses_zero_max_data_points():
    with pytest.raises(ValueError, match="max_data_points"):
        min_stride_for(T0, T0 + 1, 0)


# -- response builders -------------------------------------------------------

def test_timeseries_is_value_then_epoch_ms_ascending_with_nan_as_null():
    t = np.array([T0 + 2.0, T0, T0 + 1.0005])
    v = np.array([3.0, np.nan, 2.5])
    s = timeseries("weather::temperature", t, v)
    assert s == {"target": "weather::temperature",
                 "datapoints": [[None, 1500076800000], [2.5, 1500076801000],
                                [3.0, 1500076802000]]}
    assert all(type(ms) is int for _, ms in s["datapoints"])
    assert type(s["datapoints"][1][0]) is float
    json.dumps(s, allow_nan=False)


def test_timeseries_maps_infinities_to_null_and_keeps_integers():
    s = timeseries("a::b", np.array([1.0, 2.0, 3.0]), np.array([np.inf, -np.inf, 1.0]))
    assert [v for v, _ in s["datapoints"]] == [None, None, 1.0]
    s = timeseries("a::b", np.array([1.0, 2.0]), np.array([4, 5], dtype=np.int32))
    assert s["datapoints"] == [[4, 1000], [5, 2000]]
    json.dumps(s, allow_nan=False)


def test_timeseries_of_strings_and_of_nothing():
    s = timeseries("a::state", np.array([1.0, 2.0]), np.array(["on", "off"]))
    assert s["datapoints"] == [["on", 1000], ["off", 2000]]
    s = timeseries("a::state", np.array([1.0, 2.0]), np.array(["on", float("nan")], dtype=object))
    assert s["datapoints"] == [["on", 1000], [None, 2000]]
    assert timeseries("a::b", np.empty(0), np.empty(0)) == {"target": "a::b", "datapoints": []}


def test_timeseries_refuses_mismatched_lengths():
    with pytest.raises(ValueError):
        timeseries("a::b", np.array([1.0, 2.0]), np.array([1.0]))


def test_timeseries_of_many_points_stays_exact():
    t = T0 + np.arange(100000) * 0.25
    v = np.sin(np.arange(100000.0))
    v[::7] = np.nan
    s = timeseries("a::b", t[::-1], v[::-1])
    pts = s["datapoints"]
    assert [ms for _, ms in pts[:3]] == [1500076800000, 1500076800250, 1500076800500]
    assert pts[7][0] is None and pts[1][0] == v[1]
    assert sum(p[0] is None for p in pts) == len(v[::7])


def test_table_has_a_time_column_and_one_value_column():
    r = table("temperature", np.array([T0 + 1, T0]), np.array([np.nan, 21.5]), ref_id="A")
    assert r == {
        "type": "table",
        "columns": [{"text": "Time", "type": "time"}, {"text": "temperature", "type": "number"}],
        "rows": [[1500076800000, 21.5], [1500076801000, None]],
        "refId": "A",
    }
    json.dumps(r, allow_nan=False)


def test_empty_result_carries_a_message_in_meta():
    s = empty_result(Target("gone::x", "gone", "x"), "node gone is not available")
    assert s["target"] == "gone::x" and s["datapoints"] == []
    assert s["meta"]["message"] == "node gone is not available"
    t = empty_result(Target("gone::x", "gone", "x", TABLE), "node gone is not available")
    assert t["type"] == "table" and t["rows"] == []
    assert t["meta"]["message"] == "node gone is not available"


# -- the small routes' bodies --------------------------------------------------

def test_search_and_metrics_filters():
    assert parse_search({"target": "temp"}) == ("temp", None)
    assert parse_search({"metric": "w", "payload": {}}) == (None, "w")
    assert parse_search({}) == (None, None)
    with pytest.raises(BadRequest, match="^target must be a string"):
        parse_search({"target": 5})
    names = ["sensors::load", "weather::Temperature", "weather::humidity"]
    assert filter_targets(names, "temp") == ["weather::Temperature"]
    assert filter_targets(names, None) == names
    assert nodes_of(names + ["nonsense"]) == ["sensors", "weather"]


def test_variable_and_tag_value_bodies():
    assert parse_variable({"payload": {"target": " weather "}}) == "weather"
    assert parse_variable({"payload": "weather"}) == "weather"
    assert parse_variable({"payload": {}}) is None
    assert parse_variable({}) is None
    with pytest.raises(BadRequest, match="^payload.target must be a string"):
        parse_variable({"payload": {"target": ["weather"]}})
    with pytest.raises(BadRequest, match="^payload must be an object or a string"):
        parse_variable({"payload": 3})
    assert parse_tag_values({"key": "node"}) == "node"
    with pytest.raises(BadRequest, match="^key must be a string"):
        parse_tag_values({})


def test_query_request_is_a_plain_value():
    q = QueryRequest(start=1.0, end=2.0)
    assert q.targets == [] and q.max_data_points == 1000 and q.by_node() == {}


def test_the_backend_imports_neither_flask_nor_the_app():
    code = "import sys, grafana_bridge.backend; print(' '.join(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(run.stdout.split())
    assert "grafana_bridge.backend" in loaded
    assert not loaded & {"flask", "grafana_bridge.app", "grafana_bridge.routes", "grafana_bridge.handlers"}

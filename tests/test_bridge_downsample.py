"""The bridge's min/max envelope option, as pure functions (test_wire.py asks a real bridge)."""

import math

import pytest

from grafana_bridge.errors import BadRequest
from grafana_bridge.query import min_stride_for, parse_query

T0 = 1500076800.0          # 2017-07-15T00:00:00Z


def body(*targets, points=500):
    return {"range": {"from": "2017-07-15T00:00:00.000Z", "to": "2017-07-15T01:00:00.000Z"},
            "maxDataPoints": points, "targets": list(targets)}


def test_a_target_asks_for_the_envelope_in_its_payload_or_its_simplejson_data():
    q = parse_query(body({"target": "weather::windspeed", "payload": {"downsample": "minmax"}},
                         {"target": "weather::humidity", "data": {"downsample": "max"}},
                         {"target": "weather::temperature", "payload": "free text"}))
    assert [t.downsample for t in q.targets] == ["minmax", "max", "mean"]


def test_an_unknown_downsample_is_a_bad_request_naming_it():
    with pytest.raises(BadRequest) as info:
        parse_query(body({"target": "weather::windspeed", "payload": {"downsample": "median"}}))
    assert info.value.message.startswith("targets[0].payload.downsample must be one of 'mean'")


def test_one_fetch_per_node_and_downsampling_with_its_own_stride():
    q = parse_query(body({"target": "weather::windspeed", "payload": {"downsample": "minmax"}},
                         {"target": "weather::temperature"}, {"target": "sensors::load"},
                         {"target": "weather::humidity", "payload": {"downsample": "minmax"}}))
    fetches = q.fetches()
    assert [(node, fields, how) for node, fields, _, _, _, how in fetches] == [
        ("weather", ["windspeed", "humidity"], "minmax"), ("weather", ["temperature"], "mean"),
        ("sensors", ["load"], "mean")]
    assert fetches[0][4] == min_stride_for(q.start, q.end, 500, None, "minmax")
    assert fetches[1][4] == min_stride_for(q.start, q.end, 500)


@pytest.mark.parametrize("points", [2, 3, 10, 999, 1000])
@pytest.mark.parametrize("span", [1.0, 3600.0, 86400 * 31 + 0.5])
def test_the_envelope_stride_keeps_two_samples_per_double_bucket_within_max_data_points(points, span):
    stride = min_stride_for(T0, T0 + span, points, None, "minmax")
    assert 2 * math.ceil(span / (2 * stride)) <= points
    assert 2 * math.ceil(span / (2 * stride * 0.99)) > points  # and not needlessly coarse

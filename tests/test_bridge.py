"""The Grafana bridge over real HTTP: JSON datasource and SimpleJSON routes on the live stack.

Plain (non-twisted) tests: they block this process's reactor while they
wait for HTTP, which is fine since every sisock process is a child process.
Expected values come from the raw APEX files, parsed here.
"""

import json
import re
import time

import pytest
import pytest_twisted
import requests

from tests.conftest import read_apex

TIMEOUT = 30
JUL15_ISO, JUL16_ISO = "2017-07-15T00:00:00.000Z", "2017-07-16T00:00:00.000Z"
JUL15, JUL16 = 1500076800.0, 1500163200.0
ARCHIVE_ISO = ("2017-07-01T00:00:00Z", "2017-08-15T00:00:00Z")
WIND_PLAUSIBLE = 200.0


def read_rows(field):
    """``{t: value}`` of ``apex_<field>.dat``, the last row per time."""
    return dict(read_apex(field)[1])


def post(stack, path, body=None, data=None, headers=None):
    if data is None and body is not None:
        data = json.dumps(body)
    headers = dict({"Content-Type": "application/json"}, **(headers or {}))
    return requests.post(stack.bridge_url + path, data=data, headers=headers, timeout=TIMEOUT)


def query(stack, targets, rng=(JUL15_ISO, JUL16_ISO), max_points=1000, **extra):
    body = dict({"targets": targets, "maxDataPoints": max_points}, **extra)
    if rng is not None:
        body["range"] = {"from": rng[0], "to": rng[1]}
    response = post(stack, "/query", body)
    assert response.status_code == 200, response.text
    return response.json()


def assert_cors(response):
    assert response.headers.get("Access-Control-Allow-Origin") == "*"


# -- discovery -----------------------------------------------------------------

def test_root_answers_200_status_ok_for_grafanas_test_connection(stack):
    response = requests.get(stack.bridge_url + "/", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["Content-Type"].startswith("application/json")
    assert_cors(response)


def test_search_lists_weather_temperature_and_the_sensors_fields(stack):
    response = post(stack, "/search", {"target": ""})
    assert response.status_code == 200
    names = response.json()
    assert "weather::temperature" in names
    assert {f"weather::{f}" for f in ("temperature", "humidity", "pressure", "windspeed", "radiometer")} <= set(names)
    assert "sensors::cpu_percent" in names
    found = post(stack, "/search", {"target": "TEMPER"}).json()
    assert "weather::temperature" in found
    assert all("temper" in t.lower() for t in found), found


def test_metrics_lists_weather_temperature_as_label_and_value(stack):
    response = post(stack, "/metrics", {"metric": "", "payload": {}})
    assert response.status_code == 200
    options = response.json()
    assert {"label": "weather::temperature", "value": "weather::temperature"} in options
    # The panel's current choice does not hide the alternatives.
    chosen = post(stack, "/metrics", {"metric": "weather::temperature"}).json()
    assert len(chosen) == len(options)


# -- /query --------------------------------------------------------------------

def test_query_temperature_on_2017_07_15_is_24_ascending_points_matching_the_archive(stack):
    [series] = query(stack, [{"target": "weather::temperature", "refId": "A"}])
    assert series["target"] == "weather::temperature"
    assert series["refId"] == "A"
    points = series["datapoints"]
    rows = read_rows("temperature")
    expected = sorted((t, v) for t, v in rows.items() if JUL15 <= t < JUL16)
    assert len(points) == 24 == len(expected)
    assert [ms for _, ms in points] == [int(t * 1000) for t, _ in expected]
    assert [v for v, _ in points] == pytest.approx([v for _, v in expected])
    assert min(v for v, _ in points) == pytest.approx(-12.64)
    assert max(v for v, _ in points) == pytest.approx(-5.86)


def test_max_data_points_10_over_the_whole_archive_gives_at_most_10_plausible_windspeed_means(stack):
    [series] = query(stack, [{"target": "weather::windspeed"}], rng=ARCHIVE_ISO, max_points=10)
    points = series["datapoints"]
    assert 1 <= len(points) <= 10
    ms = [m for _, m in points]
    assert ms == sorted(ms) and len(set(ms)) == len(ms)
    lo, hi = 1498867200000, 1502755200000
    assert all(lo <= m < hi for m in ms)
    finite = [v for v in read_rows("windspeed").values() if v <= WIND_PLAUSIBLE]
    # Bucket means of the real readings: spikes (up to 9.7e8 km/h) are not averaged in.
    assert all(v is not None and min(finite) <= v <= max(finite) for v, _ in points), points


def test_a_table_target_returns_time_and_value_columns_and_24_rows(stack):
    [table] = query(stack, [{"target": "weather::temperature", "type": "table", "refId": "T"}])
    assert table["type"] == "table"
    assert table["columns"] == [{"text": "Time", "type": "time"}, {"text": "temperature", "type": "number"}]
    rows = read_rows("temperature")
    expected = sorted((int(t * 1000), v) for t, v in rows.items() if JUL15 <= t < JUL16)
    assert [r[0] for r in table["rows"]] == [ms for ms, _ in expected]
    assert [r[1] for r in table["rows"]] == pytest.approx([v for _, v in expected])


def test_windspeed_spikes_go_out_as_null(stack):
    rows = read_rows("windspeed")
    spikes = sorted(t for t, v in rows.items() if v > WIND_PLAUSIBLE)
    assert len(spikes) == 10
    spike = spikes[0]
    rng = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(x)) for x in (spike - 600, spike + 600)]
    response = post(stack, "/query", {"targets": [{"target": "weather::windspeed"}], "maxDataPoints": 1000,
                                      "range": {"from": rng[0], "to": rng[1]}})
    assert response.status_code == 200
    assert "NaN" not in response.text
    [series] = response.json()
    points = {ms: v for v, ms in series["datapoints"]}
    assert len(points) == 20
    for ms, v in points.items():
        if rows[ms / 1000] > WIND_PLAUSIBLE:
            assert v is None, ms
        else:
            assert v == pytest.approx(rows[ms / 1000])
    assert sum(v is None for v in points.values()) == sum(spike - 600 <= t < spike + 600 for t in spikes) == 2


def test_two_targets_of_one_node_on_two_timelines_are_both_answered_in_order(stack):
    series = query(stack, [{"target": "weather::windspeed", "refId": "W"},
                           {"target": "weather::temperature", "refId": "T"}])
    assert [s["target"] for s in series] == ["weather::windspeed", "weather::temperature"]
    assert len(series[1]["datapoints"]) == 24
    assert len(series[0]["datapoints"]) > 24


@pytest.mark.parametrize("target", ["nosuchnode::temperature", "weather::no_such_field"])
def test_a_target_that_cannot_be_read_gets_200_an_empty_series_and_a_message(stack, target):
    response = post(stack, "/query", {"targets": [{"target": target}, {"target": "weather::temperature"}],
                                      "range": {"from": JUL15_ISO, "to": JUL16_ISO}})
    assert response.status_code == 200, response.text
    missing, present = response.json()
    assert missing["target"] == target
    assert missing["datapoints"] == []
    assert missing["meta"]["message"]
    assert target.split("::")[0] in missing["meta"]["message"]
    assert len(present["datapoints"]) == 24


def test_a_request_without_range_reads_the_last_hour_where_sensors_data_is(stack):
    before = time.time()
    [series] = query(stack, [{"target": "sensors::cpu_percent"}], rng=None, max_points=100000)
    after = time.time()
    points = series["datapoints"]
    assert len(points) > 0
    assert all((before - 3600) * 1000 - 1 <= ms <= after * 1000 for _, ms in points)
    assert all(v is None or 0 <= v <= 100 for v, _ in points)


def test_a_range_without_data_gets_200_and_an_empty_series(stack):
    [series] = query(stack, [{"target": "weather::temperature"}], rng=("2016-01-01T00:00:00Z", "2016-01-02T00:00:00Z"))
    assert series["target"] == "weather::temperature"
    assert series["datapoints"] == []


@pytest.mark.parametrize("kind", ["timeserie", "table"])
def test_a_range_from_the_epoch_is_absolute_and_reads_the_archive_up_to_its_end(stack, kind):
    [answer] = query(stack, [{"target": "weather::temperature", "type": kind}],
                     rng=("1970-01-01T00:00:00Z", JUL16_ISO), max_points=500_000)  # buckets < 1 h: raw
    ms = [p[1] for p in answer["datapoints"]] if kind == "timeserie" else [r[0] for r in answer["rows"]]
    assert ms == sorted(int(t * 1000) for t in read_rows("temperature") if t < JUL16)


def test_a_range_ending_at_the_epoch_is_empty_not_the_last_day(stack):
    [series] = query(stack, [{"target": "sensors::cpu_percent"}], rng=("1969-12-31T00:00:00Z", "1970-01-01T00:00:00Z"))
    assert series["datapoints"] == []


# -- errors --------------------------------------------------------------------

GOOD_TARGETS = [{"target": "weather::temperature"}]
GOOD_RANGE = {"from": JUL15_ISO, "to": JUL16_ISO}


@pytest.mark.parametrize("data, names", [
    ("{not json", "JSON"),
    ("[1, 2, 3]", "object"),
    ('"text"', "object"),
    (json.dumps({"targets": [{"target": "weather.temperature"}], "range": GOOD_RANGE}), "targets[0].target"),
    (json.dumps({"targets": "weather::temperature", "range": GOOD_RANGE}), "targets"),
    (json.dumps({"targets": GOOD_TARGETS, "range": {"from": "yesterday", "to": JUL16_ISO}}), "range.from"),
    (json.dumps({"targets": GOOD_TARGETS, "range": {"from": JUL15_ISO}}), "range.to"),
    (json.dumps({"targets": GOOD_TARGETS, "range": {"from": JUL16_ISO, "to": JUL15_ISO}}), "range.to"),
    (json.dumps({"targets": GOOD_TARGETS, "range": "today"}), "range"),
    (json.dumps({"targets": GOOD_TARGETS, "range": GOOD_RANGE, "maxDataPoints": 0}), "maxDataPoints"),
    (json.dumps({"targets": [{"target": "weather::temperature", "type": "graph"}], "range": GOOD_RANGE}),
     "targets[0].type"),
])
def test_a_query_the_bridge_cannot_serve_gets_400_json_saying_why(stack, data, names):
    response = post(stack, "/query", data=data)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "bad_request"
    assert names in body["message"], body["message"]
    assert_cors(response)


@pytest.mark.parametrize("target", ["fleet.lamp*::power_w", "zone=north::power_w"])
def test_a_filter_target_without_an_aggregate_gets_400_saying_it_needs_one(stack, target):
    response = post(stack, "/query", {"targets": [GOOD_TARGETS[0], {"target": target}], "range": GOOD_RANGE})
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert "targets[1]" in message and target in message and '{"aggregate": "sum"}' in message, message


@pytest.mark.parametrize("path", ["/search", "/metrics", "/variable", "/tag-values", "/annotations"])
def test_malformed_json_on_any_post_route_gets_400_json(stack, path):
    response = post(stack, path, data="{oops")
    assert response.status_code == 400
    assert set(response.json()) == {"error", "message"}


#: Every route that reads a JSON body.
BODY_ROUTES = ["/query", "/search", "/metrics", "/variable", "/tag-keys", "/tag-values", "/annotations",
               "/metric-payload-options"]
NESTED = {"object": '{"a":' * 5000, "array": "[" * 5000}


@pytest.mark.parametrize("shape", sorted(NESTED))
@pytest.mark.parametrize("path", BODY_ROUTES)
@pytest_twisted.inlineCallbacks
def test_a_deeply_nested_body_gets_400_json_saying_so_one_log_line_and_the_bridge_serves_on(stack, path, shape):
    before = stack.bridge.output()
    response = post(stack, path, data=NESTED[shape])
    assert response.status_code == 400, response.text[-500:]
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "bad_request"
    assert "nested too deeply" in body["message"], body["message"]
    assert_cors(response)
    after = post(stack, "/search", {"target": "temperature"})
    assert after.status_code == 200
    assert "weather::temperature" in after.json()
    # The next request's access line is written after this one's: then the log is complete.
    served = r'"POST /search HTTP/1\.1" 200'
    yield stack.bridge.wait_output(served, count=len(re.findall(served, before)) + 1)
    logged = stack.bridge.output()[len(before):].splitlines()
    assert len(logged) == 2 and f'"POST {path} HTTP/1.1" 400' in logged[0], "\n".join(logged)[-3000:]


def test_an_unknown_route_gets_a_json_404_not_an_html_page(stack):
    response = requests.get(stack.bridge_url + "/no/such/route", timeout=TIMEOUT)
    assert response.status_code == 404
    assert set(response.json()) == {"error", "message"}


# -- CORS ----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/query", "/search", "/metrics"])
def test_options_preflight_answers_with_cors_headers(stack, path):
    response = requests.options(stack.bridge_url + path, timeout=TIMEOUT, headers={
        "Origin": "http://grafana.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code in (200, 204)
    assert_cors(response)
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()


def test_query_responses_carry_cors_headers(stack):
    response = post(stack, "/query", {"targets": GOOD_TARGETS, "range": GOOD_RANGE})
    assert response.status_code == 200
    assert_cors(response)


# -- the rest of the contract --------------------------------------------------

def test_tag_keys_offers_node(stack):
    response = post(stack, "/tag-keys", {})
    assert response.status_code == 200
    assert response.json() == [{"type": "string", "text": "node"}]


def test_tag_values_of_node_lists_the_live_nodes(stack):
    response = post(stack, "/tag-values", {"key": "node"})
    assert response.status_code == 200
    texts = [v["text"] for v in response.json()]
    assert {"weather", "sensors"} <= set(texts)
    assert post(stack, "/tag-values", {"key": "colour"}).json() == []


def test_variable_lists_nodes_and_the_targets_of_a_node(stack):
    response = post(stack, "/variable", {"payload": {"target": "*"}})
    assert response.status_code == 200
    assert {"__text": "weather", "__value": "weather"} in response.json()
    targets = post(stack, "/variable", {"payload": {"target": "weather"}}).json()
    assert {"__text": "weather::temperature", "__value": "weather::temperature"} in targets
    assert all(t["__value"].startswith("weather::") for t in targets)


def test_annotations_and_metric_payload_options_are_empty_lists(stack):
    for path in ("/annotations", "/metric-payload-options"):
        response = post(stack, path, {"range": GOOD_RANGE})
        assert response.status_code == 200, path
        assert response.json() == [], path
        assert_cors(response)


def test_an_empty_post_body_is_an_empty_request(stack):
    response = post(stack, "/search", data="")
    assert response.status_code == 200
    assert "weather::temperature" in response.json()

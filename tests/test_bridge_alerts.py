"""Alerts in Grafana through the bridge: the ``alerts`` target and the alert annotations, against the session stack.

The alert comes from the real alert service of the session stack's hub: a
rule that holds for every sample of the live sensors node, added for the
module and removed after it.
"""

import time

import pytest
import pytest_twisted
import requests

from sisock.wire import uri
from tests.registry_support import connect_admin, joined, until
from tests.test_web_alerts import alert_rules

#: Holds for every sample of the sensors node: fires at its next block.
RULE = "sensors mem_percent >= 0"
TIMEOUT = 30


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def post(stack, path, body):
    return requests.post(stack.bridge_url + path, json=body, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def admin(stack):
    yield from joined(connect_admin(stack))


@pytest.fixture(scope="module")
def firing(stack, admin):
    """The firing alert of `RULE` (an alert dict), the rule removed after the module."""
    rules = pytest_twisted.blockon(alert_rules(admin))
    assert not [r for r in rules if r["text"] == RULE], "a rule of this module was left over"
    rule = pytest_twisted.blockon(admin.call(uri.uri("hub.alerts.rules.add"), RULE, "warning"))
    try:
        listed = pytest_twisted.blockon(until(lambda: admin.call(uri.uri("consumer.alerts.list"), "firing"),
                                              lambda alerts: any(a["rule"] == rule["id"] for a in alerts),
                                              "the rule's alert firing"))
        yield next(a for a in listed if a["rule"] == rule["id"])
    finally:
        pytest_twisted.blockon(admin.call(uri.uri("hub.alerts.rules.remove"), rule["id"]))


def test_search_and_metrics_list_the_alerts_target_with_the_nodes_fields(stack):
    names = post(stack, "/search", {"target": ""}).json()
    assert names[0] == "alerts" and "sensors::cpu_percent" in names
    assert "alerts" in post(stack, "/search", {"target": "ALERT"}).json()
    assert {"label": "alerts", "value": "alerts"} in post(stack, "/metrics", {"metric": ""}).json()


def test_the_alerts_table_has_the_firing_alert_with_its_state_severity_node_summary_and_acked_by(stack, firing):
    now = time.time()
    body = {"range": {"from": iso(now - 3600), "to": iso(now + 60)},
            "targets": [{"target": "alerts", "refId": "A"},  # a table whatever the type (simpod sends none)
                        {"target": "alerts", "refId": "B", "type": "table", "payload": {"state": "resolved"}}]}
    response = post(stack, "/query", body)
    assert response.status_code == 200, response.text
    every, resolved = response.json()
    assert every["type"] == "table" and every["refId"] == "A"
    assert [(c["text"], c["type"]) for c in every["columns"]] == [
        ("time", "time"), ("state", "string"), ("severity", "string"), ("node", "string"), ("summary", "string"),
        ("acked_by", "string")]
    row = [int(round(firing["fired_at"] * 1000)), "firing", "warning", "sensors", firing["summary"], ""]
    assert row in every["rows"]
    assert "mem_percent" in firing["summary"]
    times = [r[0] for r in every["rows"]]
    assert times == sorted(times, reverse=True)  # newest first
    assert resolved["refId"] == "B" and all(r[1] == "resolved" for r in resolved["rows"])


def test_the_alert_annotation_is_a_region_from_when_it_fired_to_the_end_of_the_range_while_it_fires(stack, firing):
    now = time.time()
    end = now + 60
    annotation = {"name": "Alerts", "enable": True, "iconColor": "red", "query": "alerts"}
    response = post(stack, "/annotations", {"range": {"from": iso(now - 3600), "to": iso(end)},
                                            "annotation": annotation})
    assert response.status_code == 200, response.text
    [region] = [a for a in response.json() if firing["rule"] in a["tags"]]
    assert region["isRegion"] is True and region["annotation"] == annotation
    assert region["time"] == int(round(firing["fired_at"] * 1000))
    assert region["timeEnd"] == int(end) * 1000
    assert region["title"] == f"warning: {RULE}" and region["text"].startswith(firing["summary"])
    assert region["tags"] == ["warning", "sensors", firing["rule"], "firing"]
    # the same as a /query table (the simpod plugin's annotations are queries): Grafana maps its columns by name
    body = {"range": {"from": iso(now - 3600), "to": iso(end)},
            "targets": [{"target": "alerts", "refId": "Anno", "payload": {"annotations": True}}]}
    [table] = post(stack, "/query", body).json()
    assert [c["text"] for c in table["columns"]] == ["time", "timeEnd", "title", "text", "tags"]
    assert [region["time"], region["timeEnd"], region["title"], region["text"],
            f"warning,sensors,{firing['rule']},firing"] in table["rows"]
    # a range that ends before it fired has no region of it
    before = post(stack, "/annotations", {"range": {"from": iso(now - 7200), "to": iso(firing["fired_at"] - 60)},
                                          "annotation": annotation}).json()
    assert not [a for a in before if firing["rule"] in a["tags"]]


@pytest.mark.parametrize(("path", "body", "named"), [
    ("/query", {"targets": [{"target": "alerts", "payload": {"state": "burning"}}]}, "targets[0].payload.state"),
    ("/query", {"targets": [{"target": "alerts", "data": {"state": 3}}]}, "targets[0].data.state"),
    ("/query", {"targets": [{"target": "alerts", "payload": {"annotations": "yes"}}]},
     "targets[0].payload.annotations"),
    ("/query", {"targets": [{"target": "alerts", "refId": 1}]}, "targets[0].refId"),
    ("/query", {"range": {"from": "yesterday", "to": "now"}, "targets": [{"target": "alerts"}]}, "range.from"),
    ("/annotations", {"annotation": {"query": ["alerts"]}}, "annotation.query"),
    ("/annotations", {"range": {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
                      "annotation": {"query": "alerts"}}, "range.to"),
])
def test_a_bad_alerts_body_gets_a_400_json_error_naming_the_member(stack, path, body, named):
    response = post(stack, path, body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["error"] == "bad_request" and named in answer["message"], answer

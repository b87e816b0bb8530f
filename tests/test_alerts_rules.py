"""The alert rule grammar and one rule's state machine, without a router: texts, errors, groups by tag."""

import json
import os
import subprocess
import sys
import time

import pytest

from sisock.alerts.engine import Engine
from sisock.alerts.rules import RuleError, parse_rule
from sisock.alerts.state import RuleState
from sisock.alerts.store import PRUNE_EVERY, AlertStore
from sisock.wire import uri, validate
from sisock.wire.errors import InvalidArgument


@pytest.mark.parametrize("text, expected", [
    ("weather windspeed > 50 for 5m",
     {"kind": "threshold", "nodes": "weather", "field": "windspeed", "op": ">", "threshold": 50, "for": 300}),
    ("critical: fleet.lamp* power_w == 0 for 10m by zone",
     {"severity": "critical", "nodes": "fleet.lamp*", "op": "==", "threshold": 0, "for": 600, "by": "zone"}),
    ("sensors cpu_percent>=90.5 for 1.5h", {"op": ">=", "threshold": 90.5, "for": 5400}),
    ("node weather offline for 1m", {"kind": "offline", "nodes": "weather", "field": None, "for": 60}),
    ("node fleet.* offline by site", {"kind": "offline", "for": 0, "by": "site"}),
    ("sensors cpu_percent no data for 10 intervals", {"kind": "nodata", "intervals": 10, "for": 0}),
    ("info: sensors mem_percent no data for 30s", {"kind": "nodata", "severity": "info", "for": 30}),
    ("pumps flow != -1e3", {"op": "!=", "threshold": -1000, "severity": "warning"}),
])
def test_a_rule_text_parses_into_its_parts(text, expected):
    rule = parse_rule(text, "r1").to_dict()
    assert {k: rule[k] for k in expected} == expected
    assert rule["text"] == text.split(": ", 1)[-1] and rule["id"] == "r1"


@pytest.mark.parametrize("text, message", [
    ("weather windspeed bigger 50", "comparison .* at column 19, got 'bigger'"),
    ("weather windspeed > fifty", "a number at column 21, got 'fifty'"),
    ("weather windspeed > 5 for 5x", "a duration .* at column 27, got '5x'"),
    ("weather windspeed > 5 for 5m by", "a tag name after 'by' at column 32, got the end of the rule"),
    ("weather windspeed > 5 and more", "'for', 'by' or the end of the rule at column 23, got 'and'"),
    ("urgent: weather windspeed > 5", "a severity .* at column 1, got 'urgent'"),
    ("node weather offline for", "a duration .* at column 25, got the end"),
    ("sensors cpu no data for 0 intervals", "a whole number of intervals .* column 25, got '0'"),
    ("sensors cpu no info", "'data' .* at column 16, got 'info'"),
    ("", "rule must be text"),
])
def test_a_rule_that_does_not_parse_names_the_column_and_the_token(text, message):
    with pytest.raises(RuleError, match=message):
        parse_rule(text)


def test_a_rule_by_zone_fires_once_per_zone_on_the_samples_own_times():
    state = RuleState(parse_rule("fleet.lamp* power_w == 0 for 10m by zone", "r1"))
    north, south = {"zone": "north"}, {"zone": "south"}
    assert [a.state for a in state.samples("fleet.lamp1", north, [0.0, 300.0], [0, 0])] == ["pending"]
    state.samples("fleet.lamp2", north, [100.0], [0])
    state.samples("fleet.lamp3", south, [100.0], [5])  # south holds nothing
    fired = state.samples("fleet.lamp2", north, [700.0], [float("nan")])  # NaN changes nothing
    assert fired == []
    fired = state.samples("fleet.lamp1", north, [600.0], [0])
    assert [(a.state, a.group, a.node, a.fired_at, a.since) for a in fired] == [
        ("firing", {"zone": "north"}, "fleet.lamp*", 600.0, 0.0)]
    assert "2 nodes of fleet.lamp* (zone=north)" in fired[0].summary
    assert state.samples("fleet.lamp1", north, [900.0], [40]) == []  # lamp2 still at 0: still firing
    resolved = state.samples("fleet.lamp2", north, [950.0], [35])
    assert [(a.state, a.resolved_at) for a in resolved] == [("resolved", 950.0)]
    assert state.alerts == {}


def test_an_offline_rule_is_pending_then_fires_when_due_and_resolves_when_back():
    state = RuleState(parse_rule("node weather offline for 1m", "r2"))
    assert [a.state for a in state.node_state("weather", {}, False, 1000.0)] == ["pending"]
    assert state.next_due() == 1060.0 and state.due(1059.0) == []
    assert [(a.state, a.fired_at) for a in state.due(1060.0)] == [("firing", 1060.0)]
    assert [a.state for a in state.node_state("weather", {}, True, 1100.0)] == ["resolved"]


def test_a_silence_by_rule_or_node_glob_marks_alerts_silenced_until_it_ends():
    engine = Engine()
    engine.add(parse_rule("sensors cpu_percent > 90", "r1"))
    [alert] = engine.block("sensors", {}, {"timeline": "s", "t": [1.0], "data": {"cpu_percent": [95.0]}}, 1.0)
    assert alert.state == "firing" and not alert.silenced
    engine.silences[1] = {"id": 1, "matcher": "sens*", "until": 100.0}
    assert engine.resilence(50.0) == [alert] and alert.silenced
    assert engine.resilence(100.0) == [alert] and not alert.silenced and engine.silences == {}


def test_no_data_node_may_be_named_alerts():
    assert not uri.is_valid_node_name("alerts") and not uri.is_valid_node_name("alerts.list")
    assert uri.is_valid_node_name("alertsx")
    with pytest.raises(InvalidArgument, match="'alerts' is reserved"):
        validate.node_name("alerts")


def test_a_rules_file_with_a_rule_that_does_not_parse_stops_the_hub_in_one_line(tmp_path):
    (tmp_path / "alerts.json").write_text(json.dumps({"rules": [{"id": "r1", "text": "weather windspeed >> 5"}]}))
    env = dict(os.environ, SISOCK_HOME=str(tmp_path), SISOCK_HUB_SECRET="not-used")
    done = subprocess.run([sys.executable, "-m", "sisock.hub", "--url", "ws://127.0.0.1:9/ws"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "alerts.json: rule r1" in done.stderr
    assert "column 20, got '>'" in done.stderr and "error." not in done.stderr


def test_a_node_forgotten_or_disabled_is_no_longer_offline():
    engine = Engine()
    engine.add(parse_rule("node fleet.* offline", "r1"))
    engine.add(parse_rule("fleet.* power_w no data for 5s", "r2"))
    assert [a.state for a in engine.node_state("fleet.a", {}, False, 10.0)] == ["firing"]
    assert [a.state for a in engine.node_state("fleet.a", {}, False, 20.0, gone=True)] == ["resolved"]
    engine.node_state("fleet.b", {}, True, 30.0)
    assert [a.rule for a in engine.due(35.0)] == ["r2"]
    assert [(a.rule, a.state) for a in engine.node_state("fleet.b", {}, True, 36.0, gone=True)] == [
        ("r2", "resolved")]
    assert engine.rules["r2"].watches == {} and engine.due(100.0) == []


def test_the_history_forgets_records_older_than_a_year(tmp_path):
    store = AlertStore(str(tmp_path / "alerts.sqlite"))
    alert = {"id": "a1", "rule": "r1"}
    try:
        store.record([(1.0, "firing", None, alert)])  # 1970
        now = time.time()
        store.record([(now, "resolved", None, alert)] * PRUNE_EVERY)
        kept = store.history(None, None, "r1", 10000)
        assert len(kept) == PRUNE_EVERY and min(r["t"] for r in kept) == now
    finally:
        store.close()

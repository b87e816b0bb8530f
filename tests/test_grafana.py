"""The Grafana side: `sisock grafana`, the provisioning files and the dashboards, replayed against a real stack.

Every panel's own ``/query`` request (its targets, the dashboard's time
range, the panel's ``maxDataPoints``; a repeated panel once per value the
bridge's ``/variable`` gives its variable) goes to the bridge of a stack
with the weather, sensors, brewing, pixels and fleet nodes, with the bearer
token the provisioned data source sends, and must come back with data for
every target.
"""

import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_twisted
import requests
import yaml

from sisock.cli import grafana
from tests.conftest import wait_for
from tests.registry_support import start_stack

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = sorted((ROOT / "sisock" / "grafana").glob("*.json"))
DOCKER_GRAFANA = ROOT / "docker" / "grafana"
TOKEN = "a-bridge-token-for-the-test-0123456789"
#: Grafana's relative time units, in seconds.
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def load(path):
    return json.loads(Path(path).read_text())


def panels(dashboard):
    """Every panel, those inside rows included."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def grafana_time(text, now):
    """A dashboard ``time.from``/``time.to`` (``now``, ``now-15m`` or ISO 8601) as ISO 8601 UTC, as Grafana sends it."""
    match = re.fullmatch(r"now(?:-(\d+)([smhd]))?", text)
    if match is None:
        return text
    seconds = now - (int(match.group(1)) * UNITS[match.group(2)] if match.group(1) else 0)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def interpolate(text, values):
    """Grafana's template interpolation of ``$name``, ``${name}`` and ``${name:raw}`` with single values."""
    return re.sub(r"\$\{(\w+)(?::raw)?\}|\$(\w+)", lambda m: values[m.group(1) or m.group(2)], text)


# -- files ---------------------------------------------------------------------------------------

#: The data source reference of every panel, target and variable: the import input, or (provisioned) the variable.
REFERENCE = {"type": grafana.PLUGIN, "uid": "${DS_SISOCK}"}


def references(node):
    """Every value of a ``datasource`` key anywhere in a dashboard."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def imported(dashboard, uid):
    """What Grafana's dashboard import makes of ``dashboard`` when the user picks data source ``uid``
    for each of its ``__inputs``: every ``${NAME}`` in a string replaced, ``__inputs`` dropped."""
    text = json.dumps({k: v for k, v in dashboard.items() if k != "__inputs"})
    for item in dashboard["__inputs"]:
        text = text.replace("${%s}" % item["name"], uid)
    return json.loads(text)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_dashboard_parses_and_every_panel_queries_the_provisioned_data_source(path):
    dashboard = load(path)
    assert dashboard["uid"] == path.stem and dashboard["title"] and dashboard["schemaVersion"] >= 39
    for panel in panels(dashboard):
        assert panel["datasource"] == REFERENCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"] and target["refId"]
            assert "::" in target["target"] or target["target"] == "alerts", target


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_dashboard_imports_by_hand_into_a_grafana_whose_data_source_has_another_uid(path):
    dashboard = load(path)
    assert dashboard["__inputs"] == [{"name": "DS_SISOCK", "label": "sisock", "description": "",
                                      "type": "datasource", "pluginId": grafana.PLUGIN, "pluginName": "JSON"}]
    found = list(references(dashboard))
    assert found and all(ref == REFERENCE for ref in found), found
    # Provisioned as it is, the hidden data source variable DS_SISOCK resolves ${DS_SISOCK} to the provisioned uid.
    [variable] = [v for v in dashboard["templating"]["list"] if v["name"] == "DS_SISOCK"]
    assert {k: variable[k] for k in ("type", "query", "current")} == {
        "type": "datasource", "query": grafana.PLUGIN,
        "current": {"text": grafana.DATASOURCE_UID, "value": grafana.DATASOURCE_UID}}
    assert dashboard["templating"]["list"][0] is variable  # before the variables that use it
    after = imported(dashboard, "their-json-uid")
    assert "${DS_SISOCK}" not in json.dumps(after)
    assert all(ref == {"type": grafana.PLUGIN, "uid": "their-json-uid"} for ref in references(after))


def lost(ours, theirs, path=""):
    """Paths of ``ours`` that ``theirs`` does not have with the same value."""
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            return [path or "/"]
        return [p for key, value in ours.items()
                for p in ([f"{path}/{key}"] if key not in theirs else lost(value, theirs[key], f"{path}/{key}"))]
    if isinstance(ours, list):
        if not isinstance(theirs, list) or len(ours) != len(theirs):
            return [path]
        return [p for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) for p in lost(a, b, f"{path}[{i}]")]
    return [] if ours == theirs else [path]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_dashboard_matches_grafanas_dashboard_model(path):
    """Round trip through the Dashboard model of grafana-foundation-sdk (generated from Grafana's schema):
    a key the model does not have, or a value of the wrong shape, is lost on the way."""
    sdk = pytest.importorskip("grafana_foundation_sdk.models.dashboard",
                              reason="grafana-foundation-sdk is not installed (its 11.6 build: "
                                     "pip install 'grafana-foundation-sdk==1769699379!11.6.0')")
    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    dashboard = load(path)
    assert "__inputs" in dashboard  # Grafana's import reads it; the dashboard model itself has no such key
    for shape in ({k: v for k, v in dashboard.items() if k != "__inputs"}, imported(dashboard, "their-json-uid")):
        back = json.loads(JSONEncoder().encode(sdk.Dashboard.from_json(shape)))
        assert lost(shape, back) == []
    dashboard = imported(dashboard, "their-json-uid")
    dashboard["panels"][0]["gridpos"] = {}  # the same check sees a misspelt key
    assert "/panels[0]/gridpos" in lost(dashboard, json.loads(JSONEncoder().encode(sdk.Dashboard.from_json(dashboard))))


def sisock_grafana(*args):
    return subprocess.run([sys.executable, "-m", "sisock.cli.main", "grafana", *args], capture_output=True,
                          text=True, timeout=60, check=True)


def test_sisock_grafana_writes_the_data_source_the_provider_and_the_dashboards(tmp_path):
    out = sisock_grafana("--out", str(tmp_path)).stdout
    source = yaml.safe_load((tmp_path / "provisioning" / "datasources" / "sisock.yaml").read_text())
    (ds,) = source["datasources"]
    assert source["apiVersion"] == 1
    assert {k: ds[k] for k in ("name", "uid", "type", "access", "url")} == {
        "name": "sisock", "uid": "sisock", "type": "simpod-json-datasource", "access": "proxy",
        "url": "http://127.0.0.1:8081"}
    assert ds["jsonData"] == {"httpHeaderName1": "Authorization"}
    assert ds["secureJsonData"] == {"httpHeaderValue1": "Bearer ${SISOCK_BRIDGE_TOKEN}"}
    providers = yaml.safe_load((tmp_path / "provisioning" / "dashboards" / "sisock.yaml").read_text())
    (provider,) = providers["providers"]
    assert providers["apiVersion"] == 1 and provider["type"] == "file" and provider["name"] and provider["folder"]
    assert provider["options"]["path"] == str(tmp_path / "dashboards" / "sisock")
    written = sorted((tmp_path / "dashboards" / "sisock").glob("*.json"))
    assert [p.name for p in written] == [p.name for p in DASHBOARDS]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(written, DASHBOARDS, strict=True))
    assert out.count("sisock: wrote ") == 2 + len(DASHBOARDS)


def test_the_compose_stack_provisions_what_sisock_grafana_writes_for_it(tmp_path):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in compose["volumes"])
    dashboards_path = mounts["./sisock/grafana"]
    assert mounts["./docker/grafana/provisioning"] == "/etc/grafana/provisioning"
    sisock_grafana("--out", str(tmp_path), "--bridge-url", "http://bridge:8081", "--dashboards-path", dashboards_path)
    for name in (grafana.DATASOURCE_FILE, grafana.PROVIDER_FILE):
        assert (DOCKER_GRAFANA / name).read_text() == (tmp_path / name).read_text(), name
    bridge = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["bridge"]["command"]
    assert bridge[bridge.index("--port") + 1] == "8081"
    assert "SISOCK_BRIDGE_TOKEN" in compose["environment"]  # what the data source's header refers to


# -- every panel against a running stack ------------------------------------------------------------

#: The rules file of the dashboard stack's alert service: an alert that fires at once, for the Alerts panel.
ALERT_RULES = {"rules": [{"id": "r1", "text": "sensors cpu_percent >= 0", "severity": "info"}], "next_id": 2}


@pytest.fixture(scope="module")
def dashboard_stack(tmp_path_factory):
    """Router, hub (its alert service with `ALERT_RULES`), fleet of 3 lamps, the weather, sensors, brewing and
    pixels nodes, and a bridge with a token."""
    directory = tmp_path_factory.mktemp("grafana")
    (directory / "home").mkdir()
    (directory / "home" / "alerts.json").write_text(json.dumps(ALERT_RULES))
    stack = start_stack(directory, fleet_args=("--count", "3", "--interval", "1"))
    try:
        for name, args in (("weather", ()), ("sensors", ("--interval", "0.5")), ("brewing", ()), ("pixels", ())):
            stack.spawn(name, f"nodes.{name}", *args)
        stack.env["SISOCK_BRIDGE_TOKEN"] = TOKEN
        stack.spawn_bridge()
        yield stack
    finally:
        stack.stop()


def post(stack, path, body):
    response = requests.post(f"{stack.bridge_url}{path}", json=body, timeout=30,
                             headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return response.json()


def variable_values(stack, dashboard, now):
    """``{name: [value, ...]}`` of each query variable, asked from ``/variable`` as the simpod plugin does."""
    values = {}
    for variable in (v for v in dashboard["templating"]["list"] if v["type"] == "query"):
        query = variable["query"]
        payload = json.loads(query["query"]) if query.get("format") == "json" else {"target": query["query"]}
        answer = post(stack, "/variable", {"payload": payload, "range": {
            "from": grafana_time(dashboard["time"]["from"], now), "to": grafana_time(dashboard["time"]["to"], now)}})
        values[variable["name"]] = [option["__value"] for option in answer]
    return values


def panel_requests(dashboard, now, values):
    """``(title, /query body)`` of every panel, once per value of its ``repeat`` variable."""
    rng = {key: grafana_time(dashboard["time"][key], now) for key in ("from", "to")}
    for panel in panels(dashboard):
        repeat = panel.get("repeat")
        for value in values[repeat] if repeat else [None]:
            scope = {repeat: value} if repeat else {}
            targets = [dict(t, target=interpolate(t["target"], scope)) for t in panel["targets"]]
            yield interpolate(panel["title"], scope), {
                "range": {**rng, "raw": dict(dashboard["time"])}, "maxDataPoints": panel.get("maxDataPoints", 1000),
                "targets": targets}


def answered(series):
    """Whether one series of a ``/query`` answer has data: points, no notice from the bridge."""
    points = series.get("datapoints", series.get("rows"))
    return bool(points) and "notices" not in series.get("meta", {})


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
@pytest_twisted.inlineCallbacks
def test_every_panel_of_every_dashboard_gets_data_from_the_bridge(dashboard_stack, path):
    dashboard = load(path)
    last = {}

    def every_panel_answers():
        now = time.time()
        values = variable_values(dashboard_stack, dashboard, now)
        if any(not v for v in values.values()):
            last["variables"] = values
            return False
        for title, body in panel_requests(dashboard, now, values):
            answer = post(dashboard_stack, "/query", body)
            last[title] = answer
            if len(answer) != len(body["targets"]) or not all(answered(s) for s in answer):
                return False
            values = [v for s in answer for v, _ in s.get("datapoints", [])]  # a table (rows) has no datapoints
            if values and all(v is None for v in values):
                return False
        return True

    try:
        yield wait_for(every_panel_answers, 60, f"data for every panel of {path.name}", 1.0)
    except TimeoutError:
        pytest.fail(f"{path.name}: a panel got no data: {json.dumps(last)[:2000]}")
    values = variable_values(dashboard_stack, dashboard, time.time())
    if "lamp" in values:
        assert len(values["lamp"]) == 3


def test_the_bridge_refuses_a_query_without_the_provisioned_token(dashboard_stack):
    response = requests.post(f"{dashboard_stack.bridge_url}/query", json={"targets": []}, timeout=10)
    assert response.status_code == 401


def test_the_bridge_healthcheck_sends_the_token(dashboard_stack):
    check = [sys.executable, str(ROOT / "docker" / "healthcheck.py"), "bridge",
             "--port", str(dashboard_stack.bridge_port)]
    assert subprocess.run(check, env=dashboard_stack.env, capture_output=True, timeout=30).returncode == 0
    without = {k: v for k, v in dashboard_stack.env.items() if k != "SISOCK_BRIDGE_TOKEN"}
    assert subprocess.run(check, env=without, capture_output=True, timeout=30).returncode == 1

"""The brewing node through its clients: the browser panel in headless Chromium and the Grafana bridge."""

import datetime
import time

import pytest
import pytest_twisted
import requests
from twisted.internet import threads

from tests.registry_support import until
from tests.test_brewing import admin, brew, consumer, proc  # noqa: F401 (fixtures)
from tests.test_web import Scenario, browser  # noqa: F401 (browser: the fixture)

CHANGE_CONTROLS = {"brew-mode", "brew-mode-profile", "brew-setpoint", "brew-target", "brew-set-mode",
                   "brew-set-setpoint", "profile-name", "profile-points", "profile-save", "profile-delete",
                   "alarms-ack-all", "alarms-simulate"}


@pytest_twisted.inlineCallbacks
def test_the_panel_changes_as_admin_only_and_a_second_page_sees_an_acknowledgement(browser, brew, consumer,  # noqa: F811
                                                                                    admin):  # noqa: F811
    scenario = Scenario(browser, "brewing", f"http://127.0.0.1:{brew.port}/", "--secret", brew.secret("admin"))
    try:
        yield threads.deferToThread(scenario.step, "setpoint")
        yield until(lambda: consumer.call(proc("control.status")), lambda s: s["fermenter"]["beer_set"] == 20.5,
                    "the node's beer setpoint at 20.5")
        assert (yield consumer.call(proc("io.get"), "chamber", 1))["beer_set"] == 20.5
        yield admin.call(proc("control.setpoint"), "fermenter", 20.4567)  # more digits than the box's 0.1 step
        scenario.go()
        result = yield threads.deferToThread(scenario.result)
    finally:
        scenario.kill()
    # a consumer page: every change control disabled, before and after a refused login, and nothing sent
    assert set(result["consumerControls"]) == CHANGE_CONTROLS and all(result["consumerControls"].values())
    assert "refused" in result["refused"] and all(result["controlsAfterRefusal"].values())
    assert result["consumerAckDisabled"] is True
    assert result["changesByB"] == []
    # the admin page: enabled while logged in, the setpoint shown, the alarm acknowledged as admin
    assert not any(result["adminControls"].values())
    assert result["setpointShown"].startswith("20.5")
    assert result["setpointB"] == "20.5"  # 20.4567 at the setpoint box's precision (0.1 C)
    assert result["alarm"]["id"] == result["alarm"]["seenByB"]
    assert result["ackedSeenByB"] == "admin"
    assert [p.rsplit(".", 2)[-2:] for p in result["changesByA"]] == [
        ["control", "setpoint"], ["profiles", "create"], ["control", "mode"], ["alarms", "simulate"], ["alarms", "ack"]]
    history = yield consumer.call(proc("alarms.history"), -3600, 0)
    assert [a["acked_by"] for a in history if a["id"] == int(result["alarm"]["id"])] == ["admin"]
    # the profile written in the panel, followed by the chamber, and shown on the other page
    profiles = yield consumer.call(proc("profiles.list"))
    ale = [p for p in profiles if p["name"] == "browser_ale"]
    assert len(ale) == 1 and [(p["days"], p["temperature"]) for p in ale[0]["points"]] == [(0, 18), (2, 20.5)]
    chamber = yield consumer.call(proc("io.get"), "chamber", 1)
    assert chamber["mode"] == "profile" and chamber["profile"] == ale[0]["id"]
    assert result["modeSeenByB"] == "profile" and result["profileSeenByB"] == "0 18\n2 20.5"
    assert result["chartPointsB"] >= 1
    # logged out: read-only again and the secret forgotten
    assert all(result["controlsAfterLogout"].values()) and result["storedAfterLogout"] == 0
    assert result["problemsB"] == []


# -- the Grafana bridge ----------------------------------------------------------

@pytest.fixture(scope="module")
def bridge(brew):  # noqa: F811
    """The Grafana bridge on the brewing stack: its base URL."""
    brew.spawn_bridge()
    return brew.bridge_url


def post(url, body):
    response = requests.post(url, json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest_twisted.inlineCallbacks
def test_grafana_lists_the_brewing_fields_and_charts_beer_and_setpoint(admin, bridge):  # noqa: F811
    yield admin.call(proc("control.mode"), "fermenter", "beer")
    yield admin.call(proc("control.setpoint"), "fermenter", 17.5)
    since = time.time()
    found = yield threads.deferToThread(post, f"{bridge}/search", {"target": "brewing::fermenter"})
    assert {"brewing::fermenter.beer", "brewing::fermenter.beerSet", "brewing::fermenter.fridge",
            "brewing::fermenter.room", "brewing::fermenter.profile"} <= set(found)

    def query():
        return post(f"{bridge}/query", {"targets": [{"target": "brewing::fermenter.beer"},
                                                    {"target": "brewing::fermenter.beerSet"}],
                                        "range": {"from": iso(since - 60), "to": iso(time.time() + 1)},
                                        "maxDataPoints": 500})

    series = yield until(lambda: threads.deferToThread(query),
                         lambda s: len(s) == 2 and any(v == 17.5 for v, _ in s[1]["datapoints"]),
                         "the setpoint 17.5 in Grafana's answer")
    beer, setpoint = series
    assert [beer["target"], setpoint["target"]] == ["brewing::fermenter.beer", "brewing::fermenter.beerSet"]
    beers = [v for v, _ in beer["datapoints"] if v is not None]
    assert beers and all(5 < v < 35 for v in beers)
    times = [t for _, t in beer["datapoints"]]
    assert times == sorted(times) and (since - 60) * 1000 <= times[0] and times[-1] <= (time.time() + 1) * 1000
    assert setpoint["datapoints"][-1][0] == 17.5


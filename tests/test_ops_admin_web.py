"""The web admin panel in headless Chromium against a router, a hub and 1,000 lamps:
read-only for consumers; as admin, page through the registry, filter, disable 10 lamps after a confirmation,
see them disabled, and dim a lamp with the form built from its API until its power drops; the audit trail
below the registry shows both changes as they happen, by the admin."""

import pytest
import pytest_twisted
from twisted.internet import threads

from sisock.wire import uri
from tests.registry_support import connect_admin, joined, start_stack, until
from tests.test_web import Scenario, browser, run  # noqa: F401 (browser: the fixture)

COUNT = 1000
LAMP, GROUP = "fleet.lamp0020", "fleet.lamp001*"
IN_GROUP = [f"fleet.lamp{i:04d}" for i in range(10, 20)]


@pytest.fixture(scope="module")
def fleet1000(tmp_path_factory):
    """A router serving the web client, a hub and 1,000 lamps sampling every 2 s."""
    stack = start_stack(tmp_path_factory.mktemp("ops_admin_web"), fleet_args=["--count", str(COUNT), "--interval", "2"])
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def admin(fleet1000):
    yield from joined(connect_admin(fleet1000))


def all_live(admin):
    """Deferred of the live nodes once every enabled lamp is among them (a busy machine may take a while to
    add a thousand, or drop the fleet's session, which then adds its lamps again)."""
    disabled = yield admin.call(uri.HUB_NODES + "list", "status=disabled", 0, 0)
    listed = yield until(lambda: admin.call(uri.GET_DATA_NODE),
                         lambda nodes: sum(n["name"].startswith("fleet.") for n in nodes) == COUNT - disabled["total"],
                         "every enabled lamp listed", timeout=120)
    return listed


@pytest_twisted.inlineCallbacks
def test_admin_panel_pages_filters_disables_ten_lamps_and_dims_one(browser, fleet1000, admin):  # noqa: F811
    yield from all_live(admin)
    scenario = Scenario(browser, "registry", f"http://127.0.0.1:{fleet1000.port}/", "--secret",
                        fleet1000.secret("admin"), "--node", LAMP, "--group", GROUP)
    try:
        yield threads.deferToThread(scenario.step, "dimmed")
        status = yield admin.call(uri.node_uri(LAMP, "command"), "status")
        listed = yield admin.call(uri.HUB_NODES + "list", GROUP)
        power = yield admin.get_data(LAMP, ["power_w"], -30, 0)
        scenario.go()
        result = yield threads.deferToThread(scenario.result)
    finally:
        scenario.kill()
    # what the page did, seen in the node and the registry
    assert status["level"] == 10 and status["mode"] == "manual" and status["state"] == "on"
    assert listed["total"] == 10 and [n["name"] for n in listed["nodes"]] == IN_GROUP
    assert not any(n["enabled"] for n in listed["nodes"])
    watts = power["data"]["power_w"].tolist()
    assert max(watts) > 2 * watts[-1], "the recorded power dropped after the dim"
    # a consumer: the live nodes, and nothing it may change
    assert result["hash"] == "#registry"
    assert result["consumerCount"] == f"1–50 of {COUNT}" and result["consumerStatus"] == "live"
    assert result["consumerButtons"] == {"registry-enable": True, "registry-disable": True, "command-send-dim": True}
    assert result["consumerChanges"] == []
    assert result["consumerAudit"] == "hidden"
    # the audit trail below the registry shows each change live, with who made it
    assert {k: result["auditDisable"][k] for k in ("who", "action", "target", "outcome")} == {
        "who": "admin", "action": "nodes.disable", "target": GROUP, "outcome": "ok"}
    assert {k: result["auditDim"][k] for k in ("who", "action", "target", "outcome")} == {
        "who": "admin", "action": "command.dim", "target": LAMP, "outcome": "ok"}
    assert '{"level":10}' in result["auditDim"]["text"]
    assert result["auditActions"][:3] == ["command.dim", "command.switch", "nodes.disable"]
    # the admin pages through the whole registry, 50 rows at a time
    assert result["adminCount"] == f"1–50 of {COUNT}"
    assert result["rowsShown"] == [50] * (COUNT // 50)
    assert result["lastCount"] == f"951–1000 of {COUNT}"
    assert result["lastNames"] == [f"fleet.lamp{i:04d}" for i in range(951, 1001)]
    # disables a group after a confirmation that says how many
    assert result["groupCount"] == "1–10 of 10"
    assert result["confirm"] == f'Disable 10 nodes matching "{GROUP}"?'
    assert result["disabledRows"] == IN_GROUP and result["mapDisabled"] == 10
    assert result["message"].startswith("disabled 10 node(s)")
    assert result["disabledStatus"] == ["disabled"] * 10  # said once, not "disabled, disabled"
    assert result["messageAfterFilter"] == ""  # a new filter clears what was said about the last one
    assert result["markers"] == COUNT
    # over the world's countries, drawn from the page's own files (no request leaves the router: no problems)
    assert result["mapBase"]["features"] > 200 and result["mapBase"]["canvases"] == 1
    # and dims a lamp: its power drops in the page
    assert result["powerDimmed"] < result["powerOn"] / 2
    # a command's answer wraps within the panel
    box = result["resultBox"]
    assert box["right"] <= box["panelRight"] and box["scrollWidth"] <= box["clientWidth"]
    assert box["page"] <= box["window"]
    assert [(c["procedure"].rsplit(".", 2)[-2:], c["args"]) for c in result["changes"]] == [
        (["nodes", "disable"], [GROUP]), (["lamp0020", "command"], ["switch"]), (["lamp0020", "command"], ["dim"])]


@pytest_twisted.inlineCallbacks
def test_the_sidebar_groups_the_lamps_collapsed_searches_by_name_and_stays_small_with_10000(
        browser, fleet1000, admin):  # noqa: F811
    listed = yield from all_live(admin)
    lamps = sorted(n["name"] for n in listed if n["name"].startswith("fleet."))
    result = yield run(browser, fleet1000, "sidebar", "--node", LAMP, "--group", "fleet", "--count", str(len(lamps)))
    # the fleet is one collapsed line with its count, not a thousand buttons
    assert result["group"] == {"count": len(lamps), "open": "false"}
    assert int(result["nodeCount"]) == len(listed)
    assert result["collapsed"]["items"] == len(listed) - len(lamps) and result["collapsed"]["elements"] < 40
    # opened, it draws a bounded number of its lamps and says how many more there are
    shown = result["synthetic"]["shown"]
    assert result["opened"]["items"] == result["collapsed"]["items"] + shown
    assert result["more"].startswith(f"{len(lamps) - shown} more")
    # the search keeps the names that have the text typed; a click opens the lamp
    assert result["searched"] == [f"fleet.lamp{i:04d}" for i in range(20, 30)]
    assert result["title"] == LAMP
    # 10,000 nodes fed to the same list module: few elements, collapsed, open and searched
    synthetic = result["synthetic"]
    assert synthetic["count"] == "10003"
    assert synthetic["collapsed"]["items"] == 3 and synthetic["collapsed"]["elements"] < 30
    assert synthetic["open"]["items"] == 3 + shown and synthetic["open"]["elements"] < 6 * (shown + 10)
    assert synthetic["open"]["more"].startswith(f"{10000 - shown} more")
    assert synthetic["searched"]["names"] == [f"site.lamp0{i}" for i in range(9990, 10000)]

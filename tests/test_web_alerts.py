"""The alert bell and panel of the web client in real headless Chromium, against the session stack.

The alerts come from the real alert service of the session stack's hub: the
test adds a rule that holds for every sample of the live sensors node while
two pages watch (one anonymous, one signed in as admin), so the alert fires
at the node's next block; the admin's page acknowledges it, then the first
page signs in as an operator and silences it. The rule, the silence and the
operator are removed at the end (the alert resolves).
"""

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, threads

from sisock.wire import uri
from tests.registry_support import connect_admin, joined, until
from tests.test_web import Scenario, browser  # noqa: F401 (browser: the fixture)

#: Holds for every sample of the sensors node: fires at its next block (no ``for``).
RULE = "sensors cpu_percent >= 0"
#: A named user of role operator, added for the test and removed after it.
OPERATOR = "alerts_operator"


@pytest.fixture(scope="module")
def admin(stack):
    yield from joined(connect_admin(stack))


@defer.inlineCallbacks
def alert_rules(session):
    """Deferred rules of the stack's alert service; fails the test, saying so, if no alert service runs."""
    try:
        rules = yield session.call(uri.uri("consumer.alerts.rules"))
    except ApplicationError as exc:
        pytest.fail(f"the session stack's hub runs no alert service (consumer.alerts.rules: {exc.error})")
    return rules


@pytest_twisted.inlineCallbacks
def test_the_bell_counts_a_firing_alert_an_admins_ack_shows_on_another_page_within_a_second_an_operator_silences_it(
        browser, stack, admin):  # noqa: F811
    rules = yield alert_rules(admin)
    assert not [r for r in rules if r["text"] == RULE], "a rule of this test was left over"
    operator = yield admin.call(uri.uri("hub.users.add"), OPERATOR, "operator")
    scenario = Scenario(browser, "alerts", f"http://127.0.0.1:{stack.port}/", "--hash", "alerts",
                        "--secret", stack.secret("admin"), "--operator", OPERATOR, "--operator-secret",
                        operator["secret"])
    rule = None
    try:
        yield threads.deferToThread(scenario.step, "watching")
        rule = yield admin.call(uri.uri("hub.alerts.rules.add"), RULE, "critical")
        scenario.proc.stdin.write(f"{rule['id']}\n")  # the scenario waits for its alert
        scenario.proc.stdin.flush()
        result = yield threads.deferToThread(scenario.result)
        listed = yield until(lambda: admin.call(uri.uri("consumer.alerts.list")),
                             lambda alerts: any(a["rule"] == rule["id"] for a in alerts), "the alert listed")
        silences = yield admin.call(uri.uri("consumer.alerts.silences"))
    finally:
        scenario.kill()
        yield admin.call(uri.uri("hub.users.remove"), OPERATOR)
        if rule is not None:
            yield admin.call(uri.uri("hub.alerts.rules.remove"), rule["id"])
            for silence in (yield admin.call(uri.uri("consumer.alerts.silences"))):
                if silence["matcher"] == rule["id"]:
                    yield admin.call(uri.uri("hub.alerts.unsilence"), silence["id"])
    [alert] = [a for a in listed if a["rule"] == rule["id"]]
    assert alert["state"] == "firing" and alert["acked_by"] == "admin"
    # the bell of both pages counts the alert when it fires, and no more once acknowledged
    n0 = result["before"]
    assert result["fired"] == [n + 1 for n in n0] and result["afterAck"] == n0
    assert result["panelFromHash"] is True and result["hashAfterBell"] == "#alerts"
    # the panel lists it: state, severity, node, summary, since, (not yet) acked by
    row = result["rowA"]
    assert row["id"] == alert["id"] and row["severity"] == "critical" and row["ackedBy"] == ""
    state, severity, node, summary, since, acked_by, actions = row["cells"]
    assert (state, severity, node) == ("firing", "critical", "sensors")
    assert "cpu_percent" in summary and since.startswith("20") and acked_by == "" and actions == ""
    # an anonymous viewer has no button; the admin has both
    assert result["anonymousButtons"] == {"ack": 0, "silence": 0}
    assert result["adminButtons"]["ack"] >= 1 and result["adminButtons"]["silence"] >= 1
    # the admin's ack reaches the anonymous page within a second
    assert result["ackedSeenByA"].startswith("acked by admin")
    assert result["ackMs"] < 1000, f"the ack took {result['ackMs']} ms to reach the other page"
    assert result["messageB"].startswith("acknowledged")
    assert result["adminButtonsAfterAck"]["ack"] == result["adminButtons"]["ack"] - 1
    # an operator gets the buttons too (silence: the alert is acknowledged already); its silence shows
    assert result["operatorButtons"] == {"ack": 0, "silence": result["adminButtons"]["silence"]}
    assert result["messageA"].startswith(f"silenced rule {rule['id']}")
    assert result["silencedSeenByB"] == "firing (silenced)"
    [silence] = [s for s in silences if s["matcher"] == rule["id"]]
    assert silence["by"] == OPERATOR and 3500 < silence["until"] - silence["start"] <= 3600
    assert result["problemsB"] == []

"""Alerts on any field, against the session stack: rules evaluated on live blocks of a node that replays the
APEX wind speed at speed, acks seen by every client, silences, notifications to a webhook, offline nodes."""

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import pytest_twisted
from twisted.internet import defer, threads

from sisock import client
from sisock.wire.errors import InvalidArgument, NoSuchNode
from tests.conftest import Events, free_port, wait_for

READS, CHANGES = "org.simonsobservatory.consumer.alerts.", "org.simonsobservatory.hub.alerts."
#: Rows of apex_windspeed.dat replayed: 13.5 km/h, then above 15 for 6 minutes (20.1 ... 18.6), 14.6, ..., 13.3.
FIRST, COUNT = 4176, 12


class Webhook:
    """A real HTTP server on loopback that keeps the JSON bodies posted to it (Apprise's json://)."""

    def __init__(self):
        self.bodies = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def titles(self):
        return [b.get("title", "") for b in self.bodies]


@pytest.fixture(scope="module")
def alerting(stack):
    """The session stack with the wind replay node, an admin session, a consumer session following
    ``consumer.alerts.changed``, and a webhook in the rules file's ``notify``."""
    hook = Webhook()
    path = os.path.join(stack.env["SISOCK_HOME"], "alerts.json")
    settings = json.load(open(path)) if os.path.exists(path) else {}
    with open(path, "w") as fp:
        json.dump(dict(settings, notify=[hook.url], repeat=0.5), fp)  # read again by the hub: no restart
    node = stack.spawn("windreplay", "tests.windreplay_node")
    admin = pytest_twisted.blockon(client.connect(stack.url, authid="admin", secret=stack.secret("admin")))
    watcher = pytest_twisted.blockon(stack.connect())
    changes = Events()
    pytest_twisted.blockon(watcher.subscribe(changes, READS + "changed"))
    added = []
    yield stack, node, admin, watcher, changes, hook, added
    for rule_id in added:
        try:
            pytest_twisted.blockon(admin.call(CHANGES + "rules.remove", rule_id))
        except InvalidArgument:
            pass
    with open(path) as fp:
        settings = json.load(fp)
    with open(path, "w") as fp:
        json.dump({k: v for k, v in settings.items() if k not in ("notify", "repeat")}, fp)
    hook.server.shutdown()
    node.stop()
    for session in (admin, watcher):
        pytest_twisted.blockon(session.close())


@defer.inlineCallbacks
def add_rule(admin, added, text, **kwargs):
    rule = yield admin.call(CHANGES + "rules.add", text, **kwargs)
    added.append(rule["id"])
    return rule


@defer.inlineCallbacks
def ack_seen_within_a_second(session, authid, alert_id, changes):
    """``session`` (joined as ``authid``) acks ``alert_id``; the other client's ``changes`` must show it
    acknowledged by ``authid`` within a second of the call."""
    asked = time.monotonic()
    acked = yield session.call(CHANGES + "ack", alert_id)
    assert acked["acked_by"] == authid
    yield changes.wait(lambda items: any(a["id"] == alert_id and a["acked_by"] == authid for a in items),
                       1.0, f"the ack by {authid} seen by the other client")
    assert time.monotonic() - asked < 1.0


def of_rule(changes, rule_id, state=None):
    return [a for a in changes.items if a["rule"] == rule_id and (state is None or a["state"] == state)]


@pytest_twisted.inlineCallbacks
def test_a_rule_fires_on_the_replayed_wind_resolves_and_its_ack_reaches_a_second_client(alerting):
    stack, node, admin, watcher, changes, hook, added = alerting
    yield admin.call("org.simonsobservatory.hub.nodes.tag", "windreplay", {"zone": "north"})
    loud = yield add_rule(admin, added, "windreplay windspeed > 15 for 5m by zone", severity="critical")
    quiet = yield add_rule(admin, added, "windrep* windspeed > 14 for 5m", name="windy")  # a glob: by prefix
    silence = yield admin.call(CHANGES + "silence", quiet["id"], 3600, comment="known windy week")
    assert silence["by"] == "admin" and silence["until"] > time.time() + 3000
    played = yield watcher.call("org.simonsobservatory.consumer.windreplay.play", FIRST, COUNT, 20.0)

    yield changes.wait(lambda _: of_rule(changes, loud["id"], "resolved"), 15, "the loud rule resolved")
    first = of_rule(changes, loud["id"])[0]["id"]
    states = [a["state"] for a in of_rule(changes, loud["id"]) if a["id"] == first]
    assert states == ["pending", "firing", "resolved"], states
    # 15.8 and 15.9 then 13.3: a second alert, pending, resolves without firing
    yield changes.wait(lambda _: len(of_rule(changes, loud["id"], "resolved")) == 2, 15, "the second resolved")
    again = of_rule(changes, loud["id"], "resolved")[1]
    assert again["id"] != first and again["fired_at"] is None
    firing = of_rule(changes, loud["id"], "firing")[0]
    # 'for 5m' on the samples' own times: rows 4177 (20.1) to 4182 are five minutes apart
    assert firing["fired_at"] - firing["since"] == pytest.approx(300)
    assert firing["since"] == pytest.approx(played["start"] + 60)
    assert firing["value"] == pytest.approx(15.7) and firing["severity"] == "critical"
    assert firing["source"] == "rule" and firing["node"] == "windreplay" and firing["field"] == "windspeed"
    assert firing["group"] == {"zone": "north"}  # the registry's tag
    assert not firing["silenced"]
    resolved = of_rule(changes, loud["id"], "resolved")[0]
    assert resolved["resolved_at"] == pytest.approx(played["start"] + 8 * 60)

    # ack by the admin: the consumer's subscription sees it within a second
    yield ack_seen_within_a_second(admin, "admin", firing["id"], changes)
    listed = yield watcher.call(READS + "list")
    assert [a["acked_by"] for a in listed if a["id"] == firing["id"]] == ["admin"]

    # the silenced rule changed state like the other, silenced, and the webhook heard only the loud one
    yield changes.wait(lambda _: of_rule(changes, quiet["id"], "resolved"), 15, "the quiet rule resolved")
    assert all(a["silenced"] and a["node"] == "windreplay" for a in of_rule(changes, quiet["id"]))
    yield wait_for(lambda: len(hook.bodies) >= 2, 10, "two notifications")
    titles = hook.titles()
    assert any("FIRING" in t and loud["name"] in t for t in titles), titles
    assert any("RESOLVED" in t and loud["name"] in t for t in titles), titles
    assert not any("windy" in t for t in titles), titles

    history = yield watcher.call(READS + "history", rule=loud["id"])
    mine = [h for h in reversed(history) if h["alert"]["id"] == first]
    assert [h["change"] for h in mine] == ["pending", "firing", "resolved", "acked"]
    assert mine[-1]["by"] == "admin" and mine[-1]["alert"]["acked_by"] == "admin"
    silences = yield watcher.call(READS + "silences")
    assert [(x["matcher"], x["comment"]) for x in silences if x["id"] == silence["id"]] == [
        (quiet["id"], "known windy week")]
    yield admin.call(CHANGES + "unsilence", silence["id"])
    assert silence["id"] not in [x["id"] for x in (yield watcher.call(READS + "silences"))]
    yield changes.wait(lambda _: of_rule(changes, quiet["id"]) and not of_rule(changes, quiet["id"])[-1]["silenced"],
                       5, "the quiet rule's alerts no longer silenced")
    with pytest.raises(InvalidArgument, match="silence_id"):
        yield admin.call(CHANGES + "unsilence", silence["id"])
    audit = yield admin.call("org.simonsobservatory.hub.audit.list", action="alerts")
    assert {(e["who"], e["action"], e["target"]) for e in audit} >= {
        ("admin", "alerts.rules.add", loud["id"]), ("admin", "alerts.silence", quiet["id"]),
        ("admin", "alerts.ack", first)}


@pytest_twisted.inlineCallbacks
def test_a_named_operator_acks_an_alert_may_not_disable_is_removed_and_the_trail_lists_each_action_in_order(
        alerting):
    from tests.test_users import refusal

    stack, node, admin, watcher, changes, hook, added = alerting
    begun = time.time()
    erin = yield admin.call("org.simonsobservatory.hub.users.add", "op_erin", "operator")
    operator = yield client.connect(stack.url, authid="op_erin", secret=erin["secret"])
    assert operator.authrole == "operator"
    try:
        rule = yield add_rule(admin, added, "windreplay windspeed > 16 for 1m", name="gusts")
        yield watcher.call("org.simonsobservatory.consumer.windreplay.play", FIRST, COUNT, 20.0)
        yield changes.wait(lambda _: of_rule(changes, rule["id"], "firing"), 15, "the gusts rule firing")
        firing = of_rule(changes, rule["id"], "firing")[0]

        yield ack_seen_within_a_second(operator, "op_erin", firing["id"], changes)
        with pytest.raises(Exception, match="not_authorized|not authorized"):
            yield operator.call("org.simonsobservatory.hub.nodes.disable", "windreplay")

        yield admin.call("org.simonsobservatory.hub.users.remove", "op_erin")
        yield wait_for(lambda: not operator.is_attached(), 10, "the removed operator's session ended")
        assert "removed" in (yield refusal(stack, "op_erin", erin["secret"]))
    finally:
        yield operator.close()
    trail = yield admin.call("org.simonsobservatory.hub.audit.list", since=begun)
    assert [(e["who"], e["action"], e["target"], e["outcome"]) for e in reversed(trail)] == [
        ("admin", "users.add", "op_erin", "ok"), ("admin", "alerts.rules.add", rule["id"], "ok"),
        ("op_erin", "alerts.ack", firing["id"], "ok"), ("admin", "users.remove", "op_erin", "ok")]


@pytest_twisted.inlineCallbacks
def test_rules_are_added_listed_kept_in_the_home_and_removed(alerting):
    stack, node, admin, watcher, changes, hook, added = alerting
    rule = yield add_rule(admin, added, "warning: fleet.lamp* power_w == 0 for 10m by zone")
    assert (rule["kind"], rule["nodes"], rule["by"], rule["for"]) == ("threshold", "fleet.lamp*", "zone", 600)
    listed = yield watcher.call(READS + "rules")
    assert rule["id"] in [r["id"] for r in listed]
    with open(os.path.join(stack.env["SISOCK_HOME"], "alerts.json")) as fp:
        assert rule["id"] in [r["id"] for r in json.load(fp)["rules"]]
    yield admin.call(CHANGES + "rules.remove", rule["id"])
    listed = yield watcher.call(READS + "rules")
    assert rule["id"] not in [r["id"] for r in listed]
    with pytest.raises(InvalidArgument, match="rule_id"):
        yield admin.call(CHANGES + "rules.remove", rule["id"])


@pytest_twisted.inlineCallbacks
def test_a_rule_that_does_not_parse_is_refused_naming_the_column_and_the_token(alerting):
    stack, node, admin, watcher, changes, hook, added = alerting
    with pytest.raises(InvalidArgument, match=r"column 19, got 'bigger'"):
        yield admin.call(CHANGES + "rules.add", "weather windspeed bigger 50")
    with pytest.raises(InvalidArgument, match=r"duration .* column 27, got '5x'"):
        yield admin.call(CHANGES + "rules.add", "weather windspeed > 5 for 5x")
    with pytest.raises(NoSuchNode, match="alert_id"):
        yield admin.call(CHANGES + "ack", "nope")
    with pytest.raises(InvalidArgument, match="matcher 'r_nothing' is no rule id and names no node"):
        yield admin.call(CHANGES + "silence", "r_nothing", 3600)  # a typo would silence nothing, silently
    assert "r_nothing" not in [x["matcher"] for x in (yield watcher.call(READS + "silences"))]
    with pytest.raises(InvalidArgument, match=r"alert_id"):  # the signature, not a runtime_error
        yield admin.call(CHANGES + "ack")
    with pytest.raises(InvalidArgument, match="state must be one of"):
        yield watcher.call(READS + "list", "burning")
    with pytest.raises(InvalidArgument, match="limit"):
        yield watcher.call(READS + "history", limit=0)


@pytest_twisted.inlineCallbacks
def test_a_rule_on_a_field_its_live_node_does_not_have_is_refused_naming_the_fields_it_has(alerting):
    stack, node, admin, watcher, changes, hook, added = alerting
    typo = "sensors cpu_percnt > 90 for 1m"
    refusal = r"invalid_argument: text: sensors has no field 'cpu_percnt' \(its fields: .*cpu_percent"
    with pytest.raises(InvalidArgument, match=refusal):
        yield admin.call(CHANGES + "rules.add", typo)
    listed = yield watcher.call(READS + "rules")
    assert typo not in [r["text"] for r in listed]
    later = yield add_rule(admin, added, "later_node temperature > 30")  # no such live node: its fields are unknown
    assert later["nodes"] == "later_node"
    ok = yield add_rule(admin, added, "sens* cpu_percent > 1000")  # a pattern: a live node that has the field
    assert ok["nodes"] == "sens*"


@pytest_twisted.inlineCallbacks
def test_a_consumer_reads_alerts_but_cannot_change_them(alerting):
    stack, node, admin, watcher, changes, hook, added = alerting
    assert isinstance((yield watcher.call(READS + "list")), list)
    with pytest.raises(Exception, match="not_authorized"):
        yield watcher.call(CHANGES + "rules.add", "weather windspeed > 50")


@pytest_twisted.inlineCallbacks
def test_a_no_data_rule_fires_while_the_node_is_quiet_and_resolves_with_its_next_block(alerting):
    stack, node, admin, watcher, changes, hook, added = alerting
    rule = yield add_rule(admin, added, "windreplay windspeed no data for 1s", name="wind quiet")
    yield changes.wait(lambda _: of_rule(changes, rule["id"], "firing"), 15, "the no-data alert firing")
    alert = of_rule(changes, rule["id"], "firing")[0]
    assert alert["fired_at"] - alert["since"] >= 1.0 and "no windspeed data" in alert["summary"]
    # firing unacknowledged: a reminder every 'repeat' (0.5 s) seconds
    yield wait_for(lambda: any("STILL FIRING" in t and "wind quiet" in t for t in hook.titles()), 10, "a reminder")
    yield watcher.call("org.simonsobservatory.consumer.windreplay.play", FIRST, 1, 20.0)
    yield changes.wait(lambda _: of_rule(changes, rule["id"], "resolved"), 15, "the no-data alert resolved")
    yield wait_for(lambda: any("RESOLVED" in t and "wind quiet" in t for t in hook.titles()), 10, "resolved notice")
    titles = [t for t in hook.titles() if "wind quiet" in t]
    assert titles[0].startswith("[FIRING]") and titles[-1].startswith("[RESOLVED]")
    yield admin.call(CHANGES + "rules.remove", rule["id"])


@pytest_twisted.inlineCallbacks
def test_an_offline_rule_fires_when_the_node_stops(alerting):
    stack, node, admin, watcher, changes, hook, added = alerting
    rule = yield add_rule(admin, added, "node windreplay offline for 1s")
    node.stop()
    yield changes.wait(lambda _: of_rule(changes, rule["id"], "firing"), 15, "the offline alert firing")
    alert = of_rule(changes, rule["id"], "firing")[0]
    assert alert["fired_at"] - alert["since"] >= 1.0 and alert["node"] == "windreplay"


def sisock_alerts(stack, *argv):
    """Deferred of ``sisock alerts ARGV`` run as a process (in a thread: the reactor keeps running)."""
    return threads.deferToThread(subprocess.run, [sys.executable, "-m", "sisock.cli.main", "alerts", *argv],
                                 env=stack.env, capture_output=True, text=True, timeout=60)


@pytest_twisted.inlineCallbacks
def test_sisock_alerts_adds_a_rule_and_says_what_it_refuses_in_one_line_with_its_exit_status(alerting):
    stack, node, admin, watcher, changes, hook, added = alerting
    added_run, bad, unknown, no_history = yield defer.gatherResults([
        sisock_alerts(stack, "rule", "add", "sensors cpu_percent no data for 10 intervals", "--severity", "info",
                      "--json"),
        sisock_alerts(stack, "rule", "add", "weather windspeed bigger 50"),
        sisock_alerts(stack, "ack", "nope"),
        sisock_alerts(stack, "history", "--rule", "r_never")])
    assert added_run.returncode == 0, added_run.stderr
    rule = json.loads(added_run.stdout)
    added.append(rule["id"])
    assert (rule["kind"], rule["intervals"], rule["severity"]) == ("nodata", 10, "info")
    assert bad.returncode == 2 and "column 19, got 'bigger'" in bad.stderr and bad.stderr.count("\n") == 1
    assert unknown.returncode == 3 and "no alert 'nope'" in unknown.stderr and unknown.stderr.count("\n") == 1
    assert (no_history.returncode, no_history.stdout, no_history.stderr) == (0, "no history\n", "")


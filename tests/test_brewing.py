"""The brewing IO node against a real router: IO CRUD, control, profiles, alarms, logs, HTTP publish, restarts."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import pytest_twisted
import requests
from twisted.internet import threads

from sisock.config import ensure_http_publisher_secret
from sisock.router.directory import PROJECT_DIR, prepare_cbdir
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument, NotAuthorized
from tests.conftest import Events, Stack
from tests.registry_support import connect_admin, joined, until

NODE = "brewing"


def proc(suffix):
    return uri.node_uri(NODE, suffix)


@pytest.fixture(scope="module")
def brew(tmp_path_factory):
    """A router with the HTTP publisher, a hub and the brewing node (simulated physics 3600x real time)."""
    stack = Stack(tmp_path_factory.mktemp("brewing"))
    secrets = os.path.join(stack.env["SISOCK_HOME"], "secrets.json")
    stack.http = ensure_http_publisher_secret(secrets)
    prepare_cbdir(stack.cbdir, stack.port, secrets=secrets)
    try:
        stack.start_router()
        stack.hub = stack.spawn("hub", "sisock.hub")
        stack.node = spawn_node(stack)
        yield stack
    finally:
        stack.stop()


def spawn_node(stack, ready=True):
    return stack.spawn("brewing", "nodes.brewing", "--interval", "0.2", "--speed", "3600", ready=ready)


@pytest.fixture
def admin(brew):
    yield from joined(connect_admin(brew))


@pytest.fixture
def consumer(brew):
    yield from joined(brew.connect())


def change(session, name, *args, **kwargs):
    """Call the admin procedure ``consumer.brewing.<name>``."""
    return session.call(proc(name), *args, **kwargs)


@pytest_twisted.inlineCallbacks
def test_io_configuration_round_trip_with_change_events(admin, consumer):
    seen = Events()
    yield consumer.subscribe(seen, proc("io"))
    controller = yield change(admin, "io.create", "controller", {"name": "garage", "kind": "simulated"})
    chamber = yield change(admin, "io.create", "chamber", {"name": "mash", "controller": controller["id"]})
    device = yield change(admin, "io.create", "device", {"chamber": chamber["id"], "slot": 0, "hardware": "ds18b20",
                                                          "function": "beer_probe"})
    got = yield consumer.call(proc("io.get"), "device", device["id"])
    assert got == dict(device, chamber=chamber["id"])
    updated = yield change(admin, "io.update", "device", device["id"], {"slot": 4})
    assert updated["slot"] == 4
    listing = yield consumer.call(proc("io.list"))
    assert {"garage"} <= {c["name"] for c in listing["controller"]}
    assert updated in listing["device"]
    for kind, rid in (("device", device["id"]), ("chamber", chamber["id"]), ("controller", controller["id"])):
        yield change(admin, "io.delete", kind, rid)
    yield seen.wait(lambda items: len(items) >= 7, what="7 io events")
    assert [(e["event"], e["kind"]) for e in seen.items] == [
        ("created", "controller"), ("created", "chamber"), ("created", "device"), ("updated", "device"),
        ("deleted", "device"), ("deleted", "chamber"), ("deleted", "controller")]
    assert seen.items[3]["record"]["slot"] == 4


@pytest_twisted.inlineCallbacks
def test_a_consumer_reads_but_cannot_change(consumer):
    listing = yield consumer.call(proc("io.list"), "chamber")
    assert "fermenter" in [c["name"] for c in listing]
    for name, args in (("io.create", ("controller", {"name": "sneaky"})), ("alarms.ack_all", ()),
                       ("control.setpoint", ("fermenter", 5.0)), ("alarms.simulate", ())):
        with pytest.raises(NotAuthorized, match=f"{name} may be called by admin or operator sessions only"):
            yield change(consumer, name, *args)
    with pytest.raises(Exception, match="not_authorized|not authorized"):  # the router's own refusal
        yield consumer.call(proc("command"), "io.create", "controller", {"name": "sneaky"})
    listing = yield consumer.call(proc("io.list"), "controller")
    assert "sneaky" not in [c["name"] for c in listing]


@pytest.mark.parametrize("name, args, words", [
    ("io.update", ("chamber", 9999, {"mode": "off"}), "no chamber with id 9999"),
    ("io.create", ("controller", {"name": "x", "kind": "brewpi-socket", "address": "nowhere"}), "host:port"),
    ("io.create", ("chamber", {"name": "c", "controller": "1"}), "chamber controller"),
    ("io.create", ("device", {"chamber": 1, "slot": 0, "function": "heater"}), "already"),
    ("profiles.create", ({"name": "p", "points": [{"days": 2, "temperature": 18}, {"days": 1, "temperature": 19}]},),
     "unsorted"),
    ("profiles.create", ({"name": "p", "points": [{"days": 1, "temperature": 18}, {"days": 1, "temperature": 19}]},),
     "duplicate"),
    ("control.setpoint", ("fermenter", 80.0), "beer_set must be a temperature from"),
    ("control.setpoint", ("nosuch", 18.0), "no chamber 'nosuch'"),
    ("control.mode", ("fermenter", "profile"), "mode profile needs a profile"),
    ("alarms.ack", (987654,), "no alarm with id 987654"),
    ("settings.set", ("setpoint_max", "hot"), "finite number"),
])
@pytest_twisted.inlineCallbacks
def test_bad_input_is_refused_clearly_and_nothing_is_stored(admin, name, args, words):
    before = yield admin.call(proc("io.list"))
    profiles = yield admin.call(proc("profiles.list"))
    with pytest.raises(InvalidArgument, match=words):
        yield change(admin, name, *args)
    assert (yield admin.call(proc("io.list"))) == before
    assert (yield admin.call(proc("profiles.list"))) == profiles


def fermenter(status):
    return status.get("fermenter", {})


@pytest_twisted.inlineCallbacks
def test_the_controller_reaches_and_holds_a_beer_setpoint(admin, consumer):
    yield change(admin, "control.mode", "fermenter", "beer")
    yield change(admin, "control.setpoint", "fermenter", 21.0)
    # 0.2 s ticks of 12 simulated minutes: the beer settles within about 10 simulated hours.
    yield until(lambda: consumer.call(proc("control.status")),
                lambda s: fermenter(s).get("beer_set") == 21.0 and abs(fermenter(s)["beer"] - 21.0) < 0.2,
                "the beer at 21 C", timeout=60)
    since = time.time()
    yield until(lambda: consumer.call(proc("control.status")), lambda s: time.time() > since + 4, "4 s", timeout=10)
    got = yield consumer.call(proc("get_data"), ["fermenter.beer", "fermenter.beerSet"], since, time.time() + 1)
    beer = got["data"]["fermenter.beer"]
    assert len(beer) >= 10 and max(abs(b - 21.0) for b in beer) < 0.5
    assert set(got["data"]["fermenter.beerSet"]) == {21.0}


@pytest_twisted.inlineCallbacks
def test_a_profile_drives_the_setpoint(admin, consumer):
    now = time.time()
    profile = yield change(admin, "profiles.create", {"name": "ramp", "points": [
        {"time": now - 60, "temperature": 14.0}, {"time": now + 60, "temperature": 20.0}]})
    yield change(admin, "control.mode", "fermenter", "profile", profile="ramp")
    status = yield until(lambda: consumer.call(proc("control.status")),
                         lambda s: fermenter(s).get("mode") == "profile", "profile mode")
    first = fermenter(status)["beer_set"]
    assert 14.0 < first < 20.0 and fermenter(status)["profile"] == first
    later = yield until(lambda: consumer.call(proc("control.status")),
                        lambda s: fermenter(s)["beer_set"] > first + 0.3, "the setpoint rising")
    expected = 14.0 + 6.0 * (time.time() - (now - 60)) / 120
    assert abs(fermenter(later)["beer_set"] - expected) < 0.5
    yield change(admin, "control.mode", "fermenter", "beer")
    with pytest.raises(InvalidArgument, match="used by chamber"):
        yield change(admin, "profiles.delete", profile["id"])


@pytest_twisted.inlineCallbacks
def test_an_alarm_acknowledged_by_one_client_is_seen_acknowledged_by_another(admin, consumer):
    seen = Events()
    yield consumer.subscribe(seen, proc("alarms"))
    alarm = yield change(admin, "alarms.simulate", "fermenter", "test", "major", "pilot light out")
    active = yield consumer.call(proc("alarms.active"))
    assert alarm["id"] in [a["id"] for a in active] and alarm["acked"] is None
    acked = yield change(admin, "alarms.ack", alarm["id"])
    assert acked["acked_by"] == "admin" and acked["cleared"] is not None  # the caller's authid, from the router
    yield seen.wait(lambda items: any(e["event"] == "acked" and e["alarm"]["id"] == alarm["id"] for e in items),
                    what="the acknowledgement")
    assert alarm["id"] not in [a["id"] for a in (yield consumer.call(proc("alarms.active")))]
    history = yield consumer.call(proc("alarms.history"), alarm["raised"] - 1, 0)
    kept = [a for a in history if a["id"] == alarm["id"]]
    assert kept and kept[0]["acked_by"] == "admin" and kept[0]["message"] == "pilot light out"


@pytest_twisted.inlineCallbacks
def test_a_rule_raises_and_clears_its_alarm_and_ack_all_records_the_admin(admin, consumer):
    seen = Events()
    yield consumer.subscribe(seen, proc("alarms"))
    yield change(admin, "sim.set", "fermenter", level_high=True)
    yield seen.wait(lambda items: any(e["event"] == "raised" and e["alarm"]["code"] == "level_high" for e in items),
                    what="level_high raised")
    yield change(admin, "sim.set", "fermenter", level_high=False)
    yield seen.wait(lambda items: any(e["event"] == "cleared" and e["alarm"]["code"] == "level_high" for e in items),
                    what="level_high cleared")
    active = yield consumer.call(proc("alarms.active"))
    assert [a["code"] for a in active if a["code"] == "level_high"] == ["level_high"]  # cleared, not acknowledged
    acked = yield change(admin, "alarms.ack_all")
    assert acked and {a["acked_by"] for a in acked} == {"admin"}
    assert (yield consumer.call(proc("alarms.active"))) == []


@pytest_twisted.inlineCallbacks
def test_settings_changes_and_acknowledgements_are_in_the_hubs_audit_trail_by_the_caller(admin):
    since = time.time()
    yield change(admin, "settings.set", "audit_note", "kept")
    yield admin.call(proc("command"), "settings.set", key="audit_note", value="again")
    with pytest.raises(InvalidArgument):
        yield change(admin, "settings.set", 3, "bad key")
    alarm = yield change(admin, "alarms.simulate", "fermenter", "audit", "minor", "audited")
    yield change(admin, "alarms.ack", alarm["id"])
    got = yield until(lambda: admin.call(uri.HUB_AUDIT + "list", since=since, node=NODE),
                      lambda got: len(got) >= 5, "five entries about the brewing node")
    assert [(e["who"], e["action"], e["outcome"]) for e in reversed(got)] == [
        ("admin", "settings.set", "ok"), ("admin", "command.settings.set", "ok"),
        ("admin", "settings.set", InvalidArgument.uri()), ("admin", "alarms.simulate", "ok"),
        ("admin", "alarms.ack", "ok")]
    assert got[-1]["args"] == {"key": "audit_note", "value": "kept"} and got[0]["args"] == {"id": alarm["id"]}


@pytest_twisted.inlineCallbacks
def test_a_chamber_deleted_right_after_its_device_takes_its_alarms_and_fields_with_it(admin, consumer):
    controller = yield change(admin, "io.create", "controller",
                              {"name": "far", "kind": "brewpi-socket", "address": "127.0.0.1:9"})
    chamber = yield change(admin, "io.create", "chamber", {"name": "doomed", "controller": controller["id"]})
    device = yield change(admin, "io.create", "device", {"chamber": chamber["id"], "slot": 0,
                                                          "function": "beer_probe"})
    yield until(lambda: consumer.call(proc("alarms.active")),  # nothing answers on 127.0.0.1:9
                lambda active: ("doomed", "probe_disconnected") in {(a["chamber"], a["code"]) for a in active},
                "the doomed chamber's probe alarm")
    yield until(lambda: consumer.call(proc("get_fields"), -5, 0), lambda got: "doomed.beer" in got[0],
                "the doomed chamber's fields")
    yield change(admin, "io.delete", "device", device["id"])
    yield change(admin, "io.delete", "chamber", chamber["id"])
    deleted = time.time()
    yield change(admin, "io.delete", "controller", controller["id"])
    yield change(admin, "alarms.ack_all")
    yield until(lambda: consumer.call(proc("alarms.active")),
                lambda active: "doomed" not in {a["chamber"] for a in active}, "no active alarm of the doomed chamber")
    fields, timelines = yield until(lambda: consumer.call(proc("get_fields"), deleted + 0.5, 0),
                                    lambda got: "fermenter.beer" in got[0], "fields recorded after the deletion")
    assert not [f for f in fields if f.startswith("doomed.")] and "doomed" not in timelines


@pytest_twisted.inlineCallbacks
def test_logs_are_published_and_kept(admin, consumer):
    seen = Events()
    yield consumer.subscribe(seen, proc("logs"))
    since = time.time()
    yield change(admin, "settings.set", "brew_name", "Saison")
    yield change(admin, "control.setpoint", "fermenter", 18.0)
    yield change(admin, "alarms.simulate", None, "test", "info", "log me")
    yield seen.wait(lambda items: any("log me" in e["msg"] for e in items), what="the log line")
    kept = yield consumer.call(proc("logs.history"), since, 0)
    assert any("log me" in line["msg"] and line["source"] == "alarms" for line in kept)
    assert any(line["code"] == "chamber_updated" and line["msg"].endswith("updated by admin") for line in kept)
    assert (yield consumer.call(proc("settings.get"), "brew_name")) == "Saison"


def signed_post(stack, body, secret=None):
    """POST ``body`` to the router's HTTP publisher as curl does, signed as Crossbar's HTTP bridge wants."""
    key, secret = stack.http["key"], secret or stack.http["secret"]
    raw = json.dumps(body).encode()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    seq, nonce = "1", str(int.from_bytes(os.urandom(4), "big"))
    mac = hmac.new(secret.encode(), key.encode() + stamp.encode() + seq.encode() + nonce.encode() + raw,
                   hashlib.sha256)
    params = {"key": key, "timestamp": stamp, "seq": seq, "nonce": nonce,
              "signature": base64.urlsafe_b64encode(mac.digest()).decode()}
    return requests.post(f"http://127.0.0.1:{stack.port}/publish", params=params, data=raw,
                         headers={"Content-Type": "application/json"}, timeout=10)


@pytest_twisted.inlineCallbacks
def test_a_signed_http_publish_arrives_on_the_logs_channel_and_an_unsigned_one_is_refused(brew, consumer):
    seen = Events()
    yield consumer.subscribe(seen, proc("logs"))
    since = time.time()
    line = {"source": "shell", "level": "warning", "code": "door", "msg": "chamber door open"}
    reply = yield threads.deferToThread(signed_post, brew, {"topic": proc("logs"), "args": [line]})
    assert reply.status_code == 200, reply.text
    yield seen.wait(lambda items: line in items, what="the HTTP log line")
    kept = yield until(lambda: consumer.call(proc("logs.history"), since, 0),
                       lambda lines: any(x["msg"] == "chamber door open" for x in lines), "the line kept")
    assert [x for x in kept if x["msg"] == "chamber door open"][0]["source"] == "shell"
    unsigned = yield threads.deferToThread(
        requests.post, f"http://127.0.0.1:{brew.port}/publish", json={"topic": proc("logs"), "args": [line]},
        timeout=10)
    forged = yield threads.deferToThread(signed_post, brew, {"topic": proc("logs"), "args": [line]}, "guess")
    elsewhere = yield threads.deferToThread(signed_post, brew, {"topic": proc("data"), "args": [{}]})
    malformed = yield threads.deferToThread(signed_post, brew, {"args": [line]})  # no topic
    assert unsigned.status_code == 400 and forged.status_code == 401 and malformed.status_code == 400
    assert elsewhere.status_code == 403 and elsewhere.json()["error"] == "wamp.error.not_authorized"  # curl -f fails
    assert seen.items.count(line) == 1


@pytest_twisted.inlineCallbacks
def test_an_http_published_alarm_becomes_an_alarm(brew, consumer):
    seen = Events()
    yield consumer.subscribe(seen, proc("alarms"))
    raise_it = {"event": "raise", "chamber": "fermenter", "code": "pilot", "severity": "major",
                "message": "pilot light out"}
    reply = yield threads.deferToThread(signed_post, brew, {"topic": proc("alarms"), "args": [raise_it]})
    assert reply.status_code == 200, reply.text
    yield seen.wait(lambda items: any(e.get("event") == "raised" and e["alarm"]["code"] == "pilot" for e in items),
                    what="the alarm raised")
    assert "pilot" in [a["code"] for a in (yield consumer.call(proc("alarms.active")))]


@pytest_twisted.inlineCallbacks
def test_everything_is_kept_across_kill_9(brew, admin):
    profile = yield change(admin, "profiles.create", {"name": "kept", "points": [{"days": 0, "temperature": 12}]})
    yield change(admin, "settings.set", "alarm_beer_high", 26.5)
    yield change(admin, "control.setpoint", "fermenter", 19.5)
    alarm = yield change(admin, "alarms.simulate", "fermenter", "test", "minor", "before the kill")
    yield change(admin, "alarms.ack", alarm["id"])
    reads = ("io.list", "profiles.list", "settings.get")
    before = {}
    for name in reads:
        before[name] = yield admin.call(proc(name))
    brew.node.signal(signal.SIGKILL)
    brew.node.popen.wait()
    brew.node = spawn_node(brew, ready=False)
    yield brew.node.ready()
    after = {}
    for name in reads:
        after[name] = yield until(lambda n=name: admin.call(proc(n)), lambda a: a is not None, name)
    assert after == before
    assert profile in after["profiles.list"] and after["settings.get"]["alarm_beer_high"] == 26.5
    history = yield admin.call(proc("alarms.history"), alarm["raised"] - 1, 0)
    assert [a["acked_by"] for a in history if a["id"] == alarm["id"]] == ["admin"]
    logs = yield admin.call(proc("logs.history"), alarm["raised"] - 1, 0)
    assert any("before the kill" in line["msg"] for line in logs)


@pytest_twisted.inlineCallbacks
def test_the_command_line_sets_a_setpoint(brew, consumer):
    sisock = os.path.join(os.path.dirname(sys.executable), "sisock")
    done = yield threads.deferToThread(
        subprocess.run, [sisock, "call", "brewing", "control.setpoint", "chamber=fermenter", "temperature=19.5"],
        env=dict(brew.env, PYTHONPATH=str(PROJECT_DIR)), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    chamber = yield consumer.call(proc("io.get"), "chamber", 1)
    assert chamber["beer_set"] == 19.5


@pytest_twisted.inlineCallbacks
def test_a_brewer_without_the_admin_secret_reads_alarms_and_settings_from_a_shell(brew, admin, tmp_path):
    sisock = os.path.join(os.path.dirname(sys.executable), "sisock")
    brewer = dict(brew.env, SISOCK_SECRETS_FILE=str(tmp_path / "none.json"))

    def run(*args, env=brewer):
        return threads.deferToThread(subprocess.run, [sisock, "call", "brewing", *args], env=env,
                                     capture_output=True, text=True, timeout=60)

    alarm = yield change(admin, "alarms.simulate", "fermenter", "test", "minor", "for the shell")
    done = yield run("alarms.active", "--json")
    assert done.returncode == 0, done.stderr
    assert alarm["id"] in [a["id"] for a in json.loads(done.stdout)]
    done = yield run("settings.get", "--json")
    assert done.returncode == 0, done.stderr
    settings = json.loads(done.stdout)
    assert {"setpoint_max", "alarm_beer_high"} <= set(settings)
    done = yield run("settings.get", "key=alarm_beer_high")
    assert done.returncode == 0 and json.loads(done.stdout) == settings["alarm_beer_high"], done.stdout + done.stderr
    refused = yield run("alarms.ack_all")  # an admin's procedure and command
    assert refused.returncode == 4 and refused.stderr.count("\n") == 1 and "admin" in refused.stderr, refused.stderr
    shown = yield run()
    assert shown.returncode == 0 and "procedure alarms.active()" in shown.stdout, shown.stdout + shown.stderr
    api = json.loads((yield run("--json")).stdout)
    assert {"name": "settings.get", "roles": None} == {k: v for k, v in next(
        p for p in api["procedures"] if p["name"] == "settings.get").items() if k in ("name", "roles")}
    acked = yield run("alarms.ack_all", "--json", env=brew.env)  # with the admin secret: the command
    assert acked.returncode == 0, acked.stderr


@pytest_twisted.inlineCallbacks
def test_the_readme_python_example_sets_a_setpoint_and_acknowledges_as_admin(brew, admin, consumer):
    block = [b for b in re.findall(r"```python\n(.*?)```", (PROJECT_DIR / "README.md").read_text(), re.S)
             if "brewing.control.setpoint" in b][0]
    alarm = yield change(admin, "alarms.simulate", "fermenter", "test", "minor", "for the README")
    yield change(admin, "control.setpoint", "fermenter", 18.0)
    done = yield threads.deferToThread(subprocess.run, [sys.executable, "-c", block],
                                       env=dict(brew.env, PYTHONPATH=str(PROJECT_DIR)),
                                       capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (yield consumer.call(proc("io.get"), "chamber", 1))["beer_set"] == 19.5
    history = yield consumer.call(proc("alarms.history"), alarm["raised"] - 1, 0)
    assert [a["acked_by"] for a in history if a["id"] == alarm["id"]] == ["admin"]


@pytest_twisted.inlineCallbacks
def test_the_readme_curl_command_publishes_a_log_line(brew, consumer):
    block = [b for b in re.findall(r"```\n(KEY=.*?)```", (PROJECT_DIR / "README.md").read_text(), re.S) if "curl" in b]
    script = block[0].replace(".sisock/secrets.json", os.path.join(brew.env["SISOCK_HOME"], "secrets.json"))
    script = script.replace("127.0.0.1:8080", f"127.0.0.1:{brew.port}")
    seen = Events()
    yield consumer.subscribe(seen, proc("logs"))
    done = yield threads.deferToThread(subprocess.run, ["bash", "-c", script], capture_output=True, text=True,
                                       timeout=30)
    assert done.returncode == 0 and '"id"' in done.stdout, done.stdout + done.stderr
    yield seen.wait(lambda items: any(e.get("msg") == "door opened" for e in items), what="the curl line")


@pytest_twisted.inlineCallbacks
def test_an_alarm_is_an_alert_of_the_hub_and_its_ack_there_reaches_the_node_as_the_person(admin, consumer):
    changed = Events()
    yield consumer.subscribe(changed, uri.uri("consumer.alerts.changed"))
    alarm = yield change(admin, "alarms.simulate", "fermenter", "door", "critical", "cellar door open")
    alert_id = f"brewing:{alarm['id']}"
    yield changed.wait(lambda items: any(a["id"] == alert_id for a in items), what="the alarm as an alert")
    listed = [a for a in (yield consumer.call(uri.uri("consumer.alerts.list"))) if a["id"] == alert_id]
    assert [(a["source"], a["state"], a["severity"], a["summary"], a["group"]) for a in listed] == [
        ("brewing", "firing", "critical", "cellar door open", {"chamber": "fermenter"})]
    yield admin.call(uri.uri("hub.alerts.ack"), alert_id)
    yield changed.wait(lambda items: any(a["id"] == alert_id and a["acked_by"] == "admin" and a["state"] == "resolved"
                                         for a in items), what="the ack, and the alarm raised by hand cleared")
    history = yield consumer.call(proc("alarms.history"), alarm["raised"] - 1, 0)
    assert [a["acked_by"] for a in history if a["id"] == alarm["id"]] == ["admin"]  # the person, not "hub"

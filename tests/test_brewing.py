"""The brewing IO node against a real router: IO CRUD, control, profiles, alarms, logs, HTTP publish, restarts."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import signal
import time

import pytest
import pytest_twisted
import requests
from twisted.internet import threads

from sisock.cli.launcher import ensure_http_publisher_secret, prepare_cbdir
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument
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


def spawn_node(stack):
    return stack.spawn("brewing", "nodes.brewing", "--interval", "0.2", "--speed", "3600")


@pytest.fixture
def admin(brew):
    yield from joined(connect_admin(brew))


@pytest.fixture
def consumer(brew):
    yield from joined(brew.connect())


def command(session, name, *args, **kwargs):
    return session.call(proc("command"), name, *args, **kwargs)


@pytest_twisted.inlineCallbacks
def test_io_configuration_round_trip_with_change_events(admin, consumer):
    seen = Events()
    yield consumer.subscribe(seen, proc("io"))
    controller = yield command(admin, "io.create", "controller", {"name": "garage", "kind": "simulated"})
    chamber = yield command(admin, "io.create", "chamber", {"name": "mash", "controller": controller["id"]})
    device = yield command(admin, "io.create", "device", {"chamber": chamber["id"], "slot": 0, "hardware": "ds18b20",
                                                          "function": "beer_probe"})
    got = yield consumer.call(proc("io.get"), "device", device["id"])
    assert got == dict(device, chamber=chamber["id"])
    updated = yield command(admin, "io.update", "device", device["id"], {"slot": 4})
    assert updated["slot"] == 4
    listing = yield consumer.call(proc("io.list"))
    assert {"garage"} <= {c["name"] for c in listing["controller"]}
    assert updated in listing["device"]
    for kind, rid in (("device", device["id"]), ("chamber", chamber["id"]), ("controller", controller["id"])):
        yield command(admin, "io.delete", kind, rid)
    yield seen.wait(lambda items: len(items) >= 7, what="7 io events")
    assert [(e["event"], e["kind"]) for e in seen.items] == [
        ("created", "controller"), ("created", "chamber"), ("created", "device"), ("updated", "device"),
        ("deleted", "device"), ("deleted", "chamber"), ("deleted", "controller")]
    assert seen.items[3]["record"]["slot"] == 4


@pytest_twisted.inlineCallbacks
def test_a_consumer_reads_but_cannot_change(consumer):
    listing = yield consumer.call(proc("io.list"), "chamber")
    assert "fermenter" in [c["name"] for c in listing]
    with pytest.raises(Exception, match="not_authorized|not authorized"):
        yield command(consumer, "io.create", "controller", {"name": "sneaky"})
    with pytest.raises(Exception, match="not_authorized|not authorized"):
        yield command(consumer, "alarms.ack_all")
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
        yield command(admin, name, *args)
    assert (yield admin.call(proc("io.list"))) == before
    assert (yield admin.call(proc("profiles.list"))) == profiles


def fermenter(status):
    return status.get("fermenter", {})


@pytest_twisted.inlineCallbacks
def test_the_controller_reaches_and_holds_a_beer_setpoint(admin, consumer):
    yield command(admin, "control.mode", "fermenter", "beer")
    yield command(admin, "control.setpoint", "fermenter", 21.0)
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
    profile = yield command(admin, "profiles.create", {"name": "ramp", "points": [
        {"time": now - 60, "temperature": 14.0}, {"time": now + 60, "temperature": 20.0}]})
    yield command(admin, "control.mode", "fermenter", "profile", profile="ramp")
    status = yield until(lambda: consumer.call(proc("control.status")),
                         lambda s: fermenter(s).get("mode") == "profile", "profile mode")
    first = fermenter(status)["beer_set"]
    assert 14.0 < first < 20.0 and fermenter(status)["profile"] == first
    later = yield until(lambda: consumer.call(proc("control.status")),
                        lambda s: fermenter(s)["beer_set"] > first + 0.3, "the setpoint rising")
    expected = 14.0 + 6.0 * (time.time() - (now - 60)) / 120
    assert abs(fermenter(later)["beer_set"] - expected) < 0.5
    yield command(admin, "control.mode", "fermenter", "beer")
    with pytest.raises(InvalidArgument, match="used by chamber"):
        yield command(admin, "profiles.delete", profile["id"])

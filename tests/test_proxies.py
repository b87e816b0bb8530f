"""Crossbar proxy workers in front of the router worker: same service, same rules."""

import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytest_twisted
import requests
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions
from twisted.internet import reactor

from sisock import client, config
from sisock.router.directory import prepare_cbdir, socket_path
from sisock.router.proxies import PROXY_SOCKET
from sisock.wire import uri
from tests.conftest import Stack
from tests.test_brewing import signed_post
from tests.test_launcher import Up

ACK = PublishOptions(acknowledge=True)


@pytest.fixture
def proxied(tmp_path):
    """A router worker behind two proxy workers on the web port; hub and weather node join through them."""
    s = Stack(tmp_path)
    prepare_cbdir(s.cbdir, s.port, proxies=2)
    try:
        s.start_router()
        s.hub = s.spawn("hub", "sisock.hub")
        s.weather = s.spawn("weather", "nodes.weather")
        yield s
    finally:
        s.stop()


def test_two_proxy_workers_serve_the_port_and_the_router_directory_is_private(proxied):
    assert proxied.router.output().count('proxy transport "transport000" started and listening') == 2
    assert stat.S_IMODE(os.stat(proxied.cbdir).st_mode) == 0o700
    assert stat.S_ISSOCK(os.stat(os.path.join(proxied.cbdir, PROXY_SOCKET)).st_mode)


@pytest_twisted.inlineCallbacks
def test_through_the_proxies_a_consumer_lists_reads_and_calls_like_on_the_router_and_a_user_joins(proxied):
    assert 'authid="weather", authrole="node", authmethod="anonymous-proxy"' in proxied.router.output()
    consumer = yield client.connect(proxied.url)
    try:
        assert [n["name"] for n in (yield consumer.get_data_node())] == ["weather"]
        result = yield consumer.get_data("weather", ["temperature"], 1500076800, 1500163200)
        assert len(result["data"]["temperature"]) == 24
        assert (yield consumer.call(uri.node_uri("weather", "get_api")))["name"] == "weather"
        with pytest.raises(ApplicationError) as info:
            yield consumer.publish(uri.node_uri("weather", "data"), {}, options=ACK)
        assert info.value.error == "wamp.error.not_authorized"
        # a named user, whose salted key the proxy worker signs the challenge with (sisock.router.wampcra)
        added = yield consumer_admin(proxied).addCallback(
            lambda admin: admin.call(uri.HUB_USERS + "add", "proxied_olga", "operator").addBoth(
                lambda answer: admin.close().addCallback(lambda _: answer)))
        olga = yield client.connect(proxied.url, authid="proxied_olga", secret=added["secret"]).addTimeout(
            15, reactor)  # a refused join would be tried again and again
        assert (olga.authid, olga.authrole) == ("proxied_olga", "operator")
        yield olga.close()
    finally:
        yield consumer.close()


def consumer_admin(stack):
    """Deferred of a session of the shared admin through ``stack``'s URL."""
    return client.connect(stack.url, authid="admin", secret=stack.secret("admin"))


@pytest_twisted.inlineCallbacks
def test_through_the_proxies_a_node_cannot_publish_or_register_as_another(proxied, events):
    secret = config.load_secret("node", os.path.join(proxied.env["SISOCK_HOME"], "secrets.json"))
    direct = yield client.connect(f"unix://{socket_path(proxied.cbdir)}")
    impostor = yield client.connect(proxied.url, authid="proxied_impostor", secret=secret)
    seen = events()
    try:
        yield direct.subscribe(seen, uri.node_uri("weather", "data"))
        with pytest.raises(ApplicationError) as info:
            yield impostor.publish(uri.node_uri("weather", "data"), {"from": "impostor"}, options=ACK)
        assert info.value.error == "wamp.error.not_authorized"
        with pytest.raises(ApplicationError) as info:
            yield impostor.register(lambda: None, uri.node_uri("weather_x", "get_data"))
        assert info.value.error == "wamp.error.not_authorized"
        yield impostor.publish(uri.node_uri("proxied_impostor", "data"), {"from": "itself"}, options=ACK)
        assert seen.items == []
    finally:
        yield impostor.close()
        yield direct.close()


def test_sisock_up_with_two_proxies_starts_and_they_serve_the_web_port_and_the_http_publisher(tmp_path):
    up = Up(str(tmp_path), "--proxies", "2", "--router-only")
    try:
        up.wait_line(r"^sisock: stack ready$", timeout=90)
        assert requests.get(f"http://127.0.0.1:{up.port}/", timeout=10).status_code == 200
        http = json.loads((Path(up.home) / "secrets.json").read_text())["http_publisher"]
        line = {"source": "shell", "level": "info", "code": "proxied", "msg": "through a proxy"}
        router = SimpleNamespace(port=up.port, http=http)
        reply = signed_post(router, {"topic": uri.node_uri("brewing", "logs"), "args": [line]})
        assert reply.status_code == 200 and "id" in reply.json(), reply.text
        refused = signed_post(router, {"topic": uri.node_uri("brewing", "data"), "args": [line]})
        assert refused.status_code == 403 and refused.json()["error"] == "wamp.error.not_authorized"
    finally:
        up.stop()

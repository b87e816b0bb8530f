"""Access from the outside: TLS, credentials, and what each role may not do."""

import os
import stat
import subprocess
import sys

import pytest
import pytest_twisted
import requests
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer, reactor

from sisock import client, config
from sisock.connection import start
from tests.conftest import Stack


@pytest.fixture
def tls_stack(tmp_path):
    s = Stack(tmp_path, tls=True)
    try:
        s.start_router()
        s.hub = s.spawn("hub", "sisock.hub")
        s.weather = s.spawn("weather", "nodes.weather")
        yield s
    finally:
        s.stop()


@pytest_twisted.inlineCallbacks
def test_over_wss_with_a_generated_certificate_hub_nodes_and_consumers_work(tls_stack, monkeypatch):
    assert tls_stack.url.startswith("wss://")
    monkeypatch.setenv("SISOCK_CA_FILE", tls_stack.tls[1])
    consumer = yield client.connect(tls_stack.url)
    try:
        assert [n["name"] for n in (yield consumer.get_data_node())] == ["weather"]
        result = yield consumer.get_data("weather", ["temperature"], 1500076800, 1500163200)
        assert len(result["data"]["temperature"]) == 24
    finally:
        yield consumer.close()
    page = requests.get(f"https://127.0.0.1:{tls_stack.port}/", verify=tls_stack.tls[1], timeout=10)
    assert page.status_code == 200


def test_the_tls_port_refuses_plain_websocket_and_untrusted_clients(tls_stack):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{tls_stack.port}/", timeout=5)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://127.0.0.1:{tls_stack.port}/", timeout=5)  # not trusted without the CA file


def test_the_generated_key_and_secrets_are_private(tls_stack):
    assert stat.S_IMODE(os.stat(tls_stack.tls[0]).st_mode) == 0o600
    secrets = os.path.join(tls_stack.env["SISOCK_HOME"], "secrets.json")
    assert stat.S_IMODE(os.stat(secrets).st_mode) == 0o600


@pytest.mark.parametrize("authid, secret", [("hub", "wrong"), ("weather", "wrong"), ("admin", ""), ("no such!", "x")])
@pytest_twisted.inlineCallbacks
def test_wrong_or_missing_credentials_are_refused(stack, authid, secret):
    session = client.ConsumerSession(ComponentConfig(
        "sisock", {"connection": config.Connection(stack.url, "sisock", authid, secret or None)}))
    if secret:
        left = defer.Deferred()
        session.onLeave = lambda details: left.callback(details.reason) if not left.called else None
        start(session)
        try:
            reason = yield left.addTimeout(10, reactor)
        finally:
            yield session.close()
        assert reason in ("wamp.error.not_authorized", "wamp.error.authentication_failed")
    else:
        # No secret: the session joins anonymously, as a consumer, not as admin.
        start(session)
        try:
            yield session.when_joined()
            assert session._authrole == "consumer"
        finally:
            yield session.close()


def test_a_node_without_any_secret_configured_says_how_to_set_one(stack, tmp_path):
    env = dict(stack.env, SISOCK_HOME=str(tmp_path / "empty"))
    run = subprocess.run([sys.executable, "-m", "nodes.weather"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2
    assert "SISOCK_NODE_SECRET" in run.stderr and "sisock secrets" in run.stderr


@pytest.fixture
def guarded_bridge(stack, tmp_path):
    """A second bridge on the session stack that requires a token or basic auth."""
    from tests.conftest import Proc, free_port

    port = free_port()
    env = dict(stack.env, SISOCK_BRIDGE_TOKEN="t0ken-for-tests", SISOCK_BRIDGE_USER="grafana",
               SISOCK_BRIDGE_PASSWORD="pa55word")
    proc = Proc("guarded_bridge", [sys.executable, "-m", "grafana_bridge", "--port", str(port)], env,
                str(tmp_path)).start()
    pytest_twisted.blockon(proc.ready())
    yield f"http://127.0.0.1:{port}"
    proc.stop()


def test_a_bridge_with_credentials_configured_refuses_requests_without_them(guarded_bridge):
    for headers, auth in [({}, None), ({"Authorization": "Bearer wrong"}, None), ({}, ("grafana", "wrong")),
                          ({"Authorization": "Basic !!notbase64"}, None)]:
        response = requests.post(f"{guarded_bridge}/search", json={}, headers=headers, auth=auth, timeout=10)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.options(f"{guarded_bridge}/query", timeout=10).status_code == 200  # CORS preflight


def test_a_bridge_with_credentials_configured_serves_a_token_or_basic_auth(guarded_bridge):
    by_token = requests.post(f"{guarded_bridge}/search", json={},
                             headers={"Authorization": "Bearer t0ken-for-tests"}, timeout=10)
    by_basic = requests.post(f"{guarded_bridge}/search", json={}, auth=("grafana", "pa55word"), timeout=10)
    assert by_token.status_code == by_basic.status_code == 200
    assert "weather::temperature" in by_token.json() and by_token.json() == by_basic.json()


@pytest_twisted.inlineCallbacks
def test_a_node_with_its_own_secret_cannot_be_impersonated_with_the_shared_node_secret(stack, tmp_path):
    from tests.conftest import Proc

    secrets_path = os.path.join(stack.env["SISOCK_HOME"], "secrets.json")
    shared = config.load_secret("node", secrets_path)
    own = config.add_node_secret("weather_private", secrets_path)
    assert own != shared and config.load_secret("node", secrets_path, "weather_private") == own
    assert stat.S_IMODE(os.stat(secrets_path).st_mode) == 0o600
    owner = stack.spawn("private", "nodes.weather", "--name", "weather_private", ready=False)
    yield owner.ready()
    impostor_env = dict(stack.env, SISOCK_HOME=str(tmp_path / "impostor"), SISOCK_NODE_SECRET=shared)
    impostor = Proc("impostor", [sys.executable, "-m", "nodes.weather", "--name", "weather_private"],
                    impostor_env, str(tmp_path)).start()
    try:
        yield impostor.wait_output(r"wamp\.error\.(not_authorized|authentication_failed)", timeout=20)
        assert "READY" not in impostor.output()
    finally:
        impostor.stop()

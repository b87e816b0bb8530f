"""The bridge's limits per request, over real HTTP: targets, points, body bytes, and clients that go away.

A ``/query`` of 2,000 targets with ``maxDataPoints`` 100,000 once kept the
bridge busy past its client's patience and grew it to gigabytes; now it is
refused at once, and the node calls of a client that leaves are cancelled.
"""

import json
import socket
import subprocess

import psutil
import pytest
import pytest_twisted
import requests

from tests.conftest import PYTHON, Proc, free_port, wait_until

TIMEOUT = 30
RANGE = {"from": "2017-07-15T00:00:00Z", "to": "2017-07-16T00:00:00Z"}
#: A generous bound on the bridge's resident memory, bytes.
RSS_BOUND = 400 * 2**20


@pytest.fixture(scope="module")
def small(stack):
    """A second bridge with small limits: two from options, one from the environment."""
    port = free_port()
    env = dict(stack.env, SISOCK_BRIDGE_MAX_POINTS="5000")
    proc = Proc("bridge-small", [PYTHON, "-m", "grafana_bridge", "--port", str(port), "--max-targets", "3",
                                 "--max-body-bytes", "4096"], env, stack.dir).start()
    try:
        pytest_twisted.blockon(proc.ready())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def stall(stack):
    """The node whose get_data answers only when cancelled (`tests.stallnode`), for this module."""
    proc = stack.spawn("stall", "tests.stallnode")
    yield proc
    proc.stop()


def post(url, body=None, data=None):
    return requests.post(url + "/query", data=json.dumps(body) if data is None else data,
                         headers={"Content-Type": "application/json"}, timeout=TIMEOUT)


def assert_too_large(response, *names):
    assert response.status_code == 413, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "too_large"
    assert all(name in body["message"] for name in names), body["message"]


def rss(pid):
    return psutil.Process(pid).memory_info().rss


def test_2000_targets_with_max_data_points_100000_get_413_at_once_and_the_bridge_stays_small(stack):
    targets = [{"target": "sensors::cpu_percent", "refId": f"R{i}"} for i in range(2000)]
    response = post(stack.bridge_url, {"targets": targets, "maxDataPoints": 100_000, "range": None})
    assert_too_large(response, "2000", "at most 200", "--max-targets / SISOCK_BRIDGE_MAX_TARGETS")
    response = post(stack.bridge_url, {"targets": targets[:20], "maxDataPoints": 100_000})
    assert_too_large(response, "maxDataPoints", "at most 1000000", "--max-points / SISOCK_BRIDGE_MAX_POINTS")
    assert rss(stack.bridge.pid) < RSS_BOUND


def test_a_body_over_the_limit_gets_413_and_the_bridge_stays_small(stack):
    padding = "x" * (20 * 2**20)
    response = post(stack.bridge_url, data=json.dumps({"targets": [], "padding": padding}))
    assert_too_large(response, "request body", "1048576", "--max-body-bytes / SISOCK_BRIDGE_MAX_BODY_BYTES")
    assert rss(stack.bridge.pid) < RSS_BOUND


def test_the_limits_are_set_by_option_and_environment(small):
    one = {"target": "weather::temperature"}
    assert_too_large(post(small, {"targets": [one] * 4, "range": RANGE}), "4 visible targets", "at most 3")
    assert_too_large(post(small, {"targets": [one] * 2, "maxDataPoints": 3000, "range": RANGE}), "at most 5000")
    assert_too_large(post(small, data=json.dumps({"targets": [one], "range": RANGE, "pad": "x" * 5000})),
                     "over 4096 bytes")
    response = post(small, {"targets": [one] * 3, "maxDataPoints": 1000, "range": RANGE})
    assert response.status_code == 200, response.text
    assert [len(s["datapoints"]) for s in response.json()] == [24, 24, 24]


def test_a_client_that_goes_away_mid_query_has_its_node_calls_cancelled_and_the_bridge_serves_on(stack, stall):
    body = json.dumps({"targets": [{"target": "stall::x"}], "range": RANGE}).encode()
    head = (f"POST /query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    calls = stall.count("STALL get_data")
    with socket.create_connection(("127.0.0.1", stack.bridge_port), timeout=TIMEOUT) as client:
        client.sendall(head + body)
        wait_until(lambda: stall.count("STALL get_data") > calls, TIMEOUT, "the query to reach the node")
    # The bridge gives up on a node after 30 s by itself; the client's leaving must cancel the call before that.
    wait_until(lambda: stall.count("STALL cancelled") >= 1, 20, "the node's call to be cancelled")
    assert "the client went away" in stack.bridge.output()
    response = requests.get(stack.bridge_url + "/", timeout=TIMEOUT)
    assert response.status_code == 200


@pytest.mark.parametrize("args, env, names", [
    (["--max-targets", "0"], {}, "--max-targets"),
    ([], {"SISOCK_BRIDGE_MAX_POINTS": "many"}, "SISOCK_BRIDGE_MAX_POINTS"),
])
def test_a_bad_limit_exits_2_naming_it(stack, args, env, names):
    run = subprocess.run([PYTHON, "-m", "grafana_bridge", *args], env=dict(stack.env, **env), capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and names in run.stderr.splitlines()[-1] and "Traceback" not in run.stderr


def raw_exchange(port, head, body_part):
    """Send ``head`` and the start of a body on a raw connection; the bridge's whole answer (it closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as client:
        client.sendall(head + body_part)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return answer


def test_a_body_declared_over_the_limit_is_refused_at_its_headers_without_waiting_for_it(stack):
    head = (b"POST /query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000000\r\n\r\n")  # 10 GB announced, 1 kB sent
    answer = raw_exchange(stack.bridge_port, head, b"{" + b" " * 1000)
    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 413"), answer[:300]
    assert json.loads(body)["message"] == "request body: over 1048576 bytes (--max-body-bytes / " \
                                          "SISOCK_BRIDGE_MAX_BODY_BYTES)"
    assert rss(stack.bridge.pid) < RSS_BOUND


def test_a_chunked_body_is_refused_once_it_passes_the_limit(small):
    port = int(small.rsplit(":", 1)[1])
    head = b"POST /query HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = raw_exchange(port, head, b"".join(b"400\r\n" + b" " * 1024 + b"\r\n" for _ in range(8)))
    assert answer.startswith(b"HTTP/1.1 413") and b"over 4096 bytes" in answer, answer[:300]

"""Fast paths on the wire, through the real router: binary arrays, chunks, too_large, envelope, TCP_NODELAY.

The node under test (`tests.wirenode`) serves known data of every kind on
two timelines, with a 64 KiB chunk size and a 256 KiB one-message limit so
that modest ranges exercise chunking.
"""

import json
import os
import socket
import sys

import numpy as np
import pytest
import pytest_twisted
import requests
from autobahn.wamp.types import CallOptions

from sisock import client
from sisock.node import pacing
from sisock.router.directory import CONFIG_FILE
from sisock.wire import chunks, uri
from sisock.wire.errors import InvalidArgument, TooLarge
from tests.conftest import Proc
from tests.wirenode import DT_FAST, FAST, SLOW, T0, series

CHUNK, MAX_MESSAGE = 64 * 1024, 256 * 1024
GET_DATA = uri.node_uri("wire", "get_data")
ALL = list(FAST + SLOW)


@pytest.fixture(scope="module")
def wire(stack, tmp_path_factory):
    env = dict(stack.env, SISOCK_CHUNK_BYTES=str(CHUNK), SISOCK_MAX_MESSAGE_BYTES=str(MAX_MESSAGE),
               PYTHONPATH=os.path.join(os.path.dirname(__file__), os.pardir))
    proc = Proc("wire", [sys.executable, "-m", "tests.wirenode"], env, str(tmp_path_factory.mktemp("wire"))).start()
    pytest_twisted.blockon(proc.ready(60))
    yield proc
    proc.stop()


@pytest.fixture
def json_consumer(stack):
    """A consumer session that speaks JSON only."""
    session = pytest_twisted.blockon(client.connect(stack.url, binary=False))
    yield session
    pytest_twisted.blockon(session.close())


def assert_matches_truth(result, start, end, fields):
    """Every field and timeline of ``result`` equals `tests.wirenode.series` exactly (NaN == NaN)."""
    for tl, (t, values) in series(start, end).items():
        wanted = [f for f in fields if f in values]
        if not wanted:
            continue
        np.testing.assert_array_equal(result["timeline"][tl]["t"], t)
        for f in wanted:
            if values[f].dtype == object:
                assert list(result["data"][f]) == list(values[f]), f
            else:
                np.testing.assert_array_equal(result["data"][f], values[f].astype(result["data"][f].dtype))


def samples_just_fitting(limit, fields, encoding):
    """Fast-timeline samples whose result just fits ``limit`` bytes as one message (one more does not)."""
    def size(n):
        start, end = T0, T0 + n * DT_FAST
        data, timeline = {}, {}
        for tl, (t, values) in series(start, end).items():
            if any(f in values for f in fields):
                timeline[tl] = {"t": t, "finalized_until": T0}
                data.update({f: values[f] for f in fields if f in values})
        return chunks.Plan({"data": data, "timeline": timeline}, encoding).message_bytes

    lo, hi = 1, 100_000
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if size(mid) <= limit else (lo, mid)
    return lo


# -- binary arrays and lists ----------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_binary_and_json_clients_get_identical_values_of_every_kind(wire, consumer, json_consumer):
    start, end = T0 + 10, T0 + 12.5
    binary = yield consumer.get_data("wire", ALL, start, end)
    listed = yield json_consumer.get_data("wire", ALL, start, end)
    assert (consumer.encoding, json_consumer.encoding) == ("binary", "list")
    assert_matches_truth(binary, start, end, ALL)
    assert_matches_truth(listed, start, end, ALL)
    assert binary["data"]["i"].dtype == np.int64 and listed["data"]["i"].dtype == np.float64
    assert binary["data"]["b"].dtype == listed["data"]["b"].dtype == bool
    assert np.isnan(binary["data"]["x"]).any()


@pytest_twisted.inlineCallbacks
def test_a_json_caller_and_an_original_sisock_caller_get_plain_lists(wire, consumer, json_consumer):
    start, end = T0, T0 + 0.1
    for session in (json_consumer, consumer):  # positional arguments only, as the original sisock calls
        answer = yield session.call(GET_DATA, ["x", "i", "s"], start, end)
        assert all(isinstance(v, list) for v in answer["data"].values())
        assert isinstance(answer["timeline"]["fast"]["t"], list)
        assert answer["data"]["x"][3] is None and answer["data"]["s"][:2] == ["s0", "s1"]


@pytest_twisted.inlineCallbacks
def test_a_binary_caller_asking_for_it_gets_raw_little_endian_arrays(wire, consumer):
    answer = yield consumer.call(GET_DATA, ["x", "b", "s"], T0, T0 + 0.1, encoding="binary")
    assert answer["data"]["x"]["dtype"] == "<f8" and answer["data"]["x"]["shape"] == [10]
    assert isinstance(answer["data"]["x"]["data"], bytes) and answer["data"]["b"]["dtype"] == "|b1"
    assert answer["data"]["s"][:2] == ["s0", "s1"]  # strings stay lists


# -- chunks and too_large -------------------------------------------------------

@pytest_twisted.inlineCallbacks
@pytest.mark.parametrize("extra", [0, 1], ids=["just under", "just over"])
def test_a_result_just_under_or_just_over_the_chunk_size_comes_back_exactly(wire, consumer, extra):
    n = samples_just_fitting(CHUNK, ["x"], "binary") + extra
    progress = []
    result = yield consumer.get_data("wire", ["x"], T0, T0 + n * DT_FAST, progress=lambda *a: progress.append(a))
    assert len(result["data"]["x"]) == n
    assert_matches_truth(result, T0, T0 + n * DT_FAST, ["x"])
    assert (progress == []) if extra == 0 else (len(progress) >= 2 and progress[-1][0] == progress[-1][1])


@pytest_twisted.inlineCallbacks
@pytest.mark.parametrize("serializer", ["msgpack", "json"])
def test_a_large_result_on_two_timelines_comes_back_exactly_in_chunks(wire, consumer, json_consumer, serializer):
    session = consumer if serializer == "msgpack" else json_consumer
    start, end = T0, T0 + 600  # 60,000 fast samples of every kind, 600 slow: a few MiB
    progress = []
    result = yield session.get_data("wire", ALL, start, end, progress=lambda *a: progress.append(a))
    assert len(progress) > 10 and progress[-1][0] == progress[-1][1]
    assert_matches_truth(result, start, end, ALL)


@pytest_twisted.inlineCallbacks
def test_a_caller_without_progressive_results_gets_too_large_naming_the_limit_and_the_way_out(wire, consumer):
    n = samples_just_fitting(MAX_MESSAGE, ["x"], "binary")
    answer = yield consumer.call(GET_DATA, ["x"], T0, T0 + n * DT_FAST, encoding="binary")  # fits: one message
    assert answer["data"]["x"]["shape"] == [n]
    with pytest.raises(TooLarge) as info:
        yield consumer.call(GET_DATA, ["x"], T0, T0 + (n + 1) * DT_FAST, encoding="binary")
    assert info.value.error == "org.simonsobservatory.error.too_large"
    assert "256 KiB" in info.value.message and "min_stride" in info.value.message
    again = yield consumer.get_data("wire", ["x"], T0, T0 + 1)  # the node and the connection are fine
    assert len(again["data"]["x"]) == 100


@pytest_twisted.inlineCallbacks
def test_a_progressive_caller_of_another_client_gets_the_documented_messages(wire, consumer):
    messages = []
    final = yield consumer.call(GET_DATA, ["x", "y"], T0, T0 + 100, encoding="binary",
                                options=CallOptions(on_progress=messages.append))
    layout = messages[0]["layout"]
    assert layout["data"]["x"] == {"dtype": "<f8", "shape": [10_000]}
    assert layout["timeline"]["slow"]["t"] == {"dtype": "<f8", "shape": [100]}
    assert final == {"chunks": layout["chunks"], "bytes": layout["bytes"]} == {"chunks": len(messages) - 1,
                                                                               "bytes": layout["bytes"]}
    assert [m["chunk"] for m in messages[1:]] == list(range(layout["chunks"]))


@pytest_twisted.inlineCallbacks
def test_a_node_sends_at_most_a_window_of_chunks_ahead_of_the_callers_acknowledgements(wire, consumer):
    from twisted.internet import reactor

    ahead, acked, sent = [], [0], []

    def on_progress(message):
        if "layout" in message:
            sent.append(message["layout"]["ack"])
            return
        ahead.append(message["chunk"] + 1 - acked[0])   # chunks arrived and not acknowledged yet
        reactor.callLater(0.05, acknowledge, message["chunk"] + 1)   # a caller slower than the node

    def acknowledge(chunks):
        acked[0] = chunks
        consumer.call(uri.node_uri("wire", "get_data_ack"), sent[0], chunks)

    final = yield consumer.call(GET_DATA, ["x"], T0, T0 + 1000, encoding="binary",
                                options=CallOptions(on_progress=on_progress))
    assert final["chunks"] == len(ahead) > 3 * pacing.WINDOW
    assert max(ahead) <= pacing.WINDOW   # unacknowledged, the node waited


@pytest_twisted.inlineCallbacks
@pytest.mark.parametrize("chunks_read", ["3", 1.5, True, -1, None])
def test_an_acknowledgement_of_no_count_of_chunks_is_an_invalid_argument_naming_it(wire, consumer, chunks_read):
    with pytest.raises(InvalidArgument) as info:
        yield consumer.call(uri.node_uri("wire", "get_data_ack"), "0123456789abcdef", chunks_read)
    assert info.value.message.startswith("chunks must be an integer count of chunks read")


def test_the_router_takes_a_larger_message_than_any_node_sends():
    options = json.loads(CONFIG_FILE.read_text())["workers"][0]["transports"][0]["paths"]["ws"]["options"]
    assert options["max_message_size"] >= 2 * chunks.MAX_MESSAGE_BYTES > 2 * chunks.CHUNK_BYTES


# -- downsampling options ---------------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_the_min_max_envelope_over_the_wire_keeps_lengths_spacing_and_extremes(wire, consumer):
    start, end, stride = T0, T0 + 100, 2.0
    result = yield consumer.get_data("wire", ["x", "s"], start, end, min_stride=stride, downsample="minmax")
    t = result["timeline"]["fast"]["t"]
    assert len(t) == len(result["data"]["x"]) == len(result["data"]["s"]) == 50
    assert np.all(np.diff(t) >= stride)
    raw = series(start, end)["fast"][1]["x"]
    assert np.nanmax(result["data"]["x"]) == np.nanmax(raw) and np.nanmin(result["data"]["x"]) == np.nanmin(raw)


@pytest_twisted.inlineCallbacks
@pytest.mark.parametrize("option", [{"encoding": "hex"}, {"downsample": "median"}])
def test_a_bad_encoding_or_downsample_is_an_invalid_argument_naming_it(wire, consumer, option):
    with pytest.raises(InvalidArgument) as info:
        yield consumer.call(GET_DATA, ["x"], T0, T0 + 1, **option)
    assert info.value.message.startswith(next(iter(option)))


def test_the_bridge_asks_for_the_envelope_when_a_target_says_so(stack):
    start, end = "2017-07-01T00:00:00Z", "2017-08-01T00:00:00Z"
    peaks = {}
    for how in ("mean", "minmax"):
        target = {"target": "weather::windspeed", "refId": "A", "payload": {"downsample": how}}
        response = requests.post(f"{stack.bridge_url}/query", timeout=60, json={
            "range": {"from": start, "to": end}, "maxDataPoints": 50, "targets": [target]})
        assert response.status_code == 200, response.text
        points = response.json()[0]["datapoints"]
        assert 0 < len(points) <= 50
        peaks[how] = max(v for v, _ in points if v is not None)
    assert peaks["minmax"] > 2 * peaks["mean"]  # the archive's wind spikes (> 470 km/h) stay visible


# -- latency ------------------------------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_every_sisock_session_sets_tcp_nodelay_on_its_socket(stack, consumer):
    for session in (consumer, (yield client.connect(stack.url, binary=False))):
        sock = session._transport.transport.getHandle()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    yield session.close()

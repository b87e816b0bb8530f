"""Recording live data: acknowledged blocks survive kill -9, restarts keep history, late joiners get the latest."""

import os
import re
import signal
import sqlite3
import sys
import textwrap
import time
from concurrent import futures

import numpy as np
import pytest
import pytest_twisted
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer, threads

from sisock.node import DataNodeServer
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument
from tests.conftest import Proc, until, wait_for

BLOCK = 100

# A node that records numbered blocks: block k of timeline "fast" holds BLOCK
# samples at t0 + k + i/BLOCK with k, i, a label and a bool, recorded from the
# reactor every 5 ms; timeline "slow" gets one sample per block from a thread.
# It prints "ACK <timeline> <k>" once block k's commit has been acknowledged.
RECORDER = textwrap.dedent('''
    import threading

    import numpy as np
    from twisted.internet import reactor

    from sisock.node import DataNodeServer, run_node

    BLOCK = %d


    class Recorder(DataNodeServer):
        """Numbered blocks for the recording tests."""

        name = "recorder"
        description = "numbered blocks for the recording tests"

        def __init__(self, config=None):
            super().__init__(config)
            self.args = self.config.extra["args"]
            self.declare("fast", {"k": {}, "i": {}, "label": {"type": "string"}, "even": {"type": "bool"}},
                         capacity=self.args.capacity)
            self.declare("slow", {"level": {"units": "m"}}, capacity=self.args.capacity)

        def start(self):
            if self.args.blocks:
                self.fast(0)
            if self.args.thread_blocks:
                threading.Thread(target=self.slow, daemon=True).start()

        def fast(self, k):
            i = np.arange(BLOCK)
            d = self.record("fast", self.args.t0 + k + i / BLOCK, {
                "k": np.full(BLOCK, k), "i": i, "label": [f"b{k}"] * BLOCK, "even": [k %% 2 == 0] * BLOCK})
            d.addCallback(lambda _: print(f"ACK fast {k}", flush=True))
            if self.args.blocks < 0 or k + 1 < self.args.blocks:
                reactor.callLater(0.005, self.fast, k + 1)

        def slow(self):
            for k in range(self.args.thread_blocks):
                self.record("slow", [self.args.t0 + k], {"level": [k / 10]}).result(30)
                print(f"ACK slow {k}", flush=True)


    def add_arguments(parser):
        parser.add_argument("--t0", type=float, required=True)
        parser.add_argument("--blocks", type=int, default=0, help="blocks recorded from the reactor; -1 forever")
        parser.add_argument("--thread-blocks", type=int, default=0)
        parser.add_argument("--capacity", type=int, default=1000)


    if __name__ == "__main__":
        run_node(Recorder, add_arguments=add_arguments)
''' % BLOCK)

FAST = ["k", "i", "label", "even"]


def recorder(stack, tmp_path, name, *args):
    """Start the recorder as node ``name`` with its store in ``tmp_path/data``."""
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    argv = [sys.executable, str(script), "--name", name, "--data-dir", str(tmp_path / "data"), *map(str, args)]
    return Proc(name, argv, stack.env, str(tmp_path)).start()


def acks(proc, timeline="fast"):
    return [int(k) for k in re.findall(rf"ACK {timeline} (\d+)", proc.output())]


def fast_block(t0, k):
    """Block k of the "fast" timeline as the recorder makes it."""
    i = np.arange(BLOCK)
    return t0 + k + i / BLOCK, {"k": [float(k)] * BLOCK, "i": i.astype(float).tolist(), "label": [f"b{k}"] * BLOCK,
                                "even": [k % 2 == 0] * BLOCK}


def recorded_blocks(result, t0):
    """The "fast" blocks in a get_data result, checked whole and uncorrupted; sorted block numbers."""
    t = result["timeline"]["fast"]["t"]
    data = result["data"]
    assert np.all(np.diff(t) > 0)
    k = data["k"].astype(int)
    blocks = sorted(set(k.tolist()))
    for j in blocks:
        expected_t, expected = fast_block(t0, j)
        mine = k == j
        np.testing.assert_allclose(t[mine], expected_t, rtol=0, atol=1e-6)
        for f in FAST:
            assert list(data[f][mine]) == expected[f], (j, f)
    return blocks




@pytest_twisted.inlineCallbacks
def test_a_node_killed_mid_write_keeps_every_block_it_acknowledged(stack, consumer, tmp_path):
    t0 = round(time.time()) - 3600.0
    node = recorder(stack, tmp_path, "rec_kill", "--t0", t0, "--blocks", -1, "--capacity", 5 * BLOCK)
    try:
        yield node.wait_output(r"ACK fast 40\b", timeout=60)
        node.signal(signal.SIGKILL)
        node.popen.wait()
        acked = max(acks(node))
        node = recorder(stack, tmp_path, "rec_kill", "--t0", t0)   # restarted, records nothing
        yield node.ready()
        result = yield consumer.get_data("rec_kill", FAST, t0 - 1, t0 + 100000)
    finally:
        node.stop()
    blocks = recorded_blocks(result, t0)
    assert blocks == list(range(len(blocks))), "a hole in the recorded blocks"
    assert blocks[-1] >= acked, f"acknowledged block {acked} lost; the store has up to {blocks[-1]}"
    with sqlite3.connect(tmp_path / "data" / "rec_kill.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest_twisted.inlineCallbacks
def test_a_restarted_node_serves_its_history_and_latest_blocks_at_once(stack, consumer, tmp_path, events):
    t0 = round(time.time()) - 600.0
    name = "rec_restart"
    node = recorder(stack, tmp_path, name, "--t0", t0, "--blocks", 20, "--thread-blocks", 5, "--capacity", 500)
    try:
        yield node.wait_output(r"ACK fast 19\b", timeout=60)
        yield node.wait_output(r"ACK slow 4\b", timeout=60)
        yield node.ready()
        # A display that comes late subscribes, then asks for the latest block of each timeline.
        live = events()
        yield consumer.subscribe(live, uri.node_uri(name, "data"))
        latest = yield consumer.call(uri.node_uri(name, "get_latest"))
        t, data = fast_block(t0, 19)
        assert latest["fast"]["data"] == data
        np.testing.assert_allclose(latest["fast"]["t"], t, rtol=0, atol=1e-6)
        assert latest["slow"] == {"t": [t0 + 4], "data": {"level": [0.4]}}
        assert live.items == []   # the values came at once, not from a live event
        node.stop()
        assert node.popen.returncode == 0
        node = recorder(stack, tmp_path, name, "--t0", t0, "--capacity", 500)
        yield node.ready()
        after = yield consumer.get_data(name, FAST + ["level"], t0 - 1, t0 + 100)
        latest_after = yield consumer.call(uri.node_uri(name, "get_latest"))
    finally:
        node.stop()
    assert recorded_blocks(after, t0) == list(range(20))
    assert after["timeline"]["slow"]["t"].tolist() == [t0 + k for k in range(5)]
    assert after["data"]["level"].tolist() == [k / 10 for k in range(5)]
    assert latest_after == latest


@pytest_twisted.inlineCallbacks
def test_retention_by_age_drops_blocks_older_than_retention(stack, consumer, tmp_path):
    t0 = round(time.time()) - 7200.0
    node = recorder(stack, tmp_path, "rec_age", "--t0", t0, "--blocks", 5, "--retention", 3600)
    try:
        yield node.wait_output(r"ACK fast 4\b", timeout=60)
        yield node.ready()
        yield until(lambda: consumer.get_data("rec_age", ["k"], t0 - 1, t0 + 100),
                    lambda r: len(r["timeline"].get("fast", {"t": []})["t"]) == 0, "old blocks dropped", timeout=30)
    finally:
        node.stop()
    with sqlite3.connect(tmp_path / "data" / "rec_age.sqlite") as db:
        assert db.execute("SELECT count(*) FROM block WHERE timeline = 'fast'").fetchone()[0] == 0


@pytest_twisted.inlineCallbacks
def test_retention_by_size_keeps_the_newest_blocks_within_max_bytes(stack, consumer, tmp_path):
    t0 = round(time.time()) - 600.0
    node = recorder(stack, tmp_path, "rec_size", "--t0", t0, "--blocks", 50, "--max-bytes", "20K")
    try:
        yield node.wait_output(r"ACK fast 49\b", timeout=60)
        yield node.ready()
        result = yield until(lambda: consumer.get_data("rec_size", FAST, t0 - 1, t0 + 100),
                             lambda r: 0 not in r["data"]["k"], "the oldest blocks dropped", timeout=30)
    finally:
        node.stop()
    blocks = recorded_blocks(result, t0)
    assert blocks == list(range(blocks[0], 50)) and len(blocks) < 50
    with sqlite3.connect(tmp_path / "data" / "rec_size.sqlite") as db:
        assert db.execute("SELECT total(size) FROM block").fetchone()[0] <= 20 * 1024


@pytest_twisted.inlineCallbacks
def test_a_node_whose_store_cannot_be_opened_stops_at_start_saying_why(stack, tmp_path):
    (tmp_path / "data").write_text("a file where the data directory should be")
    node = recorder(stack, tmp_path, "rec_bad", "--t0", 0)
    yield wait_for(lambda: node.popen.poll() is not None, 30, "the node to exit")
    assert node.popen.returncode == 1
    assert f"cannot open the store {tmp_path / 'data' / 'rec_bad.sqlite'}" in node.output()
    assert "READY" not in node.output()


@pytest_twisted.inlineCallbacks
def test_the_sensors_node_keeps_its_history_across_a_restart(stack, consumer, tmp_path, events):
    name = "sensors_restart"
    args = ["nodes.sensors", "--name", name, "--interval", "0.2", "--data-dir", str(tmp_path / "data")]
    node = Proc(name, [sys.executable, "-m", *args], stack.env, str(tmp_path)).start()
    try:
        yield node.ready()
        live = events()
        yield consumer.subscribe(live, uri.node_uri(name, "data"))
        yield live.wait(lambda items: len(items) >= 3, timeout=20, what="3 sensors blocks")
        latest = yield consumer.call(uri.node_uri(name, "get_latest"))
        assert set(latest) == {"host"} and "cpu_percent" in latest["host"]["data"]
        before = yield consumer.get_data(name, ["cpu_percent"], -3600, 0)
        node.stop()
        node = Proc(name, [sys.executable, "-m", *args], stack.env, str(tmp_path)).start()
        yield node.ready()
        after = yield consumer.get_data(name, ["cpu_percent"], -3600, 0)
    finally:
        node.stop()
    t = before["timeline"]["host"]["t"]
    assert len(t) >= 3
    assert set(t.tolist()) <= set(after["timeline"]["host"]["t"].tolist())
    assert os.path.exists(tmp_path / "data" / f"{name}.sqlite")


class InProcess(DataNodeServer):
    """A node object that is never connected: record and the store alone."""

    name = "inprocess"
    description = "in-process recording"


@pytest.fixture
def inprocess(tmp_path):
    node = InProcess(ComponentConfig("sisock", {}))
    node.declare("tl", {"x": {}, "note": {"type": "string"}}, capacity=10)
    node.store.open(str(tmp_path / "inprocess.sqlite"))
    node.path = tmp_path / "inprocess.sqlite"
    yield node
    node.store.close()


def committed_rows(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM block").fetchone()[0]


@pytest_twisted.inlineCallbacks
def test_record_from_the_reactor_and_from_a_thread_acknowledges_once_the_block_is_in_the_file(inprocess):
    t0 = time.time()
    d = inprocess.record("tl", [t0], {"x": [1.0], "note": ["from the reactor"]})
    assert isinstance(d, defer.Deferred)
    yield d
    assert committed_rows(inprocess.path) == 1

    def from_a_thread():
        future = inprocess.record("tl", [t0 + 1, t0 + 2], {"x": [2.0, None]})
        assert isinstance(future, futures.Future)
        future.result(30)
        return committed_rows(inprocess.path)

    assert (yield threads.deferToThread(from_a_thread)) == 2
    result = inprocess.store.get_data(["x", "note"], t0 - 1, t0 + 10)
    assert result["data"]["note"].tolist() == ["from the reactor", None, None]
    np.testing.assert_array_equal(result["data"]["x"], [1.0, 2.0, np.nan])


@pytest.mark.parametrize("timeline, t, data, named", [
    ("nope", [1e9], {"x": [1.0]}, "timeline: 'nope' is not declared"),
    ("tl", [1e9], {"y": [1.0]}, "field 'y' is not declared on timeline 'tl'"),
    ("tl", [1e9 - 1], {"x": [1.0]}, "timeline 'tl': t: .* is not after the last stored time"),
    ("tl", [1e9 + 1, 1e9 + 2], {"x": [1.0]}, r"data\['x'\] \(timeline 'tl'\): has shape \(1,\) but t has \(2,\)"),
    ("tl", [1e9 + 1], {"note": [1.0]}, r"data\['note'\] \(timeline 'tl'\): a string field takes str"),
])
def test_bad_record_input_raises_invalid_argument_naming_it(inprocess, timeline, t, data, named):
    inprocess.store.append("tl", [1e9], {"x": [0.0]})
    with pytest.raises(InvalidArgument, match=named):
        inprocess.record(timeline, t, data)
    assert inprocess.store.get_data(["x"], 0, 2e9)["data"]["x"].tolist() == [0.0]

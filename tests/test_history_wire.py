"""Downsampled reads of a recorded store through a real router, the bridge and the CLI equal the raw truth.

A store of ten days (gaps, NaN, ties, bool and string fields) is written
first; `tests.historynode` serves it. Each reader asks with its own
stride (the bridge's from ``maxDataPoints``), and the answer is compared
with `sisock.node.downsample.downsample` of the samples the test recorded.
"""

import datetime
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import pytest_twisted
import requests

from grafana_bridge.query import min_stride_for
from sisock.node.downsample import HOW
from sisock.store import Store
from tests.test_history import FIELDS, assert_same, expected, record, recording

SISOCK = os.path.join(os.path.dirname(sys.executable), "sisock")


@pytest.fixture(scope="module")
def truth():
    return recording(days=10, seed=11)


@pytest.fixture(scope="module")
def served(stack, truth, tmp_path_factory):
    """The session stack with `tests.historynode` serving `truth` from its store."""
    directory = tmp_path_factory.mktemp("historynode")
    store = Store()
    store.open(str(directory / "history.sqlite"))
    record(store, *truth)
    node = stack.spawn("historynode", "tests.historynode", "--data-dir", str(directory))
    yield stack
    node.stop()


def ranges(truth):
    """``(start, end)`` pairs: all ten days, a day from the middle, an hour, and an unaligned stretch."""
    t = truth[0]
    mid = t[len(t) // 2]
    return [(t[0] - 1.0, t[-1] + 1.0), (mid, mid + 86400.0), (mid - 3600.0, mid), (t[0] + 12345.6, t[-1] - 54321.9)]


@pytest_twisted.inlineCallbacks
def test_get_data_by_wamp_at_every_range_stride_and_mode(served, truth):
    from sisock.client import connect

    session = yield connect(served.url)
    try:
        for start, end in ranges(truth):
            for points in (50, 1000):
                for how in HOW:
                    stride = (end - start) / points
                    got = yield session.get_data("history", list(FIELDS), start, end, stride, how)
                    assert_same(got, expected(truth, start, end, stride, how))
    finally:
        yield session.close()


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.mark.parametrize("how", ["mean", "minmax"])
def test_the_bridge_turns_max_data_points_into_a_read_of_the_tiers(served, truth, how):
    for start, end in ranges(truth):
        body = {"range": {"from": iso(start), "to": iso(end)}, "maxDataPoints": 700,
                "targets": [{"target": "history::x", "payload": {"downsample": how}}]}
        answer = requests.post(f"{served.bridge_url}/query", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        points = answer.json()[0]["datapoints"]
        start, end = (datetime.datetime.fromisoformat(iso(t)).timestamp() for t in (start, end))  # as sent
        t, values = expected(truth, start, end, min_stride_for(start, end, 700, None, how), how, ("x",))
        got_t = np.array([p[1] for p in points]) / 1000.0
        got_x = np.array([np.nan if p[0] is None else p[0] for p in points], dtype=float)
        np.testing.assert_allclose(got_t, t, rtol=0, atol=2e-3)  # whole milliseconds
        np.testing.assert_allclose(got_x, values["x"], rtol=1e-9, atol=1e-9)


def test_sisock_get_with_min_stride(served, truth):
    start, end = ranges(truth)[3]
    done = subprocess.run([SISOCK, "get", "history", "x", "b", "s", "--start", repr(float(start)),
                           "--end", repr(float(end)), "--min-stride", "3600", "--json"],
                          env=served.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    got = {"timeline": {"tl": {"t": np.array(answer["timeline"]["tl"]["t"])}},
           "data": {f: np.array([np.nan if v is None else v for v in answer["data"][f]], dtype=float)
                    if f == "x" else answer["data"][f] for f in ("x", "b", "s")}}
    assert_same(got, expected(truth, start, end, 3600.0, "mean", ("x", "b", "s")), ("x", "b", "s"))

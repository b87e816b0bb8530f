"""The ``sisock`` command line end to end: real processes, ``--json`` parsed, exit statuses checked.

Plain (non-Twisted) tests: each runs ``sisock ...`` as a child process
with the stack's environment (router URL, SISOCK_HOME with the secrets).
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import pytest_twisted
from autobahn.wamp.types import ComponentConfig
from twisted.internet import utils

from sisock import client, config
from sisock.connection import start
from sisock.node import DataNodeServer
from tests.conftest import read_apex
from tests.registry_support import secret, start_stack

SISOCK = os.path.join(os.path.dirname(sys.executable), "sisock")
JUL15, JUL16 = "2017-07-15", "2017-07-16"
#: Seconds a command may take to end once its reader has gone (startup included where the reader
#: is gone from the start).
QUICK = 10
#: Exit status of a command whose stdout's reader went away, as for grep (128 + SIGPIPE).
PIPE_CLOSED = 141


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Router, hub, the weather node and 20 lamps sampling every second."""
    s = start_stack(tmp_path_factory.mktemp("cli"), fleet_args=["--count", "20", "--interval", "1"])
    try:
        s.spawn("weather", "nodes.weather")
        yield s
    finally:
        s.stop()


def sisock(stack, *args, env=None, timeout=60):
    """Run ``sisock *args``; the CompletedProcess (text stdout and stderr)."""
    return subprocess.run([SISOCK, *args], env=env or stack.env, capture_output=True, text=True, timeout=timeout)


def as_json(stack, *args):
    done = sisock(stack, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_nodes_lists_every_node_as_json_and_as_a_table(stack):
    page = as_json(stack, "nodes")
    assert page["total"] == 21 and len(page["nodes"]) == 21
    weather = next(n for n in page["nodes"] if n["name"] == "weather")
    assert weather["status"] == "online" and weather["fields"] == 5
    paged = as_json(stack, "nodes", "fleet.*", "--limit", "5", "--offset", "15")
    assert [n["name"] for n in paged["nodes"]] == [f"fleet.lamp{i:04d}" for i in range(16, 21)]
    table = sisock(stack, "nodes", "fleet.lamp000*")
    assert table.returncode == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["NAME", "STATUS", "HOST", "LAST", "SEEN", "FIELDS"]
    assert rows[0].split()[:2] == ["fleet.lamp0001", "online"] and "nodes 1-9 of 9" in table.stdout


def test_nodes_in_a_bounding_box(stack):
    everything = as_json(stack, "nodes", "--limit", "1000")["nodes"]
    lamps = [n for n in everything if n["location"]]
    lat = sorted(n["location"]["lat"] for n in lamps)[len(lamps) // 2]
    found = as_json(stack, "nodes", f"--bbox=-180,{lat},180,90")
    assert [n["name"] for n in found["nodes"]] == [n["name"] for n in lamps if n["location"]["lat"] >= lat]


def test_disable_and_enable_by_filter_and_the_exit_statuses_of_mistakes(stack):
    answer = as_json(stack, "disable", "fleet.lamp001*", "kind=led")
    assert answer["changed"] and all(n.startswith("fleet.lamp001") for n in answer["changed"])
    try:
        disabled = as_json(stack, "nodes", "status=disabled")
        assert sorted(n["name"] for n in disabled["nodes"]) == sorted(answer["changed"])
        refused = sisock(stack, "get", answer["changed"][0], "power_w")
        assert refused.returncode == 1 and "disabled" in refused.stderr
    finally:
        assert sorted(as_json(stack, "enable", "ALL")["changed"]) == sorted(answer["changed"])
    empty = sisock(stack, "disable")
    assert empty.returncode == 2 and "ALL" in empty.stderr
    assert sisock(stack, "disable", "zone=atlantis").returncode == 3
    assert sisock(stack, "nodes", "no_such_node").returncode == 3
    assert sisock(stack, "nodes", "--limit", "nope").returncode == 2


def test_forget_refuses_a_connected_node_and_an_unknown_one(stack):
    connected = sisock(stack, "forget", "weather")
    assert connected.returncode == 2 and "connected" in connected.stderr
    assert sisock(stack, "forget", "never_seen").returncode == 3


def test_fields_and_get_read_a_node_as_json_csv_and_a_table(stack, tmp_path):
    fields = as_json(stack, "fields", "weather")
    assert fields["field"]["temperature"]["units"] == "C" and "hourly" in fields["timeline"]
    every_t = sorted(t for f in ("windspeed", "radiometer") for t, _ in read_apex(f)[1])
    minutely = fields["timeline"]["minutely"]
    assert (minutely["first"], minutely["last"]) == (every_t[0], every_t[-1])   # where its samples are
    header, *rows = sisock(stack, "fields", "weather", env=dict(stack.env, COLUMNS="250")).stdout.splitlines()
    assert "FIRST (UTC)" in header and "LAST (UTC)" in header
    assert all("2017-07-14 00:00:00.000Z  2017-07-28 00:00:00.000Z" in row for row in rows)
    result = as_json(stack, "get", "weather", "temperature", "humidity", "--start", JUL15, "--end", JUL16)
    assert len(result["timeline"]["hourly"]["t"]) == 24 and len(result["data"]["humidity"]) == 24
    path = tmp_path / "day.csv"
    done = sisock(stack, "get", "weather", "temperature", "--start", JUL15, "--end", JUL16, "--csv", str(path))
    assert done.returncode == 0 and "24 sample(s)" in done.stdout
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 24 and rows[0]["time_utc"] == "2017-07-15 00:00:00.000Z"
    assert float(rows[0]["temperature"]) == result["data"]["temperature"][0]
    assert sisock(stack, "get", "weather", "no_such_field").returncode == 3
    assert sisock(stack, "get", "no_such_node", "x").returncode == 3
    assert sisock(stack, "get", "weather", "temperature", "--start", "yesterday-ish").returncode == 2


def test_tail_prints_live_samples_until_count(stack):
    done = sisock(stack, "tail", "fleet.lamp0003", "power_w", "state", "--count", "2", "--json")
    assert done.returncode == 0, done.stderr
    blocks = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(blocks) == 2 and all(set(b["data"]) == {"power_w", "state"} for b in blocks)
    assert blocks[1]["t"][0] > blocks[0]["t"][0]
    text = sisock(stack, "tail", "fleet.lamp0003", "state", "--count", "1")
    assert text.returncode == 0 and "state=" in text.stdout


def test_call_sends_commands_and_shows_the_api(stack):
    assert as_json(stack, "call", "fleet.lamp0004", "dim", "level=30")["level"] == 30
    assert as_json(stack, "call", "fleet.lamp0004", "switch", "on=false")["mode"] == "manual"
    api = as_json(stack, "call", "fleet.lamp0004")
    assert {c["name"] for c in api["commands"]} == {"dim", "switch", "reset", "status", "fail"}
    shown = sisock(stack, "call", "fleet.lamp0004")
    assert shown.returncode == 0 and "command dim(level)" in shown.stdout
    unknown = sisock(stack, "call", "fleet.lamp0004", "explode")
    assert unknown.returncode == 3 and "dim" in unknown.stderr
    assert sisock(stack, "call", "fleet.lamp0004", "dim", "level=400").returncode == 2


def test_admin_commands_without_the_admin_secret_or_router_fail_with_their_statuses(stack, tmp_path):
    no_secret = dict(stack.env, SISOCK_SECRETS_FILE=str(tmp_path / "none.json"))
    refused = sisock(stack, "nodes", env=no_secret)
    assert refused.returncode == 4 and "SISOCK_ADMIN_SECRET" in refused.stderr
    assert sisock(stack, "nodes", env=dict(stack.env, SISOCK_ADMIN_SECRET="wrong")).returncode == 4
    assert sisock(stack, "fields", "weather", env=no_secret).returncode == 0  # reading needs no secret
    away = sisock(stack, "nodes", "--url", "ws://127.0.0.1:9/ws", "--timeout", "2")
    assert away.returncode == 1 and "not reachable" in away.stderr


def test_help_documents_the_exit_statuses(stack):
    for args in ((), ("nodes",), ("get",)):
        done = sisock(stack, *args, "--help")
        assert done.returncode == 0 and "exit status:" in done.stdout and "3    not found" in done.stdout


# -- a closed pipe ends any command at once, quietly ------------------------------

def user_env(stack):
    """The stack's environment as a user's shell has it: stdout block-buffered in a pipe."""
    return {k: v for k, v in stack.env.items() if k != "PYTHONUNBUFFERED"}


def into_head(stack, tmp_path, *args):
    """Run ``sisock *args | head -n 2``: (head's output, sisock's exit status, its stderr, seconds it
    ran on after head ended); None for the status if it did not end within `QUICK` seconds."""
    with open(tmp_path / "stderr", "w+") as err:
        producer = subprocess.Popen([SISOCK, *args], env=user_env(stack), stdout=subprocess.PIPE, stderr=err)
        try:
            head = subprocess.Popen(["head", "-n", "2"], stdin=producer.stdout, stdout=subprocess.PIPE, text=True)
            producer.stdout.close()  # head is the only reader
            lines = head.communicate(timeout=60)[0]
            ended = time.monotonic()
            try:
                status = producer.wait(QUICK)
            except subprocess.TimeoutExpired:
                status = None
            late = time.monotonic() - ended
        finally:
            producer.kill()
            producer.wait()
        err.seek(0)
        return lines, status, err.read(), late


def reader_gone(stack, tmp_path, *args, after=None):
    """Run ``sisock *args`` with stdout a pipe whose reader goes away: at once, or (``after``) once
    the command has printed ``after`` on stderr. ``(exit status or None, stderr)`` as for `into_head`."""
    read, write = os.pipe()
    if after is None:
        os.close(read)
    with open(tmp_path / "stderr", "w+") as err:
        proc = subprocess.Popen([SISOCK, *args], env=user_env(stack), stdout=write, stderr=err)
        os.close(write)
        try:
            if after is not None:
                deadline = time.monotonic() + 60
                while after not in (tmp_path / "stderr").read_text() and time.monotonic() < deadline:
                    time.sleep(0.1)
                os.close(read)
            try:
                status = proc.wait(QUICK)
            except subprocess.TimeoutExpired:
                status = None
        finally:
            proc.kill()
            proc.wait()
        err.seek(0)
        return status, err.read()


@pytest.mark.parametrize("args", [
    ("get", "weather", "windspeed", "--start", "2017-07-15", "--end", "2017-07-25"),
    ("get", "weather", "windspeed", "temperature", "--start", "2017-01-01", "--end", "2018-01-01", "--csv", "-"),
    ("tail", "fleet.lamp0003", "--json"),
    ("tail", "fleet.lamp0003", "power_w"),
], ids=" ".join)
def test_a_command_piped_into_head_ends_when_head_does_without_a_word(stack, tmp_path, args):
    lines, status, err, late = into_head(stack, tmp_path, *args)
    assert len(lines.splitlines()) == 2
    assert status in (0, PIPE_CLOSED), f"sisock {' '.join(args)} still ran {late:.1f} s after head ended: {err}"
    assert err == ("# live samples of fleet.lamp0003; Ctrl-C stops\n" if args == ("tail", "fleet.lamp0003", "power_w")
                   else "")


@pytest.mark.parametrize("args", [
    ("get", "weather", "windspeed", "--start", "2017-07-15", "--end", "2017-07-25"),
    ("get", "weather", "windspeed", "--start", "2017-07-15", "--end", "2017-07-25", "--json"),
    ("get", "weather", "windspeed", "--start", "2017-07-15", "--end", "2017-07-25", "--csv", "-"),
    ("tail", "fleet.lamp0003", "--json"),
    ("nodes",), ("nodes", "--json"), ("fields", "weather"), ("fields", "weather", "--json"),
    ("call", "fleet.lamp0004"), ("call", "fleet.lamp0004", "status"), ("call", "fleet.lamp0004", "--json"),
    ("--help",), ("get", "--help"), ("hub", "--help"),
], ids=" ".join)
def test_a_command_whose_reader_is_gone_ends_at_once_without_a_word(stack, tmp_path, args):
    status, err = reader_gone(stack, tmp_path, *args)
    assert status == PIPE_CLOSED, f"sisock {' '.join(args)}: exit status {status}; stderr: {err}"
    assert err == ""


def test_tail_ends_when_its_reader_goes_away_even_while_no_sample_comes(stack, tmp_path):
    """The weather archive never publishes: tail learns that its reader left from the pipe itself."""
    status, err = reader_gone(stack, tmp_path, "tail", "weather", after="# live samples")
    assert status == PIPE_CLOSED and err == "# live samples of weather; Ctrl-C stops\n"


# -- sisock get asks for the fields at most once ------------------------------------------

T0 = 1_600_000_000.0
#: Two short stretches of the ``rare`` timeline, nine years apart (2011 and 2020).
RARE_T = np.concatenate([1_300_000_000.0 + np.arange(5.0), T0 + 200 + np.arange(5.0)])
#: Its values, with every digit of a float64 (a CSV must keep them all).
RARE_V = np.arange(10.0) / 3


class Counted(DataNodeServer):
    """Three timelines of known samples; counts the ``get_fields`` and ``get_data`` calls it answers."""

    name = "cli_counted"
    description = "counts its get_fields and get_data calls"

    def __init__(self, config=None):
        super().__init__(config)
        self.get_fields_calls = self.get_data_calls = 0
        self.declare("slow", {"volts": {"units": "V"}}, interval=1.0, capacity=1000)
        self.declare("fast", {"ticks": {}}, interval=0.25, capacity=1000)
        self.declare("rare", {"events": {}}, interval=1.0, capacity=100)

    def get_fields(self, start, end):
        self.get_fields_calls += 1
        return super().get_fields(start, end)

    def get_data(self, field, start, end, min_stride=None, *, encoding="list", downsample="mean", details=None):
        self.get_data_calls += 1
        return super().get_data(field, start, end, min_stride, encoding=encoding, downsample=downsample,
                                details=details)


@pytest.fixture
def counted(stack):
    """A `Counted` node in this process with 100 s of samples from `T0` (last in this module: the
    tests above count the nodes the hub knows)."""
    conn = config.Connection(stack.url, "sisock", Counted.name, secret(stack, "node"))
    node = Counted(ComponentConfig("sisock", {"connection": conn}))
    start(node)
    pytest_twisted.blockon(node.when_joined())
    pytest_twisted.blockon(node.record("slow", T0 + np.arange(100.0), {"volts": np.arange(100.0)}))
    pytest_twisted.blockon(node.record("fast", T0 + np.arange(400) / 4, {"ticks": np.arange(400.0)}))
    pytest_twisted.blockon(node.record("rare", RARE_T, {"events": RARE_V}))
    yield node
    pytest_twisted.blockon(node.close())
    node._presence.loop.stop()


def run_get(stack, node, *args, start=str(T0), end=str(T0 + 100)):
    """Deferred ``(exit status, stdout, stderr, get_fields calls)`` of ``sisock get NODE *args``
    (``node.get_data_calls`` counts its get_data calls)."""
    node.get_fields_calls = node.get_data_calls = 0
    argv = ("get", node.name, *args, "--start", start, "--end", end)
    done = utils.getProcessOutputAndValue(SISOCK, argv, env=stack.env)  # the reactor serves the node meanwhile
    return done.addCallback(lambda r: (r[2], r[0].decode(), r[1].decode(), node.get_fields_calls))


@pytest_twisted.inlineCallbacks
def test_get_reads_with_one_get_data_and_asks_for_the_fields_only_when_the_answer_does_not_name_them(stack, counted):
    status, out, err, calls = yield run_get(stack, counted, "volts", "ticks", "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["timeline"]["slow"]["t"] == (T0 + np.arange(100.0)).tolist()
    assert result["data"]["ticks"] == np.arange(400.0).tolist()
    assert calls == 0 and counted.get_data_calls == 1  # the answer says its fields' timelines
    status, out, err, calls = yield run_get(stack, counted, "volts", "--csv", "-")
    assert status == 0 and len(out.splitlines()) == 101 and calls == 0 and counted.get_data_calls == 1
    status, out, err, calls = yield run_get(stack, counted, "volts", "amps")
    assert status == 3 and "no field 'amps'" in err and calls == 1
    status, out, err, calls = yield run_get(stack, counted, "amps")
    assert status == 3 and "no field 'amps'" in err and calls == 1


@pytest_twisted.inlineCallbacks
def test_get_reads_all_time_of_a_sparse_timeline_with_one_get_data_call(stack, counted):
    status, out, err, calls = yield run_get(stack, counted, "events", "--json", start="1", end="now")
    assert status == 0, err
    result = json.loads(out)
    assert result["timeline"]["rare"]["t"] == RARE_T.tolist() and result["data"]["events"] == RARE_V.tolist()
    assert counted.get_data_calls == 1 and err == ""  # no progress bar off a terminal
    status, out, err, calls = yield run_get(stack, counted, "events", "--csv", "-", start="1", end="now")
    rows = list(csv.DictReader(out.splitlines()))
    assert status == 0 and [float(r["t"]) for r in rows] == RARE_T.tolist()
    assert [float(r["events"]) for r in rows] == RARE_V.tolist()
    session = yield client.connect(stack.url)   # what sisock.Client runs: one call too
    try:
        counted.get_data_calls = 0
        got = yield session.get_data(counted.name, ["events"], 1, 0)
        assert got["timeline"]["rare"]["t"].tolist() == RARE_T.tolist() and counted.get_data_calls == 1
    finally:
        yield session.close()


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux script gives the command a terminal")
@pytest_twisted.inlineCallbacks
def test_get_shows_the_bytes_of_a_chunked_answer_on_a_terminal(stack, counted):
    counted.chunk_bytes, counted.get_data_calls = 4096, 0   # volts and ticks (8 kB) come in chunks
    try:
        argv = " ".join([SISOCK, "get", counted.name, "volts", "ticks", "--start", str(T0), "--end", str(T0 + 100)])
        out, err, status = yield utils.getProcessOutputAndValue(shutil.which("script"), ["-qec", argv, "/dev/null"],
                                                                env=stack.env)
    finally:
        del counted.chunk_bytes
    assert status == 0, out + err
    shown = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", out).decode()   # without the terminal's colours
    assert re.search(r"\d/8\.\d kB", shown) and "400 sample(s) of cli_counted" in shown, shown
    assert counted.get_data_calls == 1


def test_get_csv_has_a_row_for_every_sample_of_the_weather_archive(stack, tmp_path):
    fields = ["windspeed", "radiometer", "temperature"]  # two on the minutely timeline, one hourly
    result = as_json(stack, "get", "weather", *fields, "--start", "1", "--end", "now")
    path = tmp_path / "all.csv"
    done = sisock(stack, "get", "weather", *fields, "--start", "1", "--end", "now", "--csv", str(path))
    assert done.returncode == 0, done.stderr
    rows = {float(row["t"]): row for row in csv.DictReader(path.open())}
    every_t = set().union(*(v["t"] for v in result["timeline"].values()))
    assert len(rows) == len(every_t) and set(rows) == every_t  # times shared by the timelines share a row
    for timeline in result["timeline"].values():
        for f in timeline["field"]:
            column = [rows[when][f] for when in timeline["t"]]  # each sample in its own time's row
            assert [float(v) if v else None for v in column] == result["data"][f]
            assert sum(1 for row in rows.values() if row[f]) == sum(v is not None for v in result["data"][f])

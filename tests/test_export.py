"""``sisock get --parquet FILE`` and ``--netcdf FILE``: the weather archive written chunk by chunk, read back
with pyarrow and xarray, equal value by value to ``get_data`` of the same range; and the mistakes.

The ``sisock`` commands run as child processes against the session stack
while the reactor keeps serving (``utils.getProcessOutputAndValue``); the
reference answers come from a `sisock.client.ConsumerSession`, what
``sisock.Client`` runs.
"""

import json
import os
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
import pytest_twisted
import xarray as xr
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer, utils

from nodes.weather.node import WeatherNode
from sisock import config
from sisock.cli.main import main
from sisock.cli.writers import CF_TIME_UNITS, NetcdfOut, ParquetOut, utc_ns
from sisock.connection import start

SISOCK = os.path.join(os.path.dirname(sys.executable), "sisock")
ALL = ["temperature", "humidity", "pressure", "windspeed", "radiometer"]
TIMELINE = {"temperature": "hourly", "humidity": "hourly", "pressure": "hourly",
            "windspeed": "minutely", "radiometer": "minutely"}
JUL15, JUL16 = 1500076800.0, 1500163200.0
#: Time of the first row of the batches of every kind.
T0_KINDS = 1.6e9


def sisock(stack, *args, env=None):
    """Deferred ``(exit status, stdout, stderr)`` of ``sisock *args`` (the reactor serves meanwhile)."""
    done = utils.getProcessOutputAndValue(SISOCK, args, env=env or stack.env)
    return done.addCallback(lambda r: (r[2], r[0].decode(), r[1].decode()))


class ChunkedWeather(WeatherNode):
    """The weather archive in 8 KiB chunks (20,000 minutely rows: about a hundred); ``fail`` makes reads fail."""

    name = "weather_chunked"
    chunk_bytes = 8192
    fail = False

    def _get_data_blocking(self, field, start, end, min_stride=None):
        if self.fail:
            raise OSError("the archive disk went away")
        return super()._get_data_blocking(field, start, end, min_stride)


@pytest.fixture(scope="module")
def chunked(stack):
    conn = config.Connection(stack.url, "sisock", ChunkedWeather.name, stack.secret("node"))
    node = ChunkedWeather(ComponentConfig("sisock", {"connection": conn}))
    start(node)
    pytest_twisted.blockon(node.when_joined())
    yield node
    pytest_twisted.blockon(node.close())
    node._presence.loop.stop()


@pytest.fixture(scope="module")
def reference(stack):
    """``get_data`` of every weather field over all time, and ``get_fields``, through a consumer session."""
    session = pytest_twisted.blockon(stack.connect())
    try:
        result = pytest_twisted.blockon(session.get_data("weather", ALL, 1, time.time()))
        field, _ = pytest_twisted.blockon(session.get_fields("weather", 1, time.time()))
    finally:
        pytest_twisted.blockon(session.close())
    return result, field


#: ``sisock get`` of one day of windspeed averaged over 600 s (one timeline: FILE itself), over an older file.
DAY = ("weather", "windspeed", "--start", "2017-07-15", "--end", "2017-07-16", "--min-stride", "600")


@pytest.fixture(scope="module")
def exported(stack, chunked, tmp_path_factory):
    """The whole archive exported by ``sisock get`` from the weather node and from its chunked twin (both
    formats at once), and `DAY` with ``--force`` over an existing file, run side by side:
    ``{node: (parquet FILE, netcdf FILE, stdout as JSON)}`` and ``"day": (FILE, stdout)``."""
    out, runs = tmp_path_factory.mktemp("export"), {}
    for node in ("weather", ChunkedWeather.name):
        runs[node] = sisock(stack, "get", node, *ALL, "--start", "1", "--end", "now", "--json",
                            "--parquet", str(out / f"{node}.parquet"), "--netcdf", str(out / f"{node}.nc"))
    (out / "day.parquet").write_text("an older file")
    runs["day"] = sisock(stack, "get", *DAY, "--parquet", str(out / "day.parquet"), "--force")
    runs["client"] = utils.getProcessOutputAndValue(sys.executable, ["-c", CLIENT_STREAM], env=stack.env).addCallback(
        lambda r: (r[2], r[0].decode(), r[1].decode()))
    done = pytest_twisted.blockon(defer.gatherResults(list(runs.values())))
    files = {}
    for node, (status, stdout, stderr) in zip(runs, done, strict=True):
        assert status == 0 and (stderr == "" or node == "client"), stderr
        files[node] = (out / f"{node}.parquet", stdout) if node in ("day", "client") else (
            out / f"{node}.parquet", out / f"{node}.nc", json.loads(stdout))
    return files


#: A script streaming the chunked twin's minutely timeline with the blocking client, against its get_data.
CLIENT_STREAM = f"""
import json, numpy as np, sisock
batches, starts = [], []
with sisock.Client(timeout=60) as client:
    summary = client.stream_data("{ChunkedWeather.name}", ["windspeed"], 1, 2e9,
                                 lambda tl, t, data: batches.append((t.copy(), data["windspeed"].copy())),
                                 on_start=starts.append)
    whole = client.get_data("{ChunkedWeather.name}", ["windspeed"], 1, 2e9)
t = np.concatenate([b[0] for b in batches])
v = np.concatenate([b[1] for b in batches])
print(json.dumps({{"batches": len(batches), "starts": len(starts), "rows": summary["timeline"]["minutely"]["rows"],
                  "same_t": bool(np.array_equal(t, whole["timeline"]["minutely"]["t"])),
                  "same_v": bool(np.array_equal(v, whole["data"]["windspeed"], equal_nan=True))}}))
"""


def assert_same_values(got, want, what):
    """Equal, NaN where NaN (a Parquet null comes as NaN from pandas)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, what
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{what}: NaN positions differ"
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)], err_msg=what)


@pytest.mark.parametrize("node", ["weather", ChunkedWeather.name])
def test_parquet_holds_the_whole_archive_one_file_per_timeline_equal_to_get_data(exported, reference, node):
    path, _, said = exported[node]
    result, field = reference
    names = {tl: f"{path.parent / path.stem}.{tl}.parquet" for tl in ("hourly", "minutely")}
    assert sorted(f["path"] for f in said["files"] if f["format"] == "parquet") == sorted(names.values())
    assert not [p for p in os.listdir(path.parent) if p.endswith(".partial")]
    for tl, name in names.items():
        table = pq.read_table(name)
        frame = table.to_pandas()
        t = result["timeline"][tl]["t"]
        assert str(table.schema.field("time").type) == "timestamp[ns, tz=UTC]"
        np.testing.assert_array_equal(frame["time"].to_numpy().astype("datetime64[ns]").astype(np.int64),
                                      utc_ns(t))
        fields = [f for f in ALL if TIMELINE[f] == tl]
        assert list(frame.columns) == ["time", *fields]
        for f in fields:
            assert_same_values(frame[f], result["data"][f], f"{tl} {f}")
            assert table.column(f).null_count == int(np.isnan(result["data"][f]).sum())
            meta = table.schema.field(f).metadata
            assert meta[b"units"].decode() == field[f]["units"] and meta[b"timeline"] == tl.encode()
            assert meta[b"description"].decode() == field[f]["description"]
        info = json.loads(table.schema.metadata[b"sisock"])
        assert info["node"] == node and info["timeline"] == tl and info["start"] == 1 and info["min_stride"] is None
        assert info["timelines"][tl]["interval"] == {"hourly": 3600.0, "minutely": 60.0}[tl]


@pytest.mark.parametrize("node", ["weather", ChunkedWeather.name])
def test_netcdf_holds_the_whole_archive_for_xarray_equal_to_get_data(exported, reference, node):
    _, path, said = exported[node]
    result, field = reference
    assert [f["rows"] for f in said["files"] if f["format"] == "netcdf"] == [
        sum(len(v["t"]) for v in result["timeline"].values())]
    raw = xr.open_dataset(path, decode_times=False)
    decoded = xr.open_dataset(path)
    for tl in ("hourly", "minutely"):
        t, dim = result["timeline"][tl]["t"], f"time_{tl}"
        np.testing.assert_array_equal(raw[dim].values, t)   # the very float64 seconds
        assert raw[dim].attrs["units"] == CF_TIME_UNITS == "seconds since 1970-01-01 00:00:00 UTC"
        assert decoded[dim].dtype.kind == "M"   # xarray decoded them to datetime64
        assert np.abs(decoded[dim].values.astype("datetime64[ns]").astype(np.int64) - utc_ns(t)).max() < 1000
    for f in ALL:
        assert decoded[f].dims == (f"time_{TIMELINE[f]}",)
        assert_same_values(decoded[f].values, result["data"][f], f)
        assert decoded[f].attrs["units"] == field[f]["units"]
        assert decoded[f].attrs["long_name"] == field[f]["description"]
    assert decoded.attrs["sisock_node"] == node and json.loads(decoded.attrs["sisock_fields"]) == ALL
    raw.close()
    decoded.close()


@pytest_twisted.inlineCallbacks
def test_a_chunked_answer_reaches_the_caller_in_row_batches_before_it_ends(stack, chunked):
    session = yield stack.connect()
    batches, held = [], []
    try:
        summary = yield session.stream_data(
            ChunkedWeather.name, ["windspeed", "radiometer"], 1, time.time(),
            lambda tl, t, data: batches.append((tl, len(t), sorted(data))),
            on_start=lambda s: held.append(s["timeline"]["minutely"]["rows"]))
    finally:
        yield session.close()
    rows = summary["timeline"]["minutely"]["rows"]
    assert held == [rows] and rows > 20_000
    assert len(batches) > 20 and {b[0] for b in batches} == {"minutely"}  # one batch a chunk
    assert max(b[1] for b in batches) < rows / 10 and sum(b[1] for b in batches) == rows
    assert all(b[2] == ["radiometer", "windspeed"] for b in batches)


def test_the_blocking_client_streams_the_same_rows_as_get_data_in_batches(exported):
    said = json.loads(exported["client"][1])
    assert said["same_t"] and said["same_v"] and said["starts"] == 1
    assert said["rows"] > 20_000 and said["batches"] > 20


@pytest_twisted.inlineCallbacks
def test_min_stride_and_a_range_export_what_get_data_answers_and_force_overwrites(stack, exported):
    path, out = exported["day"]
    assert f"to {path}" in out   # one timeline: FILE itself
    session = yield stack.connect()
    try:
        want = yield session.get_data("weather", ["windspeed"], JUL15, JUL16, 600)
    finally:
        yield session.close()
    frame = pq.read_table(path).to_pandas()
    assert len(frame) == 144
    np.testing.assert_array_equal(frame["time"].to_numpy().astype("datetime64[ns]").astype(np.int64),
                                  utc_ns(want["timeline"]["minutely"]["t"]))
    assert_same_values(frame["windspeed"], want["data"]["windspeed"], "windspeed")
    assert json.loads(pq.read_schema(path).metadata[b"sisock"])["min_stride"] == 600


@pytest_twisted.inlineCallbacks
def test_mistakes_say_one_line_with_their_status_and_leave_no_file(stack, chunked, tmp_path):
    (tmp_path / "old.nc").write_text("an older file")
    weather, failing = "weather", ChunkedWeather.name
    cases = [  # (exit status, words of the message, node, options)
        (2, "exists already; --force overwrites it", weather, ("--netcdf", str(tmp_path / "old.nc"))),
        (1, "cannot write", weather, ("--parquet", str(tmp_path / "no" / "such" / "dir.parquet"))),
        (1, "the archive disk went away", failing, ("--netcdf", str(tmp_path / "failed.nc"))),
    ]
    chunked.fail = True
    try:
        runs = [sisock(stack, "get", node, "windspeed", *argv, "--start", "1", "--end", "now")
                for _, _, node, argv in cases]
        done = yield defer.gatherResults(runs)
    finally:
        chunked.fail = False
    for (status, words, _, argv), (got, _, err) in zip(cases, done, strict=True):
        assert got == status and words in err and len(err.splitlines()) == 1, (argv, got, err)
        assert "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["old.nc"]   # no new file, no .partial
    assert (tmp_path / "old.nc").read_text() == "an older file"


@pytest.mark.parametrize("argv, status, words", [
    (("--parquet", "x.parquet"), 1, "--parquet needs pyarrow (pip install 'sisock[parquet]')"),
    (("--netcdf", "x.nc", "--csv", "x.csv"), 2, "--csv goes alone"),
    (("--netcdf", "-"), 2, "not stdout"),
])
def test_a_missing_extra_or_csv_with_an_export_is_said_before_connecting(monkeypatch, tmp_path, capsys, argv,
                                                                          status, words):
    monkeypatch.setitem(sys.modules, "pyarrow", None)   # as without the parquet extra: import fails
    monkeypatch.chdir(tmp_path)
    got = main(["get", "weather", "windspeed", *argv, "--url", "ws://127.0.0.1:1/ws"])
    err = capsys.readouterr().err
    assert got == status and words in err and len(err.splitlines()) == 1, err
    assert os.listdir(tmp_path) == []


def test_batches_of_every_kind_as_a_list_encoded_answer_brings_them_are_written_and_read_back(tmp_path):
    """A batch with no value comes as float64 NaN whatever the field's type (`RowStream`); strings, bools with
    missing values and ints between: every file keeps each value, a missing one as null (NetCDF: NaN, "")."""
    meta = {"s": {"type": "string"}, "b": {"type": "bool"}, "x": {"type": "number", "units": "V"}}
    batches = [{"s": np.full(2, np.nan), "b": np.full(2, np.nan), "x": np.full(2, np.nan)},
               {"s": np.array(["a", None], dtype=object), "b": np.array([True, None], dtype=object),
                "x": np.array([1.5, np.nan])},
               {"s": np.array(["c", "d"], dtype=object), "b": np.array([False, True]), "x": np.array([2.0, 3.0])}]
    parquet = ParquetOut(str(tmp_path / "k.parquet"), "tl", meta, {"node": "n"})
    netcdf = NetcdfOut(str(tmp_path / "k.nc"), {"tl": {"fields": meta, "interval": 1.0}}, {"node": "n"})
    for k, batch in enumerate(batches):
        for out in (parquet, netcdf):
            out.write("tl", T0_KINDS + np.array([2.0 * k, 2.0 * k + 1]), batch)
    parquet.close()
    netcdf.close()
    table = pq.read_table(tmp_path / "k.parquet").to_pydict()
    assert table["s"] == [None, None, "a", None, "c", "d"] and table["b"] == [None, None, True, None, False, True]
    assert table["x"] == [None, None, 1.5, None, 2.0, 3.0]
    with xr.open_dataset(tmp_path / "k.nc") as ds:
        assert list(ds.s.values) == ["", "", "a", "", "c", "d"]
        assert_same_values(ds.b.values, [np.nan, np.nan, 1, np.nan, 0, 1], "b")
        assert_same_values(ds.x.values, [np.nan, np.nan, 1.5, np.nan, 2, 3], "x")
        assert ds.x.attrs["units"] == "V" and list(ds.b.attrs["flag_values"]) == [0, 1]

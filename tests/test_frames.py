"""pandas and xarray from the clients: DataFrames and Datasets that hold get_data's values exactly, with a
UTC time index to the nanosecond and get_fields' units; live blocks; fleet queries as a DataFrame per node
or group; the asyncio client's frames and queries equal to the blocking client's.

Every read runs in one script with `sisock.Client` and `sisock.aio` against the session stack (the
blocking client runs Twisted in a thread of its own, which the test process's reactor cannot share);
the script pickles what it got, `get_data`'s arrays included, and the tests compare them.
"""

import math
import pickle
import subprocess
import sys
import textwrap
import time
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import pytest_twisted
from twisted.internet import threads

from tests.frames_node import FIELDS, FINALIZED_UNTIL, SERIES, T0

#: A day of the APEX archive with samples on both of its timelines.
APEX_DAY = 1500076800.0  # 2017-07-15 00:00 UTC
NAMES = list(FIELDS)

SCRIPT = textwrap.dedent('''
    import asyncio, pickle, sys
    import sisock, sisock.aio

    T0, DAY, START, END, NAMES = {args}
    out = {{}}
    with sisock.Client() as client:
        out["frames"] = client.get_dataframe("frames", NAMES, T0 - 1, T0 + 10)
        out["joined"] = client.get_dataframe("frames", NAMES, T0 - 1, T0 + 10, join=True)
        out["dataset"] = client.get_dataset("frames", NAMES, T0 - 1, T0 + 10)
        out["raw"] = client.get_data("frames", NAMES, T0 - 1, T0 + 10)
        weather = (["temperature", "windspeed"], DAY, DAY + 86400, 600)
        out["weather"] = client.get_dataframe("weather", *weather, join=True)
        out["weather_raw"] = client.get_data("weather", *weather)
        out["weather_fields"] = client.get_fields("weather", DAY, DAY + 86400)
        out["per_node"] = client.query_dataframe("fleet.*", "power_w", START, END)
        out["per_node_raw"] = client.query("fleet.*", "power_w", START, END)
        zones = ("fleet.*", ["power_w", "energy_kwh"], START, END, 10)
        out["per_zone"] = client.query_dataframe(*zones, aggregate="sum", group_by="zone")
        out["per_zone_raw"] = client.query(*zones, aggregate="sum", group_by="zone")
        out["live"] = client.follow_dataframe("sensors", 3)
        [frame] = out["live"].values()
        t = frame.index.asi8 / 1e9
        out["live_raw"] = client.get_data("sensors", list(frame.columns), t[0] - 0.001, t[-1] + 0.001)
        for name, call in (("no_node", lambda: client.get_dataframe("no_such_node", ["x"], T0, T0 + 1)),
                           ("bad_filter", lambda: client.query_dataframe("zone=north ~~", "power_w", START, END)),
                           ("no_blocks", lambda: client.follow_dataframe("sensors", 0))):
            try:
                call()
            except Exception as exc:
                out[name] = (type(exc).__name__, str(exc))


    async def main():  # the asyncio client, in the same process
        async with sisock.aio.connect() as client:
            out["aio"] = {{"frames": await client.get_dataframe("frames", NAMES, T0 - 1, T0 + 10),
                          "joined": await client.get_dataframe("frames", NAMES, T0 - 1, T0 + 10, join=True),
                          "dataset": await client.get_dataset("frames", NAMES, T0 - 1, T0 + 10),
                          "live": await client.follow_dataframe("sensors", 2),
                          "per_node": await client.query_dataframe("fleet.*", "power_w", START, END),
                          "per_zone": await client.query_dataframe(*zones, aggregate="sum", group_by="zone")}}
            try:
                await client.query_dataframe("zone=north ~~", "power_w", START, END)
            except Exception as exc:
                out["aio"]["bad_filter"] = (type(exc).__name__, str(exc))

    asyncio.run(main())
    pickle.dump(out, sys.stdout.buffer)
''')


def run_script(stack, script, timeout=60):
    """Run ``python -c script`` with the stack's environment (SISOCK_URL) in a thread; the CompletedProcess."""
    return pytest_twisted.blockon(threads.deferToThread(
        subprocess.run, [sys.executable, "-c", script], env=stack.env, capture_output=True, timeout=timeout))


@pytest.fixture(scope="module")
def frames_node(stack):
    """The node of `tests.frames_node` on the session stack, for the module."""
    with stack.running("frames", "tests.frames_node") as proc:
        yield proc


@pytest.fixture(scope="module")
def got(stack, frames_node, fleet):
    """What the script read, by name; fleet queries over a range that ended before it ran."""
    end = math.floor(time.time()) - 5.0
    done = run_script(stack, SCRIPT.format(args=(T0, APEX_DAY, end - 60.0, end, NAMES)))
    assert done.returncode == 0, done.stderr.decode()
    return pickle.loads(done.stdout)


def unix_ns(t):
    """The nearest nanosecond of a float UNIX time, computed exactly."""
    return int((Decimal(float(t)) * 10**9).to_integral_value())


def test_a_dataframe_per_timeline_has_get_datas_values_on_a_utc_time_index_to_the_nanosecond(got):
    frames, raw = got["frames"], got["raw"]
    assert set(frames) == {"fast", "slow"}
    for tl, frame in frames.items():
        t, values = SERIES[tl]
        assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "time"
        assert str(frame.index.tz) == "UTC" and frame.index.dtype == "datetime64[ns, UTC]"
        assert frame.index.asi8.tolist() == [unix_ns(x) for x in t]
        assert list(frame.columns) == raw["timeline"][tl]["field"] == list(values)
        for f in values:
            expected = pd.Series(values[f]).tolist()
            assert [None if pd.isna(v) else v for v in frame[f].tolist()] == \
                [None if pd.isna(v) else v for v in expected], f
    # 123 µs and 500 µs after T0 stay apart, as does the 1.3 µs after T0 + 1 s, each to the float's 0.24 µs
    steps = np.diff(frames["fast"].index.asi8)
    assert abs(steps[0] - 123_000) < 240 and abs(steps[1] - 377_000) < 240
    assert abs(frames["fast"].index.asi8[3] % 10**9 - 1300) < 240


def test_its_attrs_are_get_fields_units_and_descriptions_and_get_datas_finalized_until(got):
    frames, raw = got["frames"], got["raw"]
    for tl, frame in frames.items():
        names = list(SERIES[tl][1])
        assert frame.attrs == {"node": "frames", "timeline": tl,
                               "units": {f: FIELDS[f]["units"] for f in names},
                               "description": {f: FIELDS[f]["description"] for f in names},
                               "finalized_until": raw["timeline"][tl]["finalized_until"]}
    assert frames["fast"].attrs["finalized_until"] == FINALIZED_UNTIL


def test_nan_int_bool_and_string_fields_keep_their_kind_with_missing_values_as_na(got):
    fast = got["frames"]["fast"]
    assert fast["x"].dtype == np.float64 and fast["x"].isna().tolist() == [False, True, False, False, True, False]
    assert fast["i"].dtype == np.int64 and fast["i"].iloc[3] == 2**40
    assert fast["b"].dtype == bool
    assert fast["flag"].dtype == "boolean" and fast["flag"].isna().tolist() == [False, True, False, False, True, False]
    assert fast["s"].dtype == "string" and fast["s"].iloc[1] is pd.NA and fast["s"].iloc[4] == ""
    assert fast["s"].dropna().tolist() == ["on", "off", "fault", "", "on"]


def test_join_puts_every_timeline_on_the_union_of_their_times(got):
    joined, frames = got["joined"], got["frames"]
    union = sorted(set(frames["fast"].index) | set(frames["slow"].index))
    assert list(joined.index) == union and joined.index.name == "time" and str(joined.index.tz) == "UTC"
    assert list(joined.columns) == NAMES
    for frame in frames.values():
        part = joined.loc[frame.index, list(frame.columns)]
        for f in frame.columns:
            assert part[f].astype(object).where(part[f].notna(), None).tolist() == \
                frame[f].astype(object).where(frame[f].notna(), None).tolist(), f
    only_slow = joined.loc[pd.Timestamp(T0 + 4.0, unit="s", tz="UTC")]
    assert pd.isna(only_slow["x"]) and only_slow["flag"] is pd.NA and only_slow["s"] is pd.NA
    assert joined["b"].dtype == "boolean" and joined["s"].dtype == "string"
    assert joined.attrs == {"node": "frames", "timeline": ["fast", "slow"],
                            "units": {f: FIELDS[f]["units"] for f in NAMES},
                            "description": {f: FIELDS[f]["description"] for f in NAMES},
                            "finalized_until": {"fast": FINALIZED_UNTIL, "slow": FINALIZED_UNTIL}}


def test_a_dataset_has_a_time_coordinate_per_timeline_and_each_fields_units(got):
    ds, frames = got["dataset"], got["frames"]
    assert ds.attrs == {"node": "frames"}
    assert set(ds.coords) == {"time_fast", "time_slow"}
    for tl, frame in frames.items():
        coord = ds[f"time_{tl}"]
        assert coord.values.astype("datetime64[ns]").astype(np.int64).tolist() == frame.index.asi8.tolist()
        assert coord.attrs == {"timeline": tl, "timezone": "UTC", "finalized_until": FINALIZED_UNTIL}
        for f in frame.columns:
            var = ds[f]
            assert var.dims == (f"time_{tl}",)
            assert var.attrs == {k: FIELDS[f][k] for k in ("units", "description") if FIELDS[f][k] is not None}
            want = SERIES[tl][1][f]
            assert pd.isna(var.values).tolist() == pd.isna(want).tolist()
            assert var.values[~pd.isna(want)].tolist() == want[~pd.isna(want)].tolist()
    assert ds["i"].dtype == np.int64 and ds["b"].dtype == bool
    assert ds["s"].isnull().values.tolist() == [False, True, False, False, False, False]
    assert ds["flag"].isnull().values.tolist() == [False, True, False, False, True, False]
    assert ds["s"].values[0] == "on" and ds["flag"].values[0] is True


def test_a_downsampled_apex_day_equals_get_data_with_the_archives_units(got):
    joined, raw = got["weather"], got["weather_raw"]
    field, timeline = got["weather_fields"]
    times = {tl: entry["t"] for tl, entry in raw["timeline"].items()}
    assert len(times) == 2 and all(len(t) > 10 for t in times.values())
    for tl, t in times.items():
        for f in raw["timeline"][tl]["field"]:
            column = joined[f].loc[pd.to_datetime(np.rint(t * 1e9).astype(np.int64), utc=True)]
            np.testing.assert_array_equal(column.to_numpy(), raw["data"][f])
    assert joined.attrs["units"] == {"temperature": field["temperature"]["units"],
                                     "windspeed": field["windspeed"]["units"]}
    assert joined.attrs["units"]["temperature"] == "C"


def test_a_fleet_query_is_a_dataframe_per_node_or_per_group(got, fleet):
    per_node, raw = got["per_node"], got["per_node_raw"]
    assert sorted(per_node) == sorted(raw["selected"]) and len(per_node) == 8 and raw["errors"] == {}
    for name, frame in per_node.items():
        [(tl, entry)] = raw["results"][name]["timeline"].items()
        assert frame.index.asi8.tolist() == [unix_ns(x) for x in entry["t"]] and len(frame) > 30
        np.testing.assert_array_equal(frame["power_w"].to_numpy(), raw["results"][name]["data"]["power_w"])
        assert frame.attrs["node"] == name and frame.attrs["timeline"] == [tl] and frame.attrs["errors"] == {}
    per_zone, answer = got["per_zone"], got["per_zone_raw"]
    assert set(per_zone) == set(answer["groups"]) == {"north", "south"}
    for zone, frame in per_zone.items():
        group = answer["groups"][zone]
        assert frame.index.asi8.tolist() == [unix_ns(x) for x in answer["t"]] and len(frame) >= 5
        assert list(frame.columns) == ["power_w", "energy_kwh"]
        for f in frame.columns:
            np.testing.assert_array_equal(frame[f].to_numpy(), group["data"][f])
        assert frame.attrs == {"group": zone, "nodes": group["nodes"], "aggregate": "sum", "group_by": "zone",
                               "min_stride": 10.0, "selected": answer["selected"], "errors": {}}


def test_the_next_live_blocks_are_a_dataframe_equal_to_what_the_node_recorded(got):
    [(tl, frame)] = got["live"].items()
    raw = got["live_raw"]
    assert len(frame) == 3 and frame.index.is_monotonic_increasing and frame.attrs["node"] == "sensors"
    assert frame.attrs["timeline"] == tl and frame.attrs["finalized_until"] is None
    assert frame.index.asi8.tolist() == [unix_ns(x) for x in raw["timeline"][tl]["t"]]
    assert list(frame.columns) == raw["timeline"][tl]["field"] and "cpu_percent" in frame.columns
    for f in frame.columns:
        np.testing.assert_array_equal(frame[f].to_numpy(dtype=np.float64), raw["data"][f].astype(np.float64), f)
    assert frame.attrs["units"]["cpu_percent"] == "%"


def test_the_asyncio_client_gives_the_same_frames_dataset_and_fleet_queries(got):
    aio = got["aio"]
    assert aio["frames"].keys() == got["frames"].keys()
    for tl, frame in got["frames"].items():
        pd.testing.assert_frame_equal(aio["frames"][tl], frame)
        assert aio["frames"][tl].attrs == frame.attrs
    pd.testing.assert_frame_equal(aio["joined"], got["joined"])
    assert aio["joined"].attrs == got["joined"].attrs
    assert aio["dataset"].identical(got["dataset"])
    [(tl, live)] = aio["live"].items()
    assert len(live) == 2 and list(live.columns) == list(got["live"][tl].columns)
    assert live.index[0] > got["live"][tl].index[-1] and live.attrs["units"] == got["live"][tl].attrs["units"]
    for how in ("per_node", "per_zone"):  # over a range that had ended: the same answer twice
        assert aio[how].keys() == got[how].keys() and len(aio[how]) >= 2
        for name, frame in got[how].items():
            pd.testing.assert_frame_equal(aio[how][name], frame)
            later = dict(aio[how][name].attrs)  # asked after the blocking client: the node finalized more
            for tl, t in later.pop("finalized_until", {}).items():
                assert t >= frame.attrs["finalized_until"][tl]
            assert later == {k: v for k, v in frame.attrs.items() if k != "finalized_until"}
    assert aio["bad_filter"] == got["bad_filter"]


def test_a_missing_node_a_bad_filter_or_no_blocks_is_sisocks_error_naming_it(got):
    assert got["no_node"][0] == "NoSuchNode" and "no_such_node" in got["no_node"][1]
    assert got["bad_filter"][0] == "InvalidArgument" and "filter" in got["bad_filter"][1]
    assert got["no_blocks"][0] == "InvalidArgument" and "blocks" in got["no_blocks"][1]


MISSING = textwrap.dedent('''
    import sys
    sys.modules["pandas"] = None  # as if pandas and xarray were not installed
    sys.modules["xarray"] = None
    import sisock
    with sisock.Client() as client:
        for call in (lambda: client.get_dataframe("weather", ["temperature"], -60, 0),
                     lambda: client.get_dataset("weather", ["temperature"], -60, 0),
                     lambda: client.query_dataframe("fleet.*", "power_w", -60, 0)):
            try:
                call()
            except ImportError as exc:
                print(type(exc).__name__, exc)
''')


@pytest_twisted.inlineCallbacks
def test_without_pandas_or_xarray_the_error_says_which_extra_to_install(stack):
    done = yield threads.deferToThread(subprocess.run, [sys.executable, "-c", MISSING], env=stack.env,
                                       capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 3 and all(line.startswith("ModuleNotFoundError ") for line in lines), lines
    assert "pip install 'sisock[pandas]'" in lines[0] and "pip install 'sisock[pandas]'" in lines[2]
    assert "pip install 'sisock[xarray]'" in lines[1]


def test_a_datasets_arrays_are_writable_copies_of_a_binary_reads_read_only_views():
    from sisock import frames

    view = np.frombuffer(np.array([1.0, 2.0]).tobytes())  # as a binary get_data answer's arrays are
    result = {"data": {"x": view}, "timeline": {"tl": {"t": view + T0, "finalized_until": None, "field": ["x"]}}}
    ds = frames.to_dataset(result)
    ds["x"].values[0] = 5.0
    assert view.tolist() == [1.0, 2.0] and ds["x"].values.tolist() == [5.0, 2.0]

"""The weather node over WAMP: the APEX archive served by get_fields / get_data.

Expected values are computed here from the raw ``apex_*.dat`` files, not from
``nodes.weather.archive``, so a wrong archive or a wrong node fails.
"""

import math
import os
from calendar import timegm

import numpy as np
import pytest
import pytest_twisted

from sisock.wire import uri
from sisock.wire.errors import InvalidArgument
from tests.conftest import read_apex

FIELDS = ("temperature", "humidity", "pressure", "windspeed", "radiometer")
#: A wind speed above this (km/h) is not weather: the file's spikes start at 470.
WIND_PLAUSIBLE = 200.0


def utc(*ymd_hms):
    """UNIX seconds of a UTC calendar time."""
    return float(timegm(tuple(ymd_hms) + (0,) * (6 - len(ymd_hms))))


JUL15, JUL16 = utc(2017, 7, 15), utc(2017, 7, 16)


def read_raw(field):
    """``(header, {t: value})`` of ``apex_<field>.dat``: the last row per time (`tests.conftest.read_apex`)."""
    header, rows = read_apex(field)
    return header, dict(rows)


RAW = {f: read_raw(f) for f in FIELDS}


def raw_samples(field, start, end):
    """Sorted ``(t, v)`` arrays of the raw rows of ``field`` in ``[start, end)``."""
    rows = RAW[field][1]
    t = np.array(sorted(x for x in rows if start <= x < end))
    return t, np.array([rows[x] for x in t])


def cadence(field):
    return RAW[field][0][1]


def raw_timeline(tl, start, end):
    """Independent expectation of a timeline's ``t``: union of its fields' rows in range."""
    times = set()
    for f in FIELDS:
        if cadence(f) == tl:
            times.update(raw_samples(f, start, end)[0])
    return np.array(sorted(times))


def plausible(field, v):
    v = np.asarray(v, dtype=float)
    return np.where(v > WIND_PLAUSIBLE, np.nan, v) if field == "windspeed" else v


def get_data(consumer, fields, start, end, min_stride=None):
    return consumer.get_data("weather", list(fields), start, end, min_stride)


def check_invariants(result, fields, start, end):
    """The wire contract's shape rules for a get_data result."""
    for f in fields:
        tl = cadence(f)
        t = result["timeline"][tl]["t"]
        assert len(result["data"][f]) == len(t), f
        assert np.all(np.diff(t) > 0), f"{tl}: t not strictly increasing"
        assert np.all((t >= start) & (t < end)), f"{tl}: t outside [{start}, {end})"


# -- a known day --------------------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_temperature_on_2017_07_15_is_24_hourly_samples_from_minus_12_64_to_minus_5_86(consumer):
    result = yield get_data(consumer, ["temperature"], JUL15, JUL16)
    t = result["timeline"]["hourly"]["t"]
    v = result["data"]["temperature"]
    assert len(t) == 24
    np.testing.assert_array_equal(t, JUL15 + 3600.0 * np.arange(24))
    assert v.min() == pytest.approx(-12.64)
    assert v.max() == pytest.approx(-5.86)
    expected_t, expected_v = raw_samples("temperature", JUL15, JUL16)
    np.testing.assert_array_equal(t, expected_t)
    np.testing.assert_allclose(v, expected_v)


@pytest_twisted.inlineCallbacks
def test_get_fields_lists_the_5_fields_with_units_timeline_type_and_both_timelines_with_intervals(consumer):
    field, timeline = yield consumer.get_fields("weather", JUL15, JUL16)
    assert sorted(field) == sorted(FIELDS)
    for f in FIELDS:
        description, tl, units, _ = RAW[f][0]
        assert field[f]["units"] == units, f
        assert field[f]["timeline"] == tl, f
        assert field[f]["type"] == "number", f
        assert "description" in field[f]
    assert {tl: v["interval"] for tl, v in timeline.items()} == {"hourly": 3600, "minutely": 60}
    assert sorted(timeline["hourly"]["field"]) == ["humidity", "pressure", "temperature"]
    assert sorted(timeline["minutely"]["field"]) == ["radiometer", "windspeed"]
    assert {f: field[f]["units"] for f in FIELDS} == {
        "temperature": "C", "humidity": "%", "pressure": "mBar", "windspeed": "km/h", "radiometer": "mm"}


@pytest_twisted.inlineCallbacks
def test_get_fields_of_a_range_without_data_is_empty(consumer):
    field, timeline = yield consumer.get_fields("weather", utc(2016, 1, 1), utc(2016, 1, 2))
    assert field == {} and timeline == {}


# -- invariants over ranges and field mixes -----------------------------------

RANGES = {
    "one day": (JUL15, JUL16),
    "odd hours": (utc(2017, 7, 20, 3, 17, 11), utc(2017, 7, 21, 19, 2, 59)),
    "whole archive": (utc(2017, 7, 1), utc(2017, 8, 15)),
    "empty range": (JUL15, JUL15),
    "no data": (utc(2016, 1, 1), utc(2016, 2, 1)),
    "end before start": (JUL16, JUL15),
}
MIXES = {
    "hourly": ["temperature", "humidity"],
    "both timelines": ["temperature", "windspeed", "pressure", "radiometer"],
    "all": list(FIELDS),
}


@pytest.mark.parametrize("mix", MIXES)
@pytest.mark.parametrize("rng", RANGES)
@pytest_twisted.inlineCallbacks
def test_get_data_has_aligned_increasing_in_range_times_equal_to_the_raw_rows(consumer, rng, mix):
    start, end = RANGES[rng]
    fields = MIXES[mix]
    result = yield get_data(consumer, fields, start, end)
    check_invariants(result, fields, start, end)
    for tl in {cadence(f) for f in fields}:
        np.testing.assert_array_equal(result["timeline"][tl]["t"], raw_timeline(tl, start, end))
    for f in fields:
        t = result["timeline"][cadence(f)]["t"]
        rows = RAW[f][1]
        expected = plausible(f, [rows.get(x, math.nan) for x in t])
        np.testing.assert_allclose(result["data"][f], expected, equal_nan=True, err_msg=f)


# -- min_stride ----------------------------------------------------------------

def buckets(t, start, stride):
    """Bucket index of every time, computed exactly with integers where the inputs allow."""
    return np.floor((np.asarray(t) - start) / stride).astype(np.int64)


@pytest.mark.parametrize("stride", [600.0, 3600.0, 86400.0])
@pytest.mark.parametrize("rng", ["one day", "odd hours", "whole archive", "no data", "end before start"])
@pytest_twisted.inlineCallbacks
def test_min_stride_returns_one_point_per_non_empty_bucket_at_least_min_stride_apart(consumer, rng, stride):
    start, end = RANGES[rng]
    fields = MIXES["all"]
    result = yield get_data(consumer, fields, start, end, min_stride=stride)
    check_invariants(result, fields, start, end)
    for tl in ("hourly", "minutely"):
        t = result["timeline"][tl]["t"]
        assert np.all(np.diff(t) >= stride - 1e-6), f"{tl}: samples closer than {stride} s"
        raw_t = raw_timeline(tl, start, end)
        assert len(t) == len(np.unique(buckets(raw_t, start, stride))), tl


@pytest.mark.parametrize("field, stride", [("temperature", 86400.0), ("humidity", 6 * 3600.0),
                                           ("windspeed", 3600.0), ("radiometer", 600.0)])
@pytest_twisted.inlineCallbacks
def test_a_downsampled_point_is_the_mean_of_the_plausible_raw_samples_in_its_bucket(consumer, field, stride):
    start, end = RANGES["odd hours"]
    result = yield get_data(consumer, [field], start, end, min_stride=stride)
    t = result["timeline"][cadence(field)]["t"]
    got = result["data"][field]
    raw_t, raw_v = raw_samples(field, start, end)
    raw_v = plausible(field, raw_v)
    k = buckets(raw_t, start, stride)
    expected_t, expected_v = [], []
    for b in np.unique(k):
        expected_t.append(start + b * stride)
        inside = raw_v[k == b]
        finite = inside[np.isfinite(inside)]
        expected_v.append(finite.mean() if finite.size else math.nan)
    np.testing.assert_allclose(t, expected_t)
    np.testing.assert_allclose(got, expected_v, equal_nan=True)


@pytest_twisted.inlineCallbacks
def test_integer_times_and_stride_are_accepted_like_floats(consumer):
    result = yield get_data(consumer, ["temperature"], int(JUL15), int(JUL16), 7200)
    np.testing.assert_array_equal(result["timeline"]["hourly"]["t"], JUL15 + 7200.0 * np.arange(12))


@pytest_twisted.inlineCallbacks
def test_a_stride_wider_than_the_range_gives_one_point_at_the_start(consumer):
    result = yield get_data(consumer, ["temperature", "windspeed"], JUL15, JUL16, 10 * 86400.0)
    for tl, f in (("hourly", "temperature"), ("minutely", "windspeed")):
        assert list(result["timeline"][tl]["t"]) == [JUL15]
        _, raw_v = raw_samples(f, JUL15, JUL16)
        raw_v = plausible(f, raw_v)
        assert result["data"][f][0] == pytest.approx(np.nanmean(raw_v))


# -- unknown fields, NaN, relative times ---------------------------------------

@pytest_twisted.inlineCallbacks
def test_an_unknown_field_gets_an_empty_array_and_no_error(consumer):
    result = yield get_data(consumer, ["no_such_field", "temperature"], JUL15, JUL16)
    assert len(result["data"]["no_such_field"]) == 0
    assert len(result["data"]["temperature"]) == 24
    alone = yield get_data(consumer, ["no_such_field"], JUL15, JUL16)
    assert list(alone["data"]) == ["no_such_field"] and len(alone["data"]["no_such_field"]) == 0


SPIKES = sorted(t for t, v in RAW["windspeed"][1].items() if v > WIND_PLAUSIBLE)


def test_the_archive_has_the_10_windspeed_spikes_that_the_next_tests_rely_on():
    assert len(SPIKES) == 10


@pytest_twisted.inlineCallbacks
def test_windspeed_spikes_come_back_as_nan_and_go_out_as_null_on_the_wire(consumer):
    start, end = SPIKES[0] - 1800, SPIKES[-1] + 1800
    result = yield get_data(consumer, ["windspeed"], start, end)
    t = result["timeline"]["minutely"]["t"]
    v = result["data"]["windspeed"]
    at_spikes = np.searchsorted(t, SPIKES)
    np.testing.assert_array_equal(t[at_spikes], SPIKES)
    assert np.all(np.isnan(v[at_spikes]))
    # Every other sample is a real reading with a row in the file.
    others = np.setdiff1d(np.arange(len(t)), at_spikes)
    rows = RAW["windspeed"][1]
    expected = np.array([rows.get(x, math.nan) for x in t[others]])
    np.testing.assert_allclose(v[others], expected, equal_nan=True)

    wire = yield consumer.call(uri.node_uri("weather", "get_data"), ["windspeed"], start, end)
    values = wire["data"]["windspeed"]
    assert [values[i] for i in at_spikes] == [None] * len(SPIKES)
    for i, e in zip(others, expected, strict=True):
        assert (values[i] is None) if math.isnan(e) else values[i] == pytest.approx(e)


@pytest_twisted.inlineCallbacks
def test_relative_times_work_and_find_nothing_in_a_2017_archive(consumer):
    result = yield get_data(consumer, list(FIELDS), -3600, 0)
    for f in FIELDS:
        assert len(result["data"][f]) == 0
    for v in result["timeline"].values():
        assert len(v["t"]) == 0
    field, timeline = yield consumer.get_fields("weather", -3600, 0)
    assert field == {}


# -- bad arguments -------------------------------------------------------------

def test_the_consumer_speaks_msgpack_so_nan_can_be_sent(consumer):
    assert consumer._transport._serializer.SERIALIZER_ID == "msgpack"


@pytest.mark.parametrize("args, named", [
    (("temperature", JUL15, JUL16), "field"),
    ((None, JUL15, JUL16), "field"),
    (([1, 2], JUL15, JUL16), "field"),
    ((["temperature"], "yesterday", JUL16), "start"),
    ((["temperature"], math.nan, JUL16), "start"),
    ((["temperature"], JUL15, math.inf), "end"),
    ((["temperature"], JUL15, True), "end"),
    ((["temperature"], JUL15, JUL16, 0), "min_stride"),
    ((["temperature"], JUL15, JUL16, -60), "min_stride"),
    ((["temperature"], JUL15, JUL16, "hour"), "min_stride"),
    ((["temperature"], JUL15, JUL16, math.nan), "min_stride"),
])
@pytest_twisted.inlineCallbacks
def test_bad_arguments_raise_invalid_argument_naming_the_argument_and_the_node_keeps_serving(consumer, args, named):
    with pytest.raises(InvalidArgument) as info:
        yield consumer.get_data("weather", *args)
    assert info.value.message.startswith(named), info.value.message
    result = yield get_data(consumer, ["temperature"], JUL15, JUL16)
    assert len(result["data"]["temperature"]) == 24


@pytest.mark.parametrize("start, end, named", [("a", JUL16, "start"), (JUL15, math.nan, "end"),
                                               (None, JUL16, "start")])
@pytest_twisted.inlineCallbacks
def test_bad_get_fields_times_raise_invalid_argument_naming_the_argument(consumer, start, end, named):
    with pytest.raises(InvalidArgument) as info:
        yield consumer.get_fields("weather", start, end)
    assert info.value.message.startswith(named), info.value.message


# -- an archive of other shapes (its own data, its own node) --------------------

def write_archive(directory, series):
    """Write ``apex_<field>.dat`` files: ``series = {field: (cadence, units, [(t, v), ...])}``."""
    os.makedirs(directory, exist_ok=True)
    for field, (tl, units, rows) in series.items():
        with open(os.path.join(directory, f"apex_{field}.dat"), "w") as fp:
            fp.write(f"# test {field}\n# {tl}\n# {units}\n# 2020-01-01\n")
            fp.writelines(f"{t} {v}\n" for t, v in rows)


T0 = utc(2020, 1, 1)


@pytest.fixture(scope="module")
def shapes_node(stack, tmp_path_factory):
    """A weather node named ``weather_shapes`` serving a small archive made here.

    ``temperature`` has a row every minute of 2020-01-01 00:00..00:10;
    ``humidity`` (same cadence) only one row, an hour later.
    """
    directory = str(tmp_path_factory.mktemp("shapes"))
    write_archive(directory, {
        "temperature": ("minutely", "C", [(T0 + 60 * i, float(i)) for i in range(10)]),
        "humidity": ("minutely", "%", [(T0 + 3600, 50.0)]),
    })
    proc = stack.spawn("weather_shapes", "nodes.weather", "--name", "weather_shapes", "--archive", directory,
                       ready=False)
    pytest_twisted.blockon(proc.ready())
    yield "weather_shapes"
    proc.stop()


@pytest_twisted.inlineCallbacks
def test_min_stride_keeps_a_field_without_own_rows_in_range_aligned_with_its_timeline(consumer, shapes_node):
    start, end = T0, T0 + 600
    plain = yield consumer.get_data(shapes_node, ["temperature", "humidity"], start, end)
    assert len(plain["timeline"]["minutely"]["t"]) == len(plain["data"]["humidity"]) == 10
    result = yield consumer.get_data(shapes_node, ["temperature", "humidity"], start, end, 300)
    t = result["timeline"]["minutely"]["t"]
    np.testing.assert_array_equal(t, [start, start + 300])
    np.testing.assert_allclose(result["data"]["temperature"], [2.0, 7.0])
    assert len(result["data"]["humidity"]) == len(t)
    assert np.all(np.isnan(result["data"]["humidity"]))

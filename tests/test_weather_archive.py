"""The APEX archive loads the real files once and answers range queries."""

import math

import numpy as np
import pytest

from nodes.weather.archive import INTERVAL, VALID_RANGE, ApexArchive
from tests.conftest import APEX_DIR, read_apex

FIELDS = ["humidity", "pressure", "radiometer", "temperature", "windspeed"]
DAY_START = 1500076800.0   # 2017-07-15T00:00Z
DAY_END = 1500163200.0     # 2017-07-16T00:00Z


def last_per_timestamp(rows):
    return dict(rows)  # later rows overwrite earlier ones


@pytest.fixture(scope="module")
def archive():
    return ApexArchive.load(APEX_DIR)


def test_every_file_becomes_a_field_with_its_header(archive):
    assert sorted(archive.fields) == FIELDS
    for f in FIELDS:
        header, _ = read_apex(f)
        meta = archive.fields[f]
        assert meta["description"] == header[0]
        assert meta["timeline"] == header[1]
        assert meta["units"] == header[2]
        assert meta["type"] == "number"
    assert sorted(archive.timelines) == ["hourly", "minutely"]


def test_each_timeline_is_float64_and_strictly_increasing(archive):
    for t in archive.timelines.values():
        assert t.dtype == np.float64 and t.ndim == 1 and len(t) > 0
        assert np.all(np.diff(t) > 0)


def test_midnight_duplicates_collapse_to_one_sample_keeping_the_last(archive):
    for f in FIELDS:
        _, rows = read_apex(f)
        unique = last_per_timestamp(rows)
        assert len(unique) < len(rows)  # the quirk is really there
        tl = archive.timelines[archive.fields[f]["timeline"]]
        v = archive.values[f]
        idx = np.searchsorted(tl, list(unique))
        assert np.all(tl[idx] == list(unique))
        low, high = VALID_RANGE[f]
        expected = [x if low <= x <= high else math.nan for x in unique.values()]
        np.testing.assert_array_equal(v[idx], expected)


def test_minutely_timeline_is_the_union_and_radiometer_gap_is_nan(archive):
    _, wind = read_apex("windspeed")
    _, radio = read_apex("radiometer")
    wt, rt = {t for t, _ in wind}, {t for t, _ in radio}
    assert len(wt) == len(rt) + 1
    t = archive.timelines["minutely"]
    assert set(t.tolist()) == wt | rt
    (only_wind,) = wt - rt
    i = np.searchsorted(t, only_wind)
    assert math.isnan(archive.values["radiometer"][i])
    assert not math.isnan(archive.values["windspeed"][i])


def test_field_arrays_match_their_timeline_for_any_range(archive):
    t_all = archive.timelines["minutely"]
    ranges = [(0, 1e10), (DAY_START, DAY_END), (DAY_START + 30, DAY_START + 90),
              (t_all[-1], t_all[-1] + 1), (t_all[0] - 1e6, t_all[0]), (DAY_END, DAY_START)]
    for start, end in ranges:
        t_by, data = archive.get_data(FIELDS, start, end)
        for f in FIELDS:
            t = t_by[archive.fields[f]["timeline"]]
            assert data[f].dtype == np.float64
            assert len(data[f]) == len(t)
            assert np.all((t >= start) & (t < end))
            assert np.all(np.diff(t) > 0)


def test_temperature_on_2017_07_15_is_24_hourly_samples(archive):
    t_by, data = archive.get_data(["temperature"], DAY_START, DAY_END)
    assert list(t_by) == ["hourly"]
    t, v = t_by["hourly"], data["temperature"]
    assert len(t) == len(v) == 24
    np.testing.assert_array_equal(np.diff(t), 3600.0)
    _, rows = read_apex("temperature")
    day = {ts: x for ts, x in rows if DAY_START <= ts < DAY_END}
    assert len(day) == 24
    assert (v.min(), v.max()) == (min(day.values()), max(day.values()))
    assert (v.min(), v.max()) == (-12.64, -5.86)


def test_windspeed_spikes_become_nan(archive):
    v = archive.values["windspeed"]
    low, high = VALID_RANGE["windspeed"]
    assert np.all(np.isnan(v) | (np.isfinite(v) & (v >= low) & (v <= high)))
    assert np.nanmax(v) <= high
    _, rows = read_apex("windspeed")
    bad = {t for t, x in last_per_timestamp(rows).items() if not low <= x <= high}
    assert len(bad) == 10
    assert sum(not low <= x <= high for _, x in rows) == len(bad)
    assert np.count_nonzero(np.isnan(v)) == len(bad)


def test_valid_values_are_unchanged_and_in_range(archive):
    for f in FIELDS:
        low, high = VALID_RANGE[f]
        v = archive.values[f]
        ok = v[~np.isnan(v)]
        assert np.all((ok >= low) & (ok <= high))


def test_unknown_field_is_an_empty_array_not_an_error(archive):
    t_by, data = archive.get_data(["nope", "temperature"], DAY_START, DAY_END)
    assert data["nope"].dtype == np.float64 and data["nope"].shape == (0,)
    assert list(t_by) == ["hourly"]
    t_by, data = archive.get_data(["nope"], DAY_START, DAY_END)
    assert t_by == {} and len(data["nope"]) == 0


def test_range_without_data_gives_empty_arrays(archive):
    start = archive.timelines["hourly"][0] - 10 * 86400
    t_by, data = archive.get_data(FIELDS, start, start + 86400)
    assert sorted(t_by) == ["hourly", "minutely"]
    assert all(len(t) == 0 and t.dtype == np.float64 for t in t_by.values())
    assert all(len(v) == 0 for v in data.values())
    assert archive.get_fields(start, start + 86400) == ({}, {})


def test_start_is_inclusive_and_end_exclusive_at_a_sample_time(archive):
    t_by, _ = archive.get_data(["temperature"], DAY_START, DAY_START + 3600)
    np.testing.assert_array_equal(t_by["hourly"], [DAY_START])
    t_by, _ = archive.get_data(["temperature"], DAY_START, DAY_START)
    assert len(t_by["hourly"]) == 0
    t_by, _ = archive.get_data(["temperature"], DAY_START + 1, DAY_START + 3601)
    np.testing.assert_array_equal(t_by["hourly"], [DAY_START + 3600])


def test_get_data_returns_views_not_copies(archive):
    t_by, data = archive.get_data(["windspeed"], DAY_START, DAY_END)
    assert np.shares_memory(t_by["minutely"], archive.timelines["minutely"])
    assert np.shares_memory(data["windspeed"], archive.values["windspeed"])
    assert not data["windspeed"].flags.writeable


def test_get_fields_lists_fields_and_timelines_in_range(archive):
    field, timeline = archive.get_fields(DAY_START, DAY_END)
    assert sorted(field) == FIELDS
    assert timeline["hourly"]["interval"] == 3600.0
    assert timeline["minutely"]["interval"] == 60.0
    assert sorted(timeline["hourly"]["field"]) == ["humidity", "pressure", "temperature"]
    assert sorted(timeline["minutely"]["field"]) == ["radiometer", "windspeed"]
    assert field["windspeed"] == {"description": "APEX weather station windspeed.",
                                  "timeline": "minutely", "type": "number",
                                  "units": "km/h"}


def test_get_fields_names_the_fields_of_every_timeline_sampled_in_range(archive):
    # 1501043100 is a windspeed row that the radiometer file lacks: the minutely
    # timeline has a sample there, so both of its fields are listed.
    field, timeline = archive.get_fields(1501043100, 1501043101)
    assert sorted(field) == ["radiometer", "windspeed"]
    assert timeline == {"minutely": {"interval": INTERVAL["minutely"], "field": ["radiometer", "windspeed"],
                                     "first": archive.timelines["minutely"][0],
                                     "last": archive.timelines["minutely"][-1]}}
    assert archive.get_fields(1501200001, 1501300000) == ({}, {})


def test_finalized_until_is_the_last_timestamp(archive):
    for tl, t in archive.timelines.items():
        assert archive.finalized_until(tl) == t[-1] == 1501200000.0
    with pytest.raises(KeyError):
        archive.finalized_until("daily")


def test_loading_an_empty_directory_fails(tmp_path):
    with pytest.raises(FileNotFoundError):
        ApexArchive.load(tmp_path)


def test_bad_cadence_is_rejected(tmp_path):
    (tmp_path / "apex_x.dat").write_text("# x\n# weekly\n# u\n# 2017-07-14\n1 2\n")
    with pytest.raises(ValueError, match="cadence"):
        ApexArchive.load(tmp_path)


def test_last_duplicate_wins_and_unsorted_rows_are_sorted(tmp_path):
    (tmp_path / "apex_humidity.dat").write_text(
        "# h\n# hourly\n# %\n# 2017-07-14\n7200 3\n0 1\n3600 2\n3600 5\n3600 150\n")
    a = ApexArchive.load(tmp_path)
    np.testing.assert_array_equal(a.timelines["hourly"], [0, 3600, 7200])
    np.testing.assert_array_equal(a.values["humidity"], [1, np.nan, 3])

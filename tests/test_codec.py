"""Arrays on the wire: sisock.codec."""

import json
import math

import numpy as np

from sisock.codec import array_to_list, list_to_array, result_from_lists, result_to_lists


def test_float_nan_and_inf_go_out_as_none():
    a = np.array([1.5, np.nan, -np.inf, np.inf, 0.0])
    out = array_to_list(a)
    assert out == [1.5, None, None, None, 0.0]
    assert all(type(x) is float for x in out if x is not None)


def test_float32_and_int_give_python_scalars():
    out = array_to_list(np.array([0.5, np.nan], np.float32))
    assert out == [0.5, None] and type(out[0]) is float
    out = array_to_list(np.array([1, -2], np.int64))
    assert out == [1, -2] and all(type(x) is int for x in out)


def test_bool_and_str_keep_their_types():
    out = array_to_list(np.array([True, False]))
    assert out == [True, False] and all(type(x) is bool for x in out)
    out = array_to_list(np.array(["on", "off"]))
    assert out == ["on", "off"] and all(type(x) is str for x in out)


def test_object_arrays_give_python_scalars():
    a = np.array([np.float64(2.0), np.nan, "x", None, np.int32(3)], dtype=object)
    out = array_to_list(a)
    assert out == [2.0, None, "x", None, 3]
    assert type(out[0]) is float and type(out[4]) is int


def test_float_round_trip_keeps_values_and_nan():
    rng = np.random.default_rng(0)
    a = rng.normal(size=100)
    a[rng.random(100) < 0.2] = np.nan
    back = list_to_array(json.loads(json.dumps(array_to_list(a))))
    assert back.dtype == np.float64
    np.testing.assert_array_equal(back, a)  # NaN == NaN for this assertion


def test_bool_and_str_round_trip():
    b = np.array([True, False, True])
    back = list_to_array(array_to_list(b))
    assert back.dtype == bool
    np.testing.assert_array_equal(back, b)

    s = np.array(["a", "bc", ""])
    back = list_to_array(array_to_list(s))
    assert back.dtype == object
    assert list(back) == ["a", "bc", ""]


def test_list_to_array_kinds():
    a = list_to_array([1, None, 2.5])
    assert a.dtype == np.float64
    assert a[0] == 1.0 and math.isnan(a[1]) and a[2] == 2.5
    assert list_to_array([None, None]).dtype == np.float64
    mixed = list_to_array([1, "x", None, True])
    assert mixed.dtype == object and list(mixed) == [1, "x", None, True]
    # a bool among numbers is not a number
    assert list_to_array([1.0, True]).dtype == object


def test_empty_arrays():
    assert array_to_list(np.empty(0)) == []
    assert array_to_list(np.empty(0, bool)) == []
    e = list_to_array([])
    assert e.dtype == np.float64 and e.shape == (0,)


def make_result():
    t = 1.6e9 + np.arange(4.0)
    return {
        "data": {
            "temp": np.array([20.5, np.nan, 21.0, np.inf]),
            "door": np.array([True, False, False, True]),
            "state": np.array(["idle", "run", "run", "idle"]),
            "empty": np.empty(0),
        },
        "timeline": {
            "main": {"t": t, "finalized_until": np.float64(t[-1])},
            "slow": {"t": np.empty(0), "finalized_until": np.nan},
            "other": {"t": t[:1], "finalized_until": None},
        },
    }


def test_result_to_lists_is_json_and_does_not_touch_the_input():
    result = make_result()
    wire = result_to_lists(result)
    text = json.dumps(wire, allow_nan=False)  # fails on any NaN/inf left
    wire = json.loads(text)
    assert wire["data"]["temp"] == [20.5, None, 21.0, None]
    assert wire["data"]["door"] == [True, False, False, True]
    assert wire["data"]["state"] == ["idle", "run", "run", "idle"]
    assert wire["data"]["empty"] == []
    assert wire["timeline"]["main"]["t"] == [1.6e9 + i for i in range(4)]
    assert wire["timeline"]["main"]["finalized_until"] == 1.6e9 + 3
    assert wire["timeline"]["slow"] == {"t": [], "finalized_until": None}
    assert wire["timeline"]["other"]["finalized_until"] is None
    assert isinstance(result["data"]["temp"], np.ndarray)  # input unchanged


def test_result_round_trip():
    result = make_result()
    back = result_from_lists(json.loads(json.dumps(result_to_lists(result))))
    assert set(back["data"]) == set(result["data"])
    temp = result["data"]["temp"].copy()
    temp[~np.isfinite(temp)] = np.nan
    np.testing.assert_array_equal(back["data"]["temp"], temp)
    assert back["data"]["door"].dtype == bool
    np.testing.assert_array_equal(back["data"]["door"], result["data"]["door"])
    assert list(back["data"]["state"]) == list(result["data"]["state"])
    assert back["data"]["empty"].dtype == np.float64 and back["data"]["empty"].size == 0
    for name, tl in result["timeline"].items():
        assert back["timeline"][name]["t"].dtype == np.float64
        np.testing.assert_array_equal(back["timeline"][name]["t"], tl["t"])
    assert back["timeline"]["main"]["finalized_until"] == 1.6e9 + 3
    assert back["timeline"]["slow"]["finalized_until"] is None

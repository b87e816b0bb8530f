"""Arrays on the wire: sisock.wire.codec."""

import json
import math

import msgpack
import numpy as np
import pytest

from sisock.wire.codec import (
    array_to_list,
    array_to_wire,
    list_to_array,
    result_from_wire,
    result_to_wire,
    wire_to_array,
)


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


def test_result_to_wire_as_lists_is_json_and_does_not_touch_the_input():
    result = make_result()
    wire = result_to_wire(result)
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
    back = result_from_wire(json.loads(json.dumps(result_to_wire(result))))
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


# -- the binary encoding ------------------------------------------------------

def over_msgpack(value):
    """``value`` after a MessagePack round trip, as autobahn does it."""
    return msgpack.unpackb(msgpack.packb(value, use_bin_type=True), raw=False)


def test_numeric_and_bool_arrays_travel_as_little_endian_bytes_with_dtype_and_shape():
    for a in (np.array([1.5, np.nan]), np.array([1, -2], ">i4"), np.array([True, False]), np.arange(3, dtype="u2")):
        wire = array_to_wire(a, "binary")
        assert set(wire) == {"dtype", "shape", "data"} and wire["shape"] == [len(a)]
        assert wire["dtype"][0] in "<|" and np.dtype(wire["dtype"]).kind == a.dtype.kind
        assert wire["data"] == a.astype(np.dtype(wire["dtype"])).tobytes()


def test_strided_and_transposed_views_travel_in_c_order_and_come_back_equal():
    grid = np.arange(24, dtype=">f8").reshape(4, 6)
    for a in (grid[:, ::2], grid.T, np.arange(10, dtype="<i2")[::-3]):
        wire = over_msgpack(array_to_wire(a, "binary"))
        assert wire["shape"] == list(a.shape) and wire["dtype"][0] == "<"
        back = wire_to_array(wire)
        assert back.dtype.kind == a.dtype.kind and np.array_equal(back, a)


def test_strings_and_objects_stay_lists_in_the_binary_encoding():
    assert array_to_wire(np.array(["on", "off"]), "binary") == ["on", "off"]
    assert array_to_wire(np.array(["x", None], dtype=object), "binary") == ["x", None]


def test_a_binary_array_decodes_without_a_copy():
    wire = over_msgpack(array_to_wire(np.arange(5.0), "binary"))
    back = wire_to_array(wire)
    assert np.shares_memory(back, np.frombuffer(wire["data"], np.uint8))
    assert not back.flags.writeable
    np.testing.assert_array_equal(back, np.arange(5.0))


def test_binary_and_list_encodings_give_identical_values():
    result = make_result()
    result["data"]["count"] = np.array([3, -4, 0, 2**52])
    result["data"]["temp"][3] = 7.0  # +-inf: kept by bytes, null in a list (see the module docstring)
    as_lists = result_from_wire(json.loads(json.dumps(result_to_wire(result, "list"))))
    as_bytes = result_from_wire(over_msgpack(result_to_wire(result, "binary")))
    assert set(as_lists["data"]) == set(as_bytes["data"])
    for name, values in as_lists["data"].items():
        if values.dtype == object:
            assert list(values) == list(as_bytes["data"][name])
        else:
            np.testing.assert_array_equal(values, as_bytes["data"][name])  # NaN == NaN here
    assert as_bytes["data"]["count"].dtype == np.int64 and as_lists["data"]["count"].dtype == np.float64
    assert as_bytes["data"]["door"].dtype == as_lists["data"]["door"].dtype == bool
    for name, tl in as_lists["timeline"].items():
        assert as_bytes["timeline"][name]["t"].dtype == np.float64
        np.testing.assert_array_equal(tl["t"], as_bytes["timeline"][name]["t"])
        assert tl["finalized_until"] == as_bytes["timeline"][name]["finalized_until"]


@pytest.mark.parametrize("bad", [{"dtype": "|O", "shape": [1], "data": b"12345678"},
                                 {"dtype": "<f8", "shape": [2], "data": b"12345678"}])
def test_a_malformed_binary_array_raises_value_error(bad):
    with pytest.raises(ValueError):
        wire_to_array(bad)


def test_an_unknown_encoding_raises_value_error():
    with pytest.raises(ValueError, match="encoding"):
        array_to_wire(np.arange(2.0), "hex")

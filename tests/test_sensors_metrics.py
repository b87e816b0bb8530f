"""HostMetrics: this host's live metrics through psutil."""

import math
import re
from collections import namedtuple

import psutil
import pytest

from nodes.sensors.metrics import HostMetrics, sanitize

RATES = ("disk_read_rate", "disk_write_rate", "net_sent_rate", "net_recv_rate")
NAME = re.compile(r"^[a-z0-9_]+$")


def test_fields_and_sample_have_the_same_keys_and_float_values():
    hm = HostMetrics()
    fields = hm.fields()
    sample = hm.sample()
    assert set(fields) == set(sample)
    assert all(type(v) is float for v in sample.values())
    for name, meta in fields.items():
        assert NAME.match(name), name
        assert meta["type"] == "number"
        assert meta["units"] in {"%", "bytes", "bytes/s", "C", "RPM", ""}
        assert isinstance(meta["description"], str) and meta["description"]


def test_the_basic_metrics_are_present_on_linux():
    names = set(HostMetrics().fields())
    expected = {"cpu_percent", "mem_percent", "mem_used", "mem_available",
                "swap_percent"} | set(RATES)
    if hasattr(psutil, "getloadavg"):
        expected |= {"load_1m", "load_5m", "load_15m"}
    assert expected <= names


def test_percentages_are_within_0_and_100_after_a_second_sample():
    hm = HostMetrics()
    hm.sample()
    s = hm.sample()
    for name in ("cpu_percent", "mem_percent"):
        assert 0.0 <= s[name] <= 100.0, (name, s[name])
    assert s["mem_used"] > 0 and s["mem_available"] > 0
    total = psutil.virtual_memory().total
    assert s["mem_available"] <= total


def test_rates_are_nan_first_then_non_negative():
    hm = HostMetrics()
    first = hm.sample()
    for name in RATES:
        assert math.isnan(first[name]), name
    second = hm.sample()
    for name in RATES:
        assert math.isnan(second[name]) or second[name] >= 0, (name, second[name])


def test_rate_is_counter_difference_over_monotonic_time(monkeypatch):
    Net = namedtuple("Net", "bytes_sent bytes_recv")
    readings = iter([Net(1000, 50), Net(3000, 50), Net(10, 60)])
    clock = iter([100.0, 102.0, 103.0])
    monkeypatch.setattr(psutil, "net_io_counters", lambda: next(readings))
    hm = HostMetrics(clock=lambda: next(clock))
    assert math.isnan(hm.sample()["net_sent_rate"])
    s = hm.sample()
    assert s["net_sent_rate"] == pytest.approx(1000.0)
    assert s["net_recv_rate"] == 0.0
    s = hm.sample()                      # bytes_sent went backwards: reset
    assert math.isnan(s["net_sent_rate"])
    assert s["net_recv_rate"] == pytest.approx(10.0)


def test_temperatures_and_fans_are_named_and_read(monkeypatch):
    T = namedtuple("T", "label current high critical")
    F = namedtuple("F", "label current")
    temps = {"coretemp": [T("Package id 0", 51.0, 80, 100), T("", 49.5, 80, 100)],
             "ACPI-Z": [T("", 30.0, None, None)]}
    fans = {"thinkpad": [F("", 2100)]}
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: temps, raising=False)
    monkeypatch.setattr(psutil, "sensors_fans", lambda: fans, raising=False)
    hm = HostMetrics()
    f = hm.fields()
    assert f["temp_coretemp_package_id_0"]["units"] == "C"
    assert f["temp_coretemp_1"]["units"] == "C"
    assert f["temp_acpi_z_0"]["units"] == "C"
    assert f["fan_thinkpad_0"]["units"] == "RPM"
    s = hm.sample()
    assert s["temp_coretemp_package_id_0"] == 51.0
    assert s["temp_coretemp_1"] == 49.5
    assert s["fan_thinkpad_0"] == 2100.0
    temps.pop("ACPI-Z")                 # a sensor vanished: NaN, key kept
    s = hm.sample()
    assert math.isnan(s["temp_acpi_z_0"])


def test_failing_or_missing_psutil_functions_do_not_crash(monkeypatch):
    def boom(*a, **k):
        raise OSError("no sensors here")
    monkeypatch.setattr(psutil, "sensors_temperatures", boom, raising=False)
    monkeypatch.delattr(psutil, "sensors_fans", raising=False)
    monkeypatch.delattr(psutil, "getloadavg", raising=False)
    hm = HostMetrics()
    assert not any(n.startswith(("temp_", "fan_", "load_")) for n in hm.fields())
    monkeypatch.setattr(psutil, "virtual_memory", boom)
    s = hm.sample()
    assert set(s) == set(hm.fields())
    assert math.isnan(s["mem_percent"])


def test_sanitize():
    assert sanitize("Package id 0") == "package_id_0"
    assert sanitize("acpi-tz/1") == "acpi_tz_1"
    assert sanitize("--") == "x"

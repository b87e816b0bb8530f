"""Energy and billing: energy used per node, per zone and in total, from the recorded
counters (resets included), priced by a flat or a day/night tariff; procedure, CLI, CSV and Grafana table."""

import csv
import datetime as dt
import io
import json
import math
import subprocess
import sys
import time

import pytest
import pytest_twisted
import requests
from twisted.internet import threads

from nodes.fleet.fleet import build_lamps
from sisock.hub import reports, tariff
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument
from tests.registry_support import connect_admin, joined, offline_lamp, start_stack, until

COUNT, INTERVAL = 20, 5.0
#: The fleet's layout, computed here: name -> zone.
ZONES = {lamp.name: lamp.tags["zone"] for lamp in build_lamps(COUNT, "fleet", (46.2044, 6.1432), 30.0, INTERVAL, 1)}
RESET = "fleet.lamp0003"


def _hhmm(t):
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A router, a hub, 20 lamps with three hours of history and a Grafana bridge pricing by day and night.

    Day starts 80 minutes ago and night 40 minutes ago (UTC, whole minutes), so a report over the last
    two hours has night, day and night again in it.
    """
    directory = tmp_path_factory.mktemp("ops_energy")
    now = time.time()
    day, night = (math.floor((now - s) / 60) * 60 for s in (4800, 2400))
    text = (f'currency = "CHF"\ntimezone = "UTC"\n[periods.day]\nstart = "{_hhmm(day)}"\nprice = 0.30\n'
            f'[periods.night]\nstart = "{_hhmm(night)}"\nprice = 0.18\n')
    (directory / "tariff.toml").write_text(text)
    stack = start_stack(directory, fleet_args=["--count", str(COUNT), "--interval", str(INTERVAL),
                                               "--history", "20000", "--backfill", "10800"],
                        bridge_args=["--tariff", str(directory / "tariff.toml")])
    stack.tariff_file, stack.day, stack.night = directory / "tariff.toml", day, night
    # reports list the periods in the order of the day (by start time): night first just after midnight UTC
    stack.periods = ["day", "night"] if day % 86400 < night % 86400 else ["night", "day"]
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def admin(fleet):
    yield from joined(connect_admin(fleet))


@pytest.fixture
def consumer(fleet):
    yield from joined(fleet.connect())


@pytest.fixture(scope="module")
def meter_reset(fleet, admin):
    """Lamp 3's meter starts again from zero; returns once a sample after the reset is in `_period_range`."""
    pytest_twisted.blockon(admin.call(uri.node_uri(RESET, "command"), "reset", meter=True))

    def after_reset(r):
        kwh, t = r["data"]["energy_kwh"], r["timeline"]["lamp"]["t"]
        return len(kwh) >= 2 and kwh[-1] < max(kwh) and t[-1] < _period_range()[1]

    pytest_twisted.blockon(until(lambda: admin.get_data(RESET, ["energy_kwh"], -4 * INTERVAL, 0), after_reset,
                                 "a sample after the meter reset", timeout=30))


def _period_range():
    """The last two hours up to a whole second in the past: their samples no longer change."""
    end = math.floor(time.time()) - 1
    return end - 7200, end


@pytest_twisted.inlineCallbacks
def _recorded(consumer, start, end, fleet):
    """``{lamp: {"day": kWh, "night": kWh, "resets": n}}`` computed here from each lamp's raw samples."""
    out = {}
    for name in ZONES:
        raw = yield consumer.get_data(name, ["energy_kwh"], start - 3600, end)
        t, v = raw["timeline"]["lamp"]["t"].tolist(), raw["data"]["energy_kwh"].tolist()
        used = {"day": 0.0, "night": 0.0, "resets": 0}
        for i in range(1, len(t)):
            if not start <= t[i] < end:
                continue
            step = v[i] - v[i - 1]
            if step < 0:
                used["resets"] += 1
                step = v[i]
            used["day" if fleet.day <= t[i] < fleet.night else "night"] += step
        out[name] = used
    return out


@pytest_twisted.inlineCallbacks
def test_energy_per_lamp_zone_and_total_matches_the_recorded_counters_reset_included(fleet, meter_reset,
                                                                                      consumer):
    start, end = _period_range()
    prices = tariff.load(fleet.tariff_file)
    report = yield reports.energy(consumer, "fleet.*", start, end, prices, group_by="zone")
    assert report["errors"] == {} and report["no_data"] == [] and len(report["nodes"]) == COUNT
    want = yield _recorded(consumer, start, end, fleet)
    assert want[RESET]["resets"] == 1 and report["nodes"][RESET]["resets"] == 1
    for name, row in report["nodes"].items():
        assert row["periods"]["day"] == pytest.approx(want[name]["day"], rel=1e-9, abs=1e-12)
        assert row["periods"]["night"] == pytest.approx(want[name]["night"], rel=1e-9, abs=1e-12)
        assert row["cost"] == pytest.approx(0.30 * want[name]["day"] + 0.18 * want[name]["night"], rel=1e-9)
    for zone in ("north", "south"):
        members = [n for n, z in ZONES.items() if z == zone]
        assert report["groups"][zone]["nodes"] == len(members)
        assert report["groups"][zone]["kwh"] == pytest.approx(sum(want[n]["day"] + want[n]["night"] for n in members))
    assert report["total"]["kwh"] == pytest.approx(sum(u["day"] + u["night"] for u in want.values()))
    assert report["total"]["kwh"] > 0 and all(report["total"]["periods"].values())


@pytest_twisted.inlineCallbacks
def test_consecutive_periods_add_up_to_the_whole(fleet, consumer):
    start, end = _period_range()
    whole = yield reports.energy(consumer, "fleet.*", start, end)
    first = yield reports.energy(consumer, "fleet.*", start, start + 2000)
    rest = yield reports.energy(consumer, "fleet.*", start + 2000, end)
    assert first["total"]["cost"] is None and whole["tariff"]["periods"] == {"all": {"start": "00:00", "price": None}}
    assert first["total"]["kwh"] + rest["total"]["kwh"] == pytest.approx(whole["total"]["kwh"], rel=1e-9)


def _sisock(fleet, *args):
    argv = [sys.executable, "-m", "sisock.cli.main", "energy", *args]
    return threads.deferToThread(subprocess.run, argv, env=fleet.env, capture_output=True, text=True, timeout=60)


@pytest_twisted.inlineCallbacks
def test_sisock_energy_by_zone_with_a_tariff_as_csv_and_json(fleet, meter_reset, consumer):
    start, end = _period_range()
    common = ["fleet.*", f"--start={start}", f"--end={end}", "--by", "zone", "--tariff", str(fleet.tariff_file)]
    run = yield _sisock(fleet, *common, "--csv", "-")
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert [r["zone"] for r in rows] == ["north", "south", "TOTAL"]
    direct = yield reports.energy(consumer, "fleet.*", start, end, tariff.load(fleet.tariff_file), "zone")
    assert float(rows[2]["kwh"]) == pytest.approx(direct["total"]["kwh"], rel=1e-9)
    assert float(rows[2]["cost"]) == pytest.approx(direct["total"]["cost"], rel=1e-9)
    assert float(rows[0]["kwh_day"]) == pytest.approx(direct["groups"]["north"]["periods"]["day"], rel=1e-9)
    assert int(rows[2]["resets"]) == 1
    run = yield _sisock(fleet, *common, "--json")
    assert json.loads(run.stdout)["tariff"]["currency"] == "CHF"
    run = yield _sisock(fleet, *common)  # the table for people: kWh to the Wh, cost to the cent
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["ZONE", "NODES", *(w for p in fleet.periods for w in ("KWH", p.upper())), "KWH",
                                "RESETS", "COST", "CHF"]
    assert lines[3].split()[0] == "TOTAL" and lines[3].split()[-1] == f"{direct['total']['cost']:.2f}"
    run = yield _sisock(fleet, "--month", "2026-11", "--json")
    month = json.loads(run.stdout)
    assert (month["start"], month["end"]) == (dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp(),
                                              dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp())


@pytest_twisted.inlineCallbacks
def test_a_bad_tariff_file_is_refused_naming_the_key(fleet, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('currency = "CHF"\n[periods.day]\nstart = "7am"\nprice = 0.3\n[periods.night]\n'
                   'start = "22:00"\nprice = 0.18\n')
    run = yield _sisock(fleet, "--tariff", str(bad))
    assert run.returncode == 2 and "periods.day.start" in run.stderr and "HH:MM" in run.stderr


@pytest_twisted.inlineCallbacks
def test_the_bridge_serves_energy_by_zone_as_a_table(fleet, meter_reset, consumer):
    start, end = _period_range()
    iso = {k: dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")
           for k, t in (("from", start), ("to", end))}
    body = {"range": iso, "targets": [{"target": "fleet.*::@energy", "type": "table", "refId": "E",
                                       "payload": {"group_by": "zone"}}]}
    response = yield threads.deferToThread(requests.post, f"{fleet.bridge_url}/query", json=body, timeout=30)
    assert response.status_code == 200, response.text
    [table] = response.json()
    assert [c["text"] for c in table["columns"]] == ["zone", "nodes", *(f"kwh_{p}" for p in fleet.periods), "kwh",
                                                     "resets", "cost"]
    direct = yield reports.energy(consumer, "fleet.*", start, end, tariff.load(fleet.tariff_file), "zone")
    by_name = {row[0]: row for row in table["rows"]}
    assert by_name["TOTAL"][4] == pytest.approx(direct["total"]["kwh"], rel=1e-9)
    assert by_name["south"][6] == pytest.approx(direct["groups"]["south"]["cost"], rel=1e-9)


def test_tariffs_are_checked_and_name_the_key_at_fault():
    for data, key in (({"price": -1}, "price"), ({"price": 1, "periods": {}}, "both"), ({}, "neither"),
                      ({"price": 1, "timezone": "Mars/Olympus"}, "timezone"), ({"price": 1, "vat": 0.2}, "vat"),
                      ({"periods": {"day": {"start": "07:00", "price": 1}}}, "periods"),
                      ({"periods": {"a": {"start": "07:00", "price": 1}, "b": {"start": "25:00", "price": 1}}},
                       "periods.b.start"),
                      ({"periods": {"a": {"start": "07:00", "price": 1}, "b": {"start": "19:00", "price": "x"}}},
                       "periods.b.price")):
        with pytest.raises(InvalidArgument, match=key):
            tariff.parse(data)


def test_a_day_night_tariff_follows_local_time_across_daylight_saving():
    prices = tariff.parse({"timezone": "Europe/Zurich", "periods": {"day": {"start": "07:00", "price": 0.3},
                                                                   "night": {"start": "22:00", "price": 0.2}}})
    zurich = dt.timezone(dt.timedelta(hours=1))  # CET; 2026-03-29 02:00 becomes 03:00 CEST
    start = dt.datetime(2026, 3, 28, 12, tzinfo=zurich).timestamp()
    edges, names = prices.intervals(start, start + 2 * 86400)
    assert names == ["day", "night", "day", "night", "day"]
    night = edges[2] - edges[1]
    assert night == 8 * 3600, "22:00 CET to 07:00 CEST is 8 hours"
    assert edges[1] == dt.datetime(2026, 3, 28, 22, tzinfo=zurich).timestamp()


@pytest.fixture
def annex_offline(fleet, admin):
    """Lamp ``annex.lamp0001`` went offline (`tests.registry_support.offline_lamp`)."""
    return offline_lamp(fleet, admin)


@pytest_twisted.inlineCallbacks
def test_a_disabled_lamps_energy_still_counts_and_an_offline_lamp_is_listed_as_not_read(annex_offline, fleet,
                                                                                         admin, consumer):
    yield admin.call(uri.HUB_NODES + "disable", "fleet.lamp0005")
    try:
        start, end = _period_range()
        report = yield reports.energy(consumer, "*.lamp000*", start, end)
        assert report["disabled"] == ["fleet.lamp0005"] and report["nodes"]["fleet.lamp0005"]["kwh"] > 0
        assert list(report["unread"]) == ["annex.lamp0001"] and "offline" in report["unread"]["annex.lamp0001"]
        argv = [sys.executable, "-m", "sisock.cli.main", "energy", "*.lamp000*", f"--start={start}", f"--end={end}"]
        run = yield threads.deferToThread(subprocess.run, argv, env=fleet.env, capture_output=True, text=True,
                                          timeout=60)
        assert "fleet.lamp0005 (disabled)" in run.stdout and "annex.lamp0001 (offline, not read)" in run.stdout
        run = yield threads.deferToThread(subprocess.run, [*argv, "--json"], env=fleet.env, capture_output=True,
                                          text=True, timeout=60)
        assert json.loads(run.stdout)["unread"] == report["unread"]
        iso = {k: dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")
               for k, t in (("from", start), ("to", end))}
        body = {"range": iso, "targets": [{"target": "*.lamp000*::@energy", "type": "table", "refId": "E"}]}
        response = yield threads.deferToThread(requests.post, f"{fleet.bridge_url}/query", json=body, timeout=30)
        [table] = response.json()
        names = [row[0] for row in table["rows"]]
        assert "fleet.lamp0005 (disabled)" in names and "annex.lamp0001 (offline, not read)" in names
        assert "annex.lamp0001" in table["meta"]["message"]
    finally:
        yield admin.call(uri.HUB_NODES + "enable", "fleet.lamp0005")

"""A fleet process keeps its lamps' history in one store file: faults and energy survive a restart and a kill."""

import signal
import sqlite3

import pytest
import pytest_twisted

from sisock.hub import reports
from sisock.wire import uri
from tests.conftest import wait_for
from tests.registry_support import connect_admin, until

FLEET = ("nodes.fleet", "--count", "3", "--interval", "0.5")


def committed(path, timeline, at_least=1):
    """Deferred: until the store file ``path`` holds ``at_least`` blocks of ``timeline`` (committed rows)."""

    def rows():
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                return db.execute("SELECT count(*) FROM block WHERE timeline = ?", (timeline,)).fetchone()[0]
        except sqlite3.Error:  # not created yet
            return 0

    return wait_for(lambda: rows() >= at_least, 60, f"{at_least} committed blocks of {timeline} in {path}")


@pytest_twisted.inlineCallbacks
def fail(admin, lamp, code, path):
    """Make ``lamp`` fail with ``code`` and wait until its fault event is committed to the file ``path``."""
    before = yield admin.call(uri.node_uri(lamp, "get_faults"), 1, 0)
    yield admin.call(uri.node_uri(lamp, "command"), "fail", code=code)
    yield admin.call(uri.node_uri(lamp, "command"), "reset")
    yield committed(path, f"{lamp}/fault_events", len(before["t"]) + 1)


@pytest_twisted.inlineCallbacks
def test_a_fleet_keeps_faults_and_energy_in_one_store_file_across_sigterm_and_sigkill(fresh_stack, tmp_path):
    data = tmp_path / "data"
    path = data / "fleet.sqlite"
    fleet = fresh_stack.spawn("fleet", *FLEET, "--data-dir", str(data), ready=False)
    yield fleet.ready(120)
    admin = yield connect_admin(fresh_stack)
    try:
        lamp_up = yield until(lambda: admin.call(uri.node_uri("fleet.lamp0001", "get_fields"), 1, 0),
                              lambda a: "lamp" in a[1], "lamp0001 recording")
        start = lamp_up[1]["lamp"]["first"]
        yield fail(admin, "fleet.lamp0002", "driver_failure", path)
        yield committed(path, "fleet.lamp0001/lamp", 10)
        assert sorted(p.name for p in data.iterdir() if p.suffix == ".sqlite") == ["fleet.sqlite"]  # one file

        for kill in (signal.SIGTERM, signal.SIGKILL):
            faults = yield reports.faults(admin, "fleet.*", start, 0)
            end = faults["end"]
            energy = yield reports.energy(admin, "fleet.*", start, end)
            history = yield admin.get_data("fleet.lamp0001", ["energy_kwh"], start, end)
            assert energy["total"]["kwh"] > 0 and faults["counts"]["fleet.lamp0002"]["driver_failure"] >= 1
            fleet.signal(kill)
            yield wait_for(lambda ended=fleet: ended.popen.poll() is not None, 30, "the fleet to end")
            fleet = fresh_stack.spawn(f"fleet_after_{kill.name}", *FLEET, "--data-dir", str(data), ready=False)
            yield fleet.ready(120)
            yield until(lambda: admin.call(uri.node_uri("fleet.lamp0001", "get_fields"), 1, 0),
                        lambda a: "lamp" in a[1], "lamp0001 back")
            again = yield until(lambda end=end: reports.faults(admin, "fleet.*", start, end),
                                lambda r: len(r["selected"]) == 3 and not r["errors"], "the lamps listed again")
            assert again["events"] == faults["events"]
            assert (yield reports.energy(admin, "fleet.*", start, end))["total"]["kwh"] == pytest.approx(
                energy["total"]["kwh"], rel=1e-12)
            kept = yield admin.get_data("fleet.lamp0001", ["energy_kwh"], start, end)
            assert kept["timeline"]["lamp"]["t"].tolist() == history["timeline"]["lamp"]["t"].tolist()
            assert kept["data"]["energy_kwh"].tolist() == history["data"]["energy_kwh"].tolist()
            for lamp in ("fleet.lamp0001", "fleet.lamp0002", "fleet.lamp0003"):   # each fault counted once
                status = yield admin.call(uri.node_uri(lamp, "command"), "status")
                events = yield admin.call(uri.node_uri(lamp, "get_faults"), 1, 0)
                assert status["faults"] == len(events["t"])
            # the meter goes on from where it was: no reset at the restart
            yield committed(path, "fleet.lamp0001/lamp", len(history["timeline"]["lamp"]["t"]) + 3)
            later = yield admin.get_data("fleet.lamp0001", ["energy_kwh"], end, 0)
            assert later["data"]["energy_kwh"][0] >= history["data"]["energy_kwh"][-1]
            yield fail(admin, "fleet.lamp0003", "lamp_out", path)
        report = yield reports.faults(admin, "fleet.*", start, 0)
        assert report["counts"]["fleet.lamp0003"]["lamp_out"] >= 2   # one before each restart
        assert report["counts"]["fleet.lamp0002"]["driver_failure"] >= 1
    finally:
        yield admin.close()

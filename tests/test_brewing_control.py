"""The brewing node's thermal model, controller, profiles and records, in simulated time (no router needed)."""

import pytest

from nodes.brewing.control import ChamberControl
from nodes.brewing.schema import check, profile_temperature
from nodes.brewing.statedb import StateDb
from nodes.brewing.thermal import SimulatedChamber
from sisock.wire.errors import InvalidArgument

STEP = 10.0  # simulated seconds per control step, as the node's sub-steps


def run(model, control, hours, beer_set=None, fridge_set=None, mode="beer"):
    """Run the closed loop for ``hours`` simulated hours; the beer temperatures, one per step."""
    beers = []
    for _ in range(int(hours * 3600 / STEP)):
        read = model.read()
        _, heater, cooler = control.step(model.now, STEP, mode, read.beer, read.fridge, beer_set, fridge_set)
        model.drive(heater, cooler)
        model.advance(STEP)
        beers.append(model.beer)
    return beers


def cooler_rests(model):
    """Seconds the compressor rested between consecutive runs."""
    runs = model.cooler_runs
    return [runs[i + 1][0] - runs[i][1] for i in range(len(runs) - 1)]


@pytest.mark.parametrize("start, setpoint, room", [(24.0, 18.0, 22.0), (15.0, 20.0, 12.0), (20.0, 10.0, 25.0)])
def test_controller_reaches_and_holds_a_constant_beer_setpoint(start, setpoint, room):
    model = SimulatedChamber(beer=start, fridge=start, room=room)
    control = ChamberControl()
    beers = run(model, control, 48, beer_set=setpoint)
    steady = beers[int(24 * 3600 / STEP):]  # the second day
    assert max(abs(b - setpoint) for b in steady) < 0.5
    assert model.cooler_runs, "the compressor never ran"
    assert model.refused_starts == 0
    assert min(cooler_rests(model), default=model.min_cooler_off) >= model.min_cooler_off


def test_fridge_constant_mode_holds_the_air():
    model = SimulatedChamber(beer=20.0, fridge=20.0, room=25.0)
    run(model, ChamberControl(), 12, fridge_set=4.0, mode="fridge")
    assert abs(model.fridge - 4.0) < 1.0
    assert model.beer < 8.0


def test_off_mode_switches_everything_off():
    model = SimulatedChamber(beer=20.0, fridge=20.0, room=25.0)
    control = ChamberControl()
    run(model, control, 2, beer_set=10.0)
    run(model, control, 0.01, mode="off")
    assert not model.heater and not model.cooler


def test_the_compressor_minimum_off_time_holds_even_when_the_setpoint_jumps():
    model = SimulatedChamber(beer=20.0, fridge=20.0, room=22.0)
    control = ChamberControl()
    for setpoint in (10.0, 25.0, 10.0, 25.0, 10.0):
        run(model, control, 0.2, beer_set=setpoint)
    assert model.refused_starts == 0
    assert min(cooler_rests(model)) >= model.min_cooler_off


def test_a_profile_is_interpolated_linearly_and_flat_outside():
    profile = check("profile", {"name": "ale", "points": [{"days": 0, "temperature": 18},
                                                          {"days": 2, "temperature": 22}]})
    start = 1_700_000_000.0
    assert profile_temperature(profile, start + 86400, start) == pytest.approx(20.0)
    assert profile_temperature(profile, start - 10, start) == 18.0
    assert profile_temperature(profile, start + 10 * 86400, start) == 22.0
    assert profile_temperature(profile, start, None) is None
    absolute = check("profile", {"name": "lager", "points": [{"time": start, "temperature": 10},
                                                             {"time": start + 100, "temperature": 12}]})
    assert profile_temperature(absolute, start + 25, None) == pytest.approx(10.5)


@pytest.mark.parametrize("points, words", [
    ([{"days": 2, "temperature": 18}, {"days": 1, "temperature": 20}], "unsorted"),
    ([{"days": 1, "temperature": 18}, {"days": 1, "temperature": 20}], "duplicate"),
    ([{"days": 1, "time": 5, "temperature": 18}], "not both"),
    ([], "points"),
    ([{"days": "1", "temperature": 18}], "points.0.days"),
])
def test_a_bad_profile_is_refused_with_a_message_naming_what(points, words):
    with pytest.raises(InvalidArgument, match=words):
        check("profile", {"name": "bad", "points": points})


def test_the_state_file_refuses_bad_records_and_stores_nothing_half_way(tmp_path):
    db = StateDb(str(tmp_path / "state.sqlite"))
    sim = db.create("controller", {"name": "sim"})
    one = db.create("chamber", {"name": "one", "controller": sim["id"]})
    two = db.create("chamber", {"name": "two", "controller": sim["id"]})
    db.create("device", {"chamber": one["id"], "slot": 3, "function": "beer_probe"})
    with pytest.raises(InvalidArgument, match="slot 3 of controller 1 is device 1"):
        db.create("device", {"chamber": two["id"], "slot": 3, "function": "beer_probe"})
    with pytest.raises(InvalidArgument, match="beer_set must be a temperature from 0.0 to 30.0"):
        db.update("chamber", one["id"], {"beer_set": 45.0, "mode": "beer"})
    with pytest.raises(InvalidArgument, match="no chamber with id 99"):
        db.update("chamber", 99, {"mode": "off"})
    with pytest.raises(InvalidArgument, match="controller 1 is used by chamber"):
        db.delete("controller", sim["id"])
    with pytest.raises(InvalidArgument, match="exists already"):
        db.create("chamber", {"name": "one", "controller": sim["id"]})
    db.close()
    again = StateDb(str(tmp_path / "state.sqlite"))
    assert len(again.records["device"]) == 1
    assert again.records["chamber"][one["id"]]["beer_set"] is None
    assert sorted(c["name"] for c in again.records["chamber"].values()) == ["one", "two"]

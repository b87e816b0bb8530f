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
    assert model.cooler_runs or room < setpoint, "the compressor never ran, though the room is warmer"
    assert model.refused_starts == 0
    assert min(cooler_rests(model), default=model.min_cooler_off) >= model.min_cooler_off


def switches(model, control, hours, beer_set):
    """Run the closed loop for ``hours`` simulated hours; ``[(time s, "heater"|"cooler", on)]`` of each switch."""
    events, before = [], {"heater": model.heater, "cooler": model.cooler}
    for _ in range(int(hours * 3600 / STEP)):
        read = model.read()
        _, heater, cooler = control.step(model.now, STEP, "beer", read.beer, read.fridge, beer_set, None)
        model.drive(heater, cooler)
        now = {"heater": heater, "cooler": cooler}
        events += [(model.now, name, on) for name, on in now.items() if on != before[name]]
        before = now
        model.advance(STEP)
    return events


def starts(events):
    return [kind for _, kind, on in events if on]


def alternations(events):
    kinds = starts(events)
    return sum(1 for a, b in zip(kinds, kinds[1:], strict=False) if a != b)


@pytest.mark.parametrize("start, setpoint, room", [
    (24.0, 18.0, 22.0), (20.0, 20.0, 22.0), (18.0, 18.0, 18.5), (20.0, 19.5, 20.0), (15.0, 20.0, 12.0),
    (20.0, 10.0, 25.0), (20.0, 18.0, 15.0)])
def test_in_steady_state_the_compressor_cycles_seldom_and_heating_and_cooling_never_alternate(start, setpoint, room):
    model, control = SimulatedChamber(beer=start, fridge=start, room=room), ChamberControl()
    settling = switches(model, control, 16, setpoint)
    assert alternations(settling) <= 1  # at most the one change from pulling down (or up) to holding
    steady = starts(switches(model, control, 8.3, setpoint))
    assert set(steady) <= ({"cooler"} if room > setpoint else {"heater"}), steady  # only what the room asks for
    assert steady.count("cooler") <= 2 * 8.3  # was 54 in 8.3 h, with the heater on in between
    assert min(cooler_rests(model), default=model.min_cooler_off) >= model.min_cooler_off
    assert all(off - on >= control.tuning.min_cooler_on for on, off in model.cooler_runs if off is not None)


def test_one_output_starts_only_the_switch_time_after_the_other_stopped():
    model, control = SimulatedChamber(beer=20.0, fridge=20.0, room=22.0), ChamberControl()
    events = switches(model, control, 4, 10.0) + switches(model, control, 8, 25.0)  # a cold crash, then warm up
    assert {"heater", "cooler"} <= set(starts(events))
    for t, kind, on in events:
        stops = [when for when, other, was_on in events if other != kind and not was_on and when <= t]
        assert not on or not stops or t - stops[-1] >= control.tuning.min_switch


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

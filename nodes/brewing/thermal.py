"""The backend interface of the brewing node and its default, a simulated fermentation chamber.

A backend is what the control loop talks to: one object per chamber that
reads the probes and drives the heater and the cooler. A real controller
(a BrewPi Spark over serial or TCP, an Arduino) implements the same four
members:

``read() -> Readings``
    The probes now; a probe that is absent or disconnected reads None.
``drive(heater: bool, cooler: bool) -> None``
    Switch the outputs. The control loop never asks for both at once and
    keeps the compressor's minimum off-time itself.
``advance(dt: float) -> None``
    Let ``dt`` seconds of (simulated) time pass; a real device ignores it.
``level_high : bool or None``
    The level switch (None without one).

`SimulatedChamber` is a two-mass thermal model: the beer and the fridge
air (with the fridge's walls and shelves) exchange heat with each other,
the air with the room; the heater warms the air, the compressor cools it.
Time is simulated, so a node can run it faster than real time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Longest Euler step of the model, seconds (stable far beyond: the fastest time constant is ~40 min).
MAX_STEP = 10.0


@dataclass
class Readings:
    """Probe temperatures, degrees Celsius (None: no probe or disconnected)."""

    beer: float | None
    fridge: float | None
    room: float | None


@dataclass
class SimulatedChamber:
    """A fridge with a heater, holding a fermenter, in a room (all SI units).

    Parameters
    ----------
    beer, fridge, room : float
        Starting temperatures, degrees Celsius; ``room`` stays constant.
    beer_capacity : float
        Heat capacity of the beer, J/K (20 l of wort: about 84 kJ/K).
    fridge_capacity : float
        Heat capacity of the fridge air with walls and shelves, J/K.
    beer_fridge : float
        Heat conductance between beer and fridge air, W/K.
    fridge_room : float
        Heat conductance of the fridge's insulation, W/K.
    heater_power, cooler_power : float
        Watts the heater adds to, and the compressor removes from, the air.
    min_cooler_off : float
        Seconds the compressor must rest between runs; `drive` refuses to
        start it earlier and counts the attempt in ``refused_starts``.
    """

    beer: float = 20.0
    fridge: float = 20.0
    room: float = 22.0
    beer_capacity: float = 84_000.0
    fridge_capacity: float = 15_000.0
    beer_fridge: float = 6.0
    fridge_room: float = 2.0
    heater_power: float = 80.0
    cooler_power: float = 120.0
    min_cooler_off: float = 300.0
    heater: bool = False
    cooler: bool = False
    level_high: bool | None = False
    probes_connected: bool = True
    now: float = 0.0
    refused_starts: int = 0
    cooler_runs: list = field(default_factory=list)  # [(on, off or None)] in simulated seconds

    def read(self) -> Readings:
        """The probes now (all None while ``probes_connected`` is false)."""
        if not self.probes_connected:
            return Readings(None, None, None)
        return Readings(self.beer, self.fridge, self.room)

    def cooler_rested(self) -> float:
        """Seconds since the compressor last stopped (infinite if it never ran)."""
        if self.cooler:
            return 0.0
        ends = [off for _, off in self.cooler_runs if off is not None]
        return self.now - ends[-1] if ends else float("inf")

    def drive(self, heater: bool, cooler: bool) -> None:
        """Switch the heater and the compressor (a start before `min_cooler_off` is refused)."""
        if cooler and not self.cooler:
            if self.cooler_rested() < self.min_cooler_off:
                self.refused_starts += 1
                cooler = False
            else:
                self.cooler_runs.append((self.now, None))
        elif self.cooler and not cooler:
            self.cooler_runs[-1] = (self.cooler_runs[-1][0], self.now)
        self.heater, self.cooler = bool(heater), bool(cooler)

    def advance(self, dt: float) -> None:
        """Let ``dt`` simulated seconds pass with the outputs as they are."""
        while dt > 0:
            h = min(dt, MAX_STEP)
            to_beer = self.beer_fridge * (self.fridge - self.beer)
            into_air = (-to_beer + self.fridge_room * (self.room - self.fridge)
                        + self.heater_power * self.heater - self.cooler_power * self.cooler)
            self.beer += h * to_beer / self.beer_capacity
            self.fridge += h * into_air / self.fridge_capacity
            self.now += h
            dt -= h

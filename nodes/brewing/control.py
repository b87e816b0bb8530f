"""Temperature control of one chamber: BrewPi's two-stage scheme.

The outer loop is a PID on the beer temperature whose output is the fridge
air setpoint (the beer is slow, the air fast); the inner loop switches the
heater and the compressor to hold the air at that setpoint the way a
fermentation controller does:

- a dead band: the compressor starts only when the air is ``cool_band``
  C above its setpoint and runs until the air is back at the setpoint;
  the heater starts only when the air is ``heat_band`` C below it and
  runs until the air is back at it; in between both rest (idle);
- minimum times: the compressor rests at least ``min_cooler_off`` and
  runs at least ``min_cooler_on`` seconds, the heater runs at least
  ``min_heater_on`` and rests ``min_heater_off``, and after one output
  stops the other may start only ``min_switch`` seconds later, so a
  swing past the setpoint settles before the other side acts;
- never both at once.

The PID integrates only while its output is not clamped (anti-windup).

Modes: ``off`` (outputs off), ``beer`` (hold the beer at a constant
setpoint), ``fridge`` (hold the air at a constant setpoint) and
``profile`` (the beer setpoint follows a temperature profile; the node
computes it and calls `ChamberControl.step` as in ``beer`` mode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MODES = ("off", "beer", "fridge", "profile")


@dataclass
class Tuning:
    """Gains and limits of `ChamberControl` (temperatures in C, times in seconds).

    ``kp`` is C of air offset per C of beer error, ``ki`` per C·s, ``kd``
    per C/s of beer change; the air setpoint stays within ``max_offset``
    of the beer setpoint and within ``[fridge_min, fridge_max]``.
    """

    kp: float = 5.0
    ki: float = 5.0 / 7200.0
    kd: float = -600.0
    max_offset: float = 10.0
    fridge_min: float = -2.0
    fridge_max: float = 40.0
    cool_band: float = 0.5
    beer_band: float = 0.1
    heat_band: float = 0.5
    min_cooler_off: float = 300.0
    min_cooler_on: float = 180.0
    min_heater_on: float = 180.0
    min_heater_off: float = 300.0
    min_switch: float = 1800.0


class ChamberControl:
    """Controller state of one chamber (see the module docstring).

    Parameters
    ----------
    tuning : Tuning, optional
    """

    def __init__(self, tuning: Tuning | None = None):
        self.tuning = tuning or Tuning()
        self.integral = 0.0
        self.last_beer: float | None = None
        self.cooler = self.heater = False
        self.cooler_since = self.heater_since = -math.inf  # when the output last changed, seconds
        self.fridge_set: float | None = None

    def fridge_setpoint(self, beer: float, beer_set: float, dt: float) -> float:
        """Outer loop: the air setpoint that brings the beer (C) to ``beer_set`` (C); ``dt`` seconds since last."""
        t = self.tuning
        error = beer_set - beer
        slope = 0.0 if self.last_beer is None or dt <= 0 else (beer - self.last_beer) / dt
        self.last_beer = beer
        low = max(beer_set - t.max_offset, t.fridge_min)
        high = min(beer_set + t.max_offset, t.fridge_max)
        raw = beer_set + t.kp * error + t.ki * (self.integral + error * dt) + t.kd * slope
        if low < raw < high or (raw >= high and error < 0) or (raw <= low and error > 0):
            self.integral += error * dt
        return min(max(beer_set + t.kp * error + t.ki * self.integral + t.kd * slope, low), high)

    def step(self, now: float, dt: float, mode: str, beer: float | None, fridge: float | None,
             beer_set: float | None, fridge_set: float | None) -> tuple[float | None, bool, bool]:
        """One control step at ``now`` (seconds, the backend's clock), ``dt`` seconds after the last.

        Parameters
        ----------
        mode : str
            One of `MODES`.
        beer, fridge : float or None
            Probe temperatures, C; None when a probe is missing (outputs go off).
        beer_set : float or None
            Beer setpoint, C (modes ``beer`` and ``profile``).
        fridge_set : float or None
            Air setpoint, C (mode ``fridge``).

        Returns
        -------
        (float or None, bool, bool)
            The air setpoint used (None when off), heater on, cooler on.
        """
        target = None
        if mode == "fridge" and fridge_set is not None:
            target = fridge_set
        elif mode in ("beer", "profile") and beer_set is not None and beer is not None:
            target = self.fridge_setpoint(beer, beer_set, dt)
        if target is None or fridge is None:
            self.integral, self.last_beer = 0.0, None
            self._switch(now, False, False, force=True)
        else:
            beer_error = None if mode == "fridge" else beer - beer_set
            self._switch(now, *self._outputs(fridge, target, beer_error))
        self.fridge_set = target
        return target, self.heater, self.cooler

    def _outputs(self, fridge, target, beer_error):
        """Inner loop: (heater, cooler) wanted for air at ``fridge`` C and setpoint ``target`` C (dead band);
        ``beer_error`` (beer minus its setpoint, C; None in fridge mode) must be outside ``beer_band`` to start."""
        t = self.tuning
        if self.cooler:
            return False, fridge > target
        if self.heater:
            return fridge < target, False
        may_heat = beer_error is None or beer_error < -t.beer_band
        may_cool = beer_error is None or beer_error > t.beer_band
        return may_heat and fridge < target - t.heat_band, may_cool and fridge > target + t.cool_band

    def _switch(self, now, heater, cooler, force=False):
        """Apply the outputs within the minimum on, off and switch times (``force``: off now, the off-times kept)."""
        t = self.tuning
        if cooler and not self.cooler and (now - self.cooler_since < t.min_cooler_off
                                           or now - self.heater_since < t.min_switch or self.heater):
            cooler = False
        if not cooler and self.cooler and not force and now - self.cooler_since < t.min_cooler_on:
            cooler = True
        if heater and not self.heater and (now - self.heater_since < t.min_heater_off
                                           or now - self.cooler_since < t.min_switch or self.cooler or cooler):
            heater = False
        if not heater and self.heater and not force and now - self.heater_since < t.min_heater_on:
            heater = True
        if cooler != self.cooler:
            self.cooler, self.cooler_since = cooler, now
        if heater != self.heater:
            self.heater, self.heater_since = heater, now
        if self.cooler and self.heater:  # never both: cooling wins, the heater goes off
            self.heater, self.heater_since = False, now

"""One simulated street lamp: a `DataNode` (served with the others by one `NodeSession`) with a
location, a state and three fields.

Fields (timeline ``lamp``, one sample per simulation step):

==============  ======  ==================================================
field           units   meaning
==============  ======  ==================================================
``power_w``     W       electrical power drawn now
``energy_kwh``  kWh     energy drawn since the meter was installed or reset
``faults``              faults since the lamp was installed
``state``               ``on``, ``off`` or ``fault`` (a string field)
==============  ======  ==================================================

A lamp is lit from dusk to dawn by local solar time (19:00 to 07:00 at its
longitude) unless switched by hand, draws its rated power times its dim
level (with a little noise) when lit and a standby power otherwise, and
fails now and then (reported as a fault event, `sisock.node.faults`, with
a code of `FAULT_CODES`); a failed lamp draws nothing until ``reset``.
Its history is kept in its store (`resume` takes up the meter, the fault
count and a failure from it after a restart of the process).
"""

import math
import time

from sisock.node import DataNode
from sisock.node import faults as fault_events
from sisock.node.commands import command
from sisock.wire import validate
from sisock.wire.errors import InvalidArgument

TIMELINE = "lamp"
FIELDS = {
    "power_w": {"units": "W", "description": "electrical power drawn"},
    "energy_kwh": {"units": "kWh", "description": "energy drawn since the meter was installed or reset"},
    "faults": {"units": None, "description": "faults since the lamp was installed"},
    "state": {"type": "string", "units": None, "description": "on, off or fault"},
}
#: Watts a lamp draws while dark (driver and controller).
STANDBY_W = 0.5
#: Chance per hour of a lamp failing.
FAULTS_PER_HOUR = 0.02
#: The fault codes a lamp of each kind reports.
FAULT_CODES = {"led": ("driver_failure", "led_module_failure"), "sodium": ("lamp_out", "ballast_failure")}
#: Local solar hours during which lamps on the schedule are lit: [DUSK, 24) and [0, DAWN).
DUSK, DAWN = 19.0, 7.0


def solar_hour(t, lon):
    """Local solar hour (0 to 24) at UNIX time ``t`` (s, UTC) and longitude ``lon`` (degrees east)."""
    return (t / 3600.0 + lon / 15.0) % 24.0


class Lamp(DataNode):
    """A simulated street lamp.

    Parameters
    ----------
    name : str
        ``<host authid>.<lamp id>``.
    location : (float, float)
        Degrees north, degrees east.
    tags : dict
        ``street``, ``zone``, ``kind`` (led or sodium).
    rated_w : float
        Power at full level, W.
    interval : float
        Seconds between simulation steps.
    capacity : int
        Samples kept in memory.
    rng : numpy.random.Generator
        Noise and faults.
    store : sisock.store.Store, optional
        Where the lamp keeps its history (e.g. its part of the fleet's
        store file, `sisock.node.run.shared_store_file`); a store of its
        own by default.

    Attributes
    ----------
    recorded_until : float
        UNIX seconds UTC of the last step taken, or (`resume`) of the last
        step or fault event recorded before a restart; -inf before any.
    """

    def __init__(self, name, location, tags, rated_w, interval, capacity, rng, store=None):
        super().__init__(name, f"Street lamp {name.rsplit('.', 1)[-1]} on {tags['street']}: "
                               f"{rated_w:.0f} W {tags['kind']}")
        if store is not None:
            self.store = store
        self.location, self.tags, self.rated_w, self.rng = location, tags, rated_w, rng
        self.level = 100.0
        self.manual = None  # None: dusk-to-dawn schedule; True/False: switched by hand
        self.failed = False
        self.faults = 0
        self.energy_kwh = 0.0
        self.lit_now = False  # as of the last step
        self.recorded_until = -math.inf
        self.declare(TIMELINE, FIELDS, interval=interval, capacity=capacity)
        self.declare_faults()

    def resume(self):
        """Take up the meter, the fault count and a failure from the last recorded step, if any
        (and count the fault events recorded after it).

        Call once the store is open (its history loaded), before stepping.
        """
        latest = self.store.latest()
        if latest:  # after its last step and its last fault event
            self.recorded_until = max(float(block["t"][-1]) for block in latest.values())
        block = latest.get(TIMELINE)
        if block is None:
            return
        last = {f: v[-1] for f, v in block["data"].items()}
        self.energy_kwh = float(last.get("energy_kwh", 0.0))
        after = math.nextafter(float(block["t"][-1]), math.inf)
        later = self.store.get_data([fault_events.CODE], after, math.inf)["data"][fault_events.CODE]
        self.faults = int(last.get("faults", 0)) + len(later)  # and the events after that step
        self.failed = last.get("state") == "fault"

    def lit(self, t):
        """Whether the lamp is switched on at ``t`` (by hand or by the schedule)."""
        if self.manual is not None:
            return self.manual
        hour = solar_hour(t, self.location[1])
        return hour >= DUSK or hour < DAWN

    @property
    def state(self):
        """``"fault"``, ``"on"`` or ``"off"`` as of the last step."""
        return "fault" if self.failed else "on" if self.lit_now else "off"

    def step(self, t, dt):
        """Advance ``dt`` seconds to UNIX time ``t``; the block to record: ``(timeline, [t], {field: [v]})``."""
        self.lit_now = self.lit(t)
        if not self.failed and self.rng.random() < FAULTS_PER_HOUR * dt / 3600.0:
            self._fail(FAULT_CODES[self.tags["kind"]][self.rng.integers(2)], t)
        if self.failed:
            power = 0.0
        elif self.lit_now:
            power = self.rated_w * self.level / 100.0 * (1.0 + 0.02 * self.rng.standard_normal())
        else:
            power = STANDBY_W
        self.energy_kwh += power * dt / 3.6e6
        self.recorded_until = t
        return TIMELINE, [t], {"power_w": [power], "energy_kwh": [self.energy_kwh], "faults": [self.faults],
                               "state": [self.state]}

    def _fail(self, code, t):
        """The lamp fails at ``t``: counted, and reported as a fault event."""
        self.failed, self.faults = True, self.faults + 1
        self.report_fault(code, f"{code.replace('_', ' ')} on {self.tags['street']} while "
                                f"{'lit' if self.lit_now else 'dark'}; dark until reset", t)

    # -- commands ------------------------------------------------------------
    @command
    def fail(self, code: str = "driver_failure"):
        """Make the lamp fail now, as in a drill: it goes dark and reports a fault event.

        Parameters
        ----------
        code : str
            The kind of fault to report.
        """
        if self.failed:
            raise InvalidArgument(f"{self.name} has failed already; 'reset' it first")
        self._fail(code, time.time())
        return self.status()

    @command
    def dim(self, level: float):
        """Set the light level.

        Parameters
        ----------
        level : float
            Percent of rated power, 0 to 100.
        """
        if not validate.is_number(level) or not 0 <= level <= 100:
            raise InvalidArgument(f"level must be a number of percent from 0 to 100, got {level!r:.40}")
        self.level = float(level)
        return self.status()

    @command
    def switch(self, on: bool = None):
        """Switch the lamp by hand, or back to the dusk-to-dawn schedule.

        Parameters
        ----------
        on : bool
            True on, False off, None (or left out) back to the schedule.
        """
        if on is not None and not isinstance(on, bool):
            raise InvalidArgument(f"on must be true, false or null, got {on!r:.40}")
        self.manual = on
        return self.status()

    @command
    def reset(self, meter: bool = False):
        """Repair a failed lamp (the fault count stays).

        Parameters
        ----------
        meter : bool
            Also start the energy meter again from zero, as when it is exchanged.
        """
        if not isinstance(meter, bool):
            raise InvalidArgument(f"meter must be true or false, got {meter!r:.40}")
        self.failed = False
        if meter:
            self.energy_kwh = 0.0
        return self.status()

    @command
    def status(self):
        """The lamp's state now, level, mode, power rating and fault count."""
        self.lit_now = self.lit(time.time())
        return {"state": self.state, "level": self.level, "mode": "schedule" if self.manual is None else "manual",
                "rated_w": self.rated_w, "faults": self.faults}

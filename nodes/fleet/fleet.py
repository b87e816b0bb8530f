"""The fleet: N simulated street lamps on a street grid, served by one `sisock.node.session.NodeSession`.

Lamps are named ``<authid>.lamp0001`` ... and laid out on a square grid of
streets around a centre, ``spacing`` metres apart: row ``r`` is street
``street-<r+1>``, the northern half of the rows is zone ``north``, the
rest ``south``; about one lamp in five is an older sodium lamp (150 W),
the rest LED (40 to 80 W). The layout depends only on the options, so
tests can compute where each lamp is.

One Twisted `LoopingCall` steps every lamp each ``interval`` seconds and
records one block per lamp (kept in memory and in the process's one store
file, `sisock.node.run.shared_store_file`; published on ``consumer.<lamp>.data``).
"""

import math
import time

import numpy as np
from twisted.internet import task

#: Metres per degree of latitude.
M_PER_DEG = 111_320.0


def grid_location(index, count, center, spacing):
    """``(lat, lon)`` in degrees of lamp ``index`` (0-based) of ``count`` around ``center``.

    Parameters
    ----------
    index, count : int
    center : (float, float)
        Degrees north, degrees east.
    spacing : float
        Metres between neighbouring lamps and between streets.

    Returns
    -------
    (float, float), int
        The location and the row (street) index.
    """
    side = math.ceil(math.sqrt(count))
    row, col = divmod(index, side)
    lat0, lon0 = center
    lat = lat0 + (side / 2 - row - 0.5) * spacing / M_PER_DEG
    lon = lon0 + (col - side / 2 + 0.5) * spacing / (M_PER_DEG * math.cos(math.radians(lat0)))
    return (round(lat, 7), round(lon, 7)), row


def build_lamps(count, authid, center, spacing, interval, history, seed=0, store_of=None):
    """The fleet's lamps (see the module docstring).

    Parameters
    ----------
    count : int
        Number of lamps.
    authid : str
        Prefix of every name (the host session's authid).
    center : (float, float)
        Degrees north, east.
    spacing : float
        Metres.
    interval : float
        Seconds between simulation steps.
    history : float
        Seconds of samples each lamp keeps in memory.
    seed : int
        Seed of the random layout of kinds, ratings, noise and faults.
    store_of : callable, optional
        ``store_of(lamp name)``: the lamp's store, e.g. its part of the
        fleet's one store file (`sisock.node.run.shared_store_file`); each
        lamp a store of its own if None.

    Returns
    -------
    list of nodes.fleet.lamp.Lamp
    """
    from nodes.fleet.lamp import Lamp

    rng = np.random.default_rng(seed)
    side = math.ceil(math.sqrt(count))
    capacity = max(2, int(history / interval) + 1)
    lamps = []
    for i in range(count):
        location, row = grid_location(i, count, center, spacing)
        sodium = rng.random() < 0.2
        tags = {"street": f"street-{row + 1:02d}", "zone": "north" if row < side / 2 else "south",
                "kind": "sodium" if sodium else "led"}
        rated = 150.0 if sodium else float(rng.choice([40, 60, 80]))
        name = f"{authid}.lamp{i + 1:04d}"
        store = None if store_of is None else store_of(name)
        lamps.append(Lamp(name, location, tags, rated, interval, capacity, rng, store))
    return lamps


class Simulation:
    """Steps every lamp each ``interval`` seconds and records the blocks.

    Parameters
    ----------
    lamps : list of Lamp
    interval : float
        Seconds.
    """

    def __init__(self, lamps, interval):
        self.lamps, self.interval = lamps, interval
        self.loop = task.LoopingCall(self.tick)

    def start(self):
        """Start stepping (from the running reactor)."""
        self.loop.start(self.interval, now=True)

    def backfill(self, seconds):
        """Simulate the ``seconds`` before now at once (before serving), so a fresh fleet has a history.

        One step per ``interval``, recorded as if it had run then; lamps
        keep what fits their memory (``--history``), and the rest in their
        store. A lamp with a recorded history (a restarted process) is
        simulated only after its last recorded step.
        """
        now = time.time()
        for k in range(int(seconds // self.interval), 0, -1):
            t = now - k * self.interval
            for lamp in self.lamps:
                if t > lamp.recorded_until:
                    lamp.record(*lamp.step(t, self.interval))

    def tick(self):
        """One step of every lamp, recorded and published."""
        t = time.time()
        for lamp in self.lamps:
            lamp.record(*lamp.step(t, self.interval))

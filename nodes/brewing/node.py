"""The brewing IO node: fermentation chambers under control, with profiles, alarms, settings and logs.

Each chamber of the IO configuration is read and driven through a backend
(`nodes.brewing.thermal`; chambers on a ``simulated`` controller get a
`SimulatedChamber`, others read nothing until a backend for their kind is
plugged in), controlled by a `nodes.brewing.control.ChamberControl`, and
recorded every ``--interval`` seconds on its own timeline (the chamber's
name), fields ``<chamber>.beer``, ``.beerSet``, ``.fridge``,
``.fridgeSet``, ``.room`` (C), ``.heater``, ``.cooler`` (bool), ``.mode``
(text) and ``.profile`` (C, the chamber's profile now). Log lines are
recorded on the ``logs`` timeline (text fields ``source``, ``level``,
``code``, ``msg``). ``--speed`` runs the simulated physics that many times
faster than real time; records keep real UNIX times.

The procedures and topics besides the standard ones are in
`nodes.brewing.api`.
"""

from __future__ import annotations

import math
import os
import time

from twisted.internet import defer, task, threads

from nodes.brewing import schema
from nodes.brewing.alarmapi import AlarmApi
from nodes.brewing.alarms import AlarmBook, conditions, off_target
from nodes.brewing.api import BrewingApi
from nodes.brewing.control import ChamberControl
from nodes.brewing.statedb import StateDb
from nodes.brewing.thermal import MAX_STEP, SimulatedChamber
from sisock import config
from sisock.node import DataNodeServer
from sisock.node.failures import RepeatedFailure, log_failure
from sisock.node.run import store_options

LOG_FIELDS = {name: {"type": "string", "units": None, "description": text} for name, text in (
    ("source", "who wrote the line"), ("level", "debug, info, warning or error"),
    ("code", "short machine-readable code"), ("msg", "the line"))}
CHAMBER_FIELDS = {"beer": ("C", "beer temperature"), "beerSet": ("C", "beer setpoint"),
                  "fridge": ("C", "fridge air temperature"), "fridgeSet": ("C", "fridge air setpoint"),
                  "room": ("C", "room temperature"), "heater": (None, "heater on"), "cooler": (None, "compressor on"),
                  "mode": (None, "control mode"), "profile": ("C", "temperature of the chamber's profile now")}
KINDS = {"heater": "bool", "cooler": "bool", "mode": "string"}
#: The IO configuration of a first start: one simulated fermentation chamber with every device.
FIRST_CHAMBER = {"name": "fermenter", "mode": "beer", "beer_set": 18.0}


class BrewingNode(BrewingApi, AlarmApi, DataNodeServer):
    """Control fermentation chambers (simulated by default) and record them, with alarms and logs."""

    name = "brewing"
    description = "Brewing IO: fermentation chambers with temperature control, profiles, alarms and logs"

    def __init__(self, config=None):
        super().__init__(config)
        args = (self.config.extra or {}).get("args")
        self.interval = getattr(args, "interval", 1.0)
        self.speed = getattr(args, "speed", 1.0)
        path = store_options(args)["path"].removesuffix(".sqlite") + "-state.sqlite" if args else ":memory:"
        if args:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self.db = StateDb(path)
        self.alarms = AlarmBook(self.db)
        self.backends, self.controls, self.off_target, self.state = {}, {}, {}, {}
        self._log_t = 0.0
        self._recording_failed = RepeatedFailure(self.log, "brewing: recording")
        if not self.db.records["controller"]:
            self._first_start()
        self.declare("logs", LOG_FIELDS, interval=None, capacity=10000)
        for chamber in self.db.records["chamber"].values():
            self._declare_chamber(chamber["name"])

    def _first_start(self):
        controller = self.db.create("controller", {"name": "sim", "kind": "simulated"})
        chamber = self.db.create("chamber", dict(FIRST_CHAMBER, controller=controller["id"]))
        for slot, function in enumerate(schema.FUNCTIONS):
            self.db.create("device", {"chamber": chamber["id"], "slot": slot, "hardware": "simulated",
                                      "function": function})

    def _declare_chamber(self, name):
        fields = {f"{name}.{f}": {"type": KINDS.get(f, "number"), "units": units, "description": text}
                  for f, (units, text) in CHAMBER_FIELDS.items()}
        self.declare(name, fields, interval=self.interval, capacity=max(2, int(86400 / self.interval)))

    def start(self):
        """Run the control loop every ``--interval`` seconds for the life of the process."""
        self.loop = task.LoopingCall(self.tick)
        self.loop.start(self.interval, now=True).addErrback(log_failure, self.log, "brewing: the control loop")

    # -- the control loop ------------------------------------------------------
    def backend(self, cid, chamber):
        """The backend of chamber ``cid``: a `SimulatedChamber` on a simulated controller, else None."""
        kind = self.db.records["controller"][chamber["controller"]]["kind"]
        if cid not in self.backends and kind == "simulated":
            self.backends[cid] = SimulatedChamber(min_cooler_off=ChamberControl().tuning.min_cooler_off)
        return self.backends.get(cid) if kind == "simulated" else None

    def devices(self, cid):
        """``{function: device}`` of chamber ``cid``."""
        return {d["function"]: d for d in self.db.records["device"].values() if d["chamber"] == cid}

    def beer_setpoint(self, chamber, t):
        """``(beer setpoint, profile temperature)`` of ``chamber`` at ``t`` (UNIX s), C or None."""
        profile = self.db.records["profile"].get(chamber["profile"])
        at = schema.profile_temperature(profile, t, chamber["profile_start"]) if profile else None
        if chamber["mode"] == "profile":
            return at, at
        return (chamber["beer_set"] if chamber["mode"] == "beer" else None), at

    def step_chamber(self, cid, chamber, t):
        """Advance chamber ``cid`` one interval; ``(block, probes, level, beer_set)`` for recording and alarms."""
        devices, backend = self.devices(cid), self.backend(cid, chamber)
        control = self.controls.setdefault(cid, ChamberControl())
        beer_set, profile_at = self.beer_setpoint(chamber, t)
        steps = math.ceil(self.interval * self.speed / MAX_STEP) if backend else 1
        dt = self.interval * self.speed / steps
        for _ in range(steps):
            probes = _probes(backend, devices)
            fridge_set, heater, cooler = control.step(
                backend.now if backend else t, dt, chamber["mode"], probes.get("beer"), probes.get("fridge"),
                beer_set, chamber["fridge_set"])
            heater, cooler = heater and "heater" in devices, cooler and "cooler" in devices
            if backend is not None:
                backend.drive(heater, cooler)
                backend.advance(dt)
        probes = _probes(backend, devices)
        level = backend.level_high if backend and "level_switch" in devices else None
        self.state[cid] = {"chamber": chamber["name"], "mode": chamber["mode"], "beer_set": beer_set,
                           "fridge_set": fridge_set, "heater": heater, "cooler": cooler, "profile": profile_at,
                           "level_high": level, **probes}
        data = {"beer": probes.get("beer"), "beerSet": beer_set, "fridge": probes.get("fridge"),
                "fridgeSet": fridge_set, "room": probes.get("room"), "heater": heater, "cooler": cooler,
                "mode": chamber["mode"], "profile": profile_at}
        block = (chamber["name"], [t], {f"{chamber['name']}.{f}": [v] for f, v in data.items()})
        return block, probes, level, beer_set

    def tick(self):
        """One control step of every chamber: record it, then update its alarms (in a thread)."""
        t = time.time()
        found = {}
        for cid, chamber in list(self.db.records["chamber"].items()):
            block, probes, level, beer_set = self.step_chamber(cid, chamber, t)
            if self.store.timeline_of(f"{chamber['name']}.beer") is None:
                self._declare_chamber(chamber["name"])
            self.record(*block).addErrback(self._recording_failed)
            tolerance = self.db.setting("alarm_setpoint_tolerance")
            self.off_target[cid] = off_target(self.off_target.get(cid, (None, t)), probes.get("beer"), beer_set,
                                              tolerance, t)
            found[chamber["name"]] = conditions(probes, level, beer_set, t - self.off_target[cid][1],
                                                self.db.setting)
        d = threads.deferToThread(self._update_alarms, found, t)
        return d.addCallback(self._alarms_changed)

    def _update_alarms(self, found, t):
        """Raise and clear the alarms of ``found`` (`conditions` per chamber name), and clear those of
        chambers deleted since (in a thread); ``[(event, alarm)]``."""
        with self.db.lock:
            names = {c["name"] for c in self.db.records["chamber"].values()}
            changes = [c for name, f in found.items() if name in names for c in self.alarms.update(name, f, t)]
            return changes + self.alarms.clear_gone(names, t)

    def _alarms_changed(self, changes):
        return defer.gatherResults([self.publish_alarm(event, alarm) for event, alarm in changes])

    # -- channels ----------------------------------------------------------------
    def publish_alarm(self, event, alarm):
        """Publish ``{event, alarm}`` on ``consumer.brewing.alarms`` and write a log line of it (`log_line`)."""
        self.publish_on("alarms", {"event": event, "alarm": alarm})
        level = "warning" if event == "raised" else "info"
        who = f" by {alarm['acked_by']}" if event == "acked" else ""
        return self.log_line("alarms", level, alarm["code"], f"alarm {alarm['id']} {event}{who}: {alarm['message']}")

    def log_line(self, source, level, code, msg, publish=True):
        """Record a log line ``{t, source, level, code, msg}`` on the ``logs`` timeline and publish it
        on ``consumer.brewing.logs`` (t in UNIX seconds UTC, strictly after the previous line's).

        Returns
        -------
        Deferred
            Fires with the line once it is committed to the store file (it
            then survives ``kill -9``); a failed write is logged, and fires
            it too.
        """
        t = self._log_t = max(time.time(), self._log_t + 1e-6)
        line = {"t": t, "source": source, "level": level, "code": code, "msg": msg}
        d = self.record("logs", [t], {k: [line[k]] for k in LOG_FIELDS})
        d.addErrback(log_failure, self.log, "brewing: recording a log line")
        if publish:
            self.publish_on("logs", line)
        return d.addCallback(lambda _: line)

    def publish_on(self, channel, event):
        """Publish ``event`` on ``consumer.<name>.<channel>`` if joined."""
        if self.is_attached():
            self.publish(self.topic(channel), event)

    def after_onJoin(self, details):
        """Follow the HTTP-published logs and alarms (after every join)."""
        return self.subscribe_http()


def _probes(backend, devices):
    """``{"beer"|"fridge"|"room": C or None}`` of the probes among ``devices``, read from ``backend``."""
    read = backend.read() if backend is not None else None
    return {name: getattr(read, name, None) for name in ("beer", "fridge", "room") if f"{name}_probe" in devices}


def add_arguments(parser):
    """The brewing node's own options: ``--interval`` (seconds) and ``--speed`` (simulated s per s)."""
    parser.add_argument("--interval", type=config.positive_number, default=1.0,
                        help="seconds between control steps and recorded samples (default %(default)s)")
    parser.add_argument("--speed", type=config.positive_number, default=1.0,
                        help="simulated seconds per real second of the simulated chambers (default %(default)s)")

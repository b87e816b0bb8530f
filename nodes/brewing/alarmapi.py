"""Alarm procedures, the simulation's procedure and what the router's HTTP bridge publishes (mixed into `BrewingNode`).

See `nodes.brewing.api` for the whole list of procedures and topics.
"""

from __future__ import annotations

import time

from autobahn.wamp.types import SubscribeOptions
from twisted.internet import defer, threads

from nodes.brewing.api import CHANGERS, change, who
from sisock.node.commands import command
from sisock.node.procedures import procedure
from sisock.wire.errors import InvalidArgument

#: Role of the router's HTTP bridge session (``sisock/router/config.json``).
HTTP_ROLE = "http_publisher"
LEVELS = ("debug", "info", "warning", "error")


class AlarmApi:
    """Alarm and simulation procedures and HTTP-published input of `nodes.brewing.node.BrewingNode`."""

    @defer.inlineCallbacks
    def _alarm_change(self, func, *args):
        changed = yield threads.deferToThread(func, *args)
        yield defer.gatherResults([self.publish_alarm("acked", alarm)
                                   for alarm in (changed if isinstance(changed, list) else [changed])])
        return changed

    @procedure(name="alarms.ack", roles=(*CHANGERS, "hub"))
    @command(name="alarms.ack")
    def alarms_ack(self, id: int, by: str = None, details=None):  # noqa: A002
        """Acknowledge an alarm, as by the caller (its authid is kept as ``acked_by``).

        Parameters
        ----------
        id : int
            The alarm's id.
        by : str
            Only from the hub (its alert service acknowledging for a person, `sisock.alerts`):
            that person's authid; ignored from anyone else.
        details : autobahn.wamp.types.CallDetails
            The call's details (the caller), from the node's session; None when called from Python.
        """
        person = by if getattr(details, "caller_authrole", None) == "hub" and isinstance(by, str) and by else None
        return self._alarm_change(self.alarms.ack, id, person or who(details), time.time())

    @change("alarms.ack_all")
    def alarms_ack_all(self, details=None):
        """Acknowledge every active alarm not acknowledged yet, as by the caller.

        Parameters
        ----------
        details : autobahn.wamp.types.CallDetails
            The call's details (the caller), from the node's session; None when called from Python.
        """
        by, t = who(details), time.time()

        def ack_all():
            return [self.alarms.ack(a["id"], by, t) for a in self.alarms.active() if a["acked"] is None]

        return self._alarm_change(ack_all)

    @change("alarms.simulate")
    @defer.inlineCallbacks
    def alarms_simulate(self, chamber: str = None, code: str = "test", severity: str = "minor",
                        message: str = "test alarm raised by hand"):
        """Raise a test alarm (it clears when acknowledged).

        Parameters
        ----------
        chamber : str
            Chamber name, or none.
        code : str
            Short code.
        severity : str
            info, minor, major or critical.
        message : str
            What it says.
        """
        alarm = yield threads.deferToThread(self.alarms.raise_alarm, chamber, code, severity, message, time.time())
        yield self.publish_alarm("raised", alarm)
        return alarm

    @change("sim.set")
    def sim_set(self, chamber, beer: float = None, fridge: float = None, room: float = None,
                level_high: bool = None, probes_connected: bool = None):
        """Change the simulation of a chamber on a simulated controller (to try alarms).

        Parameters
        ----------
        chamber : str or int
            Chamber name or id.
        beer, fridge, room : float
            Temperatures to jump to, C.
        level_high : bool
            The level switch.
        probes_connected : bool
            False disconnects the probes.
        """
        cid = self.chamber_id(chamber)
        backend = self.backend(cid, self.db.records["chamber"][cid])
        if backend is None:
            raise InvalidArgument(f"chamber: {chamber!r} is not on a simulated controller")
        changes = {"beer": beer, "fridge": fridge, "room": room, "level_high": level_high,
                   "probes_connected": probes_connected}
        for key, value in changes.items():
            kind = bool if key in ("level_high", "probes_connected") else (int, float)
            if value is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))):
                raise InvalidArgument(f"{key} must be {'true or false' if kind is bool else 'a number'}, "
                                      f"got {value!r:.40}")
        for key, value in changes.items():
            if value is not None:
                setattr(backend, key, value)
        return {k: getattr(backend, k) for k in changes}

    # -- what the router's HTTP bridge publishes --------------------------------
    def subscribe_http(self):
        """Follow the HTTP-published log lines and alarms on the node's channels."""
        options = SubscribeOptions(details_arg="details")
        return defer.gatherResults([self.subscribe(self.on_http_log, self.topic("logs"), options),
                                    self.subscribe(self.on_http_alarm, self.topic("alarms"), options)])

    def on_http_log(self, line=None, details=None):
        """Keep a log line ``{msg, source="http", level="info", code=""}`` that the HTTP bridge published."""
        if getattr(details, "publisher_authrole", None) != HTTP_ROLE:
            return
        line = line if isinstance(line, dict) else {}
        source, level, code, msg = (line.get("source", "http"), line.get("level", "info"), line.get("code", ""),
                                    line.get("msg"))
        if level not in LEVELS or not all(isinstance(x, str) and len(x) <= 1000 for x in (source, code, msg)):
            self.log.warn("brewing: ignored an HTTP log line that is not {{msg, source, level, code}}: {line!r:.200}",
                          line=line)
            return
        self.log_line(source, level, code, msg, publish=False)

    def on_http_alarm(self, event=None, details=None):
        """Raise the alarm ``{event: "raise", chamber, code, severity, message}`` that the HTTP bridge published."""
        if getattr(details, "publisher_authrole", None) != HTTP_ROLE or not isinstance(event, dict) \
                or event.get("event") != "raise":
            return None
        d = threads.deferToThread(self.alarms.raise_alarm, event.get("chamber"), event.get("code", "http"),
                                  event.get("severity", "major"), event.get("message"), time.time())
        d.addCallbacks(lambda alarm: self.publish_alarm("raised", alarm),
                       lambda f: self.log.warn("brewing: ignored an HTTP alarm: {why}", why=f.getErrorMessage()))
        return d

"""The brewing node's procedures and channels beyond the standard ones (mixed into `BrewingNode`).

Reads, open to every consumer (``consumer.brewing.<name>``)::

    io.list(kind=None)        controllers, chambers, devices
    io.get(kind, id)
    profiles.list() / profiles.get(id)
    settings.get(key=None)    one value, or all with defaults
    control.status()          every chamber now
    alarms.active()
    alarms.history(start, end)
    logs.history(start, end)

Changes, procedures that only admins and operators may call (others get
``error.not_authorized``): ``io.create(kind, record)``, ``io.update(kind,
id, changes)``, ``io.delete(kind, id)``, ``profiles.create|update|delete``,
``settings.set(key, value)``, ``settings.delete(key)``,
``control.setpoint(chamber, temperature, target="beer")``,
``control.mode(chamber, mode, profile=None, start=None)``,
``alarms.ack(id)``, ``alarms.ack_all()``, ``alarms.simulate(...)`` and
``sim.set(chamber, ...)``. Who made a change (logged, and kept as an
alarm's ``acked_by``) is the caller's authid, which the router discloses.
The same changes are commands (``sisock call brewing control.setpoint
chamber=fermenter temperature=19``), which ``get_api`` lists. The hub may
call ``alarms.ack(id, by=AUTHID)`` too: its alert service (`sisock.alerts`)
acknowledging an alarm for the person ``by`` who acknowledged its alert.

Topics: ``consumer.brewing.io``, ``.profiles`` and ``.settings`` carry
``{event: created|updated|deleted, kind, id, record}`` (settings: ``key``
and ``value``); ``.alarms`` carries ``{event: raised|cleared|acked, alarm}``;
``.logs`` carries ``{t, source, level, code, msg}``. The router's HTTP
bridge may publish on ``.logs`` (a line, kept like the node's own) and on
``.alarms`` (``{event: "raise", chamber, code, severity, message}``, which
the node raises as an alarm).
"""

from __future__ import annotations

import time

from twisted.internet import defer, threads

from nodes.brewing.statedb import DEFAULT_SETTINGS
from sisock.node.commands import command
from sisock.node.procedures import procedure
from sisock.wire import uri, validate
from sisock.wire.errors import InvalidArgument

IO_KINDS = ("controller", "chamber", "device")
#: The caller roles that may change the brewery: admins and operators (settings, setpoints, modes, acks).
CHANGERS = ("admin", "operator")


def change(name):
    """Mark a method as the procedure ``consumer.brewing.<name>`` for `CHANGERS` and the command ``<name>``."""

    def mark(func):
        return procedure(name=name, roles=CHANGERS)(command(name=name)(func))

    return mark


def who(details):
    """The authid of the caller of a change, which the router discloses to procedures and commands
    alike; a change made from Python in the node itself (no details) is recorded as an admin's."""
    return getattr(details, "caller_authid", None) or "admin"


class BrewingApi:
    """Procedures and commands of `nodes.brewing.node.BrewingNode` (alarms: `nodes.brewing.alarmapi`)."""

    def topic(self, channel):
        """``consumer.<name>.<channel>``."""
        return uri.node_uri(self.name, channel)

    # -- reads -------------------------------------------------------------------
    @procedure(name="io.list")
    def io_list(self, kind=None):
        """Records of ``kind`` (controller, chamber or device), or ``{kind: [...]}`` of all three."""
        if kind is None:
            return {k: self.db.listing(k) for k in IO_KINDS}
        return self.db.listing(_io_kind(kind))

    @procedure(name="io.get")
    def io_get(self, kind, id):  # noqa: A002 (the wire name)
        """One record of ``kind`` with its ``id``."""
        return dict(self.db.get(_io_kind(kind), id), id=id)

    @procedure(name="profiles.list")
    def profiles_list(self):
        """Every temperature profile."""
        return self.db.listing("profile")

    @procedure(name="profiles.get")
    def profiles_get(self, id):  # noqa: A002
        """One temperature profile."""
        return dict(self.db.get("profile", id), id=id)

    @procedure(name="settings.get")
    def settings_get(self, key=None):
        """The value of ``key`` (default included), or ``{key: value}`` of all."""
        if key is None:
            return {k: self.db.setting(k) for k in {**DEFAULT_SETTINGS, **self.db.settings}}
        return self.db.setting(key)

    @procedure(name="control.status")
    def control_status(self):
        """``{chamber name: {mode, beer, beer_set, fridge, fridge_set, room, heater, cooler, profile, ...}}`` now."""
        return {s["chamber"]: dict(s, id=cid) for cid, s in self.state.items() if cid in self.db.records["chamber"]}

    @procedure(name="alarms.active")
    def alarms_active(self):
        """Alarms not both cleared and acknowledged (see `nodes.brewing.alarms`)."""
        return threads.deferToThread(self.alarms.active)

    @procedure(name="alarms.history")
    def alarms_history(self, start, end):
        """Alarms raised or open in ``[start, end)`` (sisock times)."""
        start, end = validate.time_range(start, end)
        return threads.deferToThread(self.alarms.history, start, end)

    @procedure(name="logs.history")
    def logs_history(self, start, end):
        """Log lines ``[{t, source, level, code, msg}]`` of ``[start, end)`` (sisock times), oldest first."""
        start, end = validate.time_range(start, end)
        fields = ["source", "level", "code", "msg"]

        def read():
            got = self.store.get_data(fields, start, end)
            t = got["timeline"].get("logs", {}).get("t", [])
            return [dict({f: got["data"][f][i] for f in fields}, t=float(t[i])) for i in range(len(t))]

        return threads.deferToThread(read)

    # -- changes ---------------------------------------------------------------
    @defer.inlineCallbacks
    def _change(self, details, event, kind, func, *args):
        """Run ``func(*args)`` of the state file in a thread, then publish ``event`` and log it as by the caller."""
        record = yield threads.deferToThread(func, *args)
        channel = "io" if kind in IO_KINDS else "profiles"
        self.publish_on(channel, {"event": event, "kind": kind, "id": record["id"], "record": record})
        yield self.log_line("config", "info", f"{kind}_{event}", f"{kind} {record['id']} {event} by {who(details)}")
        return record

    @change("io.create")
    def io_create(self, kind: str, record: dict, details=None):
        """Create a controller, chamber or device.

        Parameters
        ----------
        kind : str
            controller, chamber or device.
        record : dict
            Its keys (see ``get_api`` of the node's README section).
        details : autobahn.wamp.types.CallDetails
            The call's details (the caller), from the node's session; None when called from Python.
        """
        return self._change(details, "created", _io_kind(kind), self.db.create, _io_kind(kind), record)

    @change("io.update")
    def io_update(self, kind: str, id: int, changes: dict, details=None):  # noqa: A002
        """Change keys of a controller, chamber or device.

        Parameters
        ----------
        kind : str
            controller, chamber or device.
        id : int
            Its id.
        changes : dict
            The keys to change.
        details : autobahn.wamp.types.CallDetails
            The call's details (the caller), from the node's session; None when called from Python.
        """
        return self._change(details, "updated", _io_kind(kind), self.db.update, _io_kind(kind), id, changes)

    @change("io.delete")
    def io_delete(self, kind: str, id: int, details=None):  # noqa: A002
        """Delete a controller, chamber or device that nothing refers to.

        Parameters
        ----------
        kind : str
            controller, chamber or device.
        id : int
            Its id.
        details : autobahn.wamp.types.CallDetails
            The call's details (the caller), from the node's session; None when called from Python.
        """
        return self._change(details, "deleted", _io_kind(kind), self.db.delete, _io_kind(kind), id)

    @change("profiles.create")
    def profiles_create(self, record: dict, details=None):
        """Create a temperature profile ``{name, points: [{days|time, temperature}, ...]}``.

        Parameters
        ----------
        record : dict
            The profile; points strictly increasing.
        details : autobahn.wamp.types.CallDetails
            The call's details (the caller), from the node's session; None when called from Python.
        """
        return self._change(details, "created", "profile", self.db.create, "profile", record)

    @change("profiles.update")
    def profiles_update(self, id: int, changes: dict, details=None):  # noqa: A002
        """Change a temperature profile.

        Parameters
        ----------
        id : int
            Its id.
        changes : dict
            ``name`` and/or ``points``.
        details : autobahn.wamp.types.CallDetails
            The call's details (the caller), from the node's session; None when called from Python.
        """
        return self._change(details, "updated", "profile", self.db.update, "profile", id, changes)

    @change("profiles.delete")
    def profiles_delete(self, id: int, details=None):  # noqa: A002
        """Delete a temperature profile no chamber uses.

        Parameters
        ----------
        id : int
            Its id.
        details : autobahn.wamp.types.CallDetails
            The call's details (the caller), from the node's session; None when called from Python.
        """
        return self._change(details, "deleted", "profile", self.db.delete, "profile", id)

    @change("settings.set")
    @defer.inlineCallbacks
    def settings_set(self, key: str, value=None):
        """Set an app setting.

        Parameters
        ----------
        key : str
            The setting (setpoint_min, setpoint_max, alarm_beer_high, ... or your own).
        value : object
            Any JSON value; a number for the node's own settings.
        """
        yield threads.deferToThread(self.db.set_setting, key, value)
        self.publish_on("settings", {"event": "updated", "kind": "setting", "key": key, "value": value})
        return value

    @change("settings.delete")
    @defer.inlineCallbacks
    def settings_delete(self, key: str):
        """Delete an app setting (a setting of the node's own goes back to its default).

        Parameters
        ----------
        key : str
            The setting.
        """
        yield threads.deferToThread(self.db.delete_setting, key)
        self.publish_on("settings", {"event": "deleted", "kind": "setting", "key": key,
                                     "value": self.db.setting(key)})

    @change("control.setpoint")
    def control_setpoint(self, chamber, temperature: float, target: str = "beer", details=None):
        """Set the beer or fridge setpoint of a chamber (within setpoint_min..setpoint_max).

        Parameters
        ----------
        chamber : str or int
            Chamber name or id.
        temperature : float
            Degrees Celsius.
        target : str
            beer or fridge.
        details : autobahn.wamp.types.CallDetails
            The call's details (the caller), from the node's session; None when called from Python.
        """
        key = {"beer": "beer_set", "fridge": "fridge_set"}.get(target)
        if key is None:
            raise InvalidArgument(f"target must be beer or fridge, got {target!r:.40}")
        return self.io_update("chamber", self.chamber_id(chamber), {key: temperature}, details)

    @change("control.mode")
    def control_mode(self, chamber, mode: str, profile=None, start: float = None, details=None):
        """Set the control mode of a chamber: off, beer, fridge or profile.

        Parameters
        ----------
        chamber : str or int
            Chamber name or id.
        mode : str
            off, beer (constant beer setpoint), fridge (constant fridge setpoint) or profile.
        profile : str or int
            For profile mode: the profile's name or id.
        start : float
            For profile mode: when day 0 of the profile is (sisock time; now by default).
        details : autobahn.wamp.types.CallDetails
            The call's details (the caller), from the node's session; None when called from Python.
        """
        changes = {"mode": mode}
        if profile is not None:
            pid = self.db.find("profile", profile) if isinstance(profile, str) else profile
            changes["profile"] = self.db.get("profile", pid) and pid
        if mode == "profile":
            changes["profile_start"] = validate.time_arg("start", start) if start is not None else time.time()
        return self.io_update("chamber", self.chamber_id(chamber), changes, details)

    def chamber_id(self, chamber):
        """The id of ``chamber`` (a name or an id). Raises `InvalidArgument` if there is none."""
        cid = self.db.find("chamber", chamber) if isinstance(chamber, str) else chamber
        names = ", ".join(c["name"] for c in self.db.records["chamber"].values()) or "none"
        if cid not in self.db.records["chamber"] or isinstance(cid, bool):
            raise InvalidArgument(f"chamber: no chamber {chamber!r:.40}; chambers are: {names}")
        return cid


def _io_kind(kind):
    if kind not in IO_KINDS:
        raise InvalidArgument(f"kind must be one of {', '.join(IO_KINDS)}, got {kind!r:.40}")
    return kind



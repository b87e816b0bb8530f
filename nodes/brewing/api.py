"""The brewing node's procedures and channels beyond the standard ones (mixed into `BrewingNode`).

Reads are procedures of their own, open to every consumer::

    consumer.brewing.io.list(kind=None)        controllers, chambers, devices
    consumer.brewing.io.get(kind, id)
    consumer.brewing.profiles.list() / profiles.get(id)
    consumer.brewing.settings.get(key=None)    one value, or all with defaults
    consumer.brewing.control.status()          every chamber now
    consumer.brewing.alarms.active()
    consumer.brewing.alarms.history(start, end)
    consumer.brewing.logs.history(start, end)

Changes are commands, ``consumer.brewing.command(name, ...)``, which the
router lets only admins call: ``io.create(kind, record)``,
``io.update(kind, id, changes)``, ``io.delete(kind, id)``,
``profiles.create|update|delete``, ``settings.set(key, value)``,
``settings.delete(key)``, ``control.setpoint(chamber, temperature,
target="beer")``, ``control.mode(chamber, mode, profile=None,
start=None)``, ``alarms.ack(id, by=None)``, ``alarms.ack_all(by=None)``,
``alarms.simulate(...)`` and ``sim.set(chamber, ...)``. ``get_api`` lists them.

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
from sisock.wire import uri, validate
from sisock.wire.errors import InvalidArgument

IO_KINDS = ("controller", "chamber", "device")
READS = ("io.list", "io.get", "profiles.list", "profiles.get", "settings.get", "control.status",
         "alarms.active", "alarms.history", "logs.history")


class BrewingApi:
    """Procedures and commands of `nodes.brewing.node.BrewingNode` (alarms: `nodes.brewing.alarmapi`)."""

    def topic(self, channel):
        """``consumer.<name>.<channel>``."""
        return uri.node_uri(self.name, channel)

    def register_api(self):
        """Register the read procedures (exact registrations win over the node's prefix one)."""
        return defer.gatherResults([self.register(getattr(self, name.replace(".", "_")), self.topic(name))
                                    for name in READS])

    def run_command(self, *args, details=None, **kwargs):
        """``consumer.brewing.command``, remembering the caller for the handler (`who`)."""
        self._caller = details
        try:
            return super().run_command(*args, **kwargs)
        finally:
            self._caller = None

    def who(self, by=None):
        """``by``, else the authid of the admin calling the command now."""
        if by is not None and (not isinstance(by, str) or not 0 < len(by) <= 80):
            raise InvalidArgument(f"by must be a name of 1 to 80 characters, got {by!r:.40}")
        return by or getattr(self._caller, "caller_authid", None) or "unknown"

    # -- reads -------------------------------------------------------------------
    def io_list(self, kind=None):
        """Records of ``kind`` (controller, chamber or device), or ``{kind: [...]}`` of all three."""
        if kind is None:
            return {k: self.db.listing(k) for k in IO_KINDS}
        return self.db.listing(_io_kind(kind))

    def io_get(self, kind, id):  # noqa: A002 (the wire name)
        """One record of ``kind`` with its ``id``."""
        return dict(self.db.get(_io_kind(kind), id), id=id)

    def profiles_list(self):
        """Every temperature profile."""
        return self.db.listing("profile")

    def profiles_get(self, id):  # noqa: A002
        """One temperature profile."""
        return dict(self.db.get("profile", id), id=id)

    def settings_get(self, key=None):
        """The value of ``key`` (default included), or ``{key: value}`` of all."""
        if key is None:
            return {k: self.db.setting(k) for k in {**DEFAULT_SETTINGS, **self.db.settings}}
        return self.db.setting(key)

    def control_status(self):
        """``{chamber name: {mode, beer, beer_set, fridge, fridge_set, room, heater, cooler, profile, ...}}`` now."""
        return {s["chamber"]: dict(s, id=cid) for cid, s in self.state.items() if cid in self.db.records["chamber"]}

    def alarms_active(self):
        """Alarms not both cleared and acknowledged (see `nodes.brewing.alarms`)."""
        return threads.deferToThread(self.alarms.active)

    def alarms_history(self, start, end):
        """Alarms raised or open in ``[start, end)`` (sisock times)."""
        start, end = validate.time_range(start, end)
        return threads.deferToThread(self.alarms.history, start, end)

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
    def _change(self, event, kind, func, *args):
        """Run ``func(*args)`` of the state file in a thread, then publish ``event`` and log it."""
        who = self.who()  # before the first yield: the caller is known while the command starts
        record = yield threads.deferToThread(func, *args)
        channel = "io" if kind in IO_KINDS else "profiles"
        self.publish_on(channel, {"event": event, "kind": kind, "id": record["id"], "record": record})
        yield self.log_line("config", "info", f"{kind}_{event}", f"{kind} {record['id']} {event} by {who}")
        return record

    @command(name="io.create")
    def io_create(self, kind: str, record: dict):
        """Create a controller, chamber or device.

        Parameters
        ----------
        kind : str
            controller, chamber or device.
        record : dict
            Its keys (see ``get_api`` of the node's README section).
        """
        return self._change("created", _io_kind(kind), self.db.create, _io_kind(kind), record)

    @command(name="io.update")
    def io_update(self, kind: str, id: int, changes: dict):  # noqa: A002
        """Change keys of a controller, chamber or device.

        Parameters
        ----------
        kind : str
            controller, chamber or device.
        id : int
            Its id.
        changes : dict
            The keys to change.
        """
        return self._change("updated", _io_kind(kind), self.db.update, _io_kind(kind), id, changes)

    @command(name="io.delete")
    def io_delete(self, kind: str, id: int):  # noqa: A002
        """Delete a controller, chamber or device that nothing refers to.

        Parameters
        ----------
        kind : str
            controller, chamber or device.
        id : int
            Its id.
        """
        return self._change("deleted", _io_kind(kind), self.db.delete, _io_kind(kind), id)

    @command(name="profiles.create")
    def profiles_create(self, record: dict):
        """Create a temperature profile ``{name, points: [{days|time, temperature}, ...]}``.

        Parameters
        ----------
        record : dict
            The profile; points strictly increasing.
        """
        return self._change("created", "profile", self.db.create, "profile", record)

    @command(name="profiles.update")
    def profiles_update(self, id: int, changes: dict):  # noqa: A002
        """Change a temperature profile.

        Parameters
        ----------
        id : int
            Its id.
        changes : dict
            ``name`` and/or ``points``.
        """
        return self._change("updated", "profile", self.db.update, "profile", id, changes)

    @command(name="profiles.delete")
    def profiles_delete(self, id: int):  # noqa: A002
        """Delete a temperature profile no chamber uses.

        Parameters
        ----------
        id : int
            Its id.
        """
        return self._change("deleted", "profile", self.db.delete, "profile", id)

    @command(name="settings.set")
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

    @command(name="settings.delete")
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

    @command(name="control.setpoint")
    def control_setpoint(self, chamber, temperature: float, target: str = "beer"):
        """Set the beer or fridge setpoint of a chamber (within setpoint_min..setpoint_max).

        Parameters
        ----------
        chamber : str or int
            Chamber name or id.
        temperature : float
            Degrees Celsius.
        target : str
            beer or fridge.
        """
        key = {"beer": "beer_set", "fridge": "fridge_set"}.get(target)
        if key is None:
            raise InvalidArgument(f"target must be beer or fridge, got {target!r:.40}")
        return self.io_update("chamber", self.chamber_id(chamber), {key: temperature})

    @command(name="control.mode")
    def control_mode(self, chamber, mode: str, profile=None, start: float = None):
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
        """
        changes = {"mode": mode}
        if profile is not None:
            pid = self.db.find("profile", profile) if isinstance(profile, str) else profile
            changes["profile"] = self.db.get("profile", pid) and pid
        if mode == "profile":
            changes["profile_start"] = validate.time_arg("start", start) if start is not None else time.time()
        return self.io_update("chamber", self.chamber_id(chamber), changes)

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



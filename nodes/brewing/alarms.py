"""Alarms as state: raised by rules (or by hand), cleared when the condition goes, acknowledged by people.

An alarm is a row of the node's state file (`nodes.brewing.statedb`):
``{id, chamber, code, severity, message, raised, cleared, acked,
acked_by}``, times in UNIX seconds UTC (null until it happens). It is
*active* until it is both cleared and acknowledged. A rule raises at most
one open alarm per ``(chamber, code)``; an alarm raised by hand
(``alarms.simulate``, an HTTP publish) has no condition and clears when
acknowledged. The alarms of a chamber that is deleted clear at the next
tick (`AlarmBook.clear_gone`).

Rules, per chamber, each tick (`conditions`):

=====================  ========  =============================================
code                   severity  when
=====================  ========  =============================================
probe_disconnected     major     a configured beer or fridge probe reads nothing
probe_out_of_range     major     a probe outside alarm_probe_min..max (C)
beer_high              critical  beer above alarm_beer_high (C)
level_high             major     the level switch is on
setpoint_not_reached   minor     beer more than alarm_setpoint_tolerance C off
                                 its setpoint for alarm_setpoint_hours
=====================  ========  =============================================
"""

from __future__ import annotations

import math

from sisock.wire.errors import InvalidArgument

SEVERITIES = ("info", "minor", "major", "critical")
COLUMNS = ("id", "chamber", "code", "severity", "message", "raised", "cleared", "acked", "acked_by")
RULE_CODES = ("probe_disconnected", "probe_out_of_range", "beer_high", "level_high", "setpoint_not_reached")


def conditions(probes: dict, level_high: bool | None, beer_set: float | None, off_target_for: float,
               setting) -> dict:
    """The alarm conditions that hold for one chamber now.

    Parameters
    ----------
    probes : dict
        ``{"beer": C or None, "fridge": ..., "room": ...}`` of the probes
        the chamber has (configured devices only).
    level_high : bool or None
        The level switch (None without one).
    beer_set : float or None
        The beer setpoint in force, C (None when not holding the beer).
    off_target_for : float
        Seconds the beer has been off its setpoint by more than the tolerance.
    setting : callable
        ``setting(key)`` gives a setting (`nodes.brewing.statedb.StateDb.setting`).

    Returns
    -------
    dict
        ``{code: (severity, message)}``.
    """
    found = {}
    low, high = setting("alarm_probe_min"), setting("alarm_probe_max")
    for name in ("beer", "fridge"):
        if name in probes and probes[name] is None:
            found["probe_disconnected"] = ("major", f"{name} probe disconnected")
    for name, value in probes.items():
        if value is not None and not low <= value <= high:
            found["probe_out_of_range"] = ("major", f"{name} probe reads {value:.1f} C, outside {low} to {high} C")
    beer = probes.get("beer")
    if beer is not None and beer > setting("alarm_beer_high"):
        found["beer_high"] = ("critical", f"beer at {beer:.1f} C, over the limit {setting('alarm_beer_high')} C")
    if level_high:
        found["level_high"] = ("major", "high liquid level")
    hours = setting("alarm_setpoint_hours")
    if beer_set is not None and off_target_for > hours * 3600:
        found["setpoint_not_reached"] = ("minor", f"setpoint {beer_set:.1f} C not reached in {hours:g} h")
    return found


class AlarmBook:
    """The alarms of the node, stored in its `nodes.brewing.statedb.StateDb` (methods block: call in threads)."""

    def __init__(self, db):
        self.db = db
        self.open = {(a["chamber"], a["code"]): a for a in self._select("cleared IS NULL")}

    def _select(self, where, params=()):
        with self.db.lock:
            rows = self.db.db.execute(f"SELECT {', '.join(COLUMNS)} FROM alarm WHERE {where} ORDER BY id",
                                      params).fetchall()
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]

    def active(self) -> list[dict]:
        """Alarms not yet both cleared and acknowledged, oldest first."""
        return self._select("cleared IS NULL OR acked IS NULL")

    def history(self, start: float, end: float) -> list[dict]:
        """Alarms that were raised, or still open, in ``[start, end)`` (UNIX s), oldest first."""
        return self._select("raised < ? AND (cleared IS NULL OR cleared >= ?)", (end, start))

    def raise_alarm(self, chamber: str | None, code: str, severity: str, message: str, t: float) -> dict:
        """Store a new alarm raised at ``t`` (UNIX s) and return it.

        Raises
        ------
        InvalidArgument
            ``severity`` not one of `SEVERITIES`, or ``code``/``message``
            not text of 1 to 200 characters.
        """
        if severity not in SEVERITIES:
            raise InvalidArgument(f"severity must be one of {SEVERITIES}, got {severity!r:.40}")
        for name, value in (("code", code), ("message", message)):
            if not isinstance(value, str) or not 0 < len(value) <= 200:
                raise InvalidArgument(f"{name} must be text of 1 to 200 characters, got {value!r:.40}")
        if chamber is not None and not isinstance(chamber, str):
            raise InvalidArgument(f"chamber must be a chamber name or null, got {chamber!r:.40}")
        with self.db.transaction() as db:
            aid = db.execute("INSERT INTO alarm (chamber, code, severity, message, raised) VALUES (?, ?, ?, ?, ?)",
                             (chamber, code, severity, message, t)).lastrowid
        alarm = dict(zip(COLUMNS, (aid, chamber, code, severity, message, t, None, None, None), strict=True))
        if code in RULE_CODES:
            self.open[(chamber, code)] = alarm
        return alarm

    def _set(self, alarm, **values):
        with self.db.transaction() as db:
            db.execute(f"UPDATE alarm SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                       (*values.values(), alarm["id"]))
        alarm.update(values)
        return alarm

    def ack(self, aid: int, by: str, t: float) -> dict:
        """Acknowledge alarm ``aid`` at ``t`` by ``by``; an alarm raised by hand clears with it.

        Returns the alarm (unchanged if it was acknowledged already).

        Raises
        ------
        InvalidArgument
            ``aid`` is not the id of an alarm.
        """
        if isinstance(aid, bool) or not isinstance(aid, int):
            raise InvalidArgument(f"id must be an alarm id (an integer), got {aid!r:.40}")
        found = self._select("id = ?", (aid,))
        if not found:
            raise InvalidArgument(f"no alarm with id {aid}")
        alarm = self.open.get((found[0]["chamber"], found[0]["code"]), found[0])
        if alarm["id"] != aid:
            alarm = found[0]
        if alarm["acked"] is not None:
            return alarm
        manual = alarm["code"] not in RULE_CODES and alarm["cleared"] is None
        return self._set(alarm, acked=t, acked_by=by, **({"cleared": t} if manual else {}))

    def update(self, chamber: str, found: dict, t: float) -> list[tuple[str, dict]]:
        """Raise the alarms of the conditions ``found`` (`conditions`) not open yet for ``chamber``,
        clear its open ones whose condition went; returns ``[(event, alarm)]``, event ``raised`` or ``cleared``."""
        changes = []
        for code, (severity, message) in found.items():
            if (chamber, code) not in self.open:
                changes.append(("raised", self.raise_alarm(chamber, code, severity, message, t)))
        for (where, code), alarm in list(self.open.items()):
            if where == chamber and code not in found:
                del self.open[(where, code)]
                changes.append(("cleared", self._set(alarm, cleared=t)))
        return changes

    def clear_gone(self, chambers, t: float) -> list[tuple[str, dict]]:
        """Clear the open alarms of chambers not in ``chambers`` (names): a deleted chamber's alarms,
        whose conditions no tick will look at again; returns ``[("cleared", alarm)]``."""
        changes = []
        for (where, code), alarm in list(self.open.items()):
            if where is not None and where not in chambers:
                del self.open[(where, code)]
                changes.append(("cleared", self._set(alarm, cleared=t)))
        return changes


def off_target(previous: tuple[float | None, float], beer: float | None, beer_set: float | None,
               tolerance: float, t: float) -> tuple[float | None, float]:
    """Track since when the beer is off its setpoint: ``(setpoint, since)`` after a tick at ``t``.

    ``since`` restarts when the beer is within ``tolerance`` C or the
    setpoint moved by more than ``tolerance``; ``t - since`` is how long
    it has been off target (0 while there is no setpoint or reading).
    """
    last_set, since = previous
    if beer is None or beer_set is None or abs(beer - beer_set) <= tolerance or (
            last_set is None or abs(last_set - beer_set) > tolerance or math.isnan(since)):
        return beer_set, t
    return last_set, since

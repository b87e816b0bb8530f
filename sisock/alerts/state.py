"""Alerts and the state machine of one rule: pending -> firing -> resolved.

A `RuleState` is fed what happens (samples, a node going offline or
coming back, the time passing) and answers the alerts whose state
changed. It knows no WAMP and no clock of its own: every method is given
the time, so a rule is evaluated on the samples' own times (a replay at
speed fires as the original would have), and on wall-clock times for
what has no samples (offline, no data).

One alert per **group**: per node, or with ``by TAG`` per value of the
node's tag ``TAG``. A group's condition holds while it holds for any of
its nodes (its *members*); the alert is ``pending`` from the first
member's start, ``firing`` once one member has held it for the rule's
duration, and ``resolved`` when no member holds it any more (a pending
alert that resolves never fired: ``fired_at`` stays None).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sisock.alerts.rules import Rule, format_duration

STATES = ("pending", "firing", "resolved")
SOURCES = ("rule", "brewing")


@dataclass
class Alert:
    """One alert; `to_dict` is its wire shape (``docs/alerts.md``).

    Times are UNIX seconds UTC: ``since``, ``fired_at`` and ``resolved_at``
    of a threshold rule are sample times, of the other rules wall-clock
    times. ``changed`` (wall clock) and ``notified`` (wall clock of the
    last notification, None before one) are the service's own.
    """

    id: str
    rule: str
    name: str
    expr: str
    node: str
    field: str | None
    group: dict
    state: str
    severity: str
    since: float
    fired_at: float | None = None
    resolved_at: float | None = None
    value: float | None = None
    summary: str = ""
    acked_by: str | None = None
    acked_at: float | None = None
    silenced: bool = False
    source: str = "rule"
    changed: float = 0.0
    notified: float | None = None

    @property
    def active(self) -> bool:
        """Pending or firing."""
        return self.state != "resolved"

    def to_dict(self) -> dict:
        """``{id, rule, name, expr, node, field, group, state, severity, since, fired_at, resolved_at, value,
        summary, acked_by, acked_at, silenced, source}``."""
        return {"id": self.id, "rule": self.rule, "name": self.name, "expr": self.expr, "node": self.node,
                "field": self.field, "group": dict(self.group), "state": self.state, "severity": self.severity,
                "since": self.since, "fired_at": self.fired_at, "resolved_at": self.resolved_at,
                "value": self.value, "summary": self.summary, "acked_by": self.acked_by, "acked_at": self.acked_at,
                "silenced": self.silenced, "source": self.source}


def new_id() -> str:
    """A fresh alert id (10 hex digits)."""
    return uuid.uuid4().hex[:10]


@dataclass
class _Watch:
    """A no-data rule's view of one node: when its field was last seen (wall clock) and its allowance."""

    tags: dict
    last: float
    period: float | None
    silent: bool = False


@dataclass
class RuleState:
    """The alerts of one rule and what they are made of.

    Attributes
    ----------
    rule : Rule
    alerts : dict
        ``{group key: Alert}`` of the active (pending or firing) alerts.
    members : dict
        ``{group key: {node: since}}``: the nodes for which the condition holds, and since when.
    """

    rule: Rule
    alerts: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)
    watches: dict = field(default_factory=dict)

    # -- groups -----------------------------------------------------------------
    def _key(self, node, tags):
        return ("by", str((tags or {}).get(self.rule.by, ""))) if self.rule.by else ("node", node)

    def _open(self, key, node, t, value, changes, firing=False):
        rule = self.rule
        alert = Alert(id=new_id(), rule=rule.id, name=rule.name, expr=rule.text,
                      node=rule.nodes if rule.by else node, field=rule.field,
                      group={rule.by: key[1]} if rule.by else {}, state="firing" if firing else "pending",
                      severity=rule.severity, since=t, fired_at=t if firing else None, value=value)
        self.alerts[key] = alert
        self._describe(alert, key)
        changes.append(alert)
        return alert

    def _fire(self, alert, key, t, changes):
        alert.state, alert.fired_at = "firing", t
        self._describe(alert, key)
        changes.append(alert)

    def _close(self, key, t, changes):
        alert = self.alerts.pop(key, None)
        if alert is not None:
            alert.state, alert.resolved_at = "resolved", t
            changes.append(alert)

    def _describe(self, alert, key):
        rule, members = self.rule, sorted(self.members.get(key, ()))
        who = members[0] if len(members) == 1 else f"{len(members)} nodes of {rule.nodes}"
        if rule.by:
            who += f" ({rule.by}={key[1]})"
        span = f" for {format_duration(rule.duration)}" if rule.duration else ""
        if rule.kind == "threshold":
            value = "" if alert.value is None else f"{alert.value:g} "
            alert.summary = f"{who}: {rule.field} {value}{rule.op} {rule.threshold:g}{span}"
        elif rule.kind == "offline":
            alert.summary = f"{who} offline{span}"
        else:
            allowance = f"{rule.intervals} intervals" if rule.intervals else format_duration(rule.duration)
            alert.summary = f"{who}: no {rule.field} data for {allowance}"

    def resolve_all(self, t: float) -> list[Alert]:
        """Resolve every active alert at ``t`` (the rule is removed); the alerts changed."""
        changes: list[Alert] = []
        for key in list(self.alerts):
            self._close(key, t, changes)
        self.members.clear()
        self.watches.clear()
        return changes

    # -- threshold rules ------------------------------------------------------------
    def samples(self, node: str, tags: dict, t: list, values: list) -> list[Alert]:
        """Evaluate a threshold rule on the samples of one node's field.

        Parameters
        ----------
        node : str
            The data node.
        tags : dict
            Its tags (for ``by``).
        t : list of float
            Sample times, UNIX seconds UTC, increasing.
        values : list
            The field's values at ``t``; what is no finite number (null,
            NaN, text) changes nothing.

        Returns
        -------
        list of Alert
            The alerts whose state changed, in order (one may appear twice).
        """
        changes: list[Alert] = []
        key, rule = self._key(node, tags), self.rule
        members = self.members.setdefault(key, {})
        for when, value in zip(t, values, strict=False):
            holds = rule.holds(value)
            if holds is None:
                continue
            if holds:
                since = members.setdefault(node, when)
                alert = self.alerts.get(key)
                if alert is None:
                    alert = self._open(key, node, when, value, changes, firing=rule.duration <= 0)
                alert.value = float(value)
                if alert.state == "pending" and when - since >= rule.duration:
                    self._fire(alert, key, when, changes)
            elif members.pop(node, None) is not None and not members:
                self._close(key, when, changes)
        return changes

    # -- offline rules ------------------------------------------------------------------
    def node_state(self, node: str, tags: dict, online: bool, when: float) -> list[Alert]:
        """An offline rule learns that ``node`` went offline or came back at ``when`` (wall clock)."""
        changes: list[Alert] = []
        key = self._key(node, tags)
        members = self.members.setdefault(key, {})
        if not online:
            members.setdefault(node, when)
            if key not in self.alerts:
                self._open(key, node, when, None, changes, firing=self.rule.duration <= 0)
        elif members.pop(node, None) is not None and not members:
            self._close(key, when, changes)
        return changes

    # -- no-data rules ---------------------------------------------------------------------
    def watch(self, node: str, tags: dict, now: float, period: float | None = None) -> None:
        """A no-data rule starts watching ``node`` at ``now`` (it came online); ``period`` the seconds
        allowed without data (None: the rule's duration, or not yet known for a rule in intervals)."""
        if node not in self.watches:
            self.watches[node] = _Watch(tags, now, period if self.rule.intervals else self.rule.duration)
        elif period is not None:
            self.watches[node].period = period

    def unwatch(self, node: str, now: float) -> list[Alert]:
        """Stop watching ``node`` (offline or forgotten); its no-data alert resolves."""
        watch = self.watches.pop(node, None)
        return self.seen(node, watch.tags, now, watch) if watch is not None else []

    def seen(self, node: str, tags: dict, now: float, watch=None) -> list[Alert]:
        """Data of the rule's field arrived from ``node`` at ``now`` (wall clock)."""
        changes: list[Alert] = []
        watch = watch or self.watches.get(node)
        if watch is None:
            return changes
        watch.last, watch.tags = now, tags
        if watch.silent:
            watch.silent = False
            key = self._key(node, tags)
            members = self.members.get(key, {})
            members.pop(node, None)
            if not members:
                self._close(key, now, changes)
        return changes

    def due(self, now: float) -> list[Alert]:
        """What the time ``now`` (wall clock) changes: offline alerts that have waited their duration fire,
        nodes silent for longer than their allowance raise no-data alerts."""
        changes: list[Alert] = []
        if self.rule.kind == "offline":
            for key, alert in self.alerts.items():
                start = min(self.members.get(key, {}).values(), default=alert.since)
                if alert.state == "pending" and now - start >= self.rule.duration:
                    self._fire(alert, key, now, changes)
        elif self.rule.kind == "nodata":
            for node, watch in self.watches.items():
                if not watch.silent and watch.period is not None and now - watch.last >= watch.period:
                    watch.silent = True
                    key = self._key(node, watch.tags)
                    self.members.setdefault(key, {})[node] = watch.last
                    if key not in self.alerts:
                        self._open(key, node, watch.last, None, changes, firing=True)
                        changes[-1].fired_at = now
        return changes

    def next_due(self) -> float | None:
        """The wall-clock time at which `due` may next change something, or None."""
        if self.rule.kind == "offline":
            times = [min(self.members.get(key, {}).values(), default=a.since) + self.rule.duration
                     for key, a in self.alerts.items() if a.state == "pending"]
        elif self.rule.kind == "nodata":
            times = [w.last + w.period for w in self.watches.values() if not w.silent and w.period is not None]
        else:
            times = []
        return min(times, default=None)

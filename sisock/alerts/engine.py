"""Every rule's state, the alerts of the alarm nodes and the silences, without WAMP or a clock.

`Engine` routes what happens to the `sisock.alerts.state.RuleState` of
each rule it concerns and answers the alerts that changed; the service
(`sisock.alerts.service`) publishes, records and notifies them.
"""

from __future__ import annotations

import fnmatch

from sisock.alerts.rules import Rule
from sisock.alerts.state import Alert, RuleState

#: Seconds a resolved alert stays in `Engine.listing` (and ``consumer.alerts.list``).
RECENT = 3600.0


class Engine:
    """The rules and alerts of the service.

    Attributes
    ----------
    rules : dict
        ``{rule id: RuleState}`` in the order they were added.
    external : dict
        ``{alert id: Alert}`` of alerts that come from alarm nodes (source ``brewing``), active or recent.
    recent : dict
        ``{alert id: Alert}`` of resolved rule alerts, kept `RECENT` seconds.
    silences : dict
        ``{silence id: {id, matcher, start, until, comment, by}}`` of the silences on.
    """

    def __init__(self):
        self.rules: dict[str, RuleState] = {}
        self.external: dict[str, Alert] = {}
        self.recent: dict[str, Alert] = {}
        self.silences: dict[int, dict] = {}

    # -- rules -------------------------------------------------------------------------
    def add(self, rule: Rule) -> RuleState:
        """Start evaluating ``rule``."""
        state = self.rules[rule.id] = RuleState(rule)
        return state

    def remove(self, rule_id: str, now: float) -> list[Alert]:
        """Stop evaluating rule ``rule_id``; its active alerts resolve at ``now`` and are answered."""
        state = self.rules.pop(rule_id)
        return self._settled(state.resolve_all(now), now)

    def concerning(self, node: str, kind: str | None = None) -> list[RuleState]:
        """The states of the rules (of ``kind``) that watch data node ``node``."""
        return [s for s in self.rules.values() if (kind is None or s.rule.kind == kind) and s.rule.matches(node)]

    # -- what happens ------------------------------------------------------------------
    def block(self, node: str, tags: dict, block: dict, now: float, rules=None) -> list[Alert]:
        """A live block ``{timeline, t, data}`` of ``node`` arrived at ``now`` (wall clock).

        Parameters
        ----------
        rules : iterable of RuleState, optional
            Only these rules (the ones of the subscription it came through); all that concern ``node`` if None.
        """
        data, t = block.get("data"), block.get("t")
        if not isinstance(data, dict) or not isinstance(t, list):
            return []
        changes: list[Alert] = []
        for state in self.concerning(node) if rules is None else rules:
            values = data.get(state.rule.field)
            if not isinstance(values, list):
                continue
            if state.rule.kind == "threshold":
                changes += state.samples(node, tags, t, values)
            elif state.rule.kind == "nodata":
                changes += state.seen(node, tags, now)
        return self._settled(changes, now)

    def node_state(self, node: str, tags: dict, online: bool, now: float, gone: bool = False) -> list[Alert]:
        """``node`` went offline or came online at ``now`` (wall clock); ``gone``: it was forgotten or is
        disabled, and no rule watches it any more (its alerts resolve)."""
        changes = []
        for state in self.concerning(node, "offline"):
            changes += state.node_state(node, tags, online or gone, now)
        for state in self.concerning(node, "nodata"):
            if online and not gone:
                state.watch(node, tags, now)
            else:
                changes += state.unwatch(node, now)
        return self._settled(changes, now)

    def due(self, now: float) -> list[Alert]:
        """What the passing of time changes at ``now`` (wall clock)."""
        changes = []
        for state in self.rules.values():
            changes += state.due(now)
        return self._settled(changes, now)

    def next_due(self) -> float | None:
        """The earliest wall-clock time at which `due` may change something, or None."""
        return min((t for s in self.rules.values() if (t := s.next_due()) is not None), default=None)

    def _settled(self, changes: list[Alert], now: float) -> list[Alert]:
        for alert in changes:
            alert.changed = now
            alert.silenced = self.silenced(alert, now)
            if alert.state == "resolved":
                self.recent[alert.id] = alert
        return changes

    # -- alerts --------------------------------------------------------------------------
    def alerts(self) -> list[Alert]:
        """Every alert known: active, then recently resolved."""
        active = [a for s in self.rules.values() for a in s.alerts.values()]
        return active + list(self.recent.values()) + list(self.external.values())

    def find(self, alert_id: str) -> Alert | None:
        """The alert of id ``alert_id`` (active or recent), or None."""
        return next((a for a in self.alerts() if a.id == alert_id), None)

    def listing(self, now: float, state: str | None = None) -> list[Alert]:
        """The alerts of ``consumer.alerts.list``: active ones and those resolved within `RECENT` seconds
        (``state`` given: only those in it), firing first, then pending, then resolved, newest first."""
        for table in (self.recent, self.external):
            for aid, alert in list(table.items()):
                if alert.state == "resolved" and now - alert.changed > RECENT:
                    del table[aid]
        found = [a for a in self.alerts() if state is None or a.state == state]
        order = {"firing": 0, "pending": 1, "resolved": 2}
        return sorted(found, key=lambda a: (order[a.state], -a.since))

    # -- silences ------------------------------------------------------------------------
    def silenced(self, alert: Alert, now: float) -> bool:
        """Whether a silence on at ``now`` matches ``alert``: its rule id, or a glob of its node."""
        return any(s["until"] > now and (s["matcher"] == alert.rule or fnmatch.fnmatchcase(alert.node, s["matcher"]))
                   for s in self.silences.values())

    def resilence(self, now: float) -> list[Alert]:
        """Set every alert's ``silenced`` for ``now`` (silences added, removed or ended); those that changed."""
        for sid, silence in list(self.silences.items()):
            if silence["until"] <= now:
                del self.silences[sid]
        changed = []
        for alert in self.alerts():
            silenced = self.silenced(alert, now)
            if silenced != alert.silenced:
                alert.silenced = silenced
                changed.append(alert)
        return changed

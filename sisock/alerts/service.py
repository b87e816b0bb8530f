"""The alert service: rules evaluated on live blocks as they are published, inside the hub process.

It runs on the hub's own session (`sisock.hub.hub.Hub`): the hub already
knows when a node goes offline or comes back and holds the registry's
tags that ``by TAG`` groups on, so the service reads them in process
instead of mirroring them over the wire, and needs no role, secret or
process of its own. Its modules stay apart from the hub's: the hub only
creates it, starts it at each join (`AlertService.start`) and tells it of
each registry change (`AlertService.node_changed`).

- **Samples**: one subscription per rule's node pattern on
  ``consumer.NAME.data`` (exact), or on the prefix ``consumer.PREFIX.``
  for a glob (the topic names the node); each block is evaluated as it
  arrives, on its own sample times.
- **Offline** and **no data**: node changes from the hub, and one timer
  (`reactor.callLater`) set to the earliest moment something is due.
- **Alarm nodes**: ``consumer.NAME.alarms`` of the nodes the rules file
  names (`sisock.alerts.external`).

Every change of an alert is published on ``consumer.alerts.changed`` (the
alert dict), written to the history (`sisock.alerts.store`) and, if the
alert is not silenced, notified (`sisock.alerts.notify`). The procedures
are in `sisock.alerts.api`.
"""

from __future__ import annotations

import time

from autobahn.wamp.types import SubscribeOptions
from twisted.internet import defer
from twisted.logger import Logger

from sisock.alerts import external
from sisock.alerts.api import AlertsApi
from sisock.alerts.engine import Engine
from sisock.alerts.notify import Notifier
from sisock.alerts.rules import parse_rule
from sisock.alerts.store import read_settings, update_rules
from sisock.wire import uri

_log = Logger()

#: Topic of every change of an alert.
CHANGED = uri.uri("consumer.alerts.changed")
_CONSUMER = uri.uri("consumer.")


def subscription_of(pattern: str) -> tuple[str, str]:
    """``(topic, match)`` that receives the data blocks of the nodes ``pattern`` names.

    A plain name subscribes exactly to ``consumer.NAME.data``; a glob to
    the prefix of its parts before the first one with a wildcard.
    """
    parts = pattern.split(".")
    plain = [p for p in parts if not set(p) & set("*?[]")]
    if len(plain) == len(parts):
        return uri.node_uri(pattern, "data"), "exact"
    head = parts[:next(i for i, p in enumerate(parts) if set(p) & set("*?[]"))]
    return _CONSUMER + "".join(f"{p}." for p in head), "prefix"


class AlertService:
    """The alerts of one hub.

    Parameters
    ----------
    hub : sisock.hub.hub.Hub
        The session (register, subscribe, publish, call), its ``registry``
        and ``nodes``, and its ``audit`` trail if it has one.
    settings_path : str
        The rules file (`sisock.alerts.store`).
    store : sisock.alerts.store.AlertStore
        The history file.

    Raises
    ------
    ValueError
        The rules file is malformed or holds a rule that does not parse.
    """

    def __init__(self, hub, settings_path, store):
        self.hub, self.settings_path, self.store = hub, settings_path, store
        self.settings = read_settings(settings_path)
        self.engine = Engine()
        for entry in self.settings["rules"]:
            try:
                self.engine.add(parse_rule(entry["text"], entry["id"], entry.get("severity"), entry.get("name")))
            except Exception as exc:
                why = getattr(exc, "message", None) or exc
                raise ValueError(f"{settings_path}: rule {entry.get('id')}: {why}") from exc
        self.notifier = Notifier(settings_path)
        self.api = AlertsApi(self)
        self.subs = {}  # {(topic, match): {"rules": set of rule ids, "sub": Subscription or None}}
        self._timer = None
        self._started = False
        self._asked = set()  # (rule id, node) asked for the interval of a "no data for N intervals" rule

    # -- the session -----------------------------------------------------------------------
    def start(self):
        """Register the procedures and subscribe (at every join of the hub); Deferred.

        A failure is logged, never raised: alerts must not keep the hub from serving nodes.
        """
        return self._start().addErrback(lambda f: _log.failure("sisock: the alert service did not start", f))

    @defer.inlineCallbacks
    def _start(self):
        self.subs = {}
        now = time.time()
        if not self._started:
            self._started = True
            for silence in (yield self.store.run(self.store.silences, now)):
                self.engine.silences[silence["id"]] = silence
        for record in self.hub.registry.select(lambda r: True):  # at a join, none is connected yet
            if record.enabled:
                self.emit(self.engine.node_state(record.name, record.current_tags, record.connected, now))
        yield self.api.register()
        for state in list(self.engine.rules.values()):
            yield self.follow(state.rule)
        yield self.hub.subscribe(self._on_alarm, _CONSUMER + ".alarms",
                                 SubscribeOptions(match="wildcard", details_arg="details"))
        for node in self.settings["alarm_nodes"]:
            if node in self.hub.nodes:
                self._load_alarms(node)
        self.learn_periods()
        self._schedule()

    def follow(self, rule):
        """Subscribe to the data of the nodes ``rule`` names (shared with the rules of the same pattern)."""
        if rule.kind == "offline":
            return defer.succeed(None)
        key = subscription_of(rule.nodes)
        entry = self.subs.setdefault(key, {"rules": set(), "sub": None})
        entry["rules"].add(rule.id)
        if entry["sub"] is not None or "pending" in entry:
            return defer.succeed(None)
        entry["pending"] = True
        d = self.hub.subscribe(lambda *a, details=None, **kw: self._on_block(key, a, details), key[0],
                               SubscribeOptions(match=key[1], details_arg="details"))

        def subscribed(sub):
            entry.pop("pending", None)
            entry["sub"] = sub
            if not entry["rules"]:  # its rules were removed meanwhile
                self.subs.pop(key, None)
                return sub.unsubscribe()

        return d.addCallback(subscribed)

    def unfollow(self, rule):
        """Forget ``rule``'s interest in its subscription; the last rule out unsubscribes."""
        key = subscription_of(rule.nodes)
        entry = self.subs.get(key)
        if entry is None:
            return
        entry["rules"].discard(rule.id)
        if not entry["rules"] and entry["sub"] is not None:
            self.subs.pop(key)
            if entry["sub"].active:
                entry["sub"].unsubscribe().addErrback(lambda f: None)

    # -- what happens ------------------------------------------------------------------------
    def _on_block(self, key, args, details):
        topic = getattr(details, "topic", None) or key[0]
        if not (topic.startswith(_CONSUMER) and topic.endswith(".data")) or not args:
            return
        node = topic[len(_CONSUMER):-len(".data")]
        entry = self.subs.get(key)
        if entry is None or not isinstance(args[0], dict):
            return
        rules = [self.engine.rules[r] for r in entry["rules"] if r in self.engine.rules]
        rules = [s for s in rules if s.rule.matches(node)]
        if rules:
            self.emit(self.engine.block(node, self._tags(node), args[0], time.time(), rules))

    def node_changed(self, record, change):
        """The hub's registry changed (`sisock.hub.hub.Hub.changed`): a node came, went or was forgotten.

        A failure is logged, never raised into the hub.
        """
        try:
            self._node_changed(record, change)
        except Exception:
            _log.failure("sisock: alerts: the change {change} of node {name}", change=change, name=record.name)

    def _node_changed(self, record, change):
        online = {"added": True, "online": True, "offline": False, "forgotten": False}.get(change)
        if online is None:
            return
        gone = change == "forgotten" or not record.enabled  # a disabled node is not "offline"
        self.emit(self.engine.node_state(record.name, record.current_tags, online, time.time(), gone))
        if not online:
            self._asked = {(r, n) for r, n in self._asked if n != record.name}
        self.learn_periods()
        if online and record.name in self.settings["alarm_nodes"]:
            self._load_alarms(record.name)

    def learn_periods(self):
        """Ask the nodes watched by a rule ``no data for N intervals`` for their field's interval
        (``get_fields``), once each, and give the rule its allowance of N intervals."""
        for state in self.engine.rules.values():
            for node, watch in state.watches.items():
                if state.rule.intervals and watch.period is None and (state.rule.id, node) not in self._asked:
                    self._asked.add((state.rule.id, node))
                    d = self.hub.call(uri.node_uri(node, "get_fields"), 1, 0)
                    d.addCallbacks(self._period_of, self._no_period, (state, node), errbackArgs=(state, node))

    def _period_of(self, answer, state, node):
        fields, timelines = answer
        timeline = timelines.get(fields.get(state.rule.field, {}).get("timeline"), {})
        if timeline.get("interval"):
            if node in state.watches:
                state.watches[node].period = state.rule.intervals * timeline["interval"]
                self._schedule()
        else:
            self._no_period(None, state, node)

    def _no_period(self, failure, state, node):
        self._asked.discard((state.rule.id, node))
        _log.warn("sisock: rule {rule}: no interval known for {node} {field}; it is not watched for data",
                  rule=state.rule.id, node=node, field=state.rule.field)

    def _tags(self, node):
        record = self.hub.registry.get(node)
        return record.current_tags if record is not None else {}

    def _on_alarm(self, event=None, details=None):
        topic = getattr(details, "topic", "") or ""
        node = topic[len(_CONSUMER):-len(".alarms")]
        if node not in self.settings["alarm_nodes"] or not isinstance(event, dict):
            return
        if event.get("event") in ("raised", "cleared", "acked"):
            self._take_alarm(node, event.get("alarm"))

    def _take_alarm(self, node, alarm):
        alert = external.from_alarm(node, alarm)
        if alert is None:
            return
        known = self.engine.external.get(alert.id)
        if known is not None and (known.state, known.acked_by, known.resolved_at) == \
                (alert.state, alert.acked_by, alert.resolved_at):
            return
        if known is not None:
            alert.notified = known.notified
        self.engine.external[alert.id] = alert
        self.emit([alert])

    def _load_alarms(self, node):
        d = self.hub.call(uri.node_uri(node, "alarms.active"))

        def loaded(alarms):
            for alarm in alarms if isinstance(alarms, list) else ():
                self._take_alarm(node, alarm)

        d.addCallbacks(loaded, lambda f: _log.warn("sisock: alarms of {node} not read: {why}", node=node,
                                                   why=f.getErrorMessage()))

    # -- changes out ----------------------------------------------------------------------------
    def emit(self, changes, change=None, by=None):
        """Publish, record and notify the alerts ``changes`` (their state changed, or ``change``:
        ``acked``, ``silenced``, ``unsilenced``, by ``by``)."""
        if not changes:
            self._schedule()
            return
        now = time.time()
        seen = {}
        for alert in changes:
            seen[alert.id] = alert
        rows = []
        for alert in seen.values():
            alert.changed = alert.changed or now
            if alert.source != "rule":
                alert.silenced = self.engine.silenced(alert, now)
            data = alert.to_dict()
            label = change or alert.state
            if label == "silenced" and not alert.silenced:
                label = "unsilenced"
            rows.append((now, label, by, data))
            if self.hub.is_attached():
                self.hub.publish(CHANGED, data)
            if change is None:
                self._notify(alert, now)
        self.store.run(self.store.record, rows).addErrback(
            lambda f: _log.error("sisock: alert history not written: {why}", why=f.getErrorMessage()))
        self._schedule()

    def _notify(self, alert, now):
        if alert.silenced:
            return
        if alert.state == "firing" and (alert.notified is None or now - alert.notified >= self.repeat):
            reason = "firing" if alert.notified is None else "reminder"
        elif alert.state == "resolved" and alert.notified is not None:
            reason = "resolved"
        else:
            return
        alert.notified = now
        self.notifier.send(alert.to_dict(), reason).addCallback(lambda _: self._schedule())  # repeat may change

    @property
    def repeat(self):
        """Seconds between reminders: the rules file's ``repeat`` as last read (`sisock.alerts.notify.Notifier`)."""
        return self.notifier.repeat or self.settings["repeat"]

    # -- time -------------------------------------------------------------------------------------
    def _schedule(self):
        """Set the one timer to the earliest moment a rule, a silence or a reminder is due."""
        from twisted.internet import reactor

        times = [self.engine.next_due()]
        times += [s["until"] for s in self.engine.silences.values()]
        times += [a.notified + self.repeat for a in self.engine.alerts()
                  if a.state == "firing" and a.notified is not None and a.acked_by is None and not a.silenced]
        due = min((t for t in times if t is not None), default=None)
        if self._timer is not None and self._timer.active():
            if due is not None and abs(self._timer.getTime() - due) < 1e-3:
                return
            self._timer.cancel()
        self._timer = None
        if due is not None:
            self._timer = reactor.callLater(max(0.0, due - time.time()) + 0.001, self._tick)

    def _tick(self):
        self._timer = None
        now = time.time()
        self.emit(self.engine.due(now))
        self.resilence(now)
        for alert in self.engine.alerts():
            if alert.state == "firing" and alert.acked_by is None:
                self._notify(alert, now)
        self._schedule()

    def resilence(self, now, by=None):
        """Silences changed or ended: publish the alerts whose ``silenced`` changed."""
        changed = self.engine.resilence(now)
        self.emit(changed, "silenced", by)
        for alert in changed:
            if not alert.silenced and alert.state == "firing" and alert.acked_by is None:
                self._notify(alert, now)

    # -- rules file -----------------------------------------------------------------------------------
    def save_rules(self):
        """Write the rules in force to the rules file (what else it says is kept); Deferred (store's thread)."""
        rules = [{"id": s.rule.id, "text": s.rule.text, "severity": s.rule.severity,
                  "name": None if s.rule.name == s.rule.text else s.rule.name} for s in self.engine.rules.values()]
        return self.store.run(update_rules, self.settings_path, rules, self.settings["next_id"])

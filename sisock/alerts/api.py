"""The alert service's procedures (``docs/alerts.md``).

Reads, for every role (consumers included)::

    consumer.alerts.list(state=None)        -> [alert, ...]
    consumer.alerts.history(since=None, until=None, rule=None, limit=500) -> [{t, change, by, alert}, ...]
    consumer.alerts.rules()                 -> [rule, ...]
    consumer.alerts.silences()              -> [silence, ...]

Changes (admins and operators; who did it is the caller's authid, as the
router discloses it)::

    hub.alerts.ack(alert_id)                        -> alert
    hub.alerts.silence(matcher, until, comment=None) -> silence
    hub.alerts.unsilence(silence_id)                -> null
    hub.alerts.rules.add(text, severity="warning", name=None) -> rule
    hub.alerts.rules.remove(rule_id)                -> null

Every change is written to the hub's audit trail when it has one, a
refused one (bad arguments, an unknown id) with its error.
"""

from __future__ import annotations

import fnmatch
import math
import time

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions
from twisted.internet import defer

from sisock.alerts import external
from sisock.alerts.rules import parse_rule
from sisock.alerts.state import STATES
from sisock.wire import uri, validate
from sisock.wire.audit import named_args, outcome_of
from sisock.wire.errors import InvalidArgument, NoSuchNode

READS = uri.uri("consumer.alerts.")
CHANGES = uri.uri("hub.alerts.")
#: The argument that names a change's target in the audit trail.
TARGETS = {"ack": "alert_id", "silence": "matcher", "unsilence": "silence_id", "rules.remove": "rule_id"}
#: A silence's ``until`` at most this is seconds from now, above it a UNIX time.
RELATIVE_MAX = 1e9
#: Most history records one call answers.
MAX_HISTORY = 10000
#: Live nodes a new rule's field is looked up on (a pattern may name hundreds), and seconds each may take.
FIELD_CHECKS, FIELD_CHECK_SECONDS = 3, 5.0
#: Fields a refusal names at most.
FIELDS_SHOWN = 12


def _who(details):
    return getattr(details, "caller_authid", None) or "?"


class AlertsApi:
    """The procedures of an `sisock.alerts.service.AlertService`."""

    def __init__(self, service):
        self.service = service

    @property
    def engine(self):
        return self.service.engine

    def register(self):
        """Register every procedure on the hub's session; Deferred."""
        hub = self.service.hub
        reads = {"list": self.list, "history": self.history, "rules": self.rules, "silences": self.silences}
        changes = {"ack": self.ack, "silence": self.silence, "unsilence": self.unsilence,
                   "rules.add": self.rules_add, "rules.remove": self.rules_remove}
        with_caller = RegisterOptions(details_arg="details")
        return defer.gatherResults(
            [hub.register(validate.rpc(proc), READS + name) for name, proc in reads.items()]
            + [hub.register(self._refusals_recorded(name, validate.rpc(proc)), CHANGES + name, with_caller)
               for name, proc in changes.items()],
            consumeErrors=True)

    def _refusals_recorded(self, action, method):
        """``method``, a change, with a call it refuses before its `_audited` step (an argument it
        does not take, an unknown id) in the audit trail too, with the error the caller gets."""

        def call(*args, details=None, **kwargs):
            try:
                return method(*args, details=details, **kwargs)
            except Exception as exc:
                audit = getattr(self.service.hub, "audit", None)
                if audit is not None:
                    named = named_args(method, args, kwargs)
                    audit.record(_who(details), f"alerts.{action}", named.get(TARGETS.get(action)), named,
                                 *outcome_of(exc)).addErrback(lambda _: None)  # a failed write is logged
                raise

        return call

    def _audited(self, details, action, target, args, func, *call_args):
        audit = getattr(self.service.hub, "audit", None)
        if audit is None:
            return defer.maybeDeferred(func, *call_args)
        return audit.run(_who(details), f"alerts.{action}", target, args, func, *call_args)

    # -- reads -------------------------------------------------------------------------------
    def list(self, state=None):
        """``consumer.alerts.list``: the active alerts and those resolved within the last hour, firing
        first; with ``state``, only the alerts in it."""
        if state is not None:
            validate.choice("state", state, STATES)
        return [a.to_dict() for a in self.engine.listing(time.time(), state)]

    def history(self, since=None, until=None, rule=None, limit=500):
        """``consumer.alerts.history``: the newest ``limit`` changes in ``[since, until)`` (sisock times),
        newest first."""
        now = time.time()
        since = None if since is None else validate.time_arg("since", since, now)
        until = None if until is None else validate.time_arg("until", until, now)
        if rule is not None and not isinstance(rule, str):
            raise InvalidArgument(f"rule must be a rule id, got {rule!r:.40}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_HISTORY:
            raise InvalidArgument(f"limit must be an integer from 1 to {MAX_HISTORY}, got {limit!r:.40}")
        return self.service.store.run(self.service.store.history, since, until, rule, limit)

    def rules(self):
        """``consumer.alerts.rules``: every rule in force, as `sisock.alerts.rules.Rule.to_dict`."""
        return [s.rule.to_dict() for s in self.engine.rules.values()]

    def silences(self):
        """``consumer.alerts.silences``: the silences on, oldest first."""
        now = time.time()
        return [s for s in self.engine.silences.values() if s["until"] > now]

    # -- changes --------------------------------------------------------------------------------
    def ack(self, alert_id, details=None):
        """``hub.alerts.ack``: acknowledge an alert as the caller; an alarm node's alert is acknowledged
        by that node (``alarms.ack``). Answers the alert.

        Raises
        ------
        NoSuchNode
            No alert has that id (the ``no_such_node`` error names the alert).
        """
        if not isinstance(alert_id, str) or not alert_id:
            raise InvalidArgument(f"alert_id must be an alert id, got {alert_id!r:.40}")
        alert = self.engine.find(alert_id)
        if alert is None:
            raise NoSuchNode(f"alert_id: no alert {alert_id!r} (consumer.alerts.list lists them)")
        who = _who(details)
        return self._audited(details, "ack", alert_id, {"alert_id": alert_id}, self._ack, alert, who)

    @defer.inlineCallbacks
    def _ack(self, alert, who):
        if alert.source != "rule":
            node, number = external.split_id(alert.id)
            answer = yield self.service.hub.call(uri.node_uri(node, "alarms.ack"), number, by=who)
            if isinstance(answer, dict):
                self.service._take_alarm(node, answer)
            return alert.to_dict()
        if alert.acked_by is None:
            alert.acked_by, alert.acked_at = who, time.time()
            self.service.emit([alert], "acked", who)
        return alert.to_dict()

    def silence(self, matcher, until, comment=None, details=None):
        """``hub.alerts.silence``: no notification for the alerts of rule ``matcher`` or of the nodes the
        glob ``matcher`` names until ``until`` (UNIX seconds UTC, or up to `RELATIVE_MAX` seconds from
        now). Answers ``{id, matcher, start, until, comment, by}``.

        Raises
        ------
        InvalidArgument
            Naming the argument: a ``matcher`` that is no rule id and names no node of the
            registry, an ``until`` not in the future, a ``comment`` not text.
        """
        if not isinstance(matcher, str) or not 0 < len(matcher) <= 200 or matcher.strip() != matcher:
            raise InvalidArgument(f"matcher must be a rule id or a node pattern, got {matcher!r:.60}")
        if isinstance(until, bool) or not isinstance(until, int | float) or not math.isfinite(until) or until <= 0:
            raise InvalidArgument(f"until must be a UNIX time or seconds from now (> 0), got {until!r:.40}")
        now = time.time()
        end = now + until if until <= RELATIVE_MAX else float(until)
        if end <= now:
            raise InvalidArgument(f"until must be in the future, got {until!r:.40}")
        if comment is not None and (not isinstance(comment, str) or len(comment) > 1000):
            raise InvalidArgument(f"comment must be text of at most 1000 characters, got {comment!r:.40}")
        if matcher not in self.engine.rules and not self.service.hub.registry.select(
                lambda record: fnmatch.fnmatchcase(record.name, matcher)):
            rules = ", ".join(sorted(self.engine.rules)) or "none"
            raise InvalidArgument(f"matcher {matcher!r} is no rule id and names no node of the registry "
                                  f"(rules: {rules}); a silence of it would silence nothing")
        who = _who(details)
        args = {"matcher": matcher, "until": end, "comment": comment}
        return self._audited(details, "silence", matcher, args, self._silence, matcher, now, end, comment, who)

    @defer.inlineCallbacks
    def _silence(self, matcher, now, end, comment, who):
        store = self.service.store
        silence = yield store.run(store.add_silence, matcher, now, end, comment, who)
        self.engine.silences[silence["id"]] = silence
        self.service.resilence(time.time(), who)
        return silence

    def unsilence(self, silence_id, details=None):
        """``hub.alerts.unsilence``: end a silence now.

        Raises
        ------
        InvalidArgument
            No silence with that id is on.
        """
        if silence_id not in self.engine.silences or isinstance(silence_id, bool):
            raise InvalidArgument(f"silence_id: no silence {silence_id!r:.40} is on (consumer.alerts.silences)")
        who = _who(details)
        return self._audited(details, "unsilence", str(silence_id), {"silence_id": silence_id},
                             self._unsilence, silence_id, who)

    @defer.inlineCallbacks
    def _unsilence(self, silence_id, who):
        store = self.service.store
        yield store.run(store.end_silence, silence_id, time.time())
        self.engine.silences.pop(silence_id, None)
        self.service.resilence(time.time(), who)

    def rules_add(self, text, severity="warning", name=None, details=None):
        """``hub.alerts.rules.add``: parse and start a rule, kept in the rules file; answers it.

        Raises
        ------
        InvalidArgument
            The text does not parse (the message names the column and token), a bad severity or
            name, or the live nodes it names have no such field (`_check_field`).
        """
        settings = self.service.settings
        while f"r{settings['next_id']}" in self.engine.rules:  # a file edited by hand
            settings["next_id"] += 1
        rule = parse_rule(text, f"r{settings['next_id']}", severity, name)
        settings["next_id"] += 1  # now: two calls at once get two ids
        return self._audited(details, "rules.add", rule.id, {"text": text, "severity": severity, "name": name},
                             self._rules_add, rule)

    @defer.inlineCallbacks
    def _rules_add(self, rule):
        yield self._check_field(rule)
        state = self.engine.add(rule)
        yield self.service.save_rules()
        yield self.service.follow(rule)
        for record in self.service.hub.registry.select(lambda r: r.enabled and rule.matches(r.name)):
            if rule.kind == "offline" and not record.connected:
                self.service.emit(state.node_state(record.name, record.current_tags, False, time.time()))
            elif rule.kind == "nodata" and record.connected:
                state.watch(record.name, record.current_tags, time.time())
        self.service.learn_periods()
        self.service.emit([])
        return rule.to_dict()

    @defer.inlineCallbacks
    def _check_field(self, rule):
        """Refuse a rule on a field that none of the live nodes it names has: a typo would never fire.

        Up to `FIELD_CHECKS` live nodes the rule matches are asked for their
        fields (``get_fields``); a rule that names no live node, or whose
        nodes do not answer or have recorded nothing yet, is taken as it is
        (its nodes may come later).
        """
        from twisted.internet import reactor

        if rule.field is None:
            return
        hub = self.service.hub
        lacking = None  # (node, its fields) of the first node asked that lacks the field
        for name in sorted(n for n in hub.nodes if rule.matches(n))[:FIELD_CHECKS]:
            try:
                fields, _ = yield hub.call(uri.node_uri(name, "get_fields"), 1, 0).addTimeout(
                    FIELD_CHECK_SECONDS, reactor)
            except (ApplicationError, defer.TimeoutError):
                continue
            if not fields or rule.field in fields:  # none: it has recorded nothing yet
                return
            lacking = lacking or (name, sorted(fields))
        if lacking:
            name, fields = lacking
            shown = ", ".join(fields[:FIELDS_SHOWN]) + (", ..." if len(fields) > FIELDS_SHOWN else "")
            raise InvalidArgument(f"text: {name} has no field {rule.field!r} (its fields: {shown}); "
                                  "a rule on it would never fire")

    def rules_remove(self, rule_id, details=None):
        """``hub.alerts.rules.remove``: stop a rule (its active alerts resolve) and drop it from the file.

        Raises
        ------
        InvalidArgument
            No rule has that id.
        """
        if not isinstance(rule_id, str) or rule_id not in self.engine.rules:
            raise InvalidArgument(f"rule_id: no rule {rule_id!r:.40} (consumer.alerts.rules lists them)")
        return self._audited(details, "rules.remove", rule_id, {"rule_id": rule_id}, self._rules_remove, rule_id)

    @defer.inlineCallbacks
    def _rules_remove(self, rule_id):
        rule = self.engine.rules[rule_id].rule
        self.service.emit(self.engine.remove(rule_id, time.time()))
        self.service.unfollow(rule)
        yield self.service.save_rules()

"""Alarms that nodes raise themselves (the brewing node's), as alerts of source ``brewing``.

A node in the rules file's ``alarm_nodes`` publishes ``{event: raised |
cleared | acked, alarm}`` on ``consumer.NAME.alarms`` and answers
``alarms.active()`` and ``alarms.ack(id)`` (``nodes/brewing``). Its alarm
``{id, chamber, code, severity, message, raised, cleared, acked, acked_by}``
becomes the alert ``NAME:ID``: firing from ``raised``, resolved at
``cleared``; the alarm's severities ``info``, ``minor``, ``major``,
``critical`` become ``info``, ``warning``, ``warning``, ``critical``.
"""

from __future__ import annotations

from sisock.alerts.state import Alert

SEVERITY = {"info": "info", "minor": "warning", "major": "warning", "critical": "critical"}


def alarm_id(node: str, alarm: dict) -> str:
    """The alert id of ``node``'s alarm: ``NODE:ID``."""
    return f"{node}:{alarm.get('id')}"


def split_id(alert_id: str) -> tuple[str, int] | None:
    """``(node, alarm id)`` of an alert id made by `alarm_id`, or None."""
    node, sep, number = alert_id.rpartition(":")
    return (node, int(number)) if sep and node and number.isdigit() else None


def from_alarm(node: str, alarm: dict) -> Alert | None:
    """The alert of one alarm of ``node`` (None if the alarm has no id or raise time)."""
    if not isinstance(alarm, dict) or not isinstance(alarm.get("id"), int) \
            or not isinstance(alarm.get("raised"), int | float):
        return None
    chamber, code = alarm.get("chamber"), str(alarm.get("code", ""))
    cleared = alarm.get("cleared")
    return Alert(id=alarm_id(node, alarm), rule=f"{node}.{code}", name=code, expr=f"{node} alarm {code}",
                 node=node, field=None, group={"chamber": chamber} if chamber else {},
                 state="resolved" if cleared is not None else "firing",
                 severity=SEVERITY.get(str(alarm.get("severity")), "warning"), since=alarm["raised"],
                 fired_at=alarm["raised"], resolved_at=cleared, summary=str(alarm.get("message", "")),
                 acked_by=alarm.get("acked_by"), acked_at=alarm.get("acked"), source="brewing")

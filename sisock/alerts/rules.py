"""The alert rule grammar: one line of text to a `Rule`.

::

    rule      = [severity ":"] condition ["by" TAG]
    condition = NODES FIELD OP NUMBER ["for" DURATION]            threshold
              | "node" NODES "offline" ["for" DURATION]            offline
              | NODES FIELD "no" "data" "for" (DURATION | N "intervals")   no data
    severity  = "info" | "warning" | "critical"                     (default: warning)
    OP        = ">" | ">=" | "<" | "<=" | "==" | "!="
    DURATION  = a number with a unit s, m, h or d ("30s", "5m", "1.5h"); a bare number is seconds

``NODES`` is a node name or a shell pattern of names (``fleet.lamp*``);
``FIELD`` a field name; ``by TAG`` makes one alert per value of the
registry tag ``TAG`` instead of one per node. Examples::

    weather windspeed > 50 for 5m
    critical: fleet.lamp* power_w == 0 for 10m by zone
    sensors cpu_percent > 90 for 1m
    node weather offline for 1m
    sensors cpu_percent no data for 10 intervals

A text that does not parse raises `RuleError` naming the column (from 1)
and the token where it went wrong.
"""

from __future__ import annotations

import fnmatch
import math
import operator
import re
from dataclasses import dataclass
from typing import Any

from sisock.wire.errors import InvalidArgument
from sisock.wire.timeutil import DURATION_UNITS, duration

SEVERITIES = ("info", "warning", "critical")
KINDS = ("threshold", "offline", "nodata")
OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
             "!=": operator.ne}
#: Longest rule text.
MAX_TEXT = 500

_TOKEN_RE = re.compile(r"\s*(>=|<=|==|!=|>|<|:|[^\s:<>=!]+|[=!])")
_NAME_RE = re.compile(r"^[A-Za-z0-9_\-*?\[\]]+(\.[A-Za-z0-9_\-*?\[\]]+)*$")
_FIELD_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,256}$")
_TAG_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")


class RuleError(InvalidArgument):
    """A rule text that does not parse (an ``invalid_argument`` on the wire)."""


@dataclass(frozen=True)
class Rule:
    """One parsed rule.

    Attributes
    ----------
    id : str
        The rule's id (``r1``, ``r2``, ...), given by the rules file.
    text : str
        The text as written (without the severity prefix).
    kind : str
        ``threshold``, ``offline`` or ``nodata``.
    nodes : str
        A node name or shell pattern of names.
    field : str or None
        The field (None for ``offline``).
    op, threshold : str, float
        The comparison of a threshold rule.
    duration : float
        Seconds the condition must hold (``for``); 0 without ``for``.
    intervals : int or None
        ``no data for N intervals``: the duration is N of the field's timeline intervals.
    by : str or None
        The tag that groups alerts.
    severity : str
        ``info``, ``warning`` or ``critical``.
    name : str
        A name for people (the text when none was given).
    """

    id: str
    text: str
    kind: str
    nodes: str
    field: str | None = None
    op: str | None = None
    threshold: float | None = None
    duration: float = 0.0
    intervals: int | None = None
    by: str | None = None
    severity: str = "warning"
    name: str = ""

    def matches(self, node: str) -> bool:
        """Whether data node ``node`` is one this rule watches."""
        return fnmatch.fnmatchcase(node, self.nodes)

    def holds(self, value) -> bool | None:
        """The threshold condition on one sample value; None when the value is no finite number."""
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            return None
        return OPERATORS[str(self.op)](value, self.threshold)

    def to_dict(self) -> dict:
        """``{id, name, text, expr, kind, nodes, field, op, threshold, for, intervals, by, severity}``
        (``for`` in seconds)."""
        return {"id": self.id, "name": self.name, "text": self.text, "expr": self.text, "kind": self.kind,
                "nodes": self.nodes, "field": self.field, "op": self.op, "threshold": self.threshold,
                "for": self.duration, "intervals": self.intervals, "by": self.by, "severity": self.severity}


def format_duration(seconds: float) -> str:
    """``300`` -> ``"5m"``, ``90`` -> ``"90s"``: the largest unit that divides it."""
    for unit in ("d", "h", "m"):
        if seconds and seconds % DURATION_UNITS[unit] == 0:
            return f"{seconds / DURATION_UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"


class _Tokens:
    """The tokens of a rule text with their columns; `take` and `expect` raise `RuleError`."""

    def __init__(self, text):
        self.text, self.items, pos = text, [], 0
        while pos < len(text):
            m = _TOKEN_RE.match(text, pos)
            if m is None or not m.group(1):
                break
            self.items.append((m.group(1), m.start(1) + 1))
            pos = m.end()
        self.i = 0

    def peek(self, ahead=0):
        i = self.i + ahead
        return self.items[i][0] if i < len(self.items) else None

    def fail(self, expected):
        if self.i < len(self.items):
            token, column = self.items[self.i]
            where = f"at column {column}, got {token!r}"
        else:
            where = f"at column {len(self.text.rstrip()) + 1}, got the end of the rule"
        raise RuleError(f"rule {self.text!r}: expected {expected} {where}")

    def take(self, expected, check=None):
        token = self.peek()
        if token is None or (check is not None and not check(token)):
            self.fail(expected)
        self.i += 1
        return token

    def expect(self, word, expected=None):
        return self.take(expected or repr(word), lambda t: t == word)


def _duration(tokens):
    try:
        seconds = duration(tokens.peek() or "")
    except ValueError:
        seconds = math.inf
    if not math.isfinite(seconds):
        tokens.fail("a duration (30s, 5m, 1h, 2d)")
    tokens.i += 1
    return seconds


def _number(tokens):
    token = tokens.peek()
    try:
        value = float(token) if token is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        tokens.fail("a number")
    tokens.i += 1
    return value


def _nodes(tokens):
    return tokens.take("a node name or pattern (weather, fleet.lamp*)", lambda t: bool(_NAME_RE.match(t)))


def parse_rule(text: str, rule_id: str = "", severity: str | None = None, name: str | None = None) -> Rule:
    """Parse one rule (see the module docstring for the grammar).

    Parameters
    ----------
    text : str
        The rule, e.g. ``"weather windspeed > 50 for 5m"``.
    rule_id : str
        The id to give it.
    severity : str, optional
        ``info``, ``warning`` or ``critical``; a ``severity:`` prefix in the
        text wins over it; ``warning`` when neither says.
    name : str, optional
        A name for people; the text when None.

    Returns
    -------
    Rule

    Raises
    ------
    RuleError
        The text does not parse: the message names the column and the token.
    InvalidArgument
        ``severity`` or ``name`` is not acceptable.
    """
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise RuleError(f"rule must be text of 1 to {MAX_TEXT} characters, got {text!r:.80}")
    if severity is not None and severity not in SEVERITIES:
        raise InvalidArgument(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r:.40}")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 200):
        raise InvalidArgument(f"name must be text of 1 to 200 characters, got {name!r:.80}")
    tokens = _Tokens(text)
    if tokens.peek(1) == ":":
        severity = tokens.take(f"a severity ({', '.join(SEVERITIES)})", lambda t: t in SEVERITIES)
        tokens.i += 1
    body_column = tokens.items[tokens.i][1] if tokens.i < len(tokens.items) else len(text) + 1
    fields: dict[str, Any] = {"severity": severity or "warning"}
    if tokens.peek() == "node" and tokens.peek(2) == "offline":
        tokens.i += 1
        fields.update(kind="offline", nodes=_nodes(tokens))
        tokens.i += 1
        if tokens.peek() == "for":
            tokens.i += 1
            fields["duration"] = _duration(tokens)
    else:
        fields["nodes"] = _nodes(tokens)
        fields["field"] = tokens.take("a field name", lambda t: bool(_FIELD_RE.match(t)))
        if tokens.peek() == "no":
            tokens.i += 1
            tokens.expect("data", "'data' (no data for ...)")
            tokens.expect("for")
            fields["kind"] = "nodata"
            if tokens.peek(1) == "intervals":
                count = _number(tokens)
                if count < 1 or count != int(count):
                    tokens.i -= 1
                    tokens.fail("a whole number of intervals (1 or more)")
                fields["intervals"] = int(count)
                tokens.i += 1
            else:
                fields["duration"] = _duration(tokens)
                if fields["duration"] <= 0:
                    tokens.i -= 1
                    tokens.fail("a duration above zero")
        else:
            fields["op"] = tokens.take(f"a comparison ({' '.join(OPERATORS)}) or 'no data'",
                                       lambda t: t in OPERATORS)
            fields.update(kind="threshold", threshold=_number(tokens))
            if tokens.peek() == "for":
                tokens.i += 1
                fields["duration"] = _duration(tokens)
    if tokens.peek() == "by":
        tokens.i += 1
        fields["by"] = tokens.take("a tag name after 'by'", lambda t: bool(_TAG_RE.match(t)))
    if tokens.peek() is not None:
        tokens.fail("'for', 'by' or the end of the rule")
    body = text[body_column - 1:].strip()
    return Rule(id=rule_id, text=body, name=name or body, **fields)

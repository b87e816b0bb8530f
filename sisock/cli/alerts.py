"""``sisock alerts``: the alerts of the hub's alert service, their history, rules and silences.

Reads (``list``, ``history``, ``rules``, ``silences``) join as an
anonymous consumer; changes (``ack``, ``silence``, ``unsilence``, ``rule
add``, ``rule remove``) as a named user or the admin (`sisock.cli.support`).
The procedures are in `sisock.alerts.api`; ``docs/alerts.md`` explains them.
"""

import argparse
import time

from rich.markup import escape
from twisted.internet import defer

from sisock.cli import output
from sisock.cli import support as cli
from sisock.cli.options import TIMES, integer_in, parse_time
from sisock.wire.timeutil import duration

READS, CHANGES = "consumer.alerts.", "hub.alerts."
SEVERITIES, STATES = ("info", "warning", "critical"), ("pending", "firing", "resolved")
STATE_STYLE = {"firing": "red", "pending": "yellow", "resolved": "green"}

EPILOG = """\
examples:
  sisock alerts                                   active alerts, and those resolved in the last hour
  sisock alerts history --since -1d
  sisock alerts ack 3f2a9c01d4
  sisock alerts silence r2 --for 2h --comment "maintenance"
  sisock alerts silence 'fleet.lamp*' --until 2026-12-24T08:00
  sisock alerts rules
  sisock alerts rule add "weather windspeed > 50 for 5m" --severity critical
  sisock alerts rule add "node weather offline for 1m"
  sisock alerts rule remove r2

rules (docs/alerts.md):
  [SEVERITY:] NODES FIELD OP NUMBER [for DURATION] [by TAG]     OP: > >= < <= == !=
  [SEVERITY:] node NODES offline [for DURATION] [by TAG]
  [SEVERITY:] NODES FIELD no data for (DURATION | N intervals) [by TAG]
  NODES a name or a glob (fleet.lamp*); DURATION 30s, 5m, 1h, 2d; SEVERITY info, warning, critical
"""


def _duration(text):
    """``--for``: 90, 30s, 10m, 2h, 1d, 1w as seconds (for argparse ``type=``)."""
    try:
        value = duration(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"must be a duration such as 90, 30s, 10m, 2h, 1d, got {text!r}")
    return value


def _future(text):
    """``--until``: a time (as for --start elsewhere) that must be in the future, as UNIX seconds."""
    value = parse_time(text)
    if value <= time.time():
        raise argparse.ArgumentTypeError(f"must be a time in the future: {TIMES}; got {text!r}")
    return value


def build_parser():
    """The parser of ``sisock alerts``."""
    from sisock.cli.main import Parser

    parser = Parser(
        prog="sisock alerts", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="The hub's alerts: rules evaluated on live data, their alerts, history and silences.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    def action(name, help_, admin=False):
        sub = actions.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(admin=admin)
        return sub

    listing = action("list", "active alerts and those resolved within the hour (the default action)")
    listing.add_argument("--state", choices=STATES, help="only alerts in this state")
    history = action("history", "state changes, acks and silences of alerts, newest first")
    history.add_argument("--since", type=parse_time, help=f"from this time: {TIMES}")
    history.add_argument("--until", type=parse_time, help="up to this time (same forms)")
    history.add_argument("--rule", help="only the alerts of this rule id")
    history.add_argument("--limit", type=integer_in(1, 10000), default=500, help="most records (default 500)")
    ack = action("ack", "acknowledge an alert, as you", admin=True)
    ack.add_argument("alert_id", metavar="ID")
    silence = action("silence", "notify nobody of the alerts of a rule id or of the nodes a glob names", admin=True)
    silence.add_argument("matcher", metavar="MATCHER", help="a rule id (r2) or a node name or glob")
    end = silence.add_mutually_exclusive_group(required=True)
    end.add_argument("--for", dest="span", type=_duration, help="for this long: 90, 30s, 10m, 2h, 1d")
    end.add_argument("--until", type=_future, help="until this time (UTC unless it says otherwise)")
    silence.add_argument("--comment", help="why")
    unsilence = action("unsilence", "end a silence now", admin=True)
    unsilence.add_argument("silence_id", metavar="ID", type=integer_in(1))
    action("silences", "the silences on")
    action("rules", "the rules in force")
    rule = action("rule", "add or remove a rule", admin=True)
    rule_actions = rule.add_subparsers(dest="rule_action", metavar="add|remove", required=True)
    add = rule_actions.add_parser("add", help="add a rule", epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("text", metavar="TEXT", help='the rule, quoted: "weather windspeed > 50 for 5m"')
    add.add_argument("--severity", choices=SEVERITIES, help="default warning (a SEVERITY: prefix wins)")
    add.add_argument("--name", help="a name for people (default: the text)")
    remove = rule_actions.add_parser("remove", help="remove a rule (its alerts resolve)")
    remove.add_argument("rule_id", metavar="ID")
    for sub in (listing, history, ack, silence, unsilence, actions.choices["silences"], actions.choices["rules"],
                add, remove):
        cli.add_arguments(sub, admin=sub in (ack, silence, unsilence, add, remove))
    return parser


def _show_alerts(alerts):
    out = output.console()
    if not alerts:
        out.print("no alerts")
        return
    now = time.time()
    for a in alerts:
        extra = " (silenced)" if a["silenced"] else ""
        acked = f", acked by {a['acked_by']}" if a["acked_by"] else ""
        rest = escape(f"{a['severity']:<8}  {a['rule']:<6} {a['summary']}  since {output.fmt_ago(a['since'], now)}"
                      f"{acked}{extra}")
        out.print(f"{escape(a['id'])}  [{STATE_STYLE[a['state']]}]{a['state']:<8}[/]  {rest}", markup=True)


def _show_rules(rules):
    out = output.console()
    for r in rules or []:
        name = f"  ({r['name']})" if r["name"] != r["text"] else ""
        out.print(f"{r['id']:<6} {r['severity']:<8}  {r['text']}{name}", markup=False)
    if not rules:
        out.print("no rules")


def _show_history(records):
    out = output.console()
    for h in records:
        by = f" by {h['by']}" if h["by"] else ""
        a = h["alert"]
        out.print(f"{output.fmt_time(h['t'])}  {h['change']:<10}  {a['id']}  {a['rule']:<6} {a['summary']}{by}",
                  markup=False)
    if not records:
        out.print("no history")


def _show_silences(silences):
    out = output.console()
    for s in silences:
        comment = f"  {s['comment']}" if s["comment"] else ""
        out.print(f"{s['id']:<4} {s['matcher']:<20} until {output.fmt_time(s['until'])}  by {s['by']}{comment}",
                  markup=False)
    if not silences:
        out.print("no silences")


@defer.inlineCallbacks
def _run(session, args):
    from sisock.wire import uri

    act = args.action
    if act == "list":
        answer = yield session.call(uri.uri(READS + "list"), args.state)
        show = _show_alerts
    elif act == "history":
        answer = yield session.call(uri.uri(READS + "history"), args.since, args.until, args.rule, args.limit)
        show = _show_history
    elif act in ("rules", "silences"):
        answer = yield session.call(uri.uri(READS + act))
        show = _show_rules if act == "rules" else _show_silences
    elif act == "ack":
        answer = yield session.call(uri.uri(CHANGES + "ack"), args.alert_id)
        show = lambda a: _show_alerts([a])  # noqa: E731
    elif act == "silence":
        answer = yield session.call(uri.uri(CHANGES + "silence"), args.matcher, args.until or args.span,
                                    args.comment)
        show = lambda s: _show_silences([s])  # noqa: E731
    elif act == "unsilence":
        answer = yield session.call(uri.uri(CHANGES + "unsilence"), args.silence_id)
        show = lambda _: output.console().print(f"silence {args.silence_id} ended")  # noqa: E731
    elif args.rule_action == "add":
        answer = yield session.call(uri.uri(CHANGES + "rules.add"), args.text, args.severity or "warning",
                                    args.name)
        show = lambda r: _show_rules([r])  # noqa: E731
    else:
        answer = yield session.call(uri.uri(CHANGES + "rules.remove"), args.rule_id)
        show = lambda _: output.console().print(f"rule {args.rule_id} removed")  # noqa: E731
    if args.json:
        output.print_json(answer)
    else:
        show(answer)


def main(argv):
    """Run ``sisock alerts ARGV``; the exit status (`sisock.cli.support.EXIT_STATUS`)."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["list", *argv]
    args = build_parser().parse_args(argv)
    args.command = "alerts"
    return cli.run_command(args, _run, admin=args.admin)

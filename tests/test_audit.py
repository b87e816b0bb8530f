"""The audit trail: every admin action on the registry and every person's command on a node is recorded once,
in order, with who did it (as the router disclosed the caller), what, to which target and how it ended.

On the session stack, with one lamp of its own (``audited.lamp0001``) that only these tests touch.
"""

import json
import os
import subprocess
import sys
import time

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, threads

from sisock import client
from sisock.cli.audit import _audit
from sisock.cli.main import build_parser, main
from sisock.hub.audit import AuditLog
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument, NoSuchNode, NotAuthorized
from tests.conftest import Events
from tests.registry_support import connect_admin, connect_node, joined, until

LAMP = "audited.lamp0001"
LIST = uri.HUB_AUDIT + "list"
INVALID = InvalidArgument.uri()
SISOCK = os.path.join(os.path.dirname(sys.executable), "sisock")


@pytest.fixture(scope="module")
def lamp(stack):
    """One lamp, ``audited.lamp0001``, on the session stack (stopped by the last test, or at the end)."""
    proc = stack.spawn("audited", "nodes.fleet", "--count", "1", "--authid", "audited", "--interval", "1",
                       timeout=60)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def admin(stack, lamp):
    """An admin session for the module."""
    yield from joined(connect_admin(stack))


def entries(session, since, **filters):
    """Deferred: the entries about ``LAMP`` since ``since``, oldest first."""
    return session.call(LIST, since=since, node=LAMP, **filters).addCallback(lambda got: got[::-1])


def what(entry):
    return entry["who"], entry["action"], entry["target"], entry["outcome"]


@pytest_twisted.inlineCallbacks
def test_every_registry_change_is_recorded_once_in_order_with_its_caller_and_outcome(admin):
    since = time.time()
    live = Events()
    subscription = yield admin.subscribe(live, uri.HUB_AUDIT_RECORDED)
    yield admin.call(uri.HUB_NODES + "tag", LAMP, {"zone": "audit"})
    yield admin.call(uri.HUB_NODES + "untag", LAMP, ["zone"])
    yield admin.call(uri.HUB_NODES + "locate", LAMP, -23.0, -67.8)
    yield admin.call(uri.HUB_NODES + "disable", LAMP)
    yield admin.call(uri.HUB_NODES + "enable", LAMP)
    with pytest.raises(InvalidArgument):
        yield admin.call(uri.HUB_NODES + "tag", LAMP, {})
    with pytest.raises(InvalidArgument, match="connected"):
        yield admin.call(uri.HUB_NODES + "forget", LAMP)
    got = yield entries(admin, since)
    assert [what(e) for e in got] == [
        ("admin", "nodes.tag", LAMP, "ok"), ("admin", "nodes.untag", LAMP, "ok"),
        ("admin", "nodes.locate", LAMP, "ok"), ("admin", "nodes.disable", LAMP, "ok"),
        ("admin", "nodes.enable", LAMP, "ok"), ("admin", "nodes.tag", LAMP, INVALID),
        ("admin", "nodes.forget", LAMP, INVALID)]
    assert got[0]["args"] == {"name": LAMP, "tags": {"zone": "audit"}}
    assert got[2]["args"] == {"name": LAMP, "lat": -23.0, "lon": -67.8}
    assert got[3]["args"] == {"filter": LAMP} and got[0]["message"] is None
    assert "tags must name at least one tag" in got[5]["message"] and "connected" in got[6]["message"]
    times = [e["t"] for e in got]
    assert times == sorted(times) and since <= times[0] <= time.time()
    ids = [e["id"] for e in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    yield live.wait(lambda items: len([e for e in items if e["target"] == LAMP]) >= 7, what="the live entries")
    yield subscription.unsubscribe()
    assert [e for e in live.items if e["target"] == LAMP] == got  # hub.audit.recorded: each entry, as written


@pytest_twisted.inlineCallbacks
def test_a_node_command_is_recorded_with_the_node_and_the_caller_the_node_received(admin):
    since = time.time()
    node_uri = uri.node_uri(LAMP, "command")
    yield admin.call(node_uri, "dim", level=40.0)
    with pytest.raises(InvalidArgument):
        yield admin.call(node_uri, "dim", level="bright")
    yield admin.call(uri.node_uri(LAMP, "get_latest"))  # a read: not an action
    got = yield until(lambda: entries(admin, since), lambda got: len(got) >= 2, "the two command runs")
    assert [what(e) for e in got] == [("admin", "command.dim", LAMP, "ok"), ("admin", "command.dim", LAMP, INVALID)]
    assert got[0]["args"] == {"level": 40.0} and "level" in got[1]["message"]


@pytest_twisted.inlineCallbacks
def test_a_node_reports_only_for_its_own_nodes_and_the_person_comes_from_the_router(stack, admin):
    since = time.time()
    impostor = yield connect_node(stack, "intruder")
    try:
        with pytest.raises(ApplicationError) as refused:
            yield impostor.call(uri.HUB_AUDIT_REPORT, LAMP, "command.dim", {}, "ok", None, "admin")
        assert refused.value.error == NotAuthorized.uri()
    finally:
        yield impostor.close()
    with pytest.raises(ApplicationError) as not_a_node:
        yield admin.call(uri.HUB_AUDIT_REPORT, LAMP, "command.dim", {}, "ok", None, "someone")
    assert not_a_node.value.error == NotAuthorized.uri()
    assert (yield entries(admin, since)) == []


@pytest_twisted.inlineCallbacks
def test_the_list_filters_by_time_user_node_and_action_newest_first(admin):
    since = time.time()
    yield admin.call(uri.HUB_NODES + "tag", LAMP, {"filtered": True})
    yield admin.call(uri.HUB_NODES + "untag", LAMP, ["filtered"])
    middle = time.time()
    yield admin.call(uri.node_uri(LAMP, "command"), "switch", on=True)
    got = yield until(lambda: admin.call(LIST, since=since), lambda got: len(got) >= 3, "three entries")
    assert [e["action"] for e in got if e["target"] == LAMP][:3] == ["command.switch", "nodes.untag", "nodes.tag"]
    assert [e["action"] for e in (yield admin.call(LIST, since=since, action="nodes"))] == ["nodes.untag", "nodes.tag"]
    assert [e["action"] for e in (yield admin.call(LIST, since=since, action="nodes.tag"))] == ["nodes.tag"]
    assert [e["action"] for e in (yield admin.call(LIST, since=since, until=middle, node=LAMP))] == [
        "nodes.untag", "nodes.tag"]
    assert [e["action"] for e in (yield admin.call(LIST, since=middle, node=LAMP))] == ["command.switch"]
    assert (yield admin.call(LIST, since=since, user="nobody")) == []
    assert len((yield admin.call(LIST, since=since, user="admin", node=LAMP, limit=1))) == 1
    for bad in ({"limit": 0}, {"since": "yesterday"}, {"user": 3}):
        with pytest.raises(InvalidArgument, match=next(iter(bad))):
            yield admin.call(LIST, **bad)


@pytest_twisted.inlineCallbacks
def test_an_operator_is_recorded_by_its_user_name_and_reads_the_trail_and_user_changes_are_recorded(stack, admin):
    since = time.time()
    added = yield admin.call(uri.HUB_USERS + "add", "audit_op", "operator")
    operator = yield client.connect(stack.url, authid="audit_op", secret=added["secret"])
    try:
        yield operator.call(uri.node_uri(LAMP, "command"), "dim", level=55.0)
        got = yield until(lambda: operator.call(LIST, since=since, user="audit_op"), lambda got: len(got) >= 1,
                          "the operator's command, read by the operator")
        assert [what(e) for e in got] == [("audit_op", "command.dim", LAMP, "ok")]
        with pytest.raises(ApplicationError, match="not_authorized"):
            yield operator.call(uri.HUB_NODES + "disable", LAMP)  # the router refuses: no action taken
    finally:
        yield operator.close()
    yield admin.call(uri.HUB_USERS + "remove", "audit_op")
    users = yield until(lambda: admin.call(LIST, since=since, action="users"), lambda got: len(got) >= 2,
                        "the user's addition and removal")
    assert [what(e) for e in reversed(users)] == [("admin", "users.add", "audit_op", "ok"),
                                                  ("admin", "users.remove", "audit_op", "ok")]
    assert users[-1]["args"] == {"name": "audit_op", "role": "operator"}
    assert [e["action"] for e in (yield admin.call(LIST, since=since, user="audit_op"))] == ["command.dim"]


@pytest_twisted.inlineCallbacks
def test_a_refused_alert_acknowledgement_is_recorded_with_its_error(admin):
    since = time.time()
    with pytest.raises(NoSuchNode):
        yield admin.call(uri.uri("hub.alerts.ack"), "r0:no-such-alert")
    with pytest.raises(InvalidArgument):
        yield admin.call(uri.uri("hub.alerts.unsilence"), 10**9)
    got = yield admin.call(LIST, since=since, action="alerts")
    assert [what(e) for e in reversed(got)] == [("admin", "alerts.ack", "r0:no-such-alert", NoSuchNode.uri()),
                                                ("admin", "alerts.unsilence", str(10**9), INVALID)]
    assert got[-1]["args"] == {"alert_id": "r0:no-such-alert"} and "no alert" in got[-1]["message"]


@pytest_twisted.inlineCallbacks
def test_a_consumer_cannot_read_the_audit_trail(stack):
    consumer = yield stack.connect()
    try:
        with pytest.raises(ApplicationError, match="not_authorized"):
            yield consumer.call(LIST)
        with pytest.raises(ApplicationError, match="not_authorized"):
            yield consumer.subscribe(lambda *_: None, uri.HUB_AUDIT_RECORDED)
    finally:
        yield consumer.close()


@pytest_twisted.inlineCallbacks
def test_the_trail_is_kept_across_restarts_and_bounded_by_age_and_count(tmp_path):
    path = str(tmp_path / "hub" / "audit.sqlite3")
    log = AuditLog(path)
    for i in range(5):
        yield log.record("alice", "nodes.tag", f"n{i}", {"i": i, "blob": "x" * 10_000})
    log.close()
    log = AuditLog(path, max_entries=3)  # pruned at start: the newest 3
    kept = yield log.list()
    assert [e["target"] for e in kept] == ["n4", "n3", "n2"]
    assert isinstance(kept[0]["args"], str) and len(kept[0]["args"]) <= 4200  # the arguments, cut
    log.close()
    log = AuditLog(path, retention=1e-3)  # older than a millisecond: gone
    assert (yield log.list()) == []
    log.close()


@pytest_twisted.inlineCallbacks
def test_the_command_line_forgets_and_lists_the_trail(stack, lamp, admin, capsys):
    """Last: subtracts, stops and forgets the lamp while ``sisock audit`` reads the trail through ``head``."""
    since = time.time()
    yield admin.call(uri.HUB_NODES + "tag", LAMP, {"cli": "yes"})
    with pytest.raises(InvalidArgument):
        yield admin.call(uri.HUB_NODES + "tag", LAMP, {})

    @defer.inlineCallbacks
    def forget():
        yield admin.call(uri.DATA_NODE_SUBTRACT, LAMP)  # an admin takes it off the list: recorded too
        yield threads.deferToThread(lamp.stop)
        yield until(lambda: admin.call(uri.HUB_NODES + "get", LAMP), lambda r: r["status"] == "offline",
                    "the lamp offline")
        yield admin.call(uri.HUB_NODES + "forget", LAMP)

    _, table = yield defer.gatherResults([  # at once
        forget(),
        threads.deferToThread(subprocess.run, f"{SISOCK} audit --node {LAMP} --action nodes.tag --user admin"
                              " | head -n 3", shell=True, env=stack.env, capture_output=True, text=True, timeout=60)])
    assert [what(e) for e in (yield entries(admin, since, action="nodes"))] == [
        ("admin", "nodes.tag", LAMP, "ok"), ("admin", "nodes.tag", LAMP, INVALID),
        ("admin", "nodes.forget", LAMP, "ok")]
    assert [what(e) for e in (yield entries(admin, since, action="data_node"))] == [
        ("admin", "data_node.subtract", LAMP, "ok")]
    header, refused, done = table.stdout.splitlines()  # newest first
    assert table.stderr == ""
    assert header.split() == ["TIME", "(UTC)", "WHO", "ACTION", "TARGET", "OUTCOME", "ARGUMENTS"]
    assert refused.split()[2:6] == ["admin", "nodes.tag", LAMP, f"{INVALID}:"] and "tags must" in refused
    assert done.split()[2:6] == ["admin", "nodes.tag", LAMP, "ok"]
    assert done.rstrip().endswith(json.dumps({"name": LAMP, "tags": {"cli": "yes"}}))
    # the command's body on the test's admin session: --json, nothing found, a usage mistake
    capsys.readouterr()
    assert (yield audit_body(admin, "--node", LAMP, "--action", "nodes.tag", "--json")) == 0
    assert json.loads(capsys.readouterr().out) == (yield admin.call(LIST, node=LAMP, action="nodes.tag"))
    assert (yield audit_body(admin, "--user", "nobody")) == 3
    assert capsys.readouterr().out == "no audit entry matched\n"  # said, as sisock nodes says it
    assert main(["audit", "--since", "yesterday"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def audit_body(session, *argv):
    """Deferred: the exit status of ``sisock audit *argv``'s body run on ``session`` in this process."""
    return _audit(session, build_parser().parse_args(["audit", *argv]))

"""Named accounts (admin, operator, consumer) against the session stack's real router, and the web login.

Users are added, listed, rotated and removed through the router's
``hub.users.*`` procedures (`sisock.router.usersapi`), from the ``sisock
user`` command and from Python; the router's authenticator sees each change
at once, without a restart, and ends the open sessions of a removed or
rotated user.
"""

import json
import os
import stat
import subprocess
import sys

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer, threads

from sisock import client, config
from sisock.cli.main import main
from sisock.cli.support import CliSession
from sisock.connection import start
from sisock.wire import uri
from sisock.wire.errors import NoSuchUser
from tests.conftest import Stack, wait_for
from tests.registry_support import connect_admin, connect_node, joined, until
from tests.test_call import thermometer  # noqa: F401 (the fixture: the thermometer node, for this module)
from tests.test_web import Scenario, browser  # noqa: F401 (browser: the fixture)

SISOCK = os.path.join(os.path.dirname(sys.executable), "sisock")
USERS = uri.uri("hub.users.")


@pytest.fixture
def admin(stack):
    """A session of the shared ``admin`` authid with the admin secret of the secrets file."""
    yield from joined(connect_admin(stack))


def sisock_process(stack, *args, **env):
    """Start ``sisock *args`` with the stack's environment and ``env``; the Popen (text pipes)."""
    return subprocess.Popen([SISOCK, *args], env=dict(stack.env, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def together(*processes):
    """Wait for each of ``processes`` (started at once, to save time); their CompletedProcess, in order."""
    done = []
    for proc in processes:
        out, err = proc.communicate(timeout=60)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def sisock(stack, *args, **env):
    """Run ``sisock *args`` with the stack's environment and ``env``; the CompletedProcess (text)."""
    return together(sisock_process(stack, *args, **env))[0]


def refusal(stack, authid, secret):
    """Deferred of the message with which the router refuses ``authid`` with ``secret`` at join time."""
    conn = config.Connection(stack.url, config.DEFAULT_REALM, authid, secret)
    session = CliSession(ComponentConfig(conn.realm, {"connection": conn}))
    refused = defer.Deferred()
    session.on_refused = lambda exc: refused.called or refused.callback(str(exc))
    session.when_joined().addCallback(lambda s: refused.called or refused.errback(
        AssertionError(f"{authid} joined, as {s.authrole}")))
    start(session)
    return refused.addTimeout(15, _reactor()).addBoth(lambda result: session.close().addCallback(lambda _: result))


def _reactor():
    from twisted.internet import reactor

    return reactor


def error_of(deferred):
    """Deferred of the WAMP error URI ``deferred`` fails with (an AssertionError if it succeeds)."""

    def succeeded(result):
        raise AssertionError(f"expected an error, got {result!r}")

    return deferred.addCallbacks(succeeded, lambda failure: failure.trap(ApplicationError) and failure.value.error)


def test_users_are_added_listed_rotated_and_removed_from_the_command_line(stack):
    added = sisock(stack, "user", "add", "cli_alice", "--role", "operator")
    assert added.returncode == 0, added.stderr
    first = added.stdout.strip()
    assert added.stdout == f"{first}\n" and len(first) >= 32  # the secret and nothing else, for a pipe
    again, listed, wrong = together(
        sisock_process(stack, "user", "add", "cli_alice", "--role", "consumer"),
        sisock_process(stack, "user", "list", "--json"),
        sisock_process(stack, "user", "list", SISOCK_USER="cli_alice", SISOCK_SECRET=f"not-{first}"))
    assert again.returncode == 2 and "cli_alice" in again.stderr and "exists" in again.stderr, again.stderr
    assert listed.returncode == 0, listed.stderr
    alice = next(u for u in json.loads(listed.stdout) if u["name"] == "cli_alice")
    assert set(alice) == {"name", "role", "created", "rotated"} and alice["role"] == "operator"
    assert first not in listed.stdout
    assert wrong.returncode == 4 and wrong.stderr.count("\n") == 1, wrong.stderr
    assert "cli_alice" in wrong.stderr and "wrong secret" in wrong.stderr
    rotated = sisock(stack, "user", "rotate", "cli_alice")
    assert rotated.returncode == 0, rotated.stderr
    second = rotated.stdout.strip()
    assert second != first and rotated.stdout == f"{second}\n"
    assert sisock(stack, "user", "remove", "cli_alice").returncode == 0
    gone = sisock(stack, "user", "list", SISOCK_USER="cli_alice", SISOCK_SECRET=second)
    assert gone.returncode == 4 and gone.stderr.count("\n") == 1, gone.stderr
    assert "cli_alice" in gone.stderr and "removed" in gone.stderr


def test_a_user_may_not_take_the_authid_of_a_data_node_and_lock_it_out(stack):
    # a user is looked up before a node at join time: a user named "sensors" would refuse the sensors node
    taken = sisock(stack, "user", "add", "sensors", "--role", "operator")
    try:
        assert taken.returncode == 2 and taken.stderr.count("\n") == 1, taken.stderr
        assert "name 'sensors' is the authid of data node sensors" in taken.stderr, taken.stderr
        assert "sensors" not in sisock(stack, "user", "list").stdout.split()
    finally:
        if taken.returncode == 0:  # do not leave the session's sensors node locked out for the other tests
            sisock(stack, "user", "remove", "sensors")


@pytest.fixture
def hubless(tmp_path):
    """A router of its own and no hub: which authids the nodes join with is not known."""
    alone = Stack(tmp_path)
    try:
        alone.start_router()
        yield alone
    finally:
        alone.stop()


def test_without_the_hub_no_user_is_added_and_the_command_says_why(hubless):
    done = sisock(hubless, "user", "add", "carol", "--role", "operator")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "cannot add user 'carol' while the hub is not up" in done.stderr
    assert not os.path.exists(os.path.join(hubless.env["SISOCK_HOME"], "users.json"))


@pytest.mark.parametrize("argv, named", [(["user", "add", "no spaces", "--role", "operator"], "NAME"),
                                         (["user", "add", "hub", "--role", "operator"], "NAME"),
                                         (["user", "add", "bob", "--role", "boss"], "--role")])
def test_an_invalid_user_name_or_role_is_a_usage_error_naming_the_argument(argv, named, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1, err


@pytest_twisted.inlineCallbacks
def test_a_new_operator_joins_without_a_router_restart_runs_commands_but_changes_nothing_else(
        stack, admin, thermometer):  # noqa: F811
    added = yield admin.call(USERS + "add", "op_bob", "operator")
    assert added["name"] == "op_bob" and added["role"] == "operator"
    bob = yield client.connect(stack.url, authid="op_bob", secret=added["secret"])
    try:
        assert (bob.authid, bob.authrole) == ("op_bob", "operator")
        assert (yield bob.call(uri.node_uri("thermometer", "command"), "calibrate", 0.0)) == {"offset": 0.0}
        listed = yield bob.call(uri.HUB_NODES + "list", "thermometer")  # the registry, read-only
        assert [n["name"] for n in listed["nodes"]] == ["thermometer"]
        for procedure, args in [(uri.HUB_NODES + "disable", ["thermometer"]), (uri.HUB_NODES + "enable", ["ALL"]),
                                (uri.HUB_NODES + "forget", ["thermometer"]), (uri.HUB_NODES + "tag", ["x", {}]),
                                (USERS + "add", ["op_eve", "admin"]), (USERS + "list", []),
                                (uri.uri("hub.alerts.rules.add"), [{}])]:
            assert (yield error_of(bob.call(procedure, *args))) == "wamp.error.not_authorized", procedure
        for procedure in ("ack", "silence", "unsilence"):  # the router lets it through (served or not)
            assert (yield error_of(bob.call(uri.uri(f"hub.alerts.{procedure}"), "no-such-alert"))) != \
                "wamp.error.not_authorized"
    finally:
        yield bob.close()
        yield admin.call(USERS + "remove", "op_bob")


@pytest_twisted.inlineCallbacks
def test_a_removed_or_rotated_user_is_refused_and_its_open_session_ends(stack, admin, events):
    hub = yield client.connect(stack.url, authid="hub", secret=stack.secret("hub"))  # who may follow the changes
    changes = events()
    yield hub.subscribe(changes, uri.HUB_USERS_CHANGED)
    carol = yield admin.call(USERS + "add", "gone_carol", "consumer")
    dave = yield admin.call(USERS + "add", "rot_dave", "admin")
    path = os.path.join(stack.env["SISOCK_HOME"], "users.json")
    text = open(path).read()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert carol["secret"] not in text and dave["secret"] not in text  # salted keys only
    stored = json.loads(text)["users"]["rot_dave"]
    assert {"salt", "iterations", "keylen"} <= set(stored)
    sessions = []
    try:
        for who in (carol, dave):
            sessions.append((yield client.connect(stack.url, authid=who["name"], secret=who["secret"])))
        assert [s.authrole for s in sessions] == ["consumer", "admin"]
        yield admin.call(USERS + "remove", "gone_carol")
        rotated = yield admin.call(USERS + "rotate", "rot_dave")
        yield wait_for(lambda: not any(s.is_attached() for s in sessions), 10, "both open sessions ended")
        assert "removed" in (yield refusal(stack, "gone_carol", carol["secret"]))
        assert "wrong secret" in (yield refusal(stack, "rot_dave", dave["secret"]))
        again = yield client.connect(stack.url, authid="rot_dave", secret=rotated["secret"])
        assert again.authrole == "admin"
        yield again.close()
        listed = yield admin.call(USERS + "list")
        assert [u["name"] for u in listed if u["name"] in ("gone_carol", "rot_dave")] == ["rot_dave"]
        assert (yield error_of(admin.call(USERS + "remove", "gone_carol"))) == NoSuchUser.uri()
        yield changes.wait(lambda items: len(items) >= 4, what="four user changes")
        assert [(e["name"], e["change"], e["role"], e["by"]) for e in changes.items] == [
            ("gone_carol", "added", "consumer", "admin"), ("rot_dave", "added", "admin", "admin"),
            ("gone_carol", "removed", "consumer", "admin"), ("rot_dave", "rotated", "admin", "admin")]
        assert not any("secret" in e for e in changes.items)
    finally:
        for s in sessions:
            yield s.close()
        yield admin.call(USERS + "remove", "rot_dave")
        yield hub.close()


@pytest_twisted.inlineCallbacks
def test_a_users_file_that_cannot_be_read_is_logged_said_to_admins_and_nodes_still_join(stack, admin):
    yield admin.call(USERS + "list")  # the file is there or not: either way it is read again after this
    path = os.path.join(stack.env["SISOCK_HOME"], "users.json")
    kept = open(path).read() if os.path.exists(path) else None
    try:
        with open(path, "w") as fp:
            fp.write('{"users": ')  # cut short, as by a full disk
        node = yield connect_node(stack, "usersfile_node")
        assert node.authrole == "node"
        yield node.close()
        yield stack.router.wait_output("cannot read the users file", timeout=10)
        with pytest.raises(ApplicationError) as refused:
            yield admin.call(USERS + "list")
        assert f"users file {path} is not JSON (Expecting value" in refused.value.args[0]
        listed = sisock(stack, "user", "list")
        assert listed.returncode == 1 and listed.stdout == ""
        assert listed.stderr.startswith(f"sisock user: wamp.error.runtime_error: users file {path} is not JSON")
        assert listed.stderr.count("\n") == 1  # one line, no traceback
    finally:
        if kept is None:
            os.remove(path)
        else:
            with open(path, "w") as fp:
                fp.write(kept)


@pytest_twisted.inlineCallbacks
def test_the_web_login_as_an_operator_shows_command_buttons_but_not_enable_or_disable(
        browser, stack, admin, thermometer):  # noqa: F811
    added = yield admin.call(USERS + "add", "web_olga", "operator")
    yield until(lambda: admin.call(uri.GET_DATA_NODE), lambda nodes: "thermometer" in [n["name"] for n in nodes],
                "the thermometer listed")
    scenario = Scenario(browser, "operator", f"http://127.0.0.1:{stack.port}/", "--user", "web_olga",
                        "--secret", added["secret"], "--node", "thermometer")
    try:
        result = yield threads.deferToThread(scenario.result)
    finally:
        scenario.kill()
        yield admin.call(USERS + "remove", "web_olga")
        yield admin.call(uri.node_uri("thermometer", "command"), "calibrate", 0.0)
    assert result["defaultUser"] == "admin"
    assert result["status"] == "web_olga (operator)" and result["role"] == "operator"
    assert result["changeButtons"] == {"registry-enable": True, "registry-disable": True}  # hidden
    assert result["sendEnabled"] is True and result["answer"] == '{"offset":0.5}'
    assert result["commands"] == [uri.node_uri("thermometer", "command")] and result["adminOnly"] == []
